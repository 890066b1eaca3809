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
 * Measured 2026-11-25 on the shared 2-core machine (load average 2-4), 1M-record bench/gen.ts export (seed 1, 5% before
 * their parent, 19,815 groups held for forward references, LDIF sink), peak RSS from /usr/bin/time -v:
 *   node dist/bench/order.js --input /tmp/ldapflow-bench/oid-1000000-s1-o5.ldif
 *     -> out 1,000,000, 19,328 spilled (held groups past their half of the buffer), 44.8 s (39.6 s user), peak RSS 339 MB
 *   the same tree with the stage and spill of b79f38a (a 64 MiB buffer that held groups filled, so children waiting on
 *   a late parent spilled; the exact spelling and line of every DN as JavaScript values):
 *     -> 56,157 spilled, 46.4 s (41.1 s user), peak RSS 547 MB (734 MB in an earlier run under load)
 *   The CLI on the same file (node dist/src/cli.js run ... out.ldif --preset oid-to-oud --quiet): peak RSS 322 MB,
 *   1:31 (77 s user); 638 MB, 1:48 (85 s user) with the stage of b79f38a. Same records and rejects; 138 records in
 *   another place: the old stage wrote children kept in memory before their spilled siblings, the new one writes
 *   every group in the order an unbounded buffer would (the stage's output hashes the same as b79f38a's with no limit).
 * What stays alive long is what costs: V8 lets the old generation grow to about four times what survived its last full
 * collection before collecting again (live after full collections: ~90 MB before, 25-45 MB now; heap 440 -> 190 MB).
 * Hence a 16 MiB buffer, at most half of it for records held until the end of input, and the DN index in typed arrays
 * outside the heap (~40 bytes an entry with spellings, lines and states: ~380 MB for 10M entries).
 * These numbers are with normalizeDn's suffix cache (src/dn.ts) storing copies of its strings, as it does since
 * 3618ab4. As first written (29b20dd) it kept slices of the LDIF reader's 64 KiB chunks, pinning up to 20,000 chunks
 * (1.3 GB); with that this bench peaked at 968 MB and the CLI at 1,079 MB.
 * Rerun on the final tree (3618ab4 and later, 18:40 UTC, machine otherwise idle): 1,000,000 out, 19,328 spilled,
 * 42.8 s (44.3 s user), peak RSS 361 MB (/usr/bin/time -v). `npm run bench` at 1M the same hour: the CLI pipeline
 * peaks at 325 MB inline, 375 MB with 1 worker, 451 MB with 2 (bench/RESULTS.md).
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
