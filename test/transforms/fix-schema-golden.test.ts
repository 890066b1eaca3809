/**
 * fix-schema golden test: entries and change records that go through every path of the stage (removals, renames
 * onto existing types, value maps onto another type or onto the same one, RDN and MUST additions, objectClass not
 * first or absent, options, binary values, rejects, several structural classes, explain notes), run through one stage
 * twice (cold, then warm caches) and one record at a time through fresh stages. The expected results are those the
 * stage gave before its speed work (commit 5886dbc): attribute order, names, values, counts in order, notes,
 * rejects, and that a rejected record is left as it was read. The first run with default options is spelled out;
 * the others are compared by SHA-256 of the same JSON.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { fixSchema, type FixSchemaOptions } from '../../src/transforms/fix-schema.js';
import { builtinSchema } from '../../src/schema/load.js';
import { mergeSchemas, schemaFromDescriptions } from '../../src/schema/schema.js';
import { makeEntry, type LdifRecord, type Value } from '../../src/entry.js';
import type { PresetData } from '../../src/presets/index.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
const BASE = 'dc=example,dc=com';
const CASES: any[] = [
  ['cn=u1,cn=Users,' + BASE, [['objectClass', ['top', 'person', 'organizationalPerson', 'inetOrgPerson', 'orclUser']], ['uid', 'u1'], ['cn', 'u1'], ['sn', 'One'], ['orclGUID', 'g1'], ['mail', 'u1@x'], ['createTimestamp', '20200101000000Z'], ['orclIsEnabled', 'ENABLED'], ['userPassword', '{SSHA}x']]],
  ['cn=u2,cn=Users,' + BASE, [['uid', 'u2'], ['objectClass', ['top', 'person', 'organizationalPerson', 'inetOrgPerson', 'orclUser']], ['cn', 'u2'], ['sn', 'Two'], ['orclGUID', 'g2'], ['mail', 'u2@x']]],
  ['cn=u3,cn=Users,' + BASE, [['cn', 'u3'], ['sn', 'Three'], ['description', 'no classes']]],
  ['cn=u4,cn=Users,' + BASE, [['objectClass', ['top', 'person', 'organizationalPerson', 'inetOrgPerson']], ['cn', 'u4'], ['mailAlias', 'cn=b,dc=x'], ['sn', 'Four'], ['seeAlso', ['cn=c,dc=x', 'cn=b,dc=x']]]],
  ['cn=u5,cn=Users,' + BASE, [['objectClass', ['top', 'person', 'organizationalPerson', 'inetOrgPerson']], ['seeAlso', 'cn=c,dc=x'], ['cn', 'u5'], ['mailAlias', ['cn=d,dc=x', 'cn=c,dc=x']], ['sn', 'Five']]],
  ['cn=u6,cn=Users,' + BASE, [['objectClass', ['top', 'person', 'organizationalPerson', 'inetOrgPerson']], ['cn', 'u6'], ['sn', 'Six'], ['orclIsEnabled', ['DISABLED']], ['mail', 'u6@x']]],
  ['cn=u7,cn=Users,' + BASE, [['objectClass', ['top', 'person', 'organizationalPerson', 'inetOrgPerson']], ['cn', 'u7'], ['sn', 'Seven'], ['orclIsActive', ['YES', 'maybe']], ['mail', 'u7@x']]],
  ['cn=u8,cn=Users,' + BASE, [['objectClass', ['top', 'person']], ['cn', 'someone else'], ['sn', 'Eight'], ['description', 'x']]],
  ['cn=u9,cn=Users,' + BASE, [['objectClass', ['top', 'person']], ['cn', ''], ['description', 'x'], ['sn', 'Nine']]],
  ['cn=u10,cn=Users,' + BASE, [['objectClass', ['top', 'person']], ['cn', 'u10'], ['description', 'no sn']]],
  ['cn=u11,cn=Users,' + BASE, [['objectClass', ['top', 'inetOrgPerson']], ['cn', 'u11'], ['sn', 'S'], ['displayName', ['A', 'B']], ['employeeNumber', '1'], ['preferredLanguage', ['pt', 'en']]]],
  ['cn=u12,cn=Users,' + BASE, [['objectClass', ['top', 'person', 'posixAccount']], ['cn', 'u12'], ['sn', 'S'], ['uid', 'u12'], ['uidNumber', ' +0042 '], ['gidNumber', '7'], ['homeDirectory', '/h'], ['description', ['', 'ok']]]],
  ['CN=U13,cn=Users,' + BASE, [['objectClass', ['top', 'person']], ['cn;lang-ja', 'アナ'], ['sn', 'S'], ['CN', 'U13']]],
  ['cn=u14,cn=Users,' + BASE, [['objectClass', ['top', 'person']], ['cn;lang-ja', 'アナ'], ['sn', 'S']]],
  ['cn=u15,cn=Users,' + BASE, [['objectClass', ['inetOrgPerson', 'TOP', 'Person', 'organizationalPerson']], ['cn', 'u15'], ['sn', 'S']]],
  ['cn=u16,cn=Users,' + BASE, [['objectClass', ['top', 'person', 'organizationalPerson', 'inetOrgPerson']], ['cn', 'u16'], ['sn', 'S']]],
  ['cn=u17,cn=Users,' + BASE, [['objectClass', ['top', 'person', 'organizationalPerson', 'inetOrgPerson']], ['cn', 'u17'], ['sn', 'S'], ['jpegPhoto', { b64: '/9j/4AAQ' }], ['title', { b64: '//79' }]]],
  ['cn=a+sn=b,cn=Users,' + BASE, [['objectClass', ['top', 'person']], ['cn', 'a'], ['description', 'multi']]],
  ['cn=u19,cn=Users,' + BASE, [['objectClass', ['top', 'person']], ['cn', 'u19'], ['uidNumber', '12a'], ['sn', 'S']]],
  ['cn=u20,cn=Users,' + BASE, [['objectClass', ['top', 'person']], ['cn', 'u20'], ['sn', 'S'], ['orclIsEnabled', 'LOCKED']]],
  ['cn=svc,cn=Users,' + BASE, [['objectClass', ['top', 'orclNetService']], ['cn', 'svc']]],
  ['ou=Sales,' + BASE, [['objectClass', ['top', 'organizationalUnit']], ['ou', 'Sales'], ['cn', 'Sales'], ['orclFoo', 'x'], ['l', 'SP']]],
  ['ou=Empty,' + BASE, [['objectClass', ['top', 'organizationalUnit']]]],
  ['cn=grp,' + BASE, [['objectClass', ['top', 'groupOfUniqueNames', 'orclGroup']], ['cn', 'grp'], ['uniqueMember', ['cn=u1,cn=Users,dc=example,dc=com', 'cn=x#\'0101\'B', ' cn=y,dc=z', 'cn=a\\,b,dc=z', 'CN=Q, DC=Z']], ['owner', 'cn=u2,cn=users,dc=example,dc=com']]],
  ['cn=grp2,' + BASE, [['objectClass', ['top', 'groupOfNames']], ['cn', 'grp2'], ['member', ['not a dn']]]],
  ['cn=cont,' + BASE, [['objectClass', ['top', 'orclContainer']], ['cn', 'cont'], ['orclACI', 'x']]],
  ['cn=two,' + BASE, [['objectClass', ['top', 'person', 'organizationalUnit', 'device']], ['cn', 'two'], ['sn', 'S'], ['ou', 'o'], ['serialNumber', '1']]],
  ['uid=acct,' + BASE, [['objectClass', ['top', 'account', 'posixAccount']], ['uid', 'acct'], ['orclGUID', 'keep-me']]],
  ['cn=u1,cn=Users,' + BASE, [['objectClass', ['top', 'person', 'organizationalPerson', 'inetOrgPerson', 'orclUser']], ['uid', 'u1'], ['cn', 'u1'], ['sn', 'One again']]],
  ['cn=ext,' + BASE, [['objectClass', ['top', 'organizationalUnit', 'extensibleObject']], ['ou', 'e'], ['cn', 'ext'], ['mail', 'e@x']]],
  ['cn=loc1,' + BASE, [['objectClass', ['top', 'organizationalRole']], ['cn', 'loc1'], ['l', ['SP', 'Rio', ' rj ']], ['description', 'mapped onto itself']]],
  ['cn=loc2,' + BASE, [['objectClass', ['top', 'organizationalRole']], ['cn', 'loc2'], ['l', 'sp'], ['description', 'x']]],
  ['2.5.4.3=u30,cn=Users,' + BASE, [['objectClass', ['top', 'person']], ['cn', 'u30'], ['sn', 'S']]],
  ['cn=u31,cn=Users,' + BASE, [['objectClass', ['top', 'person']], ['sn', 'S'], ['cn', ['', 'x']], ['orclGUID', 'g'], ['description', '']]],
  ['cn=t,' + BASE, [['objectClass', ['top', 'person', 'testAux']], ['cn', 't'], ['sn', 'S'], ['testFlag', ['yes', 'no']], ['testWhen', ['20240101120000z', '2024-01-02T03:04:05+01:00']]]],
];
const CHANGES: any[] = [
  { kind: 'change', changetype: 'add', dn: 'cn=Ana,' + BASE, attrs: [['objectClass', ['person', 'orclUserV2']], ['cn', 'Ana'], ['orclGUID', 'g']] },
  { kind: 'change', changetype: 'modify', dn: 'cn=Ana,' + BASE, mods: [
    { op: 'replace', name: 'orclGUID', values: ['h'] }, { op: 'add', name: 'objectClass', values: ['inetorgperson', 'orclUserV2'] },
    { op: 'replace', name: 'uidNumber', values: ['007'] }, { op: 'delete', name: 'description', values: [] }, { op: 'replace', name: 'orclIsEnabled', values: ['DISABLED'] }, { op: 'add', name: 'mailAlias', values: ['cn=z'] }] },
  { kind: 'change', changetype: 'modify', dn: 'cn=Bob,' + BASE, mods: [{ op: 'replace', name: 'orclGUID', values: ['h'] }] },
  { kind: 'change', changetype: 'delete', dn: 'cn=Old,' + BASE },
];
const PRESET: PresetData = {
  name: 'golden', removeAttributes: ['orclGUID', 'authPassword;orclCommonPwd'], operationalAttributes: ['orclPwdHistory'],
  mapAttributes: { mailAlias: 'seeAlso' },
  valueMaps: {
    orclIsEnabled: { to: 'ds-pwp-account-disabled', values: { ENABLED: null, DISABLED: 'TRUE' }, otherValues: 'reject' },
    orclIsActive: { to: 'ds-pwp-account-disabled', values: { no: 'TRUE', YES: null }, otherValues: 'keep' },
    l: { values: { sp: 'São Paulo', ' RJ ': 'Rio' }, otherValues: 'keep' },
  },
  removeObjectClasses: ['orclUser', 'orclUserV2', 'orclContainer', 'orclGroup'], mapObjectClasses: { orclFoo: 'device' },
  excludeObjectClasses: ['orclNetService'], structuralByRdn: { cn: 'organizationalRole', ou: 'organizationalUnit' },
};
const SCHEMA_EXTRA = [
  "( 1.3.6.1.4.1.99999.1.1 NAME 'testFlag' SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE )",
  "( 1.3.6.1.4.1.99999.1.2 NAME 'testWhen' SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 )",
  "( 1.3.6.1.4.1.26027.1.1.2 NAME 'ds-pwp-account-disabled' SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE USAGE directoryOperation )",
  "( 1.3.6.1.4.1.99999.1.3 NAME 'orclIsActive' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
];
const CLASS_EXTRA = ["( 1.3.6.1.4.1.99999.2.1 NAME 'testAux' SUP top AUXILIARY MAY ( testFlag $ testWhen ) )"];

function toValue(v: string | { b64: string }): Value { return typeof v === 'string' ? v : Uint8Array.from(Buffer.from(v.b64, 'base64')); }
function ser(v: Value): string { return typeof v === 'string' ? v : 'b64:' + Buffer.from(v).toString('base64'); }
function build(): LdifRecord[] {
  return [...CASES.map(([dn, attrs]: any) => makeEntry(dn, attrs.map(([n, v]: any) => [n, Array.isArray(v) ? v.map(toValue) : toValue(v)]))),
    ...CHANGES.map((c: any) => c.attrs ? { ...c, attrs: makeEntry(c.dn, c.attrs).attrs } : c.mods ? { ...c, mods: c.mods.map((m: any) => ({ ...m, values: [...m.values] })) } : { ...c })];
}
function serRecord(r: any): unknown {
  if (r.attrs) return [r.dn, [...r.attrs].map(([k, a]: any) => [k, a.name, a.values.map(ser)])];
  if (r.mods) return [r.dn, r.mods.map((m: any) => [m.op, m.name, m.values.map(ser)])];
  return [r.dn, r.changetype];
}
function runGolden(): Record<string, { runs: any[]; alone: unknown }> {
  const schema = mergeSchemas([builtinSchema(), schemaFromDescriptions(SCHEMA_EXTRA, CLASS_EXTRA, 'test')]);
  const out: Record<string, { runs: any[]; alone: unknown }> = {};
  for (const [label, opts] of ([['preserve', {}], ['extensible', { extensibleObject: true }], ['strict', { strategy: 'strict' }], ['explain', { explain: ['cn=u4,cn=Users,' + BASE, 'cn=u6,cn=Users,' + BASE, 'cn=u8,cn=Users,' + BASE, 'cn=u10,cn=Users,' + BASE, 'cn=u20,cn=Users,' + BASE] }]] as Array<[string, Partial<FixSchemaOptions>]>)) {
    const stage = fixSchema({ schema, preset: PRESET, ...opts });
    const runs: any[] = [];
    for (let pass = 0; pass < 2; pass++) {
      const recs = build();
      const before = recs.map(serRecord);
      const b = stage.fn({ seq: pass, records: recs.slice(), rejects: [] });
      runs.push({
        records: b.records.map(serRecord),
        rejects: b.rejects.map((r: any) => [r.code, r.dn, r.message, JSON.stringify(serRecord(r.record)) === JSON.stringify(before[recs.indexOf(r.record)])]),
        counts: Object.entries(b.counts ?? {}),
        notes: (b.notes ?? []).map((n: any) => `${n.dn} ${n.code}: ${n.message}`),
      });
    }
    // Each record alone through a fresh stage (cold caches).
    const alone = build().map((r) => {
      const b = fixSchema({ schema, preset: PRESET, ...opts }).fn({ seq: 0, records: [r], rejects: [] });
      return [b.records.map(serRecord), b.rejects.map((x: any) => x.code), Object.entries(b.counts ?? {})];
    });
    out[label] = { runs, alone };
  }
  return out;
}

const EXPECTED_PRESERVE_FIRST_RUN = {
  records: [
    ["cn=u1,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","person","organizationalPerson","inetOrgPerson"]],["uid","uid",["u1"]],["cn","cn",["u1"]],["sn","sn",["One"]],["mail","mail",["u1@x"]],["userpassword","userPassword",["{SSHA}x"]]]],
    ["cn=u2,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","person","organizationalPerson","inetOrgPerson"]],["uid","uid",["u2"]],["cn","cn",["u2"]],["sn","sn",["Two"]],["mail","mail",["u2@x"]]]],
    ["cn=u3,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["organizationalRole","top"]],["cn","cn",["u3"]],["description","description",["no classes"]]]],
    ["cn=u4,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","person","organizationalPerson","inetOrgPerson"]],["cn","cn",["u4"]],["seealso","seeAlso",["cn=b,dc=x","cn=c,dc=x"]],["sn","sn",["Four"]]]],
    ["cn=u5,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","person","organizationalPerson","inetOrgPerson"]],["seealso","seeAlso",["cn=c,dc=x","cn=d,dc=x"]],["cn","cn",["u5"]],["sn","sn",["Five"]]]],
    ["cn=u6,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","person","organizationalPerson","inetOrgPerson"]],["cn","cn",["u6"]],["sn","sn",["Six"]],["ds-pwp-account-disabled","ds-pwp-account-disabled",["TRUE"]],["mail","mail",["u6@x"]]]],
    ["cn=u7,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","person","organizationalPerson","inetOrgPerson"]],["cn","cn",["u7"]],["sn","sn",["Seven"]],["mail","mail",["u7@x"]]]],
    ["cn=u8,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","person"]],["cn","cn",["someone else","u8"]],["sn","sn",["Eight"]],["description","description",["x"]]]],
    ["cn=u9,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","person"]],["description","description",["x"]],["sn","sn",["Nine"]],["cn","cn",["u9"]]]],
    ["cn=u10,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","person"]],["cn","cn",["u10"]],["description","description",["no sn"]],["sn","sn",["u10"]]]],
    ["cn=u11,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","inetOrgPerson","organizationalPerson","person"]],["cn","cn",["u11"]],["sn","sn",["S"]],["displayname","displayName",["A"]],["employeenumber","employeeNumber",["1"]],["preferredlanguage","preferredLanguage",["pt"]]]],
    ["cn=u12,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","person","posixAccount"]],["cn","cn",["u12"]],["sn","sn",["S"]],["uid","uid",["u12"]],["uidnumber","uidNumber",["42"]],["gidnumber","gidNumber",["7"]],["homedirectory","homeDirectory",["/h"]],["description","description",["ok"]]]],
    ["CN=U13,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","person"]],["cn;lang-ja","cn;lang-ja",["アナ"]],["sn","sn",["S"]],["cn","CN",["U13"]]]],
    ["cn=u14,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","person"]],["cn;lang-ja","cn;lang-ja",["アナ"]],["sn","sn",["S"]],["cn","cn",["u14"]]]],
    ["cn=u15,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","person","organizationalPerson","inetOrgPerson"]],["cn","cn",["u15"]],["sn","sn",["S"]]]],
    ["cn=u16,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","person","organizationalPerson","inetOrgPerson"]],["cn","cn",["u16"]],["sn","sn",["S"]]]],
    ["cn=u17,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","person","organizationalPerson","inetOrgPerson"]],["cn","cn",["u17"]],["sn","sn",["S"]],["jpegphoto","jpegPhoto",["b64:/9j/4AAQ"]],["title","title",["b64://79"]]]],
    ["cn=a+sn=b,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","person"]],["cn","cn",["a"]],["description","description",["multi"]],["sn","sn",["b"]]]],
    ["cn=u19,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","person"]],["cn","cn",["u19"]],["sn","sn",["S"]]]],
    ["ou=Sales,dc=example,dc=com",[["objectclass","objectClass",["top","organizationalUnit"]],["ou","ou",["Sales"]],["l","l",["São Paulo"]]]],
    ["ou=Empty,dc=example,dc=com",[["objectclass","objectClass",["top","organizationalUnit"]],["ou","ou",["Empty"]]]],
    ["cn=grp,dc=example,dc=com",[["objectclass","objectClass",["top","groupOfUniqueNames"]],["cn","cn",["grp"]],["uniquemember","uniqueMember",["cn=u1,cn=Users,dc=example,dc=com","cn=x#'0101'B","cn=y,dc=z","cn=a\\,b,dc=z","CN=Q, DC=Z"]],["owner","owner",["cn=u2,cn=users,dc=example,dc=com"]]]],
    ["cn=cont,dc=example,dc=com",[["objectclass","objectClass",["top","organizationalRole"]],["cn","cn",["cont"]]]],
    ["cn=two,dc=example,dc=com",[["objectclass","objectClass",["top","device"]],["cn","cn",["two"]],["ou","ou",["o"]],["serialnumber","serialNumber",["1"]]]],
    ["cn=u1,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","person","organizationalPerson","inetOrgPerson"]],["uid","uid",["u1"]],["cn","cn",["u1"]],["sn","sn",["One again"]]]],
    ["cn=ext,dc=example,dc=com",[["objectclass","objectClass",["top","organizationalUnit","extensibleObject"]],["ou","ou",["e"]],["cn","cn",["ext"]],["mail","mail",["e@x"]]]],
    ["cn=loc1,dc=example,dc=com",[["objectclass","objectClass",["top","organizationalRole"]],["cn","cn",["loc1"]],["l","l",["São Paulo","Rio"," rj "]],["description","description",["mapped onto itself"]]]],
    ["cn=loc2,dc=example,dc=com",[["objectclass","objectClass",["top","organizationalRole"]],["cn","cn",["loc2"]],["l","l",["São Paulo"]],["description","description",["x"]]]],
    ["2.5.4.3=u30,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","person"]],["cn","cn",["u30"]],["sn","sn",["S"]]]],
    ["cn=u31,cn=Users,dc=example,dc=com",[["objectclass","objectClass",["top","person"]],["sn","sn",["S"]],["cn","cn",["x","u31"]]]],
    ["cn=t,dc=example,dc=com",[["objectclass","objectClass",["top","person","testAux"]],["cn","cn",["t"]],["sn","sn",["S"]],["testflag","testFlag",["TRUE"]],["testwhen","testWhen",["20240101120000Z","20240102030405+0100"]]]],
    ["cn=Ana,dc=example,dc=com",[["objectclass","objectClass",["person","top"]],["cn","cn",["Ana"]],["sn","sn",["Ana"]]]],
    ["cn=Ana,dc=example,dc=com",[["add","objectClass",["inetOrgPerson"]],["replace","uidNumber",["7"]],["delete","description",[]],["replace","ds-pwp-account-disabled",["TRUE"]],["add","seeAlso",["cn=z"]]]],
    ["cn=Old,dc=example,dc=com","delete"],
  ],
  rejects: [["PRESET_VALUE_UNMAPPABLE","cn=u20,cn=Users,dc=example,dc=com","orclIsEnabled: value \"LOCKED\" has no mapping in preset golden",true],["PRESET_EXCLUDED","cn=svc,cn=Users,dc=example,dc=com","objectClass orclNetService is a source-only entry kind the target cannot hold (excluded by preset golden)",true],["SCHEMA_SYNTAX_INVALID","cn=grp2,dc=example,dc=com","member: value \"not a dn\" is not valid DN syntax and cannot be repaired unambiguously",true],["SCHEMA_MUST_MISSING","uid=acct,dc=example,dc=com","missing MUST attributes cn (required by posixAccount), uidNumber (required by posixAccount), gidNumber (required by posixAccount), homeDirectory (required by posixAccount), and no value can be derived",true],["SCHEMA_MODIFY_EMPTY","cn=Bob,dc=example,dc=com","every modification of this record was dropped for the target schema",true]],
  counts: [["PRESET_OC_REMOVED",7],["PRESET_ATTR_REMOVED",7],["SCHEMA_OPERATIONAL_REMOVED",1],["PRESET_VALUE_MAPPED",7],["SCHEMA_STRUCTURAL_ADDED",2],["SCHEMA_SUPERCLASS_ADDED",4],["SCHEMA_ATTR_NOT_ALLOWED_REMOVED",5],["SCHEMA_ATTR_MAPPED",3],["SCHEMA_RDN_VALUE_ADDED",6],["SCHEMA_EMPTY_VALUE_REMOVED",4],["SCHEMA_MUST_FILLED",2],["SCHEMA_SINGLE_VALUE_TRIMMED",3],["SCHEMA_SYNTAX_REPAIRED",7],["SCHEMA_ATTR_UNKNOWN_REMOVED",2],["SCHEMA_MULTIPLE_STRUCTURAL",2],["SCHEMA_OC_RENAMED",1]],
  notes: [],
};

const EXPECTED_DIGESTS: Record<string, string> = {
  "preserve.runs[0]": "490b7e5efd7854c698eccf6ef55f3f1ebf9b91094fc44c3ead9180dcdd9bbe1e",
  "preserve.runs[1]": "490b7e5efd7854c698eccf6ef55f3f1ebf9b91094fc44c3ead9180dcdd9bbe1e",
  "preserve.alone": "dc26e2e58e9d384d1103b2dd145edc3ce1a077228986996c97032735f57f9f93",
  "extensible.runs[0]": "bcd88f565325d6ce835a1168823b413f0f5ad524cfa3bdbab50f26c7dbe9096c",
  "extensible.runs[1]": "bcd88f565325d6ce835a1168823b413f0f5ad524cfa3bdbab50f26c7dbe9096c",
  "extensible.alone": "69884423a6641bb9db7cdaa0dcc14f80d7c038b5cf123aef18c081f22e401ead",
  "strict.runs[0]": "490b7e5efd7854c698eccf6ef55f3f1ebf9b91094fc44c3ead9180dcdd9bbe1e",
  "strict.runs[1]": "490b7e5efd7854c698eccf6ef55f3f1ebf9b91094fc44c3ead9180dcdd9bbe1e",
  "strict.alone": "dc26e2e58e9d384d1103b2dd145edc3ce1a077228986996c97032735f57f9f93",
  "explain.runs[0]": "aa03dd14d328f7362a018522ae653c7de5f7355357cbf0d5fda7fac8c74b7ae8",
  "explain.runs[1]": "aa03dd14d328f7362a018522ae653c7de5f7355357cbf0d5fda7fac8c74b7ae8",
  "explain.alone": "dc26e2e58e9d384d1103b2dd145edc3ce1a077228986996c97032735f57f9f93"
};

t.test('fix-schema gives the results it gave before its speed work', async (t) => {
  const got = runGolden();
  t.same(got.preserve.runs[0], EXPECTED_PRESERVE_FIRST_RUN, 'default options, first run, spelled out');
  for (const [label, v] of Object.entries(got)) {
    v.runs.forEach((r, i) => t.equal(createHash('sha256').update(JSON.stringify(r)).digest('hex'), EXPECTED_DIGESTS[`${label}.runs[${i}]`], `${label} run ${i}`));
    t.equal(createHash('sha256').update(JSON.stringify(v.alone)).digest('hex'), EXPECTED_DIGESTS[`${label}.alone`], `${label}, each record alone`);
  }
});
