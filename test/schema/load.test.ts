import t from 'tap';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSchema, loadSchemas, schemaFromText, builtinSchema } from '../../src/schema/load.js';
import { Schema } from '../../src/schema/schema.js';

const SYS = '/etc/ldap/schema';
const dir = mkdtempSync(join(tmpdir(), 'ldapflow-schema-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('every OpenLDAP cn=config schema LDIF on this machine loads without warnings', async (t) => {
  const files = readdirSync(SYS).filter((f) => f.endsWith('.ldif'));
  t.ok(files.length >= 4);
  for (const f of files) {
    const warnings: string[] = [];
    const d = await loadSchema(join(SYS, f), { onWarning: (w) => warnings.push(w) });
    t.same(warnings, [], `${f}: no warnings`);
    t.ok(d.attributeTypes.length + d.objectClasses.length > 0, `${f}: definitions found`);
  }
  const cosine = new Schema(await loadSchema(join(SYS, 'cosine.ldif')));
  t.equal(cosine.className('pilotperson'), 'pilotPerson');
  t.same(cosine.attr('drink')?.names, ['drink', 'favouriteDrink']);
});

t.test('.schema files: the same definitions as the LDIF form; objectidentifier macros expanded', async (t) => {
  for (const name of ['core', 'cosine', 'inetorgperson', 'nis']) {
    const a = await loadSchema(join(SYS, `${name}.schema`));
    const b = await loadSchema(join(SYS, `${name}.ldif`));
    t.same(a.attributeTypes.map((x) => x.oid).sort(), b.attributeTypes.map((x) => x.oid).sort(), `${name}: same attribute OIDs`);
    t.same(a.objectClasses.map((x) => x.oid).sort(), b.objectClasses.map((x) => x.oid).sort(), `${name}: same class OIDs`);
  }
  const dsee = await loadSchema(join(SYS, 'dsee.schema'));
  t.ok(dsee.attributeTypes.every((a) => /^[0-9.]+$/.test(a.oid)), 'NSDSat:5 style OIDs expanded to numbers');
});

t.test('OpenDJ/OUD style LDIF: attributeTypes/objectClasses on cn=schema, X- extensions, modify records too', async (t) => {
  const f = join(dir, '99-user.ldif');
  writeFileSync(f, [
    'dn: cn=schema', 'objectClass: top', 'objectClass: ldapSubentry', 'objectClass: subschema',
    "attributeTypes: ( 2.16.840.1.113894.1.1.1 NAME 'orclGUID' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE",
    "  X-ORIGIN 'Oracle' )",
    "objectClasses: ( 2.16.840.1.113894.1.2.2 NAME 'orclUserV2' SUP top AUXILLARY MAY orclGUID X-ORIGIN 'Oracle' )",
    '', 'dn: cn=schema', 'changetype: modify', 'add: attributeTypes',
    "attributeTypes: ( 1.3.6.1.4.1.26027.1.1.2 NAME 'ds-pwp-account-disabled' SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE USAGE directoryOperation )",
    '-', '',
  ].join('\n'));
  const s = new Schema(await loadSchema(f));
  t.ok(s.attr('orclguid')?.singleValue);
  t.same(s.attr('orclGUID')?.ext, { 'X-ORIGIN': ['Oracle'] }, 'folded line joined');
  t.equal(s.kind('orclUserV2'), 'AUXILIARY');
  t.ok(s.isOperational('ds-pwp-account-disabled'), 'a definition added by a modify record');
});

t.test('merge of several files; builtin; errors name the file', async (t) => {
  const merged = new Schema(await loadSchemas([join(SYS, 'core.schema'), join(SYS, 'cosine.ldif'), join(SYS, 'inetorgperson.ldif'), join(SYS, 'nis.ldif')]));
  t.same(merged.superclassChain('inetOrgPerson').map((o) => o.names[0]), ['inetOrgPerson', 'organizationalPerson', 'person', 'top'],
    'top comes from the system part beneath the files');
  t.equal(merged.syntaxOf('cn'), '1.3.6.1.4.1.1466.115.121.1.15', 'cn and name are compiled into slapd, not in core.schema, yet known');
  t.equal(merged.data.sources?.[0], 'system');
  t.equal(merged.kind('posixAccount'), 'AUXILIARY');
  t.equal((await loadSchemas([])).sources?.[0], 'builtin', 'no --schema: the built-in default');
  t.equal(await loadSchema('builtin'), builtinSchema());
  await t.rejects(loadSchema(join(dir, 'nope.ldif')), { code: 'SCHEMA_READ' });
  const empty = join(dir, 'empty.ldif');
  writeFileSync(empty, 'dn: cn=x\ncn: x\n');
  await t.rejects(loadSchema(empty), { code: 'SCHEMA_EMPTY', message: /empty\.ldif/ });
  const warnings: string[] = [];
  const d = schemaFromText("attributetype ( NAME 'bad' )\nattributetype ( 1.2.3 NAME 'good' )\n", 'x.schema', { onWarning: (w) => warnings.push(w) });
  t.equal(d.attributeTypes.length, 1);
  t.match(warnings[0], /x\.schema: skipped: attribute type description without an OID/);
});

t.test('ldap:// reads the subschema subentry of a live server (readSubschema)', async (t) => {
  const { startSlapd } = await import('../support/slapd.js');
  const srv = await startSlapd({ suffix: 'dc=example,dc=com' });
  t.teardown(() => srv.stop());
  const d = await loadSchema(srv.url);
  t.equal(d.sources?.[0], srv.url);
  const s = new Schema(d);
  t.same(s.superclassChain('inetOrgPerson').map((o) => o.names[0]), ['inetOrgPerson', 'organizationalPerson', 'person', 'top']);
  t.ok(s.isOperational('entryUUID'), 'server-compiled operational types are in the subschema');
  t.equal(s.kind('posixAccount'), 'AUXILIARY');
  t.equal(s.attr('orclGUID'), undefined, 'nothing the server does not have');
  const merged = new Schema(await loadSchemas([srv.url]));
  t.ok(merged.attr('cn'));
});
