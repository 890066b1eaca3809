/**
 * src/pipeline.ts: source -> stages -> sink; the reject file (a `# CODE: message (file:line)` comment above each rejected
 * record, loadable again), error thresholds, summary, abort, backpressure (a slow sink holds the source back).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { run, RunError } from '../src/pipeline.js';
import { readLdif } from '../src/sources/ldif-file.js';
import { writeLdif } from '../src/sinks/ldif-file.js';
import { parseLdifText } from '../src/sources/ldif-parser.js';
import type { Batch } from '../src/entry.js';
import type { MapStage, Sink, SinkContext } from '../src/stage.js';

function sample(n: number, bad: number[] = []): string {
  let s = 'version: 1\n';
  for (let i = 0; i < n; i++) s += bad.includes(i) ? `\ndn: cn=u${i},dc=x\ncn u${i}\n` : `\ndn: cn=u${i},dc=x\ncn: u${i}\n`;
  return s;
}

t.test('the reject file: reason above each record, file:line, loadable again after a fix', async (t) => {
  const dir = t.testdir({ 'in.ldif': sample(50, [3, 20]) + '\ndn: cn=badb64,dc=x\ncn:: %%%\n\ncn: no dn here\n' });
  const rej = join(dir, 'rejects.ldif');
  const summary = await run({ source: readLdif({ input: join(dir, 'in.ldif') }), sink: writeLdif({ output: join(dir, 'out.ldif') }), rejectFile: rej });
  t.match(summary, { read: 52, written: 48, rejected: 4, status: 'done-with-rejects', rejectFile: rej, aborted: false });
  t.same(summary.rejects, { LDIF_MISSING_COLON: 2, LDIF_INVALID_BASE64: 1, LDIF_MISSING_DN: 1 });
  const raw = readFileSync(rej, 'utf8');
  const text = raw.replace(/\n /g, ''); // comments are folded at 76 columns: unfold to read them
  const file = join(dir, 'in.ldif');
  t.match(text, `# LDIF_MISSING_COLON: line has no ":" ("cn u3") (${file}:13)\ndn: cn=u3,dc=x\ncn u3\n`);
  t.match(text, `# LDIF_MISSING_COLON: line has no ":" ("cn u20") (${file}:64)\ndn: cn=u20,dc=x\ncn u20\n`);
  t.match(text, new RegExp(`# LDIF_INVALID_BASE64: .*\\(${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:154\\)\\ndn: cn=badb64,dc=x\\ncn:: %%%\\n`));
  t.match(text, /# LDIF_MISSING_DN: .*:156\)\ncn: no dn here\n/);
  // The reject file is LDIF: as it is, its records are rejected again for the same reasons, nothing else breaks.
  const again = parseLdifText(readFileSync(rej));
  t.same(again.rejects.map((r) => r.code), ['LDIF_MISSING_COLON', 'LDIF_MISSING_COLON', 'LDIF_INVALID_BASE64', 'LDIF_MISSING_DN']);
  t.equal(again.records.length, 0);
  // Fixed (what an admin would do), it loads: every record comes out.
  const fixed = raw.replace(/^cn (u\d+)$/gm, 'cn: $1').replace('cn:: %%%', 'cn: fixed').replace('cn: no dn here', 'dn: cn=now,dc=x\ncn: now');
  const loaded = parseLdifText(fixed);
  t.equal(loaded.rejects.length, 0);
  t.same(loaded.records.map((r) => r.dn), ['cn=u3,dc=x', 'cn=u20,dc=x', 'cn=badb64,dc=x', 'cn=now,dc=x']);
});

t.test('a reject raised by a stage is written as its (parsed) record', async (t) => {
  const dir = t.testdir({ 'in.ldif': 'dn: cn=keep,dc=x\ncn: keep\n\ndn: cn=drop,dc=x\ncn: drop\ndescription: Pérola\n' });
  const drop: MapStage = {
    kind: 'map', name: 'drop',
    fn: (b) => {
      const records = b.records.filter((r) => !r.dn.startsWith('cn=drop'));
      const rejects = b.records.filter((r) => r.dn.startsWith('cn=drop')).map((r) => ({ code: 'TEST_DROPPED', message: 'dropped by test', dn: r.dn, origin: r.origin, record: r }));
      return { ...b, records, rejects: [...b.rejects, ...rejects], counts: { TEST_SEEN: b.records.length } };
    },
  };
  const rej = join(dir, 'r.ldif');
  const s = await run({ source: readLdif({ input: join(dir, 'in.ldif') }), stages: [drop], sink: writeLdif({ output: join(dir, 'o.ldif') }), rejectFile: rej });
  t.match(s, { read: 2, written: 1, rejected: 1, rejects: { TEST_DROPPED: 1 }, fixes: { TEST_SEEN: 2 } });
  const back = parseLdifText(readFileSync(rej));
  t.same(back.records.map((r) => r.dn), ['cn=drop,dc=x'], 'the rejected record, loadable as it is');
  t.match(readFileSync(rej, 'utf8').replace(/\n /g, ''), /# TEST_DROPPED: dropped by test \(.*in\.ldif:4\)\ndn: cn=drop,dc=x\ncn: drop\ndescription:: UMOpcm9sYQ==\n/);
});

t.test('thresholds: --max-errors and --max-error-rate stop the run with a RunError and a summary', async (t) => {
  const dir = t.testdir({ 'in.ldif': sample(3000, [2000, 2100, 2200, 2300]) });
  const src = () => readLdif({ input: join(dir, 'in.ldif'), batchSize: 100 });
  const err1 = await run({ source: src(), sink: writeLdif({ output: join(dir, 'a.ldif') }), rejectFile: join(dir, 'ra.ldif'), maxErrors: 2 }).catch((e) => e);
  t.ok(err1 instanceof RunError);
  t.equal(err1.code, 'RUN_TOO_MANY_ERRORS');
  t.match(err1.describe(), /3 records rejected, more than --max-errors 2: stopped; see .*ra\.ldif/);
  t.equal(err1.summary.rejected, 3, 'stopped at the first batch past the threshold');
  t.ok(err1.summary.read < 3000, 'before reading everything');
  t.same(await run({ source: src(), sink: writeLdif({ output: join(dir, 'b.ldif') }), maxErrors: 4 }).then((s) => s.rejected), 4, 'at the threshold: not stopped');
  const err2 = await run({ source: src(), sink: writeLdif({ output: join(dir, 'c.ldif') }), maxErrorRate: 0.001 }).catch((e) => e);
  t.ok(err2 instanceof RunError);
  t.equal(err2.code, 'RUN_ERROR_RATE');
  t.match(err2.describe(), /[34] of \d+ records rejected \(0\.1\d%\), above --max-error-rate 0\.001/);
  t.same(await run({ source: src(), sink: writeLdif({ output: join(dir, 'd.ldif') }), maxErrorRate: 0.002 }).then((s) => s.status), 'done-with-rejects');
});

t.test('abort: the run stops, what was accepted is written, the .partial holds whole records', async (t) => {
  const dir = t.testdir({});
  const ac = new AbortController();
  let n = 0;
  const stream = new Readable({
    read() {
      n++;
      this.push(`dn: cn=u${n},dc=x\ncn: u${n}\n\n`);
      if (n === 50) ac.abort();
    },
  });
  const out = join(dir, 'o.ldif');
  const s = await run({ source: readLdif({ input: 'gen', stream, batchSize: 10 }), sink: writeLdif({ output: out }), signal: ac.signal });
  t.equal(s.aborted, true);
  t.equal(s.status, 'aborted');
  const back = parseLdifText(readFileSync(out + '.partial'));
  t.equal(back.rejects.length, 0, 'whole records only');
  t.equal(back.records.length, s.written, 'the .partial holds exactly what was acknowledged');
  t.ok(s.written >= 10 && s.written <= 60, `written ${s.written}`);
});

t.test('backpressure: a slow sink holds the source back (memory stays bounded)', async (t) => {
  // An endless-looking source that counts how far it was read, and a sink that takes its time with each batch.
  let produced = 0;
  const total = 20000;
  const stream = new Readable({
    highWaterMark: 1024,
    read() {
      if (produced >= total) { this.push(null); return; }
      let s = '';
      for (let k = 0; k < 50; k++) { produced++; s += `dn: cn=u${produced},dc=x\ncn: u${produced}\n\n`; }
      this.push(s);
    },
  });
  let ctx!: SinkContext;
  let accepted = 0;
  let maxAhead = 0;
  const sink: Sink = {
    kind: 'ldif',
    async open(c) { ctx = c; },
    async write(b: Batch) {
      await new Promise((r) => setTimeout(r, 5));
      accepted += b.records.length;
      maxAhead = Math.max(maxAhead, produced - accepted);
      ctx.acknowledge(b.seq, b.records.length);
    },
    async close() {},
    async abort() {},
  };
  const s = await run({ source: readLdif({ input: 'gen', stream, batchSize: 200 }), sink });
  t.equal(s.written, total);
  t.comment(`the source was at most ${maxAhead} records ahead of the sink`);
  t.ok(maxAhead < 2000, `the source never ran far ahead of the slow sink (${maxAhead} records, of ${total})`);
});
