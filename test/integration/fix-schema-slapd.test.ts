/**
 * Integration: a generated OID-style export (bench/gen.ts, 6,000 records) converted with the oid-to-oud preset and the
 * target schema read from the same files slapd loads (plus what slapd compiles in), sorted by DN depth, loaded with OpenLDAP's own `ldapadd -c` into a
 * real slapd holding only core, cosine, inetorgperson and nis: no schema error (result codes 17, 18, 21, 65, 69), and
 * every record the preset does not exclude is in the server.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from '../../bench/gen.js';
import { startSlapd } from '../support/slapd.js';
import { run } from '../../src/pipeline.js';
import { readLdif } from '../../src/sources/ldif-file.js';
import { writeLdif } from '../../src/sinks/ldif-file.js';
import { formatRecord } from '../../src/sinks/ldif-format.js';
import { parseLdifText } from '../../src/sources/ldif-parser.js';
import { dnDepth, normalizeDn } from '../../src/dn.js';
import { buildFixSchema } from '../../src/transforms/fix-schema.js';

const N = 6000;

t.test('OID export -> fix-schema (oid-to-oud) -> ldapadd -c into slapd with core/cosine/inetorgperson/nis', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ldapflow-fixschema-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const input = join(dir, 'oid.ldif');
  const output = join(dir, 'out.ldif');
  const rejectFile = join(dir, 'rejects.ldif');
  const truth = await generate({ entries: N, out: input, seed: 7, truth: join(dir, 'truth.json') });

  const stage = await buildFixSchema({
    schemaPaths: ['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `/etc/ldap/schema/${s}.ldif`),
    preset: 'oid-to-oud',
  });
  const summary = await run({ source: readLdif({ input }), stages: [stage], sink: writeLdif({ output }), rejectFile });
  t.equal(summary.read, N, 'every record read');
  t.equal(summary.written + summary.rejected, N, 'every record written or rejected');
  t.same(Object.keys(summary.rejects), ['PRESET_EXCLUDED'], `only preset exclusions are rejected: ${JSON.stringify(summary.rejects)}`);
  t.equal(summary.rejects.PRESET_EXCLUDED, truth.excluded, 'the preset excludes exactly the Oracle-only records');
  for (const code of ['PRESET_OC_REMOVED', 'PRESET_ATTR_REMOVED', 'SCHEMA_OPERATIONAL_REMOVED', 'SCHEMA_STRUCTURAL_ADDED',
    'SCHEMA_ATTR_UNKNOWN_REMOVED', 'SCHEMA_ATTR_NOT_ALLOWED_REMOVED', 'PRESET_VALUE_MAPPED']) {
    t.ok((summary.fixes[code] ?? 0) > 0, `fix ${code} counted (${summary.fixes[code]})`);
  }

  // Sort by DN depth (the dependency stage is not in this test), keep input order within a depth.
  const parsed = parseLdifText(readFileSync(output), { file: output });
  t.equal(parsed.rejects.length, 0, 'the output is valid LDIF');
  const recs = parsed.records.map((r, i) => ({ r, i, d: dnDepth(r.dn) }));
  recs.sort((a, b) => a.d - b.d || a.i - b.i);
  const sorted = join(dir, 'sorted.ldif');
  writeFileSync(sorted, recs.map((x) => formatRecord(x.r)).join('\n'));

  const srv = await startSlapd({ suffix: 'dc=example,dc=com' });
  t.teardown(() => srv.stop());
  const add = spawnSync('ldapadd', ['-c', '-x', '-H', srv.url, '-D', srv.rootDn, '-w', srv.rootPassword, '-f', sorted],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const codes = new Map<number, number>();
  const schemaErrors: string[] = [];
  const lines = add.stderr.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^ldap_add: .*\((\d+)\)/.exec(lines[i]);
    if (!m) continue;
    const code = Number(m[1]);
    codes.set(code, (codes.get(code) ?? 0) + 1);
    if ([17, 18, 21, 65, 69].includes(code) && schemaErrors.length < 10) schemaErrors.push(lines.slice(i, i + 2).join(' '));
  }
  t.same(schemaErrors, [], 'no schema error from ldapadd');
  // The only acceptable failures: 68 (already exists) for the suffix slapd created and for duplicate records.
  t.same([...codes.keys()].filter((c) => c !== 68), [], `ldapadd result codes other than 68: ${JSON.stringify([...codes])}`);
  t.ok((codes.get(68) ?? 0) <= truth.duplicates + 1, 'already-exists only for the suffix and duplicates');

  const search = spawnSync('ldapsearch', ['-x', '-LLL', '-o', 'ldif-wrap=no', '-H', srv.url, '-D', srv.rootDn, '-w', srv.rootPassword,
    '-b', 'dc=example,dc=com', '(objectClass=*)', '1.1'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  t.equal(search.status, 0, search.stderr);
  const inServer = new Set(parseLdifText(search.stdout).records.map((r) => normalizeDn(r.dn)));
  const expected = new Set(parsed.records.map((r) => normalizeDn(r.dn)));
  t.equal(expected.size, truth.uniqueEntries - truth.excluded, 'distinct DNs written = unique records - excluded');
  const missing = [...expected].filter((d) => !inServer.has(d));
  t.same(missing.slice(0, 10), [], `every record not excluded is in the server (${missing.length} missing)`);
  t.equal(inServer.size, expected.size, 'and nothing else');
});
