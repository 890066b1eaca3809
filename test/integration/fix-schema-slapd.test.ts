/**
 * Integration: a generated OID-style export (bench/gen.ts, 6,000 records) converted with the oid-to-oud preset and the
 * target schema read from the same files slapd loads (plus what slapd compiles in), loaded with OpenLDAP's own
 * `ldapadd -c` into a real slapd holding only core, cosine, inetorgperson and nis: no schema error (result codes
 * 17, 18, 21, 65, 69), and every record the preset does not exclude is in the server.
 * 1. through the run() API with the fix-schema stage alone, the output sorted by DN depth before loading;
 * 2. through the CLI (`ldapflow run --preset oid-to-oud --schema ...`, every stage), loaded as written.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
const SCHEMAS = ['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `/etc/ldap/schema/${s}.ldif`);
const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));
const SCHEMA_CODES = [17, 18, 21, 65, 69];

/** ldapadd -c the file into a fresh slapd: result codes counted, the first schema errors quoted, the DNs in the server. */
async function loadIntoSlapd(t: Test, file: string) {
  const srv = await startSlapd({ suffix: 'dc=example,dc=com' });
  t.teardown(() => srv.stop());
  const add = spawnSync('ldapadd', ['-c', '-x', '-H', srv.url, '-D', srv.rootDn, '-w', srv.rootPassword, '-f', file],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const codes = new Map<number, number>();
  const schemaErrors: string[] = [];
  const lines = add.stderr.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^ldap_(?:add|modify): .*\((\d+)\)/.exec(lines[i]);
    if (!m) continue;
    const code = Number(m[1]);
    codes.set(code, (codes.get(code) ?? 0) + 1);
    if (SCHEMA_CODES.includes(code) && schemaErrors.length < 10) schemaErrors.push(lines.slice(Math.max(0, i - 1), i + 2).join(' '));
  }
  const search = spawnSync('ldapsearch', ['-x', '-LLL', '-o', 'ldif-wrap=no', '-H', srv.url, '-D', srv.rootDn, '-w', srv.rootPassword,
    '-b', 'dc=example,dc=com', '(objectClass=*)', '1.1'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  t.equal(search.status, 0, search.stderr);
  const inServer = new Set(parseLdifText(search.stdout).records.map((r) => normalizeDn(r.dn)));
  return { codes, schemaErrors, inServer };
}

t.test('run() API: OID export -> fix-schema (oid-to-oud) -> sorted by depth -> ldapadd -c', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ldapflow-fixschema-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const input = join(dir, 'oid.ldif');
  const output = join(dir, 'out.ldif');
  const truth = await generate({ entries: N, out: input, seed: 7 });

  const stage = await buildFixSchema({ schemaPaths: SCHEMAS, preset: 'oid-to-oud' });
  const summary = await run({ source: readLdif({ input }), stages: [stage], sink: writeLdif({ output }), rejectFile: join(dir, 'rejects.ldif') });
  t.equal(summary.read, N, 'every record read');
  t.equal(summary.written + summary.rejected, N, 'every record written or rejected');
  t.same(summary.rejects, { PRESET_EXCLUDED: truth.excluded }, 'only the Oracle-only records are rejected');
  for (const code of ['PRESET_OC_REMOVED', 'PRESET_ATTR_REMOVED', 'SCHEMA_OPERATIONAL_REMOVED', 'SCHEMA_STRUCTURAL_ADDED',
    'SCHEMA_ATTR_UNKNOWN_REMOVED', 'SCHEMA_ATTR_NOT_ALLOWED_REMOVED', 'PRESET_VALUE_MAPPED', 'PRESET_MAP_TARGET_MISSING']) {
    t.ok((summary.fixes[code] ?? 0) > 0, `fix ${code} counted (${summary.fixes[code]})`);
  }

  // Sort by DN depth (no dependency stage here), keeping input order within a depth.
  const parsed = parseLdifText(readFileSync(output), { file: output });
  t.equal(parsed.rejects.length, 0, 'the output is valid LDIF');
  const recs = parsed.records.map((r, i) => ({ r, i, d: dnDepth(r.dn) }));
  recs.sort((a, b) => a.d - b.d || a.i - b.i);
  const sorted = join(dir, 'sorted.ldif');
  writeFileSync(sorted, recs.map((x) => formatRecord(x.r)).join('\n'));

  const { codes, schemaErrors, inServer } = await loadIntoSlapd(t, sorted);
  t.same(schemaErrors, [], 'no schema error from ldapadd');
  // The only acceptable failures: 68 (already exists) for the suffix slapd created and for duplicate records.
  t.same([...codes.keys()].filter((c) => c !== 68), [], `ldapadd result codes other than 68: ${JSON.stringify([...codes])}`);
  t.ok((codes.get(68) ?? 0) <= truth.duplicates + 1, 'already-exists only for the suffix and duplicates');
  const expected = new Set(parsed.records.map((r) => normalizeDn(r.dn)));
  t.equal(expected.size, truth.uniqueEntries - truth.excluded, 'distinct DNs written = unique records - excluded');
  const missing = [...expected].filter((d) => !inServer.has(d));
  t.same(missing.slice(0, 10), [], `every record not excluded is in the server (${missing.length} missing)`);
  t.equal(inServer.size, expected.size, 'and nothing else');
});

t.test('CLI: ldapflow run --preset oid-to-oud --schema ... (every stage) -> ldapadd -c', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ldapflow-fixschema-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const input = join(dir, 'oid.ldif');
  const output = join(dir, 'out.ldif');
  const summaryFile = join(dir, 'summary.json');
  const truth = await generate({ entries: N, out: input, seed: 11 });
  const cli = spawnSync(process.execPath, [CLI, 'run', input, output, '--preset', 'oid-to-oud', ...SCHEMAS.flatMap((s) => ['--schema', s]),
    '--summary', summaryFile, '-q', '--reject', join(dir, 'rejects.ldif')], { encoding: 'utf8' });
  t.equal(cli.status, 3, `ldapflow run exits 3 (done, with rejects): ${cli.stderr}`);
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as { rejects: Record<string, number>; fixes: Record<string, number> };
  t.same(summary.rejects, { PRESET_EXCLUDED: truth.excluded }, 'only the Oracle-only records are rejected');
  t.ok(summary.fixes.PRESET_ATTR_REMOVED > 0 && summary.fixes.SCHEMA_OPERATIONAL_REMOVED > 0, 'the summary lists fixes by code');
  t.notOk('PRESET_EXCLUDED' in summary.fixes, 'rejects are not counted as fixes');

  const { codes, schemaErrors, inServer } = await loadIntoSlapd(t, output);
  t.same(schemaErrors, [], 'no schema error from ldapadd');
  t.same([...codes.keys()].filter((c) => c !== 68), [], `ldapadd result codes other than 68: ${JSON.stringify([...codes])}`);
  t.ok((codes.get(68) ?? 0) <= 1, 'already-exists only for the suffix slapd created (duplicates arrive as modify records)');
  const expected = new Set(parseLdifText(readFileSync(output)).records.map((r) => normalizeDn(r.dn)));
  t.equal(expected.size, truth.uniqueEntries - truth.excluded, 'distinct DNs written = unique records - excluded');
  const missing = [...expected].filter((d) => !inServer.has(d));
  t.same(missing.slice(0, 10), [], `every record not excluded is in the server (${missing.length} missing)`);
  t.equal(inServer.size, expected.size, 'and nothing else');
});
