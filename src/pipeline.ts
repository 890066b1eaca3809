/**
 * The pipeline: source -> stages -> sink over batches, pull-based, so a slow sink holds back the source (memory stays
 * flat). Rejects travel with their batch and are written to the reject file as LDIF with a `# CODE: message (file:line)`
 * comment above each record, so the file can be fixed and loaded again. Counts fixes, enforces the error threshold,
 * stops cleanly on abort (what was accepted is flushed) and returns a summary.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { LdapflowError } from './errors.js';
import type { Batch, Note, Reject } from './entry.js';
import type { MapStage, Sink, Source, Stage, StageContext } from './stage.js';
import { formatComment, formatRecord } from './sinks/ldif-format.js';
import { formatWhere } from './errors.js';

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

  let read = 0;
  let written = 0;
  let rejected = 0;
  const rejects: Record<string, number> = {};
  const fixes: Record<string, number> = {};
  let rejectOut: WriteStream | undefined;
  let rejectFileUsed: string | null = null;

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
    rejectOut.write(formatComment('ldapflow rejects: the reason is above each record; fix, then load again'));
  };
  if (opts.alwaysWriteRejectFile) openRejects();

  let pendingReject: Promise<void> = Promise.resolve();
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
    if (!rejectOut!.write(text)) pendingReject = new Promise((res) => rejectOut!.once('drain', () => res()));
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
    reject: writeReject,
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

  let opened = false;
  try {
    await sink.open({
      reject: writeReject,
      acknowledge: (_seq, n) => { written += n; },
      count: ctx.count,
      signal,
    });
    opened = true;
    for await (const batch of stream) {
      for (const r of batch.rejects) writeReject(r);
      if (batch.counts) for (const k in batch.counts) fixes[k] = (fixes[k] ?? 0) + batch.counts[k];
      if (batch.notes && opts.onNote) for (const n of batch.notes) opts.onNote(n);
      checkThreshold(false);
      await sink.write(batch);
      await pendingReject;
      if (opts.onProgress) {
        const now = Date.now();
        if (now - lastProgress >= interval) { lastProgress = now; progress(); }
      }
      if (signal.aborted) break;
    }
    if (signal.aborted) {
      await sink.abort();
    } else {
      await sink.close();
      checkThreshold(true);
    }
  } catch (err) {
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
