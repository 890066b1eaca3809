/**
 * The pipeline: source -> stages -> sink over batches, pull-based, so a slow sink holds back the source (memory stays
 * flat). Rejects travel with their batch and are written to the reject file as LDIF with a `# CODE: message (file:line)`
 * comment above each record, so the file can be fixed and loaded again. Counts fixes, enforces the error threshold,
 * stops cleanly on abort (what was accepted is flushed) and returns a summary.
 */
import { createWriteStream, existsSync, statSync, truncateSync, unlinkSync, type WriteStream } from 'node:fs';
import { LdapflowError } from './errors.js';
import type { Batch, Note, Reject } from './entry.js';
import type { MapStage, Sink, Source, Stage, StageContext } from './stage.js';
import { dropFormattedRecords, formatComment, formatRecord } from './sinks/ldif-format.js';
import { flushAndFsync } from './sinks/ldif-file.js';
import { formatWhere } from './errors.js';
import type { CheckpointData } from './state/checkpoint.js';

export interface Progress {
  read: number;
  written: number;
  rejected: number;
  bytesRead: number;
  totalBytes?: number;
  elapsedSeconds: number;
  entriesPerSecond: number;
}

export interface Summary {
  source: string;
  sink: string;
  read: number;
  written: number;
  rejected: number;
  durationSeconds: number;
  entriesPerSecond: number;
  /** Rejects by code. */
  rejects: Record<string, number>;
  /** Fixes and other counted changes by code. */
  fixes: Record<string, number>;
  rejectFile: string | null;
  aborted: boolean;
  status: 'done' | 'done-with-rejects' | 'aborted';
}

export interface RunOptions {
  source: Source;
  stages?: Stage[];
  sink: Sink;
  /** Where rejected records go. Created on the first reject unless `alwaysWriteRejectFile`. */
  rejectFile?: string;
  alwaysWriteRejectFile?: boolean;
  /** Fatal error once more than this many records are rejected. */
  maxErrors?: number;
  /** Fatal error once rejected/read exceeds this (checked after `minRecordsForRate` records, and at the end). */
  maxErrorRate?: number;
  minRecordsForRate?: number;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  progressIntervalMs?: number;
  /** Called for each note (what a stage did to an entry named by --explain). */
  onNote?: (n: Note) => void;
  /** Called for each reject, as it is written. */
  onReject?: (r: Reject) => void;
  stateDir?: string;
  /** Runs map stages on a worker pool (src/transforms/in-workers.ts) when given. */
  runMapStages?: (stages: MapStage[], input: AsyncIterable<Batch>, signal: AbortSignal) => AsyncIterable<Batch>;
  /** Checkpoints, and where a resumed run starts (src/state/checkpoint.ts explains the scheme). */
  checkpoints?: RunCheckpoints;
}

/** What the interrupted run had durably done at its last checkpoint. */
export type ResumePoint = Pick<CheckpointData, 'sinkRecords' | 'streamRejects' | 'rejectBytes' | 'written' | 'rejected' | 'rejects' | 'sinkCounts'>;

export interface RunCheckpoints {
  /** Records handed to the sink between checkpoints. */
  interval: number;
  /** Resume: the input is read and processed again from its start; the first `sinkRecords` records and the first
   * `streamRejects` rejects are dropped before the sink (they are in the output and the reject file, which the sink
   * and this run cut back to the checkpoint's offsets); the counters go on from the checkpoint's. */
  resume?: ResumePoint;
  save(cp: Omit<CheckpointData, 'at' | 'serial'>): Promise<void>;
}

/** Thrown by run() on a fatal error; carries the summary of what happened before it. */
export class RunError extends LdapflowError {
  constructor(readonly error: LdapflowError, readonly summary: Summary) {
    super(error.code, error.message, { file: error.file, line: error.line, dn: error.dn, cause: error });
  }
  override describe(): string {
    return this.error.describe();
  }
}

function inlineMap(stage: MapStage, input: AsyncIterable<Batch>): AsyncIterable<Batch> {
  return (async function* () {
    for await (const b of input) yield stage.fn(b);
  })();
}

export async function run(opts: RunOptions): Promise<Summary> {
  const { source, sink } = opts;
  const stages = opts.stages ?? [];
  const started = process.hrtime.bigint();
  const controller = new AbortController();
  const outer = opts.signal;
  const onOuterAbort = () => controller.abort();
  if (outer) {
    if (outer.aborted) controller.abort();
    else outer.addEventListener('abort', onOuterAbort, { once: true });
  }
  const signal = controller.signal;

  const cps = opts.checkpoints;
  const resume = cps?.resume;
  let read = 0;
  let written = resume?.written ?? 0;
  let rejected = resume?.rejected ?? 0;
  const rejects: Record<string, number> = { ...resume?.rejects };
  const fixes: Record<string, number> = { ...resume?.sinkCounts };
  const sinkCounts: Record<string, number> = { ...resume?.sinkCounts };
  let rejectOut: WriteStream | undefined;
  let rejectFileUsed: string | null = null;
  // Checkpoint bookkeeping: records handed to the sink (skipped ones of a resume included), rejects from the stream.
  let sinkRecords = 0;
  let streamRejects = 0;
  let skipRecords = resume?.sinkRecords ?? 0;
  let skipRejects = resume?.streamRejects ?? 0;
  let dispatched = 0;
  let acked = 0;
  let sinceCheckpoint = 0;
  /** The reject file's length before this run appended to it (a resume), and the bytes this run handed to it. */
  let rejectBase = 0;
  let rejectHanded = 0;

  const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
  const summary = (aborted: boolean): Summary => {
    const d = elapsed();
    return {
      source: source.name, sink: sink.kind, read, written, rejected,
      durationSeconds: Math.round(d * 1000) / 1000,
      entriesPerSecond: d > 0 ? Math.round(read / d) : 0,
      rejects, fixes, rejectFile: rejectFileUsed, aborted,
      status: aborted ? 'aborted' : rejected > 0 ? 'done-with-rejects' : 'done',
    };
  };

  const openRejects = () => {
    if (rejectOut || !opts.rejectFile) return;
    rejectOut = createWriteStream(opts.rejectFile);
    rejectFileUsed = opts.rejectFile;
    const header = formatComment('ldapflow rejects: the reason is above each record; fix, then load again');
    rejectHanded += Buffer.byteLength(header);
    rejectOut.write(header);
  };
  if (resume && opts.rejectFile) {
    // Cut the reject file back to the checkpoint: what came after it is produced again.
    if (resume.rejectBytes === null) {
      if (existsSync(opts.rejectFile)) unlinkSync(opts.rejectFile);
    } else {
      if (!existsSync(opts.rejectFile) || statSync(opts.rejectFile).size < resume.rejectBytes) {
        throw new LdapflowError('STATE_REJECT_FILE_SHORT', `cannot resume: the reject file is missing or shorter than at the checkpoint (${resume.rejectBytes} bytes)`, { file: opts.rejectFile });
      }
      truncateSync(opts.rejectFile, resume.rejectBytes);
      rejectOut = createWriteStream(opts.rejectFile, { flags: 'a' });
      rejectFileUsed = opts.rejectFile;
      rejectBase = resume.rejectBytes;
    }
  }
  if (opts.alwaysWriteRejectFile) openRejects();

  // Fault injection for the crash tests: die like `kill -9` the moment this many records are written. Deterministic where
  // an outside kill races the run; never set in normal use.
  const killAtWritten = process.env.LDAPFLOW_TEST_KILL_AT_WRITTEN ? Number(process.env.LDAPFLOW_TEST_KILL_AT_WRITTEN) : undefined;
  let pendingReject: Promise<void> = Promise.resolve();
  let rejectDraining = false;
  const writeReject = (r: Reject) => {
    rejected++;
    rejects[r.code] = (rejects[r.code] ?? 0) + 1;
    opts.onReject?.(r);
    if (!opts.rejectFile) return;
    openRejects();
    const where = r.origin ? ` (${formatWhere(r.origin.file, r.origin.line).replace(/: $/, '')})` : '';
    let text = '\n' + formatComment(`${r.code}: ${r.message}${where}`);
    if (r.raw !== undefined) text += r.raw.endsWith('\n') ? r.raw : r.raw + '\n';
    else if (r.record) text += formatRecord(r.record);
    else if (r.dn !== undefined) text += formatComment(`dn: ${r.dn} (record not available)`);
    rejectHanded += Buffer.byteLength(text);
    if (!rejectOut!.write(text) && !rejectDraining) {
      // One drain wait at a time: the pipeline awaits it once per batch, however many rejects the batch had.
      rejectDraining = true;
      const o = rejectOut!;
      pendingReject = new Promise((res) => o.once('drain', () => { rejectDraining = false; res(); }));
    }
  };

  /** A parser or stage reject (deterministic, replayed on resume): the first `skipRejects` of a resume are written. */
  const streamReject = (r: Reject) => {
    streamRejects++;
    if (skipRejects > 0) { skipRejects--; return; }
    writeReject(r);
  };

  const checkThreshold = (atEnd: boolean) => {
    if (opts.maxErrors !== undefined && rejected > opts.maxErrors) {
      throw new LdapflowError('RUN_TOO_MANY_ERRORS', `${rejected} records rejected, more than --max-errors ${opts.maxErrors}: stopped${rejectFileUsed ? `; see ${rejectFileUsed}` : ''}`);
    }
    if (opts.maxErrorRate !== undefined && read > 0 && (atEnd || read >= (opts.minRecordsForRate ?? 1000))) {
      const rate = rejected / read;
      if (rate > opts.maxErrorRate) {
        throw new LdapflowError('RUN_ERROR_RATE', `${rejected} of ${read} records rejected (${(rate * 100).toFixed(2)}%), above --max-error-rate ${opts.maxErrorRate}: stopped${rejectFileUsed ? `; see ${rejectFileUsed}` : ''}`);
      }
    }
  };

  const ctx: StageContext = {
    count(code, n = 1) { fixes[code] = (fixes[code] ?? 0) + n; },
    reject: streamReject,
    sinkKind: sink.kind,
    signal,
    stateDir: opts.stateDir,
  };

  // Count what the source yields (rejects from the parser count as read).
  const counted = (async function* () {
    for await (const b of source.batches(signal)) {
      read += b.records.length + b.rejects.length;
      yield b;
    }
  })();

  let stream: AsyncIterable<Batch> = counted;
  for (let i = 0; i < stages.length; ) {
    const s = stages[i];
    if (s.kind === 'map') {
      const run: MapStage[] = [];
      while (i < stages.length && stages[i].kind === 'map') run.push(stages[i++] as MapStage);
      stream = opts.runMapStages ? opts.runMapStages(run, stream, signal) : run.reduce((acc, st) => inlineMap(st, acc), stream);
    } else {
      stream = s.run(stream, ctx);
      i++;
    }
  }

  let lastProgress = 0;
  const interval = opts.progressIntervalMs ?? 250;
  const progress = () => {
    const e = elapsed();
    opts.onProgress?.({ read, written, rejected, bytesRead: source.bytesRead(), totalBytes: source.totalBytes, elapsedSeconds: e, entriesPerSecond: e > 0 ? read / e : 0 });
  };

  /*
   * Checkpoints. One is taken at a quiescent point (every batch handed to the sink acknowledged, its rejects handed to
   * the reject stream): its numbers are read there and then, synchronously (records, rejects, counters, the output's
   * length and the reject file's length as handed to their streams so far). Making it durable (flush and fsync of the
   * output and of the reject file, then the synced LevelDB write) runs in the background while the pipeline goes on:
   * the fsyncs cover at least the bytes counted, and a resume cuts both files back to the recorded lengths, so what
   * was written after the numbers were read does not matter. At most one is in flight; a checkpoint that falls due
   * meanwhile waits for the next batch after it (so they are saved in the order they were taken). The in-flight one is
   * awaited before the sink or the reject file is closed or aborted, and before the final save; its failure fails the
   * run at the next batch, as a checkpoint awaited in line would have.
   */
  // (`as`: set in callbacks, so the compiler must not narrow them to null here.)
  let inflight = null as Promise<void> | null;
  let checkpointFailed = null as { error: unknown } | null;

  /** Read a checkpoint's numbers now (the pipeline must be quiescent) and make it durable; resolves once saved. */
  const takeCheckpoint = (): Promise<void> => {
    const save = cps!.save;
    const sinkSynced = sink.sync ? sink.sync() : Promise.resolve(null);
    const o = rejectOut;
    const rejectBytes = o ? rejectBase + rejectHanded : rejectFileUsed ? statSync(rejectFileUsed).size : null;
    const rejectSynced = o ? flushAndFsync(o) : Promise.resolve();
    const cp = {
      status: 'running' as const, sinkRecords, streamRejects, rejectBytes, rejectFile: rejectFileUsed,
      written, rejected, rejects: { ...rejects }, sinkCounts: { ...sinkCounts },
    };
    sinceCheckpoint = 0;
    // Both files are synced (even when one fails) before anything else may close them.
    return Promise.allSettled([sinkSynced, rejectSynced]).then(([s, r]) => {
      if (s.status === 'rejected') throw s.reason;
      if (r.status === 'rejected') throw r.reason;
      return save({ ...cp, sinkBytes: s.value });
    });
  };

  /** A checkpoint falls due after a batch: started in the background unless one is in flight. */
  const checkpointDue = async (): Promise<void> => {
    if (inflight) return;
    // A sink that acknowledges later (LDAP: when the server answers) is quiescent only once it has finished all it
    // accepted: that wait holds the pipeline. An LDIF sink has acknowledged every batch by the time write() resolves.
    if (acked !== dispatched && sink.sync) await sink.sync();
    if (acked !== dispatched) return; // not quiescent (a sink without sync): the next one will be
    const p = takeCheckpoint();
    inflight = p.then(() => { inflight = null; }, (error) => { inflight = null; checkpointFailed ??= { error }; });
  };

  /** Wait for the checkpoint in flight, if any (its failure is kept in checkpointFailed). */
  const settleCheckpoint = async (): Promise<void> => {
    while (inflight) await inflight;
  };

  /** A last checkpoint in line (abort, error): after the one in flight; nothing when not quiescent. */
  const finalCheckpoint = async (): Promise<void> => {
    await settleCheckpoint();
    if (acked === dispatched) await takeCheckpoint();
  };

  let opened = false;
  let sinkClosed = false;
  try {
    await sink.open({
      reject: writeReject,
      acknowledge: (_seq, n) => {
        written += n;
        acked++;
        if (killAtWritten !== undefined && written >= killAtWritten) process.kill(process.pid, 'SIGKILL');
      },
      count: cps ? (code, n = 1) => { sinkCounts[code] = (sinkCounts[code] ?? 0) + n; ctx.count(code, n); } : ctx.count,
      signal,
    });
    opened = true;
    for await (const batch of stream) {
      if (checkpointFailed) throw checkpointFailed.error;
      for (const r of batch.rejects) streamReject(r);
      if (batch.counts) for (const k in batch.counts) fixes[k] = (fixes[k] ?? 0) + batch.counts[k];
      if (batch.notes && opts.onNote) for (const n of batch.notes) opts.onNote(n);
      checkThreshold(false);
      if (skipRecords > 0) {
        // Resume: these records are in the output already.
        const k = Math.min(skipRecords, batch.records.length);
        skipRecords -= k;
        sinkRecords += k;
        if (k === batch.records.length) { batch.release?.(); continue; }
        batch.records = batch.records.slice(k);
        if (batch.ldif && k > 0) batch.ldif = dropFormattedRecords(batch.ldif, k);
      }
      if (batch.ldif && sink.textWrap === undefined) throw new LdapflowError('RUN_BAD_PLAN', `the ${sink.kind} sink cannot take records written as LDIF text by the workers (readLdifInWorkers "format" is for an LDIF file sink)`);
      dispatched++;
      sinkRecords += batch.records.length;
      sinceCheckpoint += batch.records.length;
      await sink.write(batch);
      await pendingReject;
      if (cps && sinceCheckpoint >= cps.interval) await checkpointDue();
      if (opts.onProgress) {
        const now = Date.now();
        if (now - lastProgress >= interval) { lastProgress = now; progress(); }
      }
      if (signal.aborted) break;
    }
    await settleCheckpoint();
    if (checkpointFailed) throw checkpointFailed.error;
    if (signal.aborted) {
      if (cps) { try { await finalCheckpoint(); } catch { /* keep the last one */ } }
      await sink.abort();
    } else {
      // Judge the run before the sink finishes too: over the threshold, an LDIF sink must not rename its output.
      checkThreshold(true);
      await sink.close();
      sinkClosed = true;
      if (cps) {
        await closeRejects();
        await cps.save({
          status: 'done', sinkRecords, streamRejects, sinkBytes: null, rejectBytes: rejectFileUsed ? statSync(rejectFileUsed).size : null,
          rejectFile: rejectFileUsed, written, rejected, rejects: { ...rejects }, sinkCounts: { ...sinkCounts },
        });
      }
      checkThreshold(true);
    }
  } catch (err) {
    // Nothing is closed under a checkpoint in flight; a failed checkpoint keeps the last one saved.
    await settleCheckpoint();
    if (opened && cps && !sinkClosed && !checkpointFailed) { try { await finalCheckpoint(); } catch { /* keep the last one */ } }
    if (opened) { try { await sink.abort(); } catch { /* report the first error */ } }
    await closeRejects();
    outer?.removeEventListener('abort', onOuterAbort);
    const e = err instanceof LdapflowError ? err : new LdapflowError('RUN_FAILED', (err as Error)?.message ?? String(err), { cause: err });
    throw new RunError(e, summary(signal.aborted));
  }
  await closeRejects();
  outer?.removeEventListener('abort', onOuterAbort);
  if (opts.onProgress) progress();
  return summary(signal.aborted);

  async function closeRejects(): Promise<void> {
    if (!rejectOut) return;
    const o = rejectOut;
    rejectOut = undefined;
    await new Promise<void>((res) => o.end(() => res()));
  }
}
