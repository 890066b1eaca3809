import t from 'tap';
import { mkdtempSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze, formatAnalyzeReport } from '../src/analyze.js';
import { readLdif } from '../src/sources/ldif-file.js';
import { generate } from '../bench/gen.js';

const dir = mkdtempSync(join(tmpdir(), 'ldapflow-analyze-test-'));

t.test('analyze counts equal the generator ground truth (OID export, 5% out of order)', async (t) => {
  const out = join(dir, 'gen.ldif');
  const truth = await generate({ entries: 4000, out, seed: 11, outOfOrder: 0.05 });
  const before = statSync(out).mtimeMs;
  const r = await analyze({ source: readLdif({ input: out }), preset: 'oid-to-oud' });
  t.equal(statSync(out).mtimeMs, before, 'writes nothing');
  t.equal(r.entries, truth.entries);
  t.equal(r.uniqueEntries, truth.uniqueEntries);
  for (const [k, n] of Object.entries(truth.categories)) t.equal(r.categories[k] ?? 0, n, `category ${k}`);
  t.equal(r.outOfOrder.count, truth.outOfOrder);
  t.ok(truth.outOfOrder >= 200, 'at least 5% out of order');
  t.equal(r.danglingReferences.count, truth.danglingReferences);
  t.same(r.danglingReferences.byEntry, truth.danglingByEntry);
  const key = (c: string[]) => c.join(' > ');
  t.same(r.cycles.map(key).sort(), truth.cycles.map(key).sort(), 'cycles, each from the group written first, in edge order');
  t.ok(truth.cycles.length >= 3);
  t.equal(r.duplicates.count, truth.duplicates);
  t.same(r.duplicates.list, truth.duplicateList.map((d) => ({ dn: d.dn, duplicateDn: d.duplicateDn, firstLine: d.firstLine, secondLine: d.secondLine })));
  t.equal(r.excluded.count, truth.excluded);
  t.same(r.excluded.byObjectClass, truth.excludedByObjectClass);
  t.equal(r.missingParents.count, 0);
  t.same(r.roots, ['dc=example,dc=com']);
  // Conflicts: what the fix stage does, with examples.
  t.equal(r.conflicts.PRESET_EXCLUDED?.count, truth.excluded);
  t.equal(r.conflicts.PRESET_EXCLUDED?.rejects, true);
  t.ok(r.conflicts.PRESET_OC_REMOVED.count > 0);
  t.ok(r.conflicts.PRESET_OC_REMOVED.examples.length === 3);
  t.match(r.conflicts.PRESET_OC_REMOVED.fix, /removed/);
  const json = JSON.parse(JSON.stringify(r));
  for (const k of ['entries', 'categories', 'conflicts', 'outOfOrder', 'danglingReferences', 'cycles', 'duplicates', 'excluded']) t.ok(k in json, `JSON key ${k}`);
});

t.test('a small handmade export: missing parents, cycles, references in other spellings, tables', async (t) => {
  const file = join(dir, 'small.ldif');
  writeFileSync(file, `version: 1

dn: cn=b,ou=Groups,dc=example,dc=com
objectClass: groupOfNames
cn: b
member: CN=A, OU=groups,DC=example,DC=com

dn: dc=example,dc=com
objectClass: domain
dc: example

dn: ou=Groups,dc=example,dc=com
objectClass: organizationalUnit
ou: Groups

dn: cn=a,ou=Groups,dc=example,dc=com
objectClass: groupOfNames
cn: a
member: cn=b,ou=Groups,dc=example,dc=com
member: cn=a,ou=Groups,dc=example,dc=com
member: cn=nobody,ou=People,dc=example,dc=com

dn: uid=x,ou=Lost,dc=example,dc=com
objectClass: account
uid: x
seeAlso: cn=a,ou=groups,dc=example,dc=com

dn: cn=A,ou=Groups,dc=example,dc=com
objectClass: groupOfNames
cn: A
member: cn=b,ou=Groups,dc=example,dc=com
`);
  const r = await analyze({ source: readLdif({ input: file }) });
  t.equal(r.entries, 6);
  t.equal(r.uniqueEntries, 5);
  t.equal(r.outOfOrder.count, 1, 'cn=b came before ou=Groups');
  t.same(r.outOfOrder.examples[0], { dn: 'cn=b,ou=Groups,dc=example,dc=com', parent: 'ou=Groups,dc=example,dc=com', line: 3 });
  t.equal(r.danglingReferences.count, 1);
  t.same(r.danglingReferences.examples, [{ dn: 'cn=a,ou=Groups,dc=example,dc=com', attribute: 'member', value: 'cn=nobody,ou=People,dc=example,dc=com' }]);
  t.same(r.cycles.map((c) => c.join(' > ')).sort(), [
    'cn=b,ou=Groups,dc=example,dc=com > cn=a,ou=Groups,dc=example,dc=com',
    'cn=a,ou=Groups,dc=example,dc=com',
  ].sort());
  t.same(r.duplicates.list, [{ dn: 'cn=a,ou=Groups,dc=example,dc=com', duplicateDn: 'cn=A,ou=Groups,dc=example,dc=com', firstLine: 16, secondLine: 28 }]);
  t.same(r.missingParents, { count: 1, entries: 1, examples: ['ou=lost,dc=example,dc=com'] });
  t.same(r.categories.groups, 3);
  const text = formatAnalyzeReport(r);
  t.match(text, /category\s+entries/);
  t.match(text, /groups\s+3/);
  t.match(text, /entries before their parent\s+1/);
  t.match(text, /membership cycles:\n(\s+.*\n)*\s+cn=a,ou=Groups,dc=example,dc=com -> cn=a,ou=Groups,dc=example,dc=com\n/);
  t.match(text, /lines 16 and 28/);
});
