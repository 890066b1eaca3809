/**
 * The map-stage worker pool (the only module that imports piscina).
 *
 * Two ways in:
 *  - `runInWorkers(stages, input, signal, opts)`: batches already parsed (an LDAP source, ...) go to the workers in a
 *    compact wire form (record-codec.ts; structured-cloning Entry objects costs more than the stages' work) and come
 *    back the same way. This is what `run({ runMapStages })` calls.
 *  - `readLdifInWorkers(opts)`: a Source that reads an LDIF file, cuts the raw bytes at record boundaries (~batchSize
 *    records a chunk, sized by the average record length seen so far), hands each chunk to a worker (a regular file
 *    as a byte range the worker reads itself, other input in a reused shared buffer) that parses it and runs the map
 *    stages, and yields the processed batches. The main thread then only cuts (or reads) the input, decodes wire
 *    form and runs what follows (barriers, the sink). With `format` (an LDIF file sink and nothing between it and
 *    the workers: `planWorkers`), the workers also write the records as LDIF text into reused shared buffers, and the
 *    main thread decodes nothing. Origins stay exact: a worker counts lines and
 *    records from 0 and the main thread adds the offsets of the chunks before it.
 * Both keep input order by batch sequence, hold at most `workers x queueDepth` tasks in flight, turn a worker failure
 * into one fatal LdapflowError naming the stage, DN and line (never a hang), and destroy the pool at the end, on an
 * error and on abort.
 */
import { availableParallelism } from 'node:os';
import { closeSync, createReadStream, existsSync, openSync, readSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { Piscina } from 'piscina';
import { LdapflowError } from '../errors.js';
import { shiftedOrigin, type Batch, type LdifRecord, type Reject } from '../entry.js';
import { mergeCounts, type MapStage, type Source, type Stage } from '../stage.js';
import type { ParseMode } from '../sources/ldif-parser.js';
import { decodedInput, gunzipWanted, inputInfo } from '../sources/ldif-file.js';
import { decodeRecords, encodeRecords } from './record-codec.js';
import { hasFactory } from './registry.js';
import { decodeTextRecords } from './text-record.js';
import type { FatalInfo, StageSpec, WorkerConfig, WorkerResult, WorkerTask } from './worker.js';

export interface WorkerPoolOptions {
  /** Worker threads (>= 1). */
  workers: number;
  /** Tasks queued per worker beyond the one it runs (default 2): in flight at most workers x queueDepth. */
  queueDepth?: number;
  /** The worker module (default: worker.js next to this module, compiled in dist/). Tests give their own. */
  workerFile?: string;
}

/**
 * The default `--workers` (0, inline, on one core; at most 4):
 *  - `mainLight` (the workers also write the LDIF text: `--passthrough`, `--no-order`): one worker per core.
 *  - `ordering` (with `mainLight`: the workers write text entries for the ordering stage, which runs on the main
 *    thread): one more than the cores. The main thread takes about a third of a core and waits on the workers, the
 *    writes and the spill in turns; with one worker per core the cores were idle ~8% of the run (utilization 1.83 of
 *    2 sampled every 0.5 s), a third worker fills those gaps.
 *  - else (the main thread decodes and orders every record): one per core beyond the first.
 * Measured on the 2-core machine at 1M entries (`npm run bench`, bench/RESULTS.md; and alternating runs of the same
 * build, 2026-12-05): the oid-to-oud pipeline with text entries took 17.3 s with 3 workers against 18.3 s with 2
 * (medians of 3; 379 vs 317 MB); `--passthrough` took 9.5 s with 2 workers against 10.2 s with 3. Before text
 * entries, when the main thread decoded, ordered and wrote every record, one worker paid and a second found no free
 * core (2026-11-25: 21.1k/s vs 19.8k/s). More than 2 cores was not measured: the cap of 4 is a guess that the main
 * thread becomes the bottleneck.
 */
export function defaultWorkers(mainLight = false, ordering = false): number {
  const cores = availableParallelism();
  if (cores < 2) return 0;
  return Math.min(!mainLight ? cores - 1 : ordering ? cores + 1 : cores, 4);
}

/** The compiled worker module. From src/ (tests run .ts through a loader) it is the one in dist/. */
export function workerFilePath(): string {
  const here = fileURLToPath(import.meta.url);
  const dir = dirname(here);
  if (here.endsWith('.ts')) return join(dir, '..', '..', 'dist', 'src', 'transforms', 'worker.js');
  return join(dir, 'worker.js');
}

/**
 * Whether a stage can run in a worker: it says how to rebuild itself from a factory registry.ts knows (with a
 * custom `workerFile`, any factory: that module knows its own, and an unknown one is a fatal error at start).
 */
export function canRunInWorker(stage: MapStage, customWorker = false): boolean {
  return stage.worker !== undefined && (customWorker || hasFactory(stage.worker.factory));
}

export function specOf(stage: MapStage): StageSpec {
  return { name: stage.name, factory: stage.worker!.factory, options: stage.worker!.options };
}

function validate(opts: WorkerPoolOptions): { workers: number; queueDepth: number; file: string; custom: boolean } {
  if (!opts || !Number.isInteger(opts.workers) || opts.workers < 1) {
    throw new LdapflowError('OPTION_INVALID', `worker pool: option "workers" must be a whole number >= 1, got ${String(opts?.workers)}`);
  }
  const queueDepth = opts.queueDepth ?? 2;
  if (!Number.isInteger(queueDepth) || queueDepth < 1) throw new LdapflowError('OPTION_INVALID', `worker pool: option "queueDepth" must be a whole number >= 1, got ${queueDepth}`);
  const file = opts.workerFile ?? workerFilePath();
  if (!existsSync(file)) {
    throw new LdapflowError('WORKER_MODULE_MISSING', `worker module not found: ${file} (build with "npx tsc -p .")`, { file });
  }
  return { workers: opts.workers, queueDepth, file, custom: opts.workerFile !== undefined };
}

function startPool(file: string, workers: number, queueDepth: number, config: WorkerConfig): Piscina {
  let pool: Piscina;
  try {
    pool = newPool(file, workers, queueDepth, config);
  } catch (err) {
    // Options that are not plain data (a function, a class instance) cannot be sent to a worker.
    throw new LdapflowError('WORKER_START_FAILED', `cannot start the worker pool: ${(err as Error).message}`, { cause: err });
  }
  // A thread that dies also fails its task (reported there, with where it was); without a listener the pool's
  // 'error' event would end the process.
  pool.on('error', () => {});
  return pool;
}

function newPool(file: string, workers: number, queueDepth: number, config: WorkerConfig): Piscina {
  return new Piscina({
    filename: file,
    minThreads: workers,
    maxThreads: workers,
    idleTimeout: 60_000,
    maxQueue: workers * queueDepth + workers,
    // A worker holds its next task(s) already: with one task per worker, the next was posted only when the main
    // thread had handled the 'done' message, and on 2 cores shared by three busy threads the workers waited for that
    // turn. The tasks of one worker still run one after the other (the handler is synchronous); in flight stays
    // bounded by `inOrder` (workers x queueDepth).
    concurrentTasksPerWorker: queueDepth,
    workerData: config,
  });
}

/** A task's outcome as data: Piscina rejects when a thread dies or the pool is destroyed. */
function submit(pool: Piscina, task: WorkerTask, transfer?: ArrayBuffer[]): Promise<WorkerResult | { died: unknown }> {
  return (pool.run(task, transfer ? { transferList: transfer } : {}) as Promise<WorkerResult>).then(
    (r) => r,
    (err: unknown) => ({ died: err }),
  );
}

function fatalError(f: FatalInfo, lineOffset: number): LdapflowError {
  return new LdapflowError(f.code, f.message, {
    file: f.file,
    line: f.line !== undefined && f.line > 0 ? f.line + lineOffset : f.line,
    dn: f.dn,
    recoverable: false,
  });
}

function diedError(err: unknown, where: string, dn?: string): LdapflowError {
  const msg = err instanceof Error ? err.message : String(err);
  return new LdapflowError('WORKER_FAILED', `a worker thread failed while processing ${where}: ${msg}`, { dn, cause: err });
}

function shiftOrigin(r: Reject, lineOffset: number, indexOffset: number): void {
  if (r.origin) r.origin = shiftedOrigin(r.origin, lineOffset, indexOffset);
  const rec = r.record;
  if (rec?.origin) rec.origin = shiftedOrigin(rec.origin, lineOffset, indexOffset);
}

/** A started task. Boxed: an async generator awaits a promise it yields, which would run one task at a time. */
interface Job<T> { p: Promise<T> }

/**
 * Bounded, ordered: pull jobs (each a promise of a result) while fewer than `limit` are in flight, yield results in
 * the order the jobs were made. Jobs already started are left to settle (their outcome is data, never a rejection).
 */
async function* inOrder<T>(jobs: AsyncIterator<Job<T>>, limit: number): AsyncGenerator<T> {
  const q: Promise<T>[] = [];
  let done = false;
  try {
    for (;;) {
      while (!done && q.length < limit) {
        const r = await jobs.next();
        if (r.done) done = true;
        else q.push(r.value.p);
      }
      if (q.length === 0) return;
      yield await q.shift()!;
    }
  } finally {
    if (!done) await jobs.return?.(undefined);
  }
}

/** Run consecutive map stages on a pool; stages that cannot run in a worker run inline, in their place. */
export function runInWorkers(stages: MapStage[], input: AsyncIterable<Batch>, signal: AbortSignal, opts: WorkerPoolOptions): AsyncIterable<Batch> {
  const v = validate(opts);
  let stream = input;
  for (let i = 0; i < stages.length;) {
    if (!canRunInWorker(stages[i], v.custom)) {
      const st = stages[i++];
      const src = stream;
      stream = (async function* () { for await (const b of src) yield st.fn(b); })();
      continue;
    }
    const group: MapStage[] = [];
    while (i < stages.length && canRunInWorker(stages[i], v.custom)) group.push(stages[i++]);
    stream = poolStage(group, stream, signal, v);
  }
  return stream;
}

function poolStage(stages: MapStage[], input: AsyncIterable<Batch>, signal: AbortSignal, v: ReturnType<typeof validate>): AsyncIterable<Batch> {
  return (async function* () {
    if (signal.aborted) return;
    const pool = startPool(v.file, v.workers, v.queueDepth, { stages: stages.map(specOf) });
    try {
      const jobs = (async function* () {
        for await (const b of input) {
          if (signal.aborted) return;
          const records = encodeRecords(b.records);
          const task: WorkerTask = { kind: 'enc', records, rejects: [] };
          // The batch's own rejects (from the source or earlier stages) stay here; map stages only append.
          yield { p: submit(pool, task).then((r) => ({ b, r })) };
        }
      })();
      for await (const { b, r } of inOrder(jobs, v.workers * v.queueDepth)) {
        if ('died' in r) throw diedError(r.died, `batch ${b.seq}`, b.records[0]?.dn);
        if (r.fatal) throw fatalError(r.fatal, 0);
        const out: Batch = { seq: b.seq, records: decodeRecords(r.records!), rejects: b.rejects.length ? b.rejects.concat(r.rejects) : r.rejects };
        const counts = mergeCounts(b.counts, r.counts);
        if (counts) out.counts = counts;
        const notes = b.notes?.length ? (r.notes ? b.notes.concat(r.notes) : b.notes) : r.notes;
        if (notes) out.notes = notes;
        yield out;
        if (signal.aborted) return;
      }
    } finally {
      await pool.destroy();
    }
  })();
}

export interface ReadLdifInWorkersOptions extends WorkerPoolOptions {
  /** A path, or `-` for standard input. */
  input: string;
  /** A readable to use instead of opening `input`; `input` is then only its name. */
  stream?: Readable;
  mode?: ParseMode;
  /** Records per batch, about (default 1,000): chunks are cut by bytes at record boundaries. */
  batchSize?: number;
  gzip?: boolean;
  maxRecordBytes?: number;
  /** The map stages the workers run after parsing, in order (each must have a known `worker` factory). */
  stages: MapStage[];
  /**
   * The workers also write the records as LDIF text: for an LDIF sink with nothing between it and these stages
   * (batches then carry `ldif`, see Batch), or with `refs`, barrier stages that read only those attributes (batches
   * then carry text entries, see text-record.ts).
   */
  format?: { wrap: number; refs?: string[] };
}

const NL2 = Buffer.from('\n\n', 'latin1');
const NLCRNL = Buffer.from('\n\r\n', 'latin1');

/** The end of the first blank line at or after `from` (the offset just past it), or -1. */
function boundaryAfter(buf: Buffer, from: number, crlf: boolean): number {
  const a = buf.indexOf(NL2, from);
  if (!crlf) return a < 0 ? -1 : a + 2;
  const b = buf.indexOf(NLCRNL, from);
  if (a < 0) return b < 0 ? -1 : b + 3;
  if (b < 0 || a < b) return a + 2;
  return b + 3;
}

/** Record boundaries (blank lines) in a buffer. */
function countRecords(buf: Buffer, crlf: boolean): number {
  let n = 0;
  // Bytes without a CR (most files, which fileCuts counts as if they might hold one) are counted as LF-only: one
  // search for a byte, where every line stopped a search for `\n\r\n` too (~0.3 s of the main thread at 1M entries).
  if (crlf && buf.indexOf(13) < 0) crlf = false;
  if (!crlf) {
    for (let p = boundaryAfter(buf, 0, false); p >= 0; p = boundaryAfter(buf, p, false)) n++;
    return n;
  }
  // As boundaryAfter(buf, p, true) in a loop, with the next `\n\r\n` searched again only once passed: searched from
  // every boundary, a file without CR was scanned to the end once per record.
  let b = buf.indexOf(NLCRNL, 0);
  for (let p = 0; ;) {
    if (b >= 0 && b < p) b = buf.indexOf(NLCRNL, p);
    const a = buf.indexOf(NL2, p);
    if (a < 0 && b < 0) return n;
    p = a >= 0 && (b < 0 || a < b) ? a + 2 : b + 3;
    n++;
  }
}

/** Whether a chunk holds a line that is not a comment (it then holds a record or the version line). */
function hasNonComment(buf: Buffer): boolean {
  let pos = 0;
  while (pos < buf.length) {
    const c = buf[pos];
    if (c !== 0x23 /* # */ && c !== 0x20 && c !== 0x0a && c !== 0x0d) return true;
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) return false;
    pos = nl + 1;
  }
  return false;
}

/**
 * Shared buffers reused from task to task: the input chunks a worker parses, and the LDIF text it writes. A buffer
 * allocated per chunk and per result (a few hundred KB each, thousands of them) is freed only when the garbage
 * collector finds it, and the process's malloc heap kept the churn: ~95 MB of it at 1M entries, the largest part of
 * peak RSS (measured with /proc/PID/smaps). `take` gives a free buffer of at least `size` bytes (a new one when none
 * is free: a lost `give` costs memory, never a hang); `give` returns one.
 */
class SharedBuffers {
  private free: SharedArrayBuffer[] = [];
  constructor(private readonly min: number) {}
  take(size: number): SharedArrayBuffer {
    for (let i = this.free.length - 1; i >= 0; i--) {
      if (this.free[i].byteLength >= size) return this.free.splice(i, 1)[0];
    }
    // None big enough: drop a small one (it would never fit again) and make one with room to spare.
    if (this.free.length) this.free.pop();
    return new SharedArrayBuffer(Math.max(this.min, Math.ceil(size * 1.25)));
  }
  give(b: SharedArrayBuffer): void {
    this.free.push(b);
  }
}

function isRegularFile(path: string): boolean {
  try { return statSync(path).isFile(); } catch { return false; }
}

/** A file's first `n` bytes; undefined when it cannot be read (the reader then reports why). */
function fileHead(path: string, n: number): Uint8Array | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const b = Buffer.alloc(n);
    return b.subarray(0, readSync(fd, b, 0, n, 0));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The size to cut the next chunk at: `batchSize` records at the bytes per record counted so far. The first estimate
 * is from the input's first 256 KiB; then the records of each chunk cut are counted in its first 64 KiB, not all of
 * it (a search per record on the main thread, ~0.5 s at 1M entries, for an estimate). It comes from what was cut,
 * never from results: chunk boundaries (so batch boundaries, which the ordering stage's output depends on) must be
 * the same in every run of the same input, or a resumed run would skip a different sequence than the one it wrote.
 * Both ways of cutting (a regular file, fileCuts; other input, in readLdifInWorkers) size their chunks with it.
 */
class ChunkSizer {
  static readonly PROBE = 1 << 18;
  static readonly SAMPLE = 1 << 16;
  private avg = 0;
  private bytes = 0;
  private records = 0;
  constructor(private readonly batchSize: number) {}

  /** Whether the first estimate is made. */
  get ready(): boolean {
    return this.avg > 0;
  }

  /**
   * Make the first estimate from the input's first bytes (at most PROBE of them). With `more` (more input may come),
   * bytes with no record boundary that are shorter than PROBE make none: false, ask again with more.
   */
  probe(head: Buffer, crlf: boolean, more: boolean): boolean {
    const n = countRecords(head, crlf);
    if (n > 0) this.avg = Math.max(64, Math.floor(head.length / n));
    else if (more && head.length < ChunkSizer.PROBE) return false;
    else this.avg = ChunkSizer.PROBE;
    return true;
  }

  /** Bytes to cut the next chunk at (from its start, before the boundary after them). */
  target(): number {
    return Math.max(1, Math.floor(this.batchSize * (this.records > 0 ? this.bytes / this.records : this.avg)));
  }

  /** A chunk was cut: `sample`, its first bytes (SAMPLE of them, or all when it is shorter), are counted. */
  cut(sample: Buffer, crlf: boolean): void {
    this.records += countRecords(sample, crlf);
    this.bytes += sample.length;
  }
}

/** Bytes the main thread reads at a time to cut a regular file: at a chunk's end (to find a record boundary) and at
 * its start (to count records for the next cut). */
const WINDOW = 1 << 16;

/** A chunk of a regular file, `[start, end)`, cut at a record boundary. */
interface FileCut {
  start: number;
  end: number;
  first: boolean;
}

/**
 * Cut a regular file into chunks of about `batchSize` records without reading it whole: per chunk the main thread
 * reads a 64 KiB window where the chunk should end (to find the blank line after it) and one at its start (records
 * counted there give the next chunk's size); the workers read the chunks themselves (task `file`). Copying every
 * byte of the input into a buffer of its own and then into a shared one for its worker was ~0.55 s of the main
 * thread's CPU at 1M entries (perf), a sixth of it the search for CR bytes; in alternating 1M runs the main thread
 * took 6.8 s of CPU instead of 7.6 s (medians of 5), the workers that much more for their reads, and on 2 cores the
 * wall time did not move beyond the noise (more cores, where the main thread would set the pace, were not measured).
 * A blank line is `\n\n` or `\n\r\n` in any file (the parser makes CRLF LF, so both end a record). The cuts are a
 * function of the file alone, so they are the same in every run (a resumed run skips by them). The file is read up
 * to the size it had when it was opened.
 */
async function* fileCuts(path: string, sizer: ChunkSizer, maxRecordBytes: number, file: string): AsyncGenerator<FileCut> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const win = Buffer.allocUnsafeSlow(WINDOW);
    /** `buf` filled from offset `pos` (less at the end of the file). */
    const readAt = async (buf: Buffer, pos: number): Promise<Buffer> => {
      const want = Math.max(0, Math.min(buf.length, size - pos));
      let n = 0;
      while (n < want) {
        const { bytesRead } = await fh.read(buf, n, want - n, pos + n);
        if (bytesRead === 0) break;
        n += bytesRead;
      }
      return buf.subarray(0, n);
    };
    /** The end of the first blank line at or after `from`, or -1 when the file ends first. */
    const boundaryFrom = async (from: number, target: number): Promise<number> => {
      for (let pos = from; ; pos += WINDOW - 2) { // windows overlap by 2 bytes: a blank line across two is found
        if (pos > target + maxRecordBytes) {
          throw new LdapflowError('LDIF_RECORD_TOO_LARGE', `a record after byte ${target} exceeds ${maxRecordBytes} bytes without a blank line: record boundaries are lost`, { file });
        }
        const w = await readAt(win, pos);
        // A `\n\r\n` ends a record first only before the first `\n\n`: searched up to it, not through the whole window.
        const a = w.indexOf(NL2);
        const b = (a < 0 ? w : w.subarray(0, a + 2)).indexOf(NLCRNL);
        if (b >= 0) return pos + b + 3;
        if (a >= 0) return pos + a + 2;
        if (pos + w.length >= size) return -1;
      }
    };
    sizer.probe(await readAt(Buffer.allocUnsafeSlow(ChunkSizer.PROBE), 0), true, false);
    let start = 0;
    let first = true;
    while (start < size) {
      const target = sizer.target();
      let cut = await boundaryFrom(start + target - 1, start + target);
      // The first chunk must hold a record (or the version line): a run of comments alone is not sent alone.
      while (first && cut >= 0 && !hasNonComment(await readAt(Buffer.allocUnsafeSlow(cut - start), start))) cut = await boundaryFrom(cut, start + target);
      if (cut < 0) cut = size;
      sizer.cut(await readAt(win.subarray(0, Math.min(cut - start, ChunkSizer.SAMPLE)), start), true);
      yield { start, end: cut, first };
      first = false;
      start = cut;
    }
  } finally {
    await fh.close();
  }
}

/** Read an LDIF file, parse it and run `stages` on a worker pool (see the module comment). */
export function readLdifInWorkers(opts: ReadLdifInWorkersOptions): Source {
  if (!opts || typeof opts.input !== 'string' || opts.input === '') throw new LdapflowError('OPTION_INVALID', 'readLdifInWorkers: option "input" must be a path or "-"');
  const v = validate(opts);
  const batchSize = opts.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new LdapflowError('OPTION_INVALID', `readLdifInWorkers: option "batchSize" must be a positive integer, got ${batchSize}`);
  for (const s of opts.stages) {
    if (!canRunInWorker(s, v.custom)) throw new LdapflowError('OPTION_INVALID', `readLdifInWorkers: stage "${s.name}" cannot run in a worker (no known worker factory)`);
  }
  const maxRecordBytes = opts.maxRecordBytes ?? 256 * 1024 * 1024;
  const { isStdin, totalBytes } = inputInfo(opts.input, opts.stream);
  const name = isStdin ? '-' : opts.input;
  const file = name === '-' ? '<stdin>' : name;
  let bytes = 0;
  return {
    name,
    totalBytes,
    bytesRead: () => bytes,
    async *batches(signal: AbortSignal): AsyncGenerator<Batch> {
      if (signal.aborted) return;
      // A regular file is cut here and read by the workers (fileCuts); anything else (standard input, a stream, a
      // gzipped file, a pipe given by name) is read here and its chunks copied to the workers in shared buffers.
      const plain = !isStdin && !opts.stream && isRegularFile(opts.input) && !gunzipWanted(opts, fileHead(opts.input, 2));
      const raw: Readable | undefined = plain ? undefined : opts.stream ?? (isStdin ? process.stdin : createReadStream(opts.input, { highWaterMark: 1 << 20 }));
      const onAbort = () => raw?.destroy();
      signal.addEventListener('abort', onAbort, { once: true });
      const pool = startPool(v.file, v.workers, v.queueDepth, {
        stages: opts.stages.map(specOf),
        parse: { file, mode: opts.mode, maxRecordBytes, ...(plain ? { path: opts.input } : {}) },
        ...(opts.format ? { format: opts.format } : {}),
      });
      let readError: unknown;
      const outputs = new SharedBuffers(1 << 20);
      let lastOut = 0;
      /** Start a task on chunk `[start, start + size)` of the input; `release` when its result is back. */
      const submitChunk = (task: Extract<WorkerTask, { kind: 'raw' | 'file' }>, start: number, size: number, release?: () => void) => {
        // The text is about as long as the input (a little longer with base64 or folding); a result that does not
        // fit comes back in a buffer of its own, and the next take makes a bigger one.
        const out = opts.format ? outputs.take(lastOut) : undefined;
        if (out) task.out = out;
        return {
          p: submit(pool, task).then((r) => {
            release?.();
            if (out && !('died' in r) && r.ldifLen === undefined) outputs.give(out);
            if (!('died' in r) && r.ldif) lastOut = r.ldif.byteLength;
            return { r, size, start, out };
          }),
        };
      };

      const jobs = plain ? (async function* () {
        try {
          for await (const c of fileCuts(opts.input, new ChunkSizer(batchSize), maxRecordBytes, file)) {
            if (signal.aborted) return;
            bytes = c.end;
            yield submitChunk({ kind: 'file', start: c.start, length: c.end - c.start, first: c.first }, c.start, c.end - c.start);
          }
        } catch (err) {
          readError = err;
        }
      })() : (async function* () {
        const input = decodedInput(raw!, opts, (n) => { bytes += n; });
        const inputs = new SharedBuffers(1 << 20);
        const sizer = new ChunkSizer(batchSize);
        // The bytes read and not sent yet, `cur[head, end)`; a chunk goes to its worker in a shared buffer
        // (SharedBuffers). What is left after a chunk stays where it is: moving it to the front after every chunk
        // was a memmove of ~0.5 MB per chunk on the main thread (~2 GB at 1M entries); it moves only when a read
        // needs the room.
        let cur = Buffer.allocUnsafeSlow(1 << 21);
        let head = 0;
        let end = 0;
        let crlf = false;
        let first = true;
        let chunkStart = 0; // byte offset of `cur[head]` in the (decoded) input
        const send = (cut: number) => {
          const shared = inputs.take(cut);
          cur.copy(Buffer.from(shared), 0, head, head + cut);
          head += cut;
          const task: Extract<WorkerTask, { kind: 'raw' }> = { kind: 'raw', bytes: new Uint8Array(shared, 0, cut), first };
          first = false;
          const start = chunkStart;
          chunkStart += cut;
          return submitChunk(task, start, cut, () => inputs.give(shared));
        };
        const append = (c: Buffer) => {
          if (end + c.length > cur.length) {
            const len = end - head;
            if (len + c.length > cur.length) {
              const bigger = Buffer.allocUnsafeSlow(Math.max(cur.length * 2, len + c.length));
              cur.copy(bigger, 0, head, end);
              cur = bigger;
            } else cur.copyWithin(0, head, end);
            head = 0;
            end = len;
          }
          c.copy(cur, end);
          end += c.length;
        };
        try {
          for await (const c of input) {
            if (signal.aborted) return;
            if (!crlf && c.indexOf(13) >= 0) crlf = true;
            append(c);
            if (!sizer.ready && !sizer.probe(cur.subarray(head, Math.min(end, head + ChunkSizer.PROBE)), crlf, true)) continue;
            for (;;) {
              const target = sizer.target();
              const len = end - head;
              if (len < target) break;
              const view = cur.subarray(head, end);
              let cut = boundaryAfter(view, target - 1, crlf);
              // The first chunk must hold a record (or the version line): a run of comments alone is not sent alone.
              while (first && cut >= 0 && !hasNonComment(view.subarray(0, cut))) cut = boundaryAfter(view, cut, crlf);
              if (cut < 0) {
                if (len > target + maxRecordBytes) {
                  throw new LdapflowError('LDIF_RECORD_TOO_LARGE', `a record after byte ${chunkStart + target} exceeds ${maxRecordBytes} bytes without a blank line: record boundaries are lost`, { file });
                }
                break;
              }
              sizer.cut(view.subarray(0, Math.min(cut, ChunkSizer.SAMPLE)), crlf);
              yield send(cut);
            }
          }
          if (signal.aborted) return;
          if (end > head) yield send(end - head);
        } catch (err) {
          readError = err;
        }
      })();

      let lineOffset = 0;
      let indexOffset = 0;
      let seq = 0;
      try {
        for await (const { r, start, out } of inOrder(jobs, v.workers * v.queueDepth)) {
          if ('died' in r) throw diedError(r.died, `${file} from line ${lineOffset + 1} (byte ${start})`);
          if (r.fatal) throw fatalError(r.fatal, lineOffset);
          const text = r.ldifRecords !== undefined;
          let records: LdifRecord[];
          if (r.textRecords) {
            // Text entries keep their text past this batch (until the sink writes them): a copy of their own, and
            // the shared buffer goes back at once.
            let own: Buffer;
            if (r.ldif) own = Buffer.from(r.ldif.buffer, r.ldif.byteOffset, r.ldif.byteLength);
            else {
              own = Buffer.allocUnsafeSlow(r.ldifLen!);
              own.set(new Uint8Array(out!, 0, r.ldifLen!));
              outputs.give(out!);
            }
            records = decodeTextRecords(r.textRecords, own, opts.format!.wrap, file, lineOffset, indexOffset);
          } else records = text ? new Array<LdifRecord>(r.ldifRecords!) : decodeRecords(r.records!, lineOffset, indexOffset);
          for (const rj of r.rejects) shiftOrigin(rj, lineOffset, indexOffset);
          const b: Batch = { seq: seq++, records, rejects: r.rejects };
          if (text && r.ldif) b.ldif = r.ldif;
          else if (text && r.ldifLen !== undefined && out) {
            // The text is in the shared buffer: it goes back to the pool once the sink has written it.
            b.ldif = new Uint8Array(out, 0, r.ldifLen);
            b.release = () => outputs.give(out);
          }
          if (r.counts) b.counts = r.counts;
          if (r.notes) b.notes = r.notes;
          lineOffset += r.lines!;
          indexOffset += r.recordCount!;
          yield b;
          if (signal.aborted) return;
        }
        if (readError !== undefined && !signal.aborted) throw readFailure(readError, name);
      } finally {
        signal.removeEventListener('abort', onAbort);
        if (raw && !isStdin && !opts.stream) raw.destroy();
        await pool.destroy();
      }
    },
  };
}

function readFailure(err: unknown, name: string): LdapflowError {
  if (err instanceof LdapflowError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') return new LdapflowError('SOURCE_BAD_GZIP', `${name}: not a valid gzip file (${(err as Error).message})`, { file: name });
  return new LdapflowError('SOURCE_READ_FAILED', `${name}: ${(err as Error).message}`, { file: name, cause: err });
}

export interface PlanWorkersOptions {
  source: Source;
  /** The LDIF path (or `-`) the source reads, when it is an LDIF source; then parsing moves into the workers too. */
  ldifInput?: string;
  mode?: ParseMode;
  batchSize?: number;
  stages: Stage[];
  /** Worker threads; undefined: defaultWorkers(); 0: everything inline (nothing changes). */
  workers?: number;
  queueDepth?: number;
  /**
   * The sink is an LDIF file writer folding at `wrap` that takes batches already written as text (Batch `ldif`).
   * When every stage can run in a worker (or there is none), the workers then parse, transform and write, and the
   * main thread only moves bytes.
   */
  format?: { wrap: number };
}

/**
 * When every stage is a barrier that takes text entries (text-record.ts), the reference attributes they read (all of
 * them, lower-cased): the workers then write the text and the main thread only orders. Else undefined.
 */
export function textAttributesOf(stages: Stage[]): string[] | undefined {
  if (stages.length === 0) return undefined;
  const all = new Set<string>();
  for (const s of stages) {
    if (s.kind !== 'barrier' || !s.textAttributes) return undefined;
    for (const a of s.textAttributes) all.add(a.toLowerCase());
  }
  return [...all];
}

export interface WorkerPlan {
  source: Source;
  stages: Stage[];
  runMapStages?: (stages: MapStage[], input: AsyncIterable<Batch>, signal: AbortSignal) => AsyncIterable<Batch>;
  workers: number;
}

/**
 * How a run uses the pool: an LDIF source followed by map stages that can run in workers becomes one
 * readLdifInWorkers source (parse + those stages in the workers); other map stages go through runInWorkers.
 */
export function planWorkers(p: PlanWorkersOptions): WorkerPlan {
  const allInWorkers = p.ldifInput !== undefined && p.format !== undefined && p.stages.every((s) => s.kind === 'map' && canRunInWorker(s));
  // The map stages in front that can run in workers; with an LDIF sink, whether all that follows takes text entries.
  let k = 0;
  while (k < p.stages.length && p.stages[k].kind === 'map' && canRunInWorker(p.stages[k] as MapStage)) k++;
  const refs = !allInWorkers && p.ldifInput !== undefined && p.format ? textAttributesOf(p.stages.slice(k)) : undefined;
  // With text entries the main thread only orders light entries and copies text (see defaultWorkers).
  const workers = p.workers ?? defaultWorkers(allInWorkers || refs !== undefined, !allInWorkers && refs !== undefined);
  if (workers === 0 || !(allInWorkers || refs || p.stages.some((s) => s.kind === 'map'))) return { source: p.source, stages: p.stages, workers: 0 };
  const pool = { workers, queueDepth: p.queueDepth };
  if (allInWorkers) {
    const source = readLdifInWorkers({ ...pool, input: p.ldifInput!, mode: p.mode, batchSize: p.batchSize, stages: p.stages as MapStage[], format: p.format });
    return { source, stages: [], workers };
  }
  let source = p.source;
  let stages = p.stages;
  if (p.ldifInput !== undefined && (k > 0 || refs)) {
    source = readLdifInWorkers({
      ...pool, input: p.ldifInput, mode: p.mode, batchSize: p.batchSize, stages: stages.slice(0, k) as MapStage[],
      ...(refs ? { format: { wrap: p.format!.wrap, refs } } : {}),
    });
    stages = stages.slice(k);
  }
  const runMapStages = stages.some((s) => s.kind === 'map')
    ? (st: MapStage[], input: AsyncIterable<Batch>, signal: AbortSignal) => runInWorkers(st, input, signal, pool)
    : undefined;
  return { source, stages, runMapStages, workers };
}
