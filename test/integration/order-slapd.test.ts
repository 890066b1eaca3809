/**
 * Integration: a generated OID-style export with 5% of its records before their parents and many forward member
 * references, run through the CLI (`ldapflow run --preset oid-to-oud`, categorize + fix-schema + order-dependencies) to
 * LDIF, then loaded with OpenLDAP's own `ldapadd -c` into a real slapd with schema checking: no noSuchObject (32), no
 * schema error, every record the preset does not exclude is in the server, memberships are complete minus the
 * dangling ones, and the later duplicate wins. `ldapflow analyze --json` counts equal the generator's ground truth.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from '../../bench/gen.js';
import { startSlapd } from '../support/slapd.js';
import { main } from '../../src/cli.js';
import { parseLdifText } from '../../src/sources/ldif-parser.js';
import { normalizeDn, parentDn } from '../../src/dn.js';
import { getStrings, type Entry } from '../../src/entry.js';
import { run } from '../../src/pipeline.js';
import { readLdif } from '../../src/sources/ldif-file.js';
import { writeLdif } from '../../src/sinks/ldif-file.js';
import { buildFixSchema } from '../../src/transforms/fix-schema.js';
import { categorize } from '../../src/transforms/categorize.js';
import { orderDependencies } from '../../src/transforms/order-dependencies.js';

const N = 6000;
const SCHEMAS = ['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `/etc/ldap/schema/${s}.ldif`);

async function cli(args: string[]): Promise<{ code: number; stdout: string }> {
  const write = process.stdout.write.bind(process.stdout);
  let stdout = '';
  process.stdout.write = ((chunk: string | Uint8Array) => { stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'); return true; }) as typeof process.stdout.write;
  try {
    const code = await main(args);
    return { code, stdout };
  } finally {
    process.stdout.write = write;
  }
}

t.test('OID export, 5% out of order -> ldapflow run --preset oid-to-oud -> ldapadd -c into slapd', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ldapflow-order-slapd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const input = join(dir, 'oid.ldif');
  const output = join(dir, 'out.ldif');
  const truth = await generate({ entries: N, out: input, seed: 23, outOfOrder: 0.05 });
  t.ok(truth.outOfOrder >= 0.05 * N, `${truth.outOfOrder} records before their parent`);
  t.ok(truth.forwardReferences > 1000, `${truth.forwardReferences} forward references`);

  // analyze --json equals the ground truth.
  const an = await cli(['analyze', input, '--preset', 'oid-to-oud', '--json', ...SCHEMAS.flatMap((s) => ['--schema', s])]);
  t.equal(an.code, 0);
  const report = JSON.parse(an.stdout);
  t.equal(report.entries, truth.entries);
  t.same(report.categories, truth.categories);
  t.equal(report.outOfOrder.count, truth.outOfOrder);
  t.equal(report.danglingReferences.count, truth.danglingReferences);
  t.same(report.cycles.map((c: string[]) => c.join(' > ')).sort(), truth.cycles.map((c) => c.join(' > ')).sort());
  t.equal(report.duplicates.count, truth.duplicates);
  t.equal(report.excluded.count, truth.excluded);

  // run: the whole pipeline through the CLI.
  const code = (await cli(['run', input, output, '--preset', 'oid-to-oud', '-q', '--reject', join(dir, 'rejects.ldif'), '--summary', join(dir, 'summary.json'),
    ...SCHEMAS.flatMap((s) => ['--schema', s])])).code;
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
  t.equal(code, 3, 'done with rejects (the preset exclusions)');
  t.same(Object.keys(summary.rejects), ['PRESET_EXCLUDED'], `rejects: ${JSON.stringify(summary.rejects)}`);
  t.equal(summary.fixes.ORDER_CHILD_BEFORE_PARENT, truth.outOfOrder, 'every out-of-order record waited');
  t.equal(summary.fixes.ORDER_DUPLICATE_DN, truth.duplicates);
  t.equal(summary.fixes.REF_DANGLING_REMOVED, truth.danglingReferences, 'dangling references removed (oid-to-oud)');

  // The output itself is parent-first.
  const out = parseLdifText(readFileSync(output), { file: output });
  t.equal(out.rejects.length, 0);
  const seen = new Set<string>(['dc=com']);
  const early: string[] = [];
  for (const r of out.records) {
    if (r.kind === 'change') continue;
    const n = normalizeDn(r.dn);
    if (!seen.has(parentDn(n)) && early.length < 5) early.push(r.dn);
    seen.add(n);
  }
  t.same(early, [], 'no entry before its parent in the output');

  const srv = await startSlapd({ suffix: 'dc=example,dc=com' });
  t.teardown(() => srv.stop());
  const add = spawnSync('ldapadd', ['-c', '-x', '-H', srv.url, '-D', srv.rootDn, '-w', srv.rootPassword, '-f', output],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const codes = new Map<number, number>();
  const firstErrors: string[] = [];
  const lines = add.stderr.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^ldap_(add|modify): .*\((\d+)\)/.exec(lines[i]);
    if (!m) continue;
    const c = Number(m[2]);
    codes.set(c, (codes.get(c) ?? 0) + 1);
    if (c !== 68 && firstErrors.length < 10) firstErrors.push(lines.slice(i, i + 2).join(' '));
  }
  t.equal(codes.get(32) ?? 0, 0, 'no noSuchObject (32)');
  t.same(firstErrors, [], 'no error but the suffix slapd already holds');
  t.equal(codes.get(68) ?? 0, 1, 'already-exists only for the suffix (duplicates became modifies)');

  const search = spawnSync('ldapsearch', ['-x', '-LLL', '-o', 'ldif-wrap=no', '-H', srv.url, '-D', srv.rootDn, '-w', srv.rootPassword,
    '-b', 'dc=example,dc=com', '(objectClass=*)', 'uniqueMember', 'member', 'title'], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  t.equal(search.status, 0, search.stderr);
  const server = parseLdifText(search.stdout).records as Entry[];
  t.equal(server.length, truth.uniqueEntries - truth.excluded, 'every distinct record not excluded is in the server');
  const members = (rs: Entry[]) => rs.reduce((n, r) => n + getStrings(r, 'member').length + getStrings(r, 'uniqueMember').length, 0);
  const inputRecs = parseLdifText(readFileSync(input)).records.filter((r): r is Entry => r.kind === 'entry');
  t.equal(members(server), members(inputRecs) - truth.danglingReferences, 'memberships complete minus the dangling ones');
  for (const d of truth.duplicateList.slice(0, 3)) {
    const later = inputRecs[d.secondIndex];
    const inServer = server.find((r) => normalizeDn(r.dn) === normalizeDn(d.dn));
    t.same(getStrings(inServer!, 'title'), getStrings(later, 'title'), `the later duplicate of ${d.dn} wins`);
  }
});

t.test('LDAP-sink ordering: forward members and cycles as deferred modifies load into slapd, memberships complete', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ldapflow-order-slapd-ldap-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const input = join(dir, 'oid.ldif');
  const output = join(dir, 'out.ldif');
  const truth = await generate({ entries: 3000, out: input, seed: 5, outOfOrder: 0.05 });
  const fix = await buildFixSchema({ schemaPaths: SCHEMAS, preset: 'oid-to-oud' });
  // What an LDAP sink would receive, written as LDIF (adds, then modifies adding members once their targets exist).
  const summary = await run({
    source: readLdif({ input }),
    stages: [categorize(), fix, orderDependencies({ sinkKind: 'ldap', baseDn: 'dc=example,dc=com', danglingReferences: 'remove' })],
    sink: writeLdif({ output }),
    rejectFile: join(dir, 'rejects.ldif'),
  });
  t.ok(summary.fixes.ORDER_REFERENCE_DEFERRED > 500, `${summary.fixes.ORDER_REFERENCE_DEFERRED} member values deferred`);
  t.ok(truth.cycles.length >= 3, 'the input has membership cycles');
  const srv = await startSlapd({ suffix: 'dc=example,dc=com' });
  t.teardown(() => srv.stop());
  const add = spawnSync('ldapadd', ['-c', '-x', '-H', srv.url, '-D', srv.rootDn, '-w', srv.rootPassword, '-f', output],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const errors = add.stderr.split('\n').filter((l) => /^ldap_(add|modify): /.test(l) && !/\(68\)/.test(l));
  t.same(errors.slice(0, 5), [], 'no error but the suffix slapd already holds');
  const search = spawnSync('ldapsearch', ['-x', '-LLL', '-o', 'ldif-wrap=no', '-H', srv.url, '-D', srv.rootDn, '-w', srv.rootPassword,
    '-b', 'dc=example,dc=com', '(objectClass=*)', 'uniqueMember', 'member'], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  const server = parseLdifText(search.stdout).records as Entry[];
  t.equal(server.length, truth.uniqueEntries - truth.excluded);
  const members = (rs: Entry[]) => rs.reduce((n, r) => n + getStrings(r, 'member').length + getStrings(r, 'uniqueMember').length, 0);
  const inputRecs = parseLdifText(readFileSync(input)).records.filter((r): r is Entry => r.kind === 'entry');
  t.equal(members(server), members(inputRecs) - truth.danglingReferences, 'memberships complete minus the dangling ones');
  for (const cycle of truth.cycles) {
    const g = server.find((r) => normalizeDn(r.dn) === normalizeDn(cycle[0]))!;
    const next = normalizeDn(cycle[1 % cycle.length]);
    t.ok([...getStrings(g, 'member'), ...getStrings(g, 'uniqueMember')].some((v) => normalizeDn(v) === next), `cycle ${cycle[0]} -> ${cycle[1 % cycle.length]} loaded`);
  }
});
