/**
 * bench/order.ts: the dependency-ordering stage on its own, for time and peak RSS.
 *
 *   node dist/bench/order.js [--entries 1000000] [--out-of-order 0.05] [--input FILE] [--buffer-entries N]
 *                            [--buffer-bytes N] [--sink ldif|ldap] [--reverse]
 *
 * Input: a bench/gen.ts OID-style export (generated into /tmp/ldapflow-bench when missing and --input is not given),
 * read with readLdif, passed through orderDependencies, counted and dropped (no sink). With --reverse, a synthetic
 * input instead: N small entries (root, 20 OUs, users) in exactly reversed order, so everything waits for the root,
 * which comes last (the worst case: everything spills past the buffer).
 * Prints one JSON line: records in/out, rejects, counts, seconds, entries/s, peak RSS (process.resourceUsage().maxRSS).
 *
 * Measured 2026-11-25 on the shared 2-core machine (load average 13-16, so wall times are inflated), 1M-record
 * bench/gen.ts export (seed 1, 5% before their parent, 20k groups held for forward references, LDIF sink):
 *   node dist/bench/order.js --input /tmp/ldapflow-bench/oid-1000000-s1-o5.ldif
 *     -> out 1,000,000, 56,157 spilled, 219.8 s, peak RSS 734 MB (V8 lets the heap grow: garbage, not live data)
 *   node --max-old-space-size=350 dist/bench/order.js --input ...same...
 *     -> out 1,000,000, 195.4 s, peak RSS 352 MB (the live set fits in 350 MB: reading + index + 64 MiB buffer)
 * Reading the LDIF dominates the time; the stage alone ran ~26k entries per CPU second on the 20k export.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readLdif } from '../src/sources/ldif-file.js';
import { orderDependencies } from '../src/transforms/order-dependencies.js';
import { makeEntry, type Batch, type LdifRecord } from '../src/entry.js';
import { generate } from './gen.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function* reversed(n: number): AsyncGenerator<Batch> {
  // Built back to front in batches of 1,000 so the input itself is never held whole.
  const units = 20;
  const at = (k: number): LdifRecord => {
    if (k === 0) return makeEntry('dc=example,dc=com', [['objectClass', ['top', 'domain']], ['dc', 'example']]);
    if (k <= units) return makeEntry(`ou=Unit${k},dc=example,dc=com`, [['objectClass', ['top', 'organizationalUnit']], ['ou', `Unit${k}`]]);
    const u = k - units - 1;
    return makeEntry(`uid=user${u},ou=Unit${(u % units) + 1},dc=example,dc=com`, [
      ['objectClass', ['top', 'person', 'organizationalPerson', 'inetOrgPerson']], ['uid', `user${u}`], ['cn', `User ${u}`], ['sn', `${u}`],
      ['mail', `user${u}@example.com`], ['description', 'x'.repeat(200)],
    ]);
  };
  let seq = 0;
  for (let hi = n; hi > 0; hi -= 1000) {
    const records: LdifRecord[] = [];
    for (let k = hi - 1; k >= Math.max(0, hi - 1000); k--) records.push(at(k));
    yield { seq: seq++, records, rejects: [] };
  }
}

async function main(): Promise<void> {
  const entries = Number(arg('--entries') ?? 1_000_000);
  const outOfOrder = Number(arg('--out-of-order') ?? 0.05);
  const reverse = process.argv.includes('--reverse');
  let input = arg('--input');
  if (!reverse && !input) {
    const dir = '/tmp/ldapflow-bench';
    mkdirSync(dir, { recursive: true });
    input = join(dir, `oid-${entries}-s1-o${Math.round(outOfOrder * 100)}.ldif`);
    if (!existsSync(input)) await generate({ entries, out: input, seed: 1, outOfOrder, truth: input.replace(/\.ldif$/, '.truth.json') });
  }
  const stage = orderDependencies({
    ...(arg('--buffer-entries') ? { bufferEntries: Number(arg('--buffer-entries')) } : {}),
    ...(arg('--buffer-bytes') ? { bufferBytes: Number(arg('--buffer-bytes')) } : {}),
    stateDir: '/tmp/ldapflow-bench',
  });
  const counts: Record<string, number> = {};
  let rejects = 0;
  let read = 0;
  let out = 0;
  const ac = new AbortController();
  const source = reverse ? reversed(entries) : readLdif({ input: input! }).batches(ac.signal);
  const counted = (async function* () {
    for await (const b of source) { read += b.records.length; yield b; }
  })();
  const sinkKind = (arg('--sink') ?? 'ldif') as 'ldif' | 'ldap';
  const ctx = { count: (c: string, n = 1) => { counts[c] = (counts[c] ?? 0) + n; }, reject: () => { rejects++; }, sinkKind, signal: ac.signal };
  const t0 = process.hrtime.bigint();
  if (stage.kind !== 'barrier') throw new Error('not a barrier');
  for await (const b of stage.run(counted, ctx)) {
    out += b.records.length;
    rejects += b.rejects.length;
    for (const k in b.counts ?? {}) counts[k] = (counts[k] ?? 0) + b.counts![k];
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const own = Object.fromEntries(Object.entries(counts).filter(([k]) => /^(ORDER|REF)_/.test(k)));
  console.log(JSON.stringify({
    input: reverse ? `synthetic reversed ${entries}` : input, read, out, rejects, counts: own,
    seconds: +s.toFixed(2), entriesPerSecond: Math.round(read / s), peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  }));
}

await main();
