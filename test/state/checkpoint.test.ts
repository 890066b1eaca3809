/**
 * src/state/checkpoint.ts: source fingerprint, identity comparison with a message that names the change, the LevelDB
 * store (identity, synced checkpoints, reopen), stale spill clean-up; and the pipeline side through the library API:
 * a run stopped part way (abort) leaves a checkpoint from which a resumed run() completes an output equal to an
 * uninterrupted one, with the ordering stage reordering records in between.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CheckpointStore, canonicalJson, fingerprintSource, identityMismatch, makeIdentity, removeStaleSpills, type CheckpointData,
} from '../../src/state/checkpoint.js';
import { run, type ResumePoint } from '../../src/pipeline.js';
import { readLdif } from '../../src/sources/ldif-file.js';
import { writeLdif } from '../../src/sinks/ldif-file.js';
import { orderDependencies } from '../../src/transforms/order-dependencies.js';

const dir = mkdtempSync(join(tmpdir(), 'ldapflow-cp-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('fingerprint: size, content of the first and last MiB, mtime', async (t) => {
  const f = join(dir, 'src.ldif');
  writeFileSync(f, Buffer.alloc(3 << 20, 'a'));
  const a = fingerprintSource(f);
  t.equal(a.size, 3 << 20);
  const buf = readFileSync(f);
  buf[buf.length - 10] = 0x62; // last MiB changes, same size
  writeFileSync(f, buf);
  utimesSync(f, new Date(a.mtimeMs), new Date(a.mtimeMs)); // same mtime too
  const b = fingerprintSource(f);
  t.equal(b.head, a.head);
  t.not(b.tail, a.tail, 'a change in the last MiB is seen');
  const id = (fp: typeof a, cfg: Record<string, unknown>) => makeIdentity(fp, '/out.ldif', cfg, { source: f, sink: '/out.ldif', options: {} });
  t.match(identityMismatch(id(a, { wrap: 76 }), id(b, { wrap: 76 })), /changed since the checkpoint \(its content differs\)/);
  t.equal(identityMismatch(id(a, { wrap: 76 }), id(a, { wrap: 76 })), null);
  t.equal(identityMismatch(id(a, { wrap: 76, mode: 'auto' }), id(a, { mode: 'auto', wrap: 0 })), 'the options that shape the output changed since the checkpoint (wrap 76 -> 0)');
  t.equal(id(a, { x: 1, y: [1, { b: 2, a: 1 }] }).runId, id(a, { y: [1, { a: 1, b: 2 }], x: 1 }).runId, 'key order does not matter');
  t.equal(canonicalJson({ b: 1, a: undefined, c: [null] }), '{"b":1,"c":[null]}');
  t.match(identityMismatch(id(a, {}), id({ ...a, size: 1 }, {})), /size 3145728 -> 1 bytes/);
  t.throws(() => fingerprintSource(join(dir, 'nope.ldif')), { code: 'STATE_SOURCE_UNREADABLE' });
});

t.test('store: identity, checkpoints survive a reopen, begin clears, one process at a time', async (t) => {
  const sd = join(dir, 'state1');
  t.notOk(CheckpointStore.exists(sd));
  const st = await CheckpointStore.open(sd);
  const fp = { path: '/x', size: 1, mtimeMs: 2, head: 'h', tail: 't' };
  const id = makeIdentity(fp, '/o', { wrap: 76 }, { source: '/x', sink: '/o', options: { wrap: 76 } });
  await st.begin(id);
  t.equal(await st.checkpoint(), undefined);
  const base: Omit<CheckpointData, 'at' | 'serial'> = {
    status: 'running', sinkRecords: 1000, streamRejects: 3, sinkBytes: 12345, rejectBytes: 99, rejectFile: '/r',
    written: 1000, rejected: 3, rejects: { X: 3 }, sinkCounts: {},
  };
  await st.save(base);
  const second = await st.save({ ...base, sinkRecords: 2000 });
  t.equal(second.serial, 2);
  await t.rejects(CheckpointStore.open(sd), { code: 'STATE_OPEN', message: /in use by another ldapflow run/ });
  await st.close();
  t.ok(CheckpointStore.exists(sd));
  const again = await CheckpointStore.open(sd);
  t.same(await again.identity(), id);
  const cp = await again.checkpoint();
  t.equal(cp?.sinkRecords, 2000);
  t.equal((await again.save(base)).serial, 3, 'serials go on after a reopen');
  await again.begin(id);
  t.equal(await again.checkpoint(), undefined, 'begin starts over');
  await again.close();

  mkdirSync(join(sd, 'ldapflow-spill-abc'));
  writeFileSync(join(sd, 'ldapflow-spill-abc', 'x'), 'x');
  t.equal(removeStaleSpills(sd), 1);
  t.notOk(existsSync(join(sd, 'ldapflow-spill-abc')));
  t.ok(existsSync(join(sd, 'checkpoint')), 'the checkpoint store is kept');
});

t.test('pipeline: stopped part way, resumed from the checkpoint, equals an uninterrupted run', async (t) => {
  // Children before parents, so the ordering stage holds and reorders; a bad record, so there is a reject.
  let text = 'version: 1\n';
  const recs: string[] = [];
  recs.push('dn: dc=example,dc=com\nobjectClass: domain\ndc: example\n');
  for (let i = 0; i < 40; i++) {
    for (let j = 0; j < 50; j++) recs.push(`dn: cn=u${i}-${j},ou=g${i},dc=example,dc=com\nobjectClass: person\ncn: u${i}-${j}\nsn: S\n`);
    recs.push(`dn: ou=g${i},dc=example,dc=com\nobjectClass: organizationalUnit\nou: g${i}\n`);
    if (i === 25) recs.push('dn: cn=bad,,\ncn: bad\n');
  }
  text += recs.join('\n');
  const src = join(dir, 'pipe.ldif');
  writeFileSync(src, text);
  const go = async (out: string, cps: { interval: number; resume?: ResumePoint; saved: CheckpointData[] }, stopAfter?: number, resumeAt?: number) => {
    const ctl = new AbortController();
    let batches = 0;
    const sink = writeLdif({ output: out, ...(resumeAt !== undefined ? { resumeAt } : {}) });
    const write = sink.write.bind(sink);
    sink.write = async (b) => { await write(b); if (stopAfter !== undefined && ++batches >= stopAfter) ctl.abort(); };
    return run({
      source: readLdif({ input: src, batchSize: 100 }),
      stages: [orderDependencies({ batchSize: 100 })],
      sink, rejectFile: out + '.rej', signal: ctl.signal,
      checkpoints: {
        interval: cps.interval, ...(cps.resume ? { resume: cps.resume } : {}),
        save: async (c) => { cps.saved.push({ ...c, at: '', serial: cps.saved.length + 1 }); },
      },
    });
  };
  const full = await go(join(dir, 'full.ldif'), { interval: 300, saved: [] });
  const first = { interval: 300, saved: [] as CheckpointData[] };
  const stopped = await go(join(dir, 'part.ldif'), first, 9);
  t.ok(stopped.aborted);
  t.ok(first.saved.length >= 2, `${first.saved.length} checkpoints`);
  // Resume from an earlier checkpoint than the last (as after kill -9 between two checkpoints).
  const cp = first.saved[first.saved.length - 2];
  t.equal(cp.status, 'running');
  t.ok(cp.sinkBytes! > 0 && cp.sinkBytes! < readFileSync(join(dir, 'part.ldif.partial')).length, 'the output went on after this checkpoint');
  const resumed = await go(join(dir, 'part.ldif'), { interval: 300, resume: cp, saved: [] }, undefined, cp.sinkBytes!);
  t.ok(readFileSync(join(dir, 'part.ldif')).equals(readFileSync(join(dir, 'full.ldif'))), 'the output equals the uninterrupted run\'s');
  t.equal(readFileSync(join(dir, 'part.ldif.rej'), 'utf8'), readFileSync(join(dir, 'full.ldif.rej'), 'utf8'), 'so does the reject file');
  t.same([resumed.read, resumed.written, resumed.rejected, resumed.rejects], [full.read, full.written, full.rejected, full.rejects]);
  t.equal(full.rejected, 1);
});
