/**
 * Round trip: `ldapflow run a.ldif b.ldif --passthrough`, then reading b gives the same records as a (DNs, attribute
 * names and order, values byte for byte, change records, controls) for every samples/*.ldif and a generated
 * 100k-entry export. Both files are read as streams, record by record, so memory stays flat.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readLdif } from '../src/sources/ldif-file.js';
import type { LdifRecord, Reject, Value } from '../src/entry.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const cli = join(root, 'dist/src/cli.js');
const gen = join(root, 'dist/bench/gen.js');

const vb = (v: Value) => (typeof v === 'string' ? 's' + Buffer.from(v, 'utf8').toString('base64') : 'b' + Buffer.from(v).toString('base64'));
function key(r: LdifRecord): string {
  const base = { dn: r.dn, kind: r.kind, controls: (r.controls ?? []).map((c) => [c.oid, c.criticality, c.value === null ? null : vb(c.value)]) };
  if ('attrs' in r) return JSON.stringify({ ...base, ct: r.kind === 'change' ? r.changetype : undefined, attrs: [...r.attrs.values()].map((a) => [a.name, a.values.map(vb)]) });
  if (r.changetype === 'modify') return JSON.stringify({ ...base, mods: r.mods.map((m) => [m.op, m.name, m.values.map(vb)]) });
  if (r.changetype === 'delete') return JSON.stringify({ ...base, ct: 'delete' });
  return JSON.stringify({ ...base, ct: r.changetype, newrdn: r.newrdn, del: r.deleteoldrdn, sup: r.newsuperior });
}

async function* records(path: string, rejects: Reject[]): AsyncGenerator<LdifRecord> {
  for await (const b of readLdif({ input: path }).batches(new AbortController().signal)) {
    rejects.push(...b.rejects);
    yield* b.records;
  }
}

/** Compare two LDIF files record by record; returns the count and the first difference. */
async function compare(a: string, b: string): Promise<{ count: number; diff?: string; rejectsA: Reject[]; rejectsB: Reject[] }> {
  const rejectsA: Reject[] = [];
  const rejectsB: Reject[] = [];
  const ia = records(a, rejectsA);
  const ib = records(b, rejectsB);
  let count = 0;
  for (;;) {
    const [x, y] = await Promise.all([ia.next(), ib.next()]);
    if (x.done || y.done) {
      if (!x.done || !y.done) return { count, diff: `${x.done ? a : b} ended after ${count} records, the other did not`, rejectsA, rejectsB };
      return { count, rejectsA, rejectsB };
    }
    const kx = key(x.value);
    const ky = key(y.value);
    if (kx !== ky) return { count, diff: `record ${count} (${x.value.dn}) differs:\n${kx.slice(0, 2000)}\n${ky.slice(0, 2000)}`, rejectsA, rejectsB };
    count++;
  }
}

function passthrough(t: { equal: (a: unknown, b: unknown, m?: string) => unknown }, input: string, output: string, extra: string[] = []): void {
  const r = spawnSync(process.execPath, [cli, 'run', input, output, '--passthrough', '-q', ...extra], { encoding: 'utf8' });
  t.equal(r.status, 0, `ldapflow run ${input}: exit 0 ${r.stderr}`);
}

t.ok(existsSync(cli), 'the CLI is built');

t.test('samples/*.ldif survive a passthrough run unchanged', async (t) => {
  const samples = readdirSync(join(root, 'samples')).filter((f) => f.endsWith('.ldif')).sort();
  t.ok(samples.length >= 2, `samples: ${samples.join(', ')}`);
  const dir = t.testdir({});
  for (const f of samples) {
    const a = join(root, 'samples', f);
    const b = join(dir, f);
    passthrough(t, a, b);
    const res = await compare(a, b);
    t.equal(res.rejectsA.length, 0, `${f}: the sample reads without rejects`);
    t.equal(res.rejectsB.length, 0, `${f}: so does the copy`);
    t.notOk(res.diff, `${f}: ${res.diff ?? `${res.count} records identical`}`);
    t.ok(res.count > 0);
    // And once more through the writer without folding: still the same records.
    const c = join(dir, 'nowrap-' + f);
    passthrough(t, b, c, ['--wrap', '0']);
    const res2 = await compare(a, c);
    t.notOk(res2.diff, `${f} (--wrap 0): ${res2.diff ?? 'identical'}`);
  }
});

t.test('a generated 100k-entry export survives a passthrough run unchanged', async (t) => {
  t.ok(existsSync(gen), 'the generator is built');
  const dir = t.testdir({});
  const a = join(dir, 'gen.ldif');
  const g = spawnSync(process.execPath, [gen, '--entries', '100000', '--out', a, '--seed', '1'], { encoding: 'utf8' });
  t.equal(g.status, 0, g.stderr);
  t.comment(`generated ${(statSync(a).size / 1e6).toFixed(0)} MB`);
  const b = join(dir, 'copy.ldif');
  passthrough(t, a, b);
  const res = await compare(a, b);
  t.equal(res.rejectsA.length, 0, 'the generated file reads without rejects');
  t.equal(res.rejectsB.length, 0);
  t.equal(res.count, 100000, 'every record');
  t.notOk(res.diff, res.diff ?? 'identical');
});
