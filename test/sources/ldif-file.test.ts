/**
 * src/sources/ldif-file.ts, the stream wrapper: paths, `.ldif.gz` (by suffix and by magic bytes), stdin through the CLI,
 * batches, memory bounded by the record and not the input (a 200 MB stream generated on the fly), abort.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { readLdif } from '../../src/sources/ldif-file.js';
import type { Batch } from '../../src/entry.js';
import { parseLdifText } from '../../src/sources/ldif-parser.js';

const here = dirname(fileURLToPath(import.meta.url));
const cli = resolve(here, '../../dist/src/cli.js');

async function collect(src: ReturnType<typeof readLdif>, signal = new AbortController().signal): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of src.batches(signal)) out.push(b);
  return out;
}

function sample(n: number, bad: number[] = []): string {
  let s = 'version: 1\n';
  for (let i = 0; i < n; i++) s += bad.includes(i) ? `\ndn: cn=u${i},dc=x\nthis line is broken\n` : `\ndn: cn=u${i},dc=x\ncn: u${i}\ndescription: Pérola ${i}\n`;
  return s;
}

t.test('a path: batches of batchSize in order, rejects beside their records, sizes known', async (t) => {
  const dir = t.testdir({ 'a.ldif': sample(2500, [5, 1500, 2499]) });
  const src = readLdif({ input: join(dir, 'a.ldif'), batchSize: 1000 });
  t.equal(src.totalBytes, Buffer.byteLength(sample(2500, [5, 1500, 2499])));
  const batches = await collect(src);
  t.same(batches.map((b) => b.seq), batches.map((_, i) => i), 'sequence numbers 0..n');
  const records = batches.flatMap((b) => b.records);
  const rejects = batches.flatMap((b) => b.rejects);
  t.equal(records.length, 2497);
  t.same(rejects.map((r) => r.dn), ['cn=u5,dc=x', 'cn=u1500,dc=x', 'cn=u2499,dc=x']);
  t.same(rejects.map((r) => r.origin?.file), [join(dir, 'a.ldif'), join(dir, 'a.ldif'), join(dir, 'a.ldif')]);
  t.same(rejects.map((r) => r.origin?.line), [4 + 5 * 4, 4 + 1500 * 4 - 1, 4 + 2499 * 4 - 2], 'the broken lines (a bad record is one line shorter)');
  t.ok(batches.every((b) => b.records.length <= 1000), 'no batch holds more than batchSize records');
  t.same(records.map((r) => r.origin!.index), records.map((r) => r.origin!.index).sort((a, b) => a - b), 'input order');
  // Each reject travels in the batch that covers its place in the input.
  for (const b of batches) {
    if (!b.records.length) continue;
    const lo = b.records[0].origin!.index;
    const hi = b.records[b.records.length - 1].origin!.index;
    for (const r of b.rejects) t.ok(r.origin!.index <= hi + 1 && r.origin!.index >= lo - 1, `reject ${r.dn} near its batch`);
  }
  t.equal(src.bytesRead(), src.totalBytes, 'every byte read');
  t.same(records.slice(0, 3).map((r) => r.kind === 'entry' && r.attrs.get('description')!.values[0]), ['Pérola 0', 'Pérola 1', 'Pérola 2']);
});

t.test('.ldif.gz read transparently, by suffix and by magic bytes; a damaged gzip is one clear error', async (t) => {
  const text = sample(3000, [10]);
  const gz = gzipSync(Buffer.from(text));
  const dir = t.testdir({ 'a.ldif.gz': gz, 'gzipped-without-suffix.ldif': gz, 'plain.ldif': text, 'bad.ldif.gz': gz.subarray(0, gz.length >> 1) });
  const want = parseLdifText(text);
  for (const name of ['a.ldif.gz', 'gzipped-without-suffix.ldif', 'plain.ldif']) {
    const batches = await collect(readLdif({ input: join(dir, name) }));
    const recs = batches.flatMap((b) => b.records);
    t.equal(recs.length, 2999, `${name}: every record`);
    t.same(recs.map((r) => r.dn), want.records.map((r) => r.dn), `${name}: the same records`);
    t.same(batches.flatMap((b) => b.rejects).map((r) => [r.code, r.origin?.line]), want.rejects.map((r) => [r.code, r.origin?.line]), `${name}: the same rejects`);
  }
  await t.rejects(collect(readLdif({ input: join(dir, 'bad.ldif.gz') })), { code: /^SOURCE_(BAD_GZIP|READ_FAILED)$/ });
});

t.test('options and missing inputs give coded errors at construction', async (t) => {
  const dir = t.testdir({});
  t.throws(() => readLdif({ input: join(dir, 'nope.ldif') }), { code: 'SOURCE_NOT_FOUND' });
  t.throws(() => readLdif({ input: dir }), { code: 'SOURCE_NOT_A_FILE' });
  t.throws(() => readLdif({ input: '' }), { code: 'OPTION_INVALID' });
  t.throws(() => readLdif({ input: 'x', stream: Readable.from([]), batchSize: 0 }), { code: 'OPTION_INVALID', message: /batchSize/ });
});

t.test('stdin through the CLI ("-")', async (t) => {
  t.ok(existsSync(cli), 'built (npm test runs tsc first)');
  const dir = t.testdir({});
  const text = sample(1200, [7]);
  for (const [label, input] of [['plain', Buffer.from(text)], ['gzip', gzipSync(Buffer.from(text))]] as const) {
    const out = join(dir, `out-${label}.ldif`);
    const r = spawnSync(process.execPath, [cli, 'run', '-', out, '--passthrough', '--reject', join(dir, `rej-${label}.ldif`), '-q'], { input });
    t.equal(r.status, 3, `${label}: done with rejects`);
    const back = parseLdifText(readFileSync(out));
    t.equal(back.records.length, 1199, `${label}: every good record written`);
    t.same(back.records.map((x) => x.dn), parseLdifText(text).records.map((x) => x.dn));
    t.match(readFileSync(join(dir, `rej-${label}.ldif`), 'utf8'), /# LDIF_MISSING_COLON: .*\(<stdin>:32\)\ndn: cn=u7,dc=x\n/, `${label}: the reject names <stdin> and its line`);
  }
});

t.test('memory is bounded by the record, not the input: 200 MB streamed', async (t) => {
  // In a fresh process (the test runner's own memory would blur the number): a Readable generates 200 MB of LDIF on the
  // fly, readLdif parses it all; the child reports its peak RSS. Holding the input would need more than 200 MB.
  const child = `
    import { Readable } from 'node:stream';
    import { readLdif } from ${JSON.stringify(resolve(here, '../../dist/src/sources/ldif-file.js'))};
    let s = '';
    for (let i = 0; i < 100; i++) s += 'dn: uid=user' + i + ',ou=People,dc=example,dc=com\\nobjectClass: top\\nobjectClass: inetOrgPerson\\n' +
      'uid: user' + i + '\\ncn: P\\u00e9rola \\u00d1and\\u00fa ' + i + '\\ndescription: ' + 'a long folded description '.repeat(6) +
      '\\n continued on the next line\\nmail: user' + i + '@example.com\\njpegPhoto:: ' + Buffer.alloc(120, i).toString('base64') + '\\n\\n';
    const block = Buffer.from(s, 'utf8');
    const blocks = Math.ceil(200 * 1024 * 1024 / block.length);
    let sent = 0;
    const stream = new Readable({ read() { while (sent < blocks) { sent++; if (!this.push(block)) return; } this.push(null); } });
    const src = readLdif({ input: 'generated', stream });
    let records = 0, rejects = 0;
    for await (const b of src.batches(new AbortController().signal)) { records += b.records.length; rejects += b.rejects.length; }
    console.log(JSON.stringify({ records, rejects, expected: blocks * 100, bytes: src.bytesRead(), maxRssKb: process.resourceUsage().maxRSS }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', child], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  t.equal(res.rejects, 0);
  t.equal(res.records, res.expected, 'every record of the stream');
  t.ok(res.bytes >= 200 * 1024 * 1024, `read ${(res.bytes / 1e6).toFixed(0)} MB`);
  const peakMb = res.maxRssKb / 1024;
  t.comment(`peak RSS ${peakMb.toFixed(0)} MB while parsing ${(res.bytes / 1e6).toFixed(0)} MB`);
  t.ok(peakMb < 200, `peak RSS ${peakMb.toFixed(0)} MB < 200 MB for a 200 MB input`);
});

t.test('abort stops reading an input that never ends', async (t) => {
  // A stream that delivers one record and then nothing: abort must end the read at once, without an error.
  const stream = new Readable({ read() {} });
  stream.push('dn: cn=a,dc=x\ncn: a\n\n');
  const ac = new AbortController();
  const src = readLdif({ input: 'idle', stream, batchSize: 1 });
  const seen: string[] = [];
  const done = (async () => { for await (const b of src.batches(ac.signal)) for (const r of b.records) { seen.push(r.dn); ac.abort(); } })();
  stream.push('dn: cn=b,dc=x\ncn: b\n\n');
  await done;
  t.same(seen, ['cn=a,dc=x'], 'the record read before the abort came out, and the read ended');
  t.ok(stream.destroyed, 'the input was released');
});
