/**
 * Checkpoints taken in the background (src/pipeline.ts): a checkpoint's numbers are read at a quiescent point, the
 * output and the reject file are flushed and fsynced and the checkpoint saved while the pipeline goes on. What must
 * hold, whatever the timing:
 * - the pipeline does not wait for a checkpoint: records reach the sink while one is being saved;
 * - at most one is being saved at a time, and they are saved in the order they were taken (the final 'done' last);
 * - when a checkpoint is saved, the output and the reject file on disk hold at least the bytes it records; those
 *   bytes hold exactly the records and rejects it counts, up to a record's end;
 * - a resume from any saved checkpoint, with the files as a kill would have left them (more written after it, a
 *   record cut in half), gives the output and the reject file of an uninterrupted run;
 * - nothing is closed under a checkpoint being saved (end, abort, error), and a failed save fails the run with its
 *   error and no checkpoint is saved after it.
 * The store side: saves that overlap are written in the order they were called.
 */
import t from 'tap';
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointStore, type CheckpointData } from '../../src/state/checkpoint.js';
import { run, RunError, type ResumePoint } from '../../src/pipeline.js';
import { readLdif } from '../../src/sources/ldif-file.js';
import { writeLdif } from '../../src/sinks/ldif-file.js';
import { orderDependencies } from '../../src/transforms/order-dependencies.js';
import { LdapflowError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'ldapflow-cp-bg-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

// Children before their parents (the ordering stage holds and reorders them) and a bad record now and then (rejects).
const recs: string[] = ['dn: dc=example,dc=com\nobjectClass: domain\ndc: example\n'];
for (let i = 0; i < 150; i++) {
  for (let j = 0; j < 40; j++) recs.push(`dn: cn=u${i}-${j},ou=g${i},dc=example,dc=com\nobjectClass: person\ncn: u${i}-${j}\nsn: S${'x'.repeat(j * 7)}\n`);
  recs.push(`dn: ou=g${i},dc=example,dc=com\nobjectClass: organizationalUnit\nou: g${i}\n`);
  if (i % 7 === 3) recs.push(`dn: cn=bad${i},,\ncn: bad\n`);
  if (i % 11 === 5) recs.push(`dn: cn=nocolon${i},dc=example,dc=com\ncn nocolon\n`);
}
const src = join(dir, 'in.ldif');
writeFileSync(src, 'version: 1\n' + recs.join('\n'));

interface Seen {
  /** Saves that had started and not finished, at most, at any time. */
  maxSaving: number;
  /** Records handed to the sink while a save was in progress. */
  recordsDuringSave: number;
  /** Per save: the checkpoint and the sizes of the output and reject file on disk when the save began. */
  saves: Array<{ cp: Omit<CheckpointData, 'at' | 'serial'>; outSize: number; rejSize: number }>;
  /** Saves in progress when the sink was closed or aborted. */
  savingAtClose: number[];
}

interface Go {
  out: string;
  interval: number;
  resume?: ResumePoint;
  resumeAt?: number;
  /** Abort the run from inside the n-th save (1-based). */
  abortInSave?: number;
  /** The n-th save (1-based) fails. */
  failSave?: number;
}

async function go(o: Go) {
  const seen: Seen = { maxSaving: 0, recordsDuringSave: 0, saves: [], savingAtClose: [] };
  const ctl = new AbortController();
  const sink = writeLdif({ output: o.out, ...(o.resumeAt !== undefined ? { resumeAt: o.resumeAt } : {}) });
  let saving = 0;
  let written = 0;
  // A checkpoint's save lasts until 100 more records reached the sink, or the input ended, or the run was aborted: a
  // pipeline that waited for the save would never get there (a 10 s timer then ends the wait, and the assertions on
  // what reached the sink meanwhile fail).
  let sourceDone = false;
  let wake: { at: number; go: () => void } | null = null;
  const release = () => wake?.go();
  ctl.signal.addEventListener('abort', release);
  const write = sink.write.bind(sink);
  sink.write = async (b) => {
    if (saving > 0) seen.recordsDuringSave += b.records.length;
    await write(b);
    written += b.records.length;
    if (wake && written >= wake.at) wake.go();
  };
  const source = readLdif({ input: src, batchSize: 50 });
  const batches = source.batches.bind(source);
  source.batches = (signal) => (async function* () {
    try { yield* batches(signal); } finally { sourceDone = true; release(); }
  })();
  const close = sink.close.bind(sink);
  sink.close = async () => { seen.savingAtClose.push(saving); await close(); };
  const abort = sink.abort.bind(sink);
  sink.abort = async () => { seen.savingAtClose.push(saving); await abort(); };
  let n = 0;
  const partial = o.out + '.partial', rej = o.out + '.rej';
  const result = run({
    source,
    stages: [orderDependencies({ batchSize: 50 })],
    sink, rejectFile: rej, signal: ctl.signal,
    checkpoints: {
      interval: o.interval,
      ...(o.resume ? { resume: o.resume } : {}),
      save: async (cp) => {
        const k = ++n;
        saving++;
        seen.maxSaving = Math.max(seen.maxSaving, saving);
        try {
          const size = (p: string) => (existsSync(p) ? statSync(p).size : existsSync(o.out) ? statSync(o.out).size : -1);
          seen.saves.push({ cp: structuredClone(cp), outSize: size(partial), rejSize: existsSync(rej) ? statSync(rej).size : -1 });
          if (cp.status === 'running' && !sourceDone && !ctl.signal.aborted) {
            await new Promise<void>((res) => {
              const timer = setTimeout(() => { wake = null; res(); }, 10_000);
              wake = { at: written + 100, go: () => { clearTimeout(timer); wake = null; res(); } };
            });
          }
          if (k === o.abortInSave) ctl.abort();
          if (k === o.failSave) throw new LdapflowError('STATE_WRITE', 'cannot write the checkpoint: disk on fire');
        } finally {
          saving--;
        }
      },
    },
  });
  try {
    return { summary: await result, seen, error: null };
  } catch (error) {
    return { summary: null as never, seen, error };
  } finally {
    ctl.signal.removeEventListener('abort', release);
  }
}

const countRecords = (s: string) => (s.match(/^dn:/gm) ?? []).length;
const countRejects = (s: string) => (s.match(/^# [A-Z][A-Z0-9_]*: /gm) ?? []).length;

// The uninterrupted run without checkpoints every run below must equal.
const ref = join(dir, 'ref.ldif');
const plain = await run({ source: readLdif({ input: src, batchSize: 50 }), stages: [orderDependencies({ batchSize: 50 })], sink: writeLdif({ output: ref }), rejectFile: ref + '.rej' });

t.test('background checkpoints: the run goes on, one at a time, in order, covering exactly what they count', async (t) => {
  const out = join(dir, 'bg.ldif');
  const { summary, seen, error } = await go({ out, interval: 200 });
  t.equal(error, null);
  t.same([summary.read, summary.written, summary.rejected, summary.rejects], [plain.read, plain.written, plain.rejected, plain.rejects], 'the same counts as a run without checkpoints');
  t.ok(plain.rejected > 5, `${plain.rejected} rejects`);
  const text = readFileSync(out, 'latin1');
  t.ok(readFileSync(out).equals(readFileSync(ref)), 'the same output as a run without checkpoints');
  t.ok(readFileSync(out + '.rej').equals(readFileSync(ref + '.rej')), 'the same reject file');

  const running = seen.saves.filter((s) => s.cp.status === 'running');
  t.ok(running.length >= 3, `${running.length} checkpoints while running`);
  t.ok(seen.recordsDuringSave > 0, `${seen.recordsDuringSave} records reached the sink while a checkpoint was being saved`);
  t.equal(seen.maxSaving, 1, 'one save at a time');
  t.same(seen.savingAtClose, [0], 'the sink was closed with no save in progress');
  t.equal(seen.saves.at(-1)!.cp.status, 'done', 'the final checkpoint is saved last');
  t.equal(seen.saves.filter((s) => s.cp.status === 'done').length, 1);
  const order = running.map((s) => s.cp.sinkRecords);
  t.ok(order.every((x, i) => i === 0 || x > order[i - 1]), `saved in the order taken (records ${order.join(', ')})`);
  t.equal(seen.saves.at(-1)!.cp.sinkRecords, summary.written, 'the final one counts every record');

  const rejText = readFileSync(out + '.rej', 'latin1');
  for (const [i, s] of running.entries()) {
    const cp = s.cp;
    t.ok(s.outSize >= cp.sinkBytes! && (cp.rejectBytes === null || s.rejSize >= cp.rejectBytes), `checkpoint ${i + 1}: the files on disk hold what it records when it is saved`);
    const head = text.slice(0, cp.sinkBytes!);
    t.equal(countRecords(head), cp.sinkRecords, `checkpoint ${i + 1}: its ${cp.sinkBytes} output bytes hold its ${cp.sinkRecords} records`);
    t.ok(head.endsWith('\n') && (cp.sinkBytes === text.length || text[cp.sinkBytes!] === '\n'), `checkpoint ${i + 1}: at a record's end`);
    if (cp.rejectBytes === null) {
      t.equal(cp.streamRejects, 0);
    } else {
      t.equal(countRejects(rejText.slice(0, cp.rejectBytes)), cp.streamRejects, `checkpoint ${i + 1}: its ${cp.rejectBytes} reject bytes hold its ${cp.streamRejects} rejects`);
      t.ok(cp.rejectBytes === rejText.length || rejText[cp.rejectBytes] === '\n', `checkpoint ${i + 1}: at a reject's end`);
    }
  }
  t.ok(running.some((s) => s.outSize > s.cp.sinkBytes!), 'the output grew past a checkpoint before it was saved');

  // Resume from checkpoints early, middle and late, with the files as a kill after it would leave them.
  for (const i of [0, Math.floor(running.length / 2), running.length - 1]) {
    const cp = running[i].cp;
    const o2 = join(dir, `resumed-${i}.ldif`);
    copyFileSync(out, o2 + '.partial');
    appendFileSync(o2 + '.partial', '\ndn: cn=half-written,ou=g1,dc=exa');
    if (cp.rejectBytes !== null) {
      copyFileSync(out + '.rej', o2 + '.rej');
      appendFileSync(o2 + '.rej', '\n# LDIF_MISSING_COLON: half');
    }
    const resumed = await go({ out: o2, interval: 200, resume: cp, resumeAt: cp.sinkBytes! });
    t.equal(resumed.error, null);
    t.ok(readFileSync(o2).equals(readFileSync(ref)), `resumed from checkpoint ${i + 1} (${cp.sinkRecords} records): the output equals the uninterrupted run's`);
    t.ok(readFileSync(o2 + '.rej').equals(readFileSync(ref + '.rej')), `resumed from checkpoint ${i + 1}: so does the reject file`);
    t.same([resumed.summary.read, resumed.summary.written, resumed.summary.rejected, resumed.summary.rejects], [plain.read, plain.written, plain.rejected, plain.rejects]);
    t.equal(resumed.seen.maxSaving, 1);
  }
});

t.test('aborted while a checkpoint is being saved: the last one is taken after it, and a resume completes the run', async (t) => {
  const out = join(dir, 'ab.ldif');
  const { summary, seen, error } = await go({ out, interval: 200, abortInSave: 2 });
  t.equal(error, null);
  t.ok(summary.aborted);
  t.equal(seen.maxSaving, 1, 'one save at a time');
  t.same(seen.savingAtClose, [0], 'the sink was aborted with no save in progress');
  t.equal(seen.saves.length, 3, 'two checkpoints, then the one taken on abort');
  const last = seen.saves.at(-1)!.cp;
  t.ok(last.sinkRecords > seen.saves[1].cp.sinkRecords, 'the one taken on abort is the newest');
  t.equal(last.sinkBytes, statSync(out + '.partial').size, 'it covers the whole output of the aborted run');
  t.equal(last.rejectBytes, statSync(out + '.rej').size, 'and the whole reject file');
  const resumed = await go({ out, interval: 200, resume: last, resumeAt: last.sinkBytes! });
  t.equal(resumed.error, null);
  t.notOk(resumed.summary.aborted);
  t.ok(readFileSync(out).equals(readFileSync(ref)), 'the resumed output equals the uninterrupted run\'s');
  t.ok(readFileSync(out + '.rej').equals(readFileSync(ref + '.rej')), 'so does the reject file');
});

t.test('a checkpoint that fails fails the run with its error; nothing is saved after it', async (t) => {
  const out = join(dir, 'fail.ldif');
  const { error: err, seen } = await go({ out, interval: 200, failSave: 2 });
  t.ok(err instanceof RunError, 'the run fails');
  t.equal(seen.saves.length, 2, 'no checkpoint after the one that failed');
  t.equal(seen.maxSaving, 1);
  t.same(seen.savingAtClose, [0], 'the sink was aborted with no save in progress');
  t.equal((err as RunError).code, 'STATE_WRITE');
  t.match((err as RunError).message, /disk on fire/);
  t.notOk(existsSync(out), 'the output was not completed');
  t.ok(existsSync(out + '.partial'), 'the partial output is left');
});

t.test('store: overlapping saves are written in the order they were called', async (t) => {
  const sd = join(dir, 'store');
  const store = await CheckpointStore.open(sd);
  const cp = (n: number): Omit<CheckpointData, 'at' | 'serial'> => ({
    status: 'running', sinkRecords: n, streamRejects: 0, sinkBytes: n * 10, rejectBytes: null, rejectFile: null,
    written: n, rejected: 0, rejects: {}, sinkCounts: {},
  });
  const saved = await Promise.all([1, 2, 3, 4, 5].map((n) => store.save(cp(n * 100))));
  t.same(saved.map((c) => c.serial), [1, 2, 3, 4, 5]);
  await store.close();
  const again = await CheckpointStore.open(sd);
  const got = await again.checkpoint();
  await again.close();
  t.match(got, { serial: 5, sinkRecords: 500 }, 'the last one called is the one stored');
});
