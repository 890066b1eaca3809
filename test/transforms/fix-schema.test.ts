/**
 * fix-schema: for each fix code, the entry before, after, and the reported reason (count + explain note).
 */
import t from 'tap';
import { fixSchema, buildFixSchema, type FixSchemaOptions } from '../../src/transforms/fix-schema.js';
import { builtinSchema } from '../../src/schema/load.js';
import { mergeSchemas, schemaFromDescriptions } from '../../src/schema/schema.js';
import { makeEntry, getStrings, type Batch, type LdifRecord, type Value } from '../../src/entry.js';
import type { PresetData } from '../../src/presets/index.js';

const BASE = 'dc=example,dc=com';
// The built-in schema plus a few test types: a boolean, a generalized time, an OUD-like operational flag.
const schema = mergeSchemas([builtinSchema(), schemaFromDescriptions([
  "( 1.3.6.1.4.1.99999.1.1 NAME 'testFlag' SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE )",
  "( 1.3.6.1.4.1.99999.1.2 NAME 'testWhen' SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 )",
  "( 1.3.6.1.4.1.26027.1.1.2 NAME 'ds-pwp-account-disabled' SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE USAGE directoryOperation )",
], ["( 1.3.6.1.4.1.99999.2.1 NAME 'testAux' SUP top AUXILIARY MAY ( testFlag $ testWhen ) )"], 'test')]);

type Attrs = Array<[string, Value | Value[]]>;

function fixOne(dn: string, attrs: Attrs, opts: Partial<FixSchemaOptions> = {}) {
  const stage = fixSchema({ schema, explain: [dn], ...opts });
  const before = makeEntry(dn, attrs);
  const batch: Batch = stage.fn({ seq: 1, records: [before], rejects: [] });
  const rec = batch.records[0] as (LdifRecord & { kind: 'entry' }) | undefined;
  const codes = (batch.notes ?? []).map((n) => n.code);
  return {
    rec, batch, codes,
    counts: batch.counts ?? {},
    reject: batch.rejects[0],
    notes: (batch.notes ?? []).map((n) => `${n.code}: ${n.message}`),
    get: (name: string) => (rec ? getStrings(rec, name) : []),
  };
}

const person: Attrs = [['objectClass', ['top', 'person']], ['cn', 'Ana Silva'], ['sn', 'Silva']];

t.test('SCHEMA_OC_RENAMED: class names in the target spelling', async (t) => {
  const r = fixOne(`cn=Ana Silva,${BASE}`, [['objectClass', ['TOP', 'inetorgperson', 'organizationalPerson', 'person']], ['cn', 'Ana Silva'], ['sn', 'Silva']]);
  t.same(r.get('objectClass'), ['top', 'inetOrgPerson', 'organizationalPerson', 'person']);
  t.equal(r.counts.SCHEMA_OC_RENAMED, 2);
  t.match(r.notes, ['SCHEMA_OC_RENAMED: objectClass TOP written as top (target spelling)', /inetorgperson written as inetOrgPerson/]);
});

t.test('SCHEMA_OC_UNKNOWN_REMOVED and SCHEMA_SUPERCLASS_ADDED', async (t) => {
  const r = fixOne(`cn=Ana Silva,${BASE}`, [['objectClass', ['inetOrgPerson', 'orclUserV2']], ['cn', 'Ana Silva'], ['sn', 'Silva']]);
  t.same(r.get('objectClass'), ['inetOrgPerson', 'organizationalPerson', 'person', 'top'], 'chain added, unknown class gone');
  t.equal(r.counts.SCHEMA_OC_UNKNOWN_REMOVED, 1);
  t.equal(r.counts.SCHEMA_SUPERCLASS_ADDED, 3);
  t.ok(r.notes.includes('SCHEMA_OC_UNKNOWN_REMOVED: objectClass orclUserV2 removed: not defined in the target schema'));
  t.ok(r.notes.includes('SCHEMA_SUPERCLASS_ADDED: objectClass person added: superclass of inetOrgPerson'));
});

t.test('SCHEMA_OC_MAPPED and PRESET_OC_REMOVED by a preset', async (t) => {
  const preset: PresetData = { name: 'p', mapObjectClasses: { orclContainer: 'organizationalRole' }, removeObjectClasses: ['person'] };
  const r = fixOne(`cn=Users,${BASE}`, [['objectClass', ['top', 'orclContainer']], ['cn', 'Users']], { preset });
  t.same(r.get('objectClass'), ['top', 'organizationalRole']);
  t.ok(r.notes.includes('SCHEMA_OC_MAPPED: objectClass orclContainer mapped to organizationalRole by preset p'));
  const r2 = fixOne(`cn=x,${BASE}`, [['objectClass', ['top', 'person', 'device']], ['cn', 'x'], ['sn', 'y']], { preset });
  t.same(r2.get('objectClass'), ['top', 'device'], 'a class the target knows removed by the preset');
  t.equal(r2.counts.PRESET_OC_REMOVED, 1);
  t.same(r2.get('sn'), [], 'and its attributes are then not allowed');
  t.equal(r2.counts.SCHEMA_ATTR_NOT_ALLOWED_REMOVED, 1);
});

t.test('SCHEMA_MULTIPLE_STRUCTURAL: keep the chain fitting the RDN and covering most attributes', async (t) => {
  // ou= entry carrying organizationalUnit and person (as OID exports put organizationalUnit + orclContainer + cn).
  const r = fixOne(`ou=Sales,${BASE}`, [['objectClass', ['top', 'person', 'organizationalUnit']], ['ou', 'Sales'], ['cn', 'Sales'], ['sn', 'x']]);
  t.same(r.get('objectClass'), ['top', 'organizationalUnit']);
  t.same(r.get('cn'), [], 'cn is not allowed by organizationalUnit');
  t.equal(r.counts.SCHEMA_MULTIPLE_STRUCTURAL, 1);
  t.match(r.notes, [/SCHEMA_MULTIPLE_STRUCTURAL: structural objectClass person dropped: only one structural chain allowed, kept organizationalUnit \(fits RDN ou/]);
  t.equal(r.counts.SCHEMA_ATTR_NOT_ALLOWED_REMOVED, 2);

  // The same classes under a cn= RDN keep person: it allows cn and covers sn.
  const r2 = fixOne(`cn=Sales,${BASE}`, [['objectClass', ['top', 'organizationalUnit', 'person']], ['ou', 'Sales'], ['cn', 'Sales'], ['sn', 'x']]);
  t.same(r2.get('objectClass'), ['top', 'person']);

  // A dropped structural class with an auxiliary equivalent is replaced by it (account -> uidObject).
  const r3 = fixOne(`cn=Ana,${BASE}`, [['objectClass', ['top', 'account', 'person']], ['cn', 'Ana'], ['sn', 'S'], ['uid', 'ana']]);
  t.same(r3.get('objectClass'), ['top', 'person', 'uidObject']);
  t.same(r3.get('uid'), ['ana'], 'uid kept through the auxiliary class');
  t.match(r3.notes, [/structural objectClass account replaced by auxiliary uidObject/]);
});

t.test('SCHEMA_STRUCTURAL_ADDED: a cn= container gets organizationalRole, or what the preset says; none fits: reject', async (t) => {
  const r = fixOne(`cn=Users,${BASE}`, [['objectClass', ['top', 'orclContainer']], ['cn', 'Users']]);
  t.same(r.get('objectClass'), ['top', 'organizationalRole']);
  t.ok(r.notes.includes('SCHEMA_STRUCTURAL_ADDED: structural objectClass organizationalRole added (the entry had none; it allows the RDN attribute cn)'));
  const r2 = fixOne(`cn=Users,${BASE}`, [['objectClass', ['top', 'orclContainer']], ['cn', 'Users']], { preset: { structuralByRdn: { cn: 'device' } } });
  t.same(r2.get('objectClass'), ['top', 'device'], 'preset structuralByRdn');
  const r3 = fixOne(`ou=X,${BASE}`, [['objectClass', 'orclContainer'], ['ou', 'X']]);
  t.same(r3.get('objectClass'), ['organizationalUnit', 'top']);
  const r4 = fixOne(`gecos=x,${BASE}`, [['objectClass', 'orclContainer'], ['gecos', 'x']]);
  t.equal(r4.batch.records.length, 0);
  t.equal(r4.reject.code, 'SCHEMA_NO_STRUCTURAL');
  t.match(r4.reject.message, /no class of the target allows the RDN attribute gecos/);
});

t.test('SCHEMA_RDN_VALUE_ADDED; SCHEMA_RDN_NOT_ALLOWED and SCHEMA_RDN_UNKNOWN reject', async (t) => {
  const r = fixOne(`cn=Ana Silva,${BASE}`, [['objectClass', ['top', 'person']], ['cn', 'Ana'], ['sn', 'Silva']]);
  t.same(r.get('cn'), ['Ana', 'Ana Silva']);
  t.ok(r.notes.includes('SCHEMA_RDN_VALUE_ADDED: cn: Ana Silva added: the RDN value must be present in the entry'));
  const same = fixOne(`CN=ana  silva,${BASE}`, [['objectClass', ['top', 'person']], ['cn', 'Ana Silva'], ['sn', 'Silva']]);
  t.notOk(same.counts.SCHEMA_RDN_VALUE_ADDED, 'matching ignores case and inner space');
  const r2 = fixOne(`gidNumber=5,${BASE}`, [['objectClass', ['top', 'organizationalUnit']], ['ou', 'x']]);
  t.equal(r2.reject.code, 'SCHEMA_RDN_NOT_ALLOWED');
  t.match(r2.reject.message, 'RDN attribute gidNumber is not allowed by objectClasses top, organizationalUnit');
  const r3 = fixOne(`orclGUID=5,${BASE}`, [['objectClass', ['top', 'organizationalUnit']], ['ou', 'x']]);
  t.equal(r3.reject.code, 'SCHEMA_RDN_UNKNOWN');
});

t.test('attributes: SCHEMA_ATTR_NOT_ALLOWED_REMOVED, SCHEMA_ATTR_UNKNOWN_REMOVED, SCHEMA_ATTR_MAPPED, options judged by base type', async (t) => {
  const r = fixOne(`cn=Ana,${BASE}`, [...person.slice(0, 1), ['cn', 'Ana'], ['cn;lang-ja', 'アナ'], ['sn', 'S'], ['mail', 'a@x'],
    ['orclSAMAccountName', 'ana'], ['mailAlias', 'cn=b,dc=x']], { preset: { mapAttributes: { mailAlias: 'seeAlso' } } });
  t.same(r.get('cn;lang-ja'), ['アナ'], 'cn;lang-ja allowed as cn');
  t.same(r.get('mail'), [], 'mail is not allowed by person');
  t.ok(r.notes.includes('SCHEMA_ATTR_NOT_ALLOWED_REMOVED: mail removed: not allowed by objectClasses top, person'));
  t.ok(r.notes.includes('SCHEMA_ATTR_UNKNOWN_REMOVED: orclSAMAccountName removed: attribute type orclsamaccountname is not defined in the target schema'));
  t.same(r.get('seeAlso'), ['cn=b,dc=x'], 'renamed by the preset');
  t.ok(r.notes.includes('SCHEMA_ATTR_MAPPED: mailAlias renamed to seeAlso by preset preset'));
});

t.test('SCHEMA_OPERATIONAL_REMOVED and PRESET_ATTR_REMOVED; user-writable operational types kept', async (t) => {
  const r = fixOne(`cn=Ana,${BASE}`, [...person.slice(0, 1), ['cn', 'Ana'], ['sn', 'S'], ['createTimestamp', '20200101000000Z'],
    ['governingStructureRule', '1'], ['entryCSN', 'x'], ['orclGUID', 'abc'], ['authpassword;orclcommonpwd', '{MD5}x'],
    ['userPassword', '{SSHA}y'], ['ds-pwp-account-disabled', 'TRUE']],
  { preset: { name: 'oid', removeAttributes: ['orclGUID', 'authPassword;orclCommonPwd', 'userPassword;x'] } });
  t.same([...r.rec!.attrs.keys()].sort(), ['cn', 'ds-pwp-account-disabled', 'objectclass', 'sn', 'userpassword']);
  t.equal(r.counts.SCHEMA_OPERATIONAL_REMOVED, 3);
  t.equal(r.counts.PRESET_ATTR_REMOVED, 2);
  t.ok(r.notes.includes('SCHEMA_OPERATIONAL_REMOVED: governingStructureRule removed: NO-USER-MODIFICATION in the target schema: the server maintains it'));
  t.ok(r.notes.includes('SCHEMA_OPERATIONAL_REMOVED: createTimestamp removed: operational attribute of the source server'));
  t.ok(r.notes.includes('SCHEMA_OPERATIONAL_REMOVED: entryCSN removed: operational attribute of the source server'));
  t.ok(r.notes.includes('PRESET_ATTR_REMOVED: authpassword;orclcommonpwd removed: source-internal attribute, removed by preset oid'));
});

t.test('MUST: SCHEMA_MUST_FILLED (sn from cn, values from the RDN); SCHEMA_MUST_MISSING rejects with the reason', async (t) => {
  const r = fixOne(`cn=Ana Silva,${BASE}`, [['objectClass', ['top', 'person']], ['cn', 'Ana Silva']]);
  t.same(r.get('sn'), ['Ana Silva']);
  t.ok(r.notes.includes('SCHEMA_MUST_FILLED: sn: Ana Silva added from cn: person requires sn'));
  const r2 = fixOne(`ou=Sales,${BASE}`, [['objectClass', ['top', 'organizationalUnit']]]);
  t.same(r2.get('ou'), ['Sales'], 'the RDN fills ou');
  const before = makeEntry(`uid=ana,${BASE}`, [['objectClass', ['top', 'account', 'posixAccount']], ['uid', 'ana'], ['orclGUID', 'keep-me']]);
  const stage = fixSchema({ schema });
  const b = stage.fn({ seq: 0, records: [before], rejects: [] });
  t.equal(b.records.length, 0);
  t.equal(b.rejects[0].code, 'SCHEMA_MUST_MISSING');
  t.equal(b.rejects[0].message, 'missing MUST attributes cn (required by posixAccount), uidNumber (required by posixAccount), ' +
    'gidNumber (required by posixAccount), homeDirectory (required by posixAccount), and no value can be derived');
  t.equal(b.rejects[0].record, before, 'the reject carries the record');
  t.same(getStrings(before, 'orclGUID'), ['keep-me'], 'a rejected record is not modified');
  t.equal(b.counts?.SCHEMA_MUST_MISSING, undefined, 'a reject is counted by the pipeline as a reject, not as a fix');
});

t.test('SCHEMA_SINGLE_VALUE_TRIMMED keeps the RDN value, else the first', async (t) => {
  const r = fixOne(`cn=Ana,${BASE}`, [['objectClass', ['top', 'inetOrgPerson']], ['cn', 'Ana'], ['sn', 'S'], ['displayName', ['Ana S', 'A. S.']]]);
  t.same(r.get('displayName'), ['Ana S']);
  t.ok(r.notes.includes('SCHEMA_SINGLE_VALUE_TRIMMED: displayName is SINGLE-VALUE: kept "Ana S", dropped "A. S."'));
  const r2 = fixOne(`c=BR,${BASE}`, [['objectClass', ['top', 'country']], ['c', ['US', 'BR']]]);
  t.same(r2.get('c'), ['BR'], 'the RDN value wins');
});

t.test('syntaxes: SCHEMA_SYNTAX_REPAIRED where unambiguous, SCHEMA_SYNTAX_INVALID rejects, SCHEMA_EMPTY_VALUE_REMOVED', async (t) => {
  const r = fixOne(`cn=Ana,${BASE}`, [['objectClass', ['top', 'person', 'testAux', 'posixAccount']], ['cn', 'Ana'], ['sn', 'S'], ['uid', 'ana'],
    ['uidNumber', ' +0042 '], ['gidNumber', '-0'], ['homeDirectory', '/home/ana'], ['testFlag', 'yes'],
    ['testWhen', ['20240101120000z', '2024-01-02T03:04:05+01:00', '20240101120000.5Z']], ['seeAlso', ' cn=x,dc=y '], ['description', ['', 'ok']]]);
  t.same(r.get('uidNumber'), ['42']);
  t.same(r.get('gidNumber'), ['0']);
  t.same(r.get('testFlag'), ['TRUE']);
  t.same(r.get('testWhen'), ['20240101120000Z', '20240102030405+0100', '20240101120000.5Z']);
  t.same(r.get('seeAlso'), ['cn=x,dc=y']);
  t.same(r.get('description'), ['ok']);
  t.equal(r.counts.SCHEMA_SYNTAX_REPAIRED, 6);
  t.equal(r.counts.SCHEMA_EMPTY_VALUE_REMOVED, 1);
  t.ok(r.notes.includes('SCHEMA_SYNTAX_REPAIRED: uidNumber: " +0042 " repaired to "42" (Integer syntax)'));
  t.ok(r.notes.includes('SCHEMA_SYNTAX_REPAIRED: testFlag: "yes" repaired to "TRUE" (Boolean syntax)'));

  for (const [attr, value, syntax] of [['uidNumber', '12a', 'Integer'], ['testFlag', 'maybe', 'Boolean'],
    ['testWhen', '20240101120000', 'Generalized Time'], ['seeAlso', 'not a dn', 'DN']] as const) {
    const bad = fixOne(`cn=Ana,${BASE}`, [['objectClass', ['top', 'person', 'testAux', 'posixAccount']], ['cn', 'Ana'], ['sn', 'S'],
      ['uid', 'ana'], ['gidNumber', '1'], ['homeDirectory', '/h'], ...(attr === 'uidNumber' ? [] : [['uidNumber', '1'] as [string, string]]), [attr, value]]);
    t.equal(bad.reject?.code, 'SCHEMA_SYNTAX_INVALID', `${attr}: ${value}`);
    t.equal(bad.reject?.message, `${attr}: value "${value}" is not valid ${syntax} syntax and cannot be repaired unambiguously`);
  }
  const ia5 = fixOne(`cn=Ana,${BASE}`, [['objectClass', ['top', 'inetOrgPerson']], ['cn', 'Ana'], ['sn', 'S'], ['mail', 'anã@x']]);
  t.equal(ia5.reject?.code, 'SCHEMA_SYNTAX_INVALID', 'non-ASCII mail (IA5 String) cannot be repaired');
});

t.test('preset exclusions and value maps', async (t) => {
  const preset: PresetData = {
    name: 'oid', excludeObjectClasses: ['orclNetService'],
    valueMaps: { orclIsEnabled: { to: 'ds-pwp-account-disabled', values: { ENABLED: null, DISABLED: 'TRUE' }, otherValues: 'reject' } },
  };
  const ex = fixOne(`cn=DB1,${BASE}`, [['objectClass', ['top', 'orclNetService']], ['cn', 'DB1']], { preset });
  t.equal(ex.reject.code, 'PRESET_EXCLUDED');
  t.equal(ex.reject.message, 'objectClass orclNetService is a source-only entry kind the target cannot hold (excluded by preset oid)');
  t.same(ex.notes, ['PRESET_EXCLUDED: rejected: objectClass orclNetService is a source-only entry kind the target cannot hold (excluded by preset oid)']);

  const dis = fixOne(`cn=Ana,${BASE}`, [...person, ['orclIsEnabled', 'DISABLED']], { preset });
  t.same(dis.get('ds-pwp-account-disabled'), ['TRUE']);
  t.same(dis.get('orclIsEnabled'), []);
  t.ok(dis.notes.includes('PRESET_VALUE_MAPPED: orclIsEnabled: DISABLED mapped to ds-pwp-account-disabled: TRUE by preset oid'));
  const en = fixOne(`cn=Ana,${BASE}`, [...person, ['orclIsEnabled', 'enabled']], { preset });
  t.same([...en.rec!.attrs.keys()].sort(), ['cn', 'objectclass', 'sn']);
  t.ok(en.notes.includes("PRESET_VALUE_MAPPED: orclIsEnabled: enabled dropped by preset oid (the target's default)"));
  const odd = fixOne(`cn=Ana,${BASE}`, [...person, ['orclIsEnabled', 'LOCKED']], { preset });
  t.equal(odd.reject.code, 'PRESET_VALUE_UNMAPPABLE');

  // A target without ds-pwp-account-disabled: reject by default, or drop counted when the preset says so.
  const plain = builtinSchema();
  const r1 = fixOne(`cn=Ana,${BASE}`, [...person, ['orclIsEnabled', 'DISABLED']], { preset, schema: plain });
  t.equal(r1.reject.code, 'PRESET_VALUE_UNMAPPABLE');
  t.match(r1.reject.message, /mapped to ds-pwp-account-disabled, which the target cannot hold/);
  const dropPreset = { ...preset, valueMaps: { orclIsEnabled: { ...preset.valueMaps!.orclIsEnabled, targetMissing: 'drop' as const } } };
  const r2 = fixOne(`cn=Ana,${BASE}`, [...person, ['orclIsEnabled', 'DISABLED']], { preset: dropPreset, schema: plain });
  t.equal(r2.batch.records.length, 1);
  t.equal(r2.counts.PRESET_MAP_TARGET_MISSING, 1);
});

t.test('strategies: preserve + extensibleObject keeps attributes (SCHEMA_EXTENSIBLE_ADDED); strict removes them', async (t) => {
  const attrs: Attrs = [['objectClass', ['top', 'organizationalUnit']], ['ou', 'Sales'], ['cn', 'Sales'], ['orclFoo', 'x']];
  const keep = fixOne(`ou=Sales,${BASE}`, attrs, { extensibleObject: true });
  t.same(keep.get('objectClass'), ['top', 'organizationalUnit', 'extensibleObject']);
  t.same(keep.get('cn'), ['Sales']);
  t.same(keep.get('orclFoo'), [], 'a type the target does not define cannot be kept, even by extensibleObject');
  t.equal(keep.counts.SCHEMA_EXTENSIBLE_ADDED, 1);
  const strict = fixOne(`ou=Sales,${BASE}`, attrs, { extensibleObject: true, strategy: 'strict' });
  t.same(strict.get('objectClass'), ['top', 'organizationalUnit']);
  t.same(strict.get('cn'), []);
  t.ok(strict.notes.includes('SCHEMA_ATTR_NOT_ALLOWED_REMOVED: cn removed: not allowed by objectClasses top, organizationalUnit (strategy strict)'));
});

t.test('change records: add like an entry; modify drops what the target cannot take; delete and modrdn pass', async (t) => {
  const stage = fixSchema({ schema, preset: { name: 'oid', removeAttributes: ['orclGUID'] }, explain: [`cn=Ana,${BASE}`] });
  const add: LdifRecord = { kind: 'change', changetype: 'add', dn: `cn=Ana,${BASE}`, attrs: makeEntry('x', [['objectClass', ['person', 'orclUserV2']], ['cn', 'Ana'], ['orclGUID', 'g']]).attrs };
  const mod: LdifRecord = { kind: 'change', changetype: 'modify', dn: `cn=Ana,${BASE}`, mods: [
    { op: 'replace', name: 'orclGUID', values: ['h'] }, { op: 'add', name: 'objectClass', values: ['inetorgperson', 'orclUserV2'] },
    { op: 'replace', name: 'uidNumber', values: ['007'] }, { op: 'delete', name: 'description', values: [] },
  ] };
  const empty: LdifRecord = { kind: 'change', changetype: 'modify', dn: `cn=Bob,${BASE}`, mods: [{ op: 'replace', name: 'orclGUID', values: ['h'] }] };
  const del: LdifRecord = { kind: 'change', changetype: 'delete', dn: `cn=Old,${BASE}` };
  const modrdn: LdifRecord = { kind: 'change', changetype: 'modrdn', dn: `cn=A,${BASE}`, newrdn: 'cn=B', deleteoldrdn: true, newsuperior: null };
  const b = stage.fn({ seq: 0, records: [add, mod, empty, del, modrdn], rejects: [] });
  t.same(b.records.map((r) => r.kind === 'change' && r.changetype), ['add', 'modify', 'delete', 'modrdn']);
  t.same(getStrings(b.records[0] as { attrs: Map<string, never> }, 'objectClass'), ['person', 'top']);
  t.same(getStrings(b.records[0] as { attrs: Map<string, never> }, 'sn'), ['Ana'], 'MUST filled on an add record too');
  t.same((b.records[1] as { mods: unknown[] }).mods, [
    { op: 'add', name: 'objectClass', values: ['inetOrgPerson'] },
    { op: 'replace', name: 'uidNumber', values: ['7'] },
    { op: 'delete', name: 'description', values: [] },
  ]);
  t.equal(b.records[2], del);
  t.equal(b.rejects.length, 1);
  t.equal(b.rejects[0].code, 'SCHEMA_MODIFY_EMPTY');
  t.equal(b.rejects[0].dn, `cn=Bob,${BASE}`);
});

t.test('the plan cache gives each entry its own result; batch counts add up; worker options rebuild the same stage', async (t) => {
  const opts: FixSchemaOptions = { schema, preset: { name: 'p', removeObjectClasses: ['orclContainer'] } };
  const stage = fixSchema(opts);
  const mk = (i: number) => makeEntry(`cn=u${i},${BASE}`, [['objectClass', ['top', 'person', 'orclContainer']], ['cn', `u${i}`], ...(i % 2 ? [['sn', 's'] as [string, string]] : [])]);
  const b = stage.fn({ seq: 0, records: [mk(1), mk(2), mk(3)], rejects: [] });
  t.same(b.counts, { PRESET_OC_REMOVED: 3, SCHEMA_MUST_FILLED: 1 });
  t.same(b.records.map((r) => getStrings(r as never, 'sn')), [['s'], ['u2'], ['s']]);
  t.equal(stage.worker?.factory, 'fixSchema');
  const again = fixSchema(structuredClone(stage.worker!.options) as FixSchemaOptions);
  const b2 = again.fn({ seq: 0, records: [mk(1), mk(2), mk(3)], rejects: [] });
  t.same(b2.counts, b.counts);
  t.same(b2.records.map((r) => [...(r as never as { attrs: Map<string, unknown> }).attrs]), b.records.map((r) => [...(r as never as { attrs: Map<string, unknown> }).attrs]));
});

t.test('options are validated with an error naming the option; buildFixSchema loads files and presets', async (t) => {
  t.throws(() => fixSchema({ schema, strategy: 'lenient' as never }), { code: 'SCHEMA_OPTION_INVALID', message: /option "strategy" must be "preserve" or "strict"/ });
  t.throws(() => fixSchema({ schema: {} as never }), { code: 'SCHEMA_OPTION_INVALID', message: /option "schema"/ });
  t.throws(() => fixSchema({ schema, explain: ['not a dn'] }), { code: 'SCHEMA_OPTION_INVALID', message: /option "explain"/ });
  const stage = await buildFixSchema({ schemaPaths: ['/etc/ldap/schema/core.schema', '/etc/ldap/schema/cosine.ldif'], preset: 'oid-to-oud', strategy: 'strict' });
  const b = stage.fn({ seq: 0, records: [makeEntry(`cn=Users,${BASE}`, [['objectClass', ['top', 'orclContainer']], ['cn', 'Users'], ['orclACI', 'access to entry by * (browse)']])], rejects: [] });
  t.same(getStrings(b.records[0] as never, 'objectClass'), ['top', 'organizationalRole']);
  t.same(b.counts, { PRESET_OC_REMOVED: 1, SCHEMA_STRUCTURAL_ADDED: 1, PRESET_ATTR_REMOVED: 1 });
  await t.rejects(buildFixSchema({ schemaPaths: [], preset: 'no-such-preset' }), { code: 'PRESET_UNKNOWN' });
});
