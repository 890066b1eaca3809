/**
 * The worker thread side of the map-stage pool (src/transforms/in-workers.ts). Loaded by Piscina from
 * dist/src/transforms/worker.js. Each worker rebuilds the map stages once from `workerData` (factory names and
 * plain-data options, see registry.ts) and then serves tasks:
 *  - `raw`: a chunk of LDIF bytes cut at a record boundary: parse it (lines and record indexes counted from 0; the
 *    main thread adds the chunk's offsets), run the stages, return the records in wire form (record-codec.ts), or
 *    with `format` as LDIF text written into the task's shared `out` buffer;
 *  - `file`: the same for a range of the input file, read here (the main thread only cuts the file);
 *  - `enc`: records already parsed (wire form): decode, run the stages, return them in wire form.
 * Nothing is thrown across the thread boundary: a failure comes back as `fatal` data naming the stage, the DN and
 * where the record starts, so the main thread raises one readable LdapflowError.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { LdapflowError } from '../errors.js';
import { internString } from '../strings.js';
import type { Batch, LdifRecord, Note, Reject } from '../entry.js';
import { mergeCounts, type MapStage } from '../stage.js';
import { LdifParser, RawSpans, type ParseMode, type ParseOutput } from '../sources/ldif-parser.js';
import { formatRecordsToBuffer, RecordsText } from '../sinks/ldif-format.js';
import { buildStage, type StageFactory } from './registry.js';
import { decodeRecords, encodeRecords, type EncodedRecords } from './record-codec.js';
import { encodeTextRecords, TextRecordsEncoder, type TextRecordsWire } from './text-record.js';

export interface StageSpec {
  name: string;
  factory: string;
  options: unknown;
}

export interface WorkerConfig {
  stages: StageSpec[];
  /** `file` names the input in messages; `path`, for `file` tasks, is the file to read. */
  parse?: { file: string; mode?: ParseMode; maxRecordBytes?: number; path?: string };
  /**
   * Return the records as LDIF text (folded at `wrap`) instead of wire form: the sink needs nothing else. With `refs`,
   * as text entries (text-record.ts) carrying those attributes' value hashes, for barrier stages that read only those.
   */
  format?: { wrap: number; refs?: string[] };
}

export type WorkerTask =
  /** `bytes` may be a view of shared memory, `out` a shared buffer for the LDIF text (with `format`), both the
   * main thread's to reuse once the result is back. */
  | { kind: 'raw'; bytes: Uint8Array; first: boolean; out?: SharedArrayBuffer }
  /** Bytes `[start, start + length)` of the file `parse.path`, read here (see fileCuts in in-workers.ts). */
  | { kind: 'file'; start: number; length: number; first: boolean; out?: SharedArrayBuffer }
  | { kind: 'enc'; records: EncodedRecords; rejects: Reject[] };

export interface FatalInfo {
  code: string;
  message: string;
  file?: string;
  /** Line, relative to the chunk for `raw` tasks. */
  line?: number;
  dn?: string;
  recoverable?: boolean;
}

export interface WorkerResult {
  records?: EncodedRecords;
  /** With `format`: the records' LDIF text, in `ldif` when it did not fit the task's `out`, else `ldifLen` bytes of
   * `out`; and how many records it holds. */
  ldif?: Uint8Array;
  ldifLen?: number;
  ldifRecords?: number;
  /** With `format.refs`: the records, their text in `ldif` or `out` (`ldifLen` bytes). */
  textRecords?: TextRecordsWire;
  rejects: Reject[];
  counts?: Record<string, number>;
  notes?: Note[];
  /** raw tasks: lines and records (parsed or rejected) the chunk held. */
  lines?: number;
  recordCount?: number;
  fatal?: FatalInfo;
}

interface Built {
  stages: MapStage[];
  config: WorkerConfig;
}

function build(data: WorkerConfig, extra: Record<string, StageFactory>): Built {
  const config = interned(data);
  const stages = config.stages.map((s) => (Object.prototype.hasOwnProperty.call(extra, s.factory) ? extra[s.factory](s.options) : buildStage(s.factory, s.options)));
  return { stages, config };
}

/**
 * The configuration with every string interned (strings.ts): it comes structured-cloned, and a cloned string is a
 * fresh copy, not interned. The stages keep the schema's names and the preset's values from it and compare the
 * reader's interned names and keys with them entry after entry; equal strings that are not one object compare their
 * characters (bench/worker-pass.ts: 1,128M -> 1,087M instructions a pass with them interned).
 */
function interned<T>(v: T): T {
  if (typeof v === 'string') return internString(v) as T;
  if (Array.isArray(v)) return v.map(interned) as T;
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    // fromEntries: a key "__proto__" (a preset's value map may hold any key) stays an own property.
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interned(x)])) as T;
  }
  return v;
}

/**
 * A chunk is fed to its parser in 64 KiB pieces: Node turns a latin1 decode of more than ~1 MB into an external
 * string, which every later slice and base64 decode of a value then pays for (measured: the chunk's decode and the
 * values' decodes dominated).
 */
const PIECE = 1 << 16;

function chunkParser(cfg: NonNullable<WorkerConfig['parse']>, first: boolean, spans?: RawSpans): LdifParser {
  const parser = new LdifParser({ file: cfg.file, mode: cfg.mode, maxRecordBytes: cfg.maxRecordBytes, rawSpans: spans });
  // A chunk after the first starts after records already seen: a `version:` line there is misplaced.
  if (!first) (parser as unknown as { sawRecord: boolean }).sawRecord = true;
  return parser;
}

function parseChunk(cfg: NonNullable<WorkerConfig['parse']>, bytes: Uint8Array, first: boolean, spans?: RawSpans): { out: ParseOutput; parser: LdifParser } {
  const parser = chunkParser(cfg, first, spans);
  const out: ParseOutput = { records: [], rejects: [] };
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let off = 0; off < buf.length; off += PIECE) parser.push(buf.toString('latin1', off, Math.min(off + PIECE, buf.length)), out);
  parser.end(out);
  return { out, parser };
}

/**
 * A raw task whose result is LDIF text, done a piece at a time: the records of each 64 KiB piece of the chunk (~35)
 * are parsed, run through the stages and written before the next piece is read, so only they are alive. Parsing
 * the whole chunk (250 records) first kept them all alive, and every scavenge of the young generation copied them:
 * 2.1 s of pauses per worker at 1M entries (`--trace-gc`), 0.7 s with 50-record chunks. The result is the one
 * runStages on the whole chunk gives (stages are functions of each record): records in order, rejects from parsing
 * first and then stage by stage, counts and notes stage by stage. Returns undefined where the whole-chunk way must
 * answer: a stage failure (to name the record, or the parse error the whole chunk has) and text that is not ASCII.
 */
function streamChunk(stages: MapStage[], config: WorkerConfig, task: Extract<WorkerTask, { kind: 'raw' }>): WorkerResult | undefined {
  const fmt = config.format!;
  const spans = new RawSpans(fmt.wrap);
  const parser = chunkParser(config.parse!, task.first, spans);
  const src = Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength);
  const raw = { spans, src };
  const into = task.out ? Buffer.from(task.out) : undefined;
  const enc = fmt.refs ? new TextRecordsEncoder(fmt.wrap, fmt.refs, into, raw) : undefined;
  const txt = fmt.refs ? undefined : new RecordsText(fmt.wrap, into, raw);
  const parseRejects: Reject[] = [];
  const byStage = stages.map(() => ({ rejects: [] as Reject[], counts: undefined as Record<string, number> | undefined, notes: [] as Note[] }));
  const out: ParseOutput = { records: [], rejects: [] };
  let written = 0;
  let released = 0;
  const piece = (): void => {
    if (out.rejects.length) {
      for (const r of out.rejects) parseRejects.push(r);
      out.rejects = [];
    }
    if (!out.records.length) return;
    let b: Batch = { seq: 0, records: out.records, rejects: [] };
    out.records = [];
    for (let i = 0; i < stages.length; i++) {
      b = runStage(stages[i], b);
      const acc = byStage[i];
      if (b.rejects.length) { for (const r of b.rejects) acc.rejects.push(r); b.rejects = []; }
      if (b.counts) { acc.counts = mergeCounts(acc.counts, b.counts); b.counts = undefined; }
      if (b.notes?.length) { for (const n of b.notes) acc.notes.push(n); b.notes = undefined; }
    }
    written += b.records.length;
    if (enc) enc.add(b.records);
    else txt!.add(b.records);
    // The spans of records written are not read again, and they hold those records' values.
    for (let i = released; i < spans.n; i++) { spans.vals[i] = undefined; spans.names[i] = undefined; }
    released = spans.n;
  };
  // Read (a piece, or the end of the input), then change and write what was read; damage that ends the input is fatal.
  const step = (read: () => void): WorkerResult | undefined => {
    try {
      read();
    } catch (err) {
      return { rejects: [], fatal: fatalFrom(err, 'LDIF_PARSE_FAILED') };
    }
    piece();
    return undefined;
  };
  try {
    for (let off = 0; off < src.length; off += PIECE) {
      const fatal = step(() => parser.push(src.toString('latin1', off, Math.min(off + PIECE, src.length)), out));
      if (fatal) return fatal;
    }
    const fatal = step(() => parser.end(out));
    if (fatal) return fatal;
  } catch (err) {
    if (err instanceof StageFailure) return undefined;
    throw err;
  }
  if (enc && !enc.ascii()) return undefined;
  const rejects = parseRejects;
  let counts: Record<string, number> | undefined;
  const notes: Note[] = [];
  for (const acc of byStage) {
    for (const r of acc.rejects) rejects.push(r);
    counts = mergeCounts(counts, acc.counts);
    for (const n of acc.notes) notes.push(n);
  }
  let res: WorkerResult;
  if (enc) {
    const { wire, buf, len } = enc.finish();
    res = textEntriesResult(wire, buf, len, into, rejects);
  } else {
    res = ldifResult(txt!.out.text(), txt!.out.len, written, into, rejects);
  }
  if (counts) res.counts = counts;
  if (notes.length) res.notes = notes;
  res.lines = parser.lineNo;
  res.recordCount = parser.recordCount;
  return res;
}

/** Text entries' result: their text in the task's `out` (`into`) when it fit there, else in a buffer of its own. */
function textEntriesResult(wire: TextRecordsWire, buf: Buffer, len: number, into: Buffer | undefined, rejects: Reject[]): WorkerResult {
  return buf === into ? { textRecords: wire, ldifLen: len, rejects } : { textRecords: wire, ldif: buf.subarray(0, len), rejects };
}

/** LDIF text's result (`n` records): in the task's `out` (`into`) when it fit there, else `buf`, exactly its size. */
function ldifResult(buf: Buffer, len: number, n: number, into: Buffer | undefined, rejects: Reject[]): WorkerResult {
  return buf === into ? { ldifLen: len, ldifRecords: n, rejects } : { ldif: buf, ldifRecords: n, rejects };
}

class StageFailure extends Error {
  constructor(readonly stage: string, readonly error: unknown) { super('stage failed'); }
}

function runStage(st: MapStage, b: Batch): Batch {
  try {
    return st.fn(b);
  } catch (err) {
    throw new StageFailure(st.name, err);
  }
}

function runStages(stages: MapStage[], batch: Batch): Batch {
  let b = batch;
  for (const st of stages) b = runStage(st, b);
  return b;
}

function fatalFrom(err: unknown, fallbackCode: string): FatalInfo {
  if (err instanceof LdapflowError) return { code: err.code, message: err.message, file: err.file, line: err.line, dn: err.dn, recoverable: err.recoverable };
  return { code: fallbackCode, message: err instanceof Error ? err.message : String(err) };
}

/**
 * Find the record a stage fails on: run the stages on each record alone (stages are pure functions of a batch, so a
 * fresh copy of the input gives the same result) and name the first record that throws.
 */
function isolate(stages: MapStage[], fresh: () => LdifRecord[], batchFailure: StageFailure): FatalInfo {
  const records = fresh();
  for (const rec of records) {
    try {
      runStages(stages, { seq: 0, records: [rec], rejects: [] });
    } catch (err) {
      if (!(err instanceof StageFailure)) throw err;
      return stageFatal(err, rec);
    }
  }
  return stageFatal(batchFailure, undefined);
}

function stageFatal(f: StageFailure, rec: LdifRecord | undefined): FatalInfo {
  const inner = fatalFrom(f.error, 'WORKER_STAGE_FAILED');
  const what = inner.code === 'WORKER_STAGE_FAILED' ? `stage "${f.stage}" failed: ${inner.message}` : `stage "${f.stage}": ${inner.code}: ${inner.message}`;
  return {
    code: 'WORKER_STAGE_FAILED',
    message: rec ? what : `${what} (on a batch; no single record reproduces it)`,
    file: rec?.origin?.file,
    line: rec?.origin?.line,
    dn: rec?.dn ?? inner.dn,
    recoverable: false,
  };
}

/** This thread's buffer for `file` tasks: one task runs at a time, and nothing keeps the bytes past its task. */
let chunkBuf: Buffer | undefined;

/**
 * A `file` task's bytes, read from the file into this thread's buffer. The file is opened and closed per task: a
 * descriptor opened by a worker thread stays open after the thread ends, and the syscalls are nothing next to
 * parsing ~1,000 entries. A read that comes back short (the file was cut while the run read it) is fatal.
 */
function readChunk(config: WorkerConfig, task: Extract<WorkerTask, { kind: 'file' }>): { bytes: Uint8Array } | { fatal: FatalInfo } {
  const cfg = config.parse;
  if (!cfg?.path) return { fatal: { code: 'WORKER_BAD_TASK', message: 'file task for a pool without a file to read' } };
  if (!chunkBuf || chunkBuf.length < task.length) chunkBuf = Buffer.allocUnsafeSlow(Math.max(task.length, 1 << 21));
  let fd: number | undefined;
  let n = 0;
  try {
    fd = openSync(cfg.path, 'r');
    while (n < task.length) {
      const k = readSync(fd, chunkBuf, n, task.length - n, task.start + n);
      if (k === 0) break;
      n += k;
    }
  } catch (err) {
    return { fatal: { code: 'SOURCE_READ_FAILED', message: `${cfg.file}: ${(err as Error).message}`, file: cfg.file } };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (n < task.length) {
    return { fatal: { code: 'SOURCE_READ_FAILED', message: `${cfg.file}: the file ended at byte ${task.start + n}, before byte ${task.start + task.length} it had when the run began (changed while it was read?)`, file: cfg.file } };
  }
  return { bytes: chunkBuf.subarray(0, n) };
}

/** The task handler; `extra` adds stage factories (for tests: a stage that throws, or kills its thread). */
export function makeHandler(extra: Record<string, StageFactory> = {}): (task: WorkerTask) => WorkerResult {
  let built: Built | undefined;
  return (t: WorkerTask): WorkerResult => {
    let task = t;
    if (!built) {
      try {
        built = build(workerData as WorkerConfig, extra);
      } catch (err) {
        return { rejects: [], fatal: fatalFrom(err, 'WORKER_START_FAILED') };
      }
    }
    const { stages, config } = built;
    if (task.kind === 'file') {
      const read = readChunk(config, task);
      if ('fatal' in read) return { rejects: [], fatal: read.fatal };
      task = { kind: 'raw', bytes: read.bytes, first: task.first, ...(task.out ? { out: task.out } : {}) };
    }
    if (task.kind === 'raw' && config.format && config.parse) {
      const res = streamChunk(stages, config, task);
      if (res) return res;
    }
    let batch: Batch;
    let lines: number | undefined;
    let recordCount: number | undefined;
    let fresh: () => LdifRecord[];
    // Text entries written from the chunk read here: attributes that pass unchanged are copied from it (RawSpans).
    let spans: RawSpans | undefined;
    if (task.kind === 'raw') {
      if (!config.parse) return { rejects: [], fatal: { code: 'WORKER_BAD_TASK', message: 'raw LDIF task for a pool without parse options' } };
      if (config.format) spans = new RawSpans(config.format.wrap);
      let parsed: ReturnType<typeof parseChunk>;
      try {
        parsed = parseChunk(config.parse, task.bytes, task.first, spans);
      } catch (err) {
        return { rejects: [], fatal: fatalFrom(err, 'LDIF_PARSE_FAILED') };
      }
      lines = parsed.parser.lineNo;
      recordCount = parsed.parser.recordCount;
      batch = { seq: 0, records: parsed.out.records, rejects: parsed.out.rejects };
      fresh = () => parseChunk(config.parse!, task.bytes, task.first).out.records;
    } else {
      batch = { seq: 0, records: decodeRecords(task.records), rejects: task.rejects };
      fresh = () => decodeRecords(task.records);
    }
    let out: Batch;
    try {
      out = runStages(stages, batch);
    } catch (err) {
      if (!(err instanceof StageFailure)) return { rejects: [], fatal: fatalFrom(err, 'WORKER_FAILED') };
      return { rejects: [], fatal: isolate(stages, fresh, err) };
    }
    let res: WorkerResult;
    const raw = spans && task.kind === 'raw' ? { spans, src: Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength) } : undefined;
    if (config.format?.refs) {
      const into = task.kind === 'raw' && task.out ? Buffer.from(task.out) : undefined;
      const { wire, buf, len } = encodeTextRecords(out.records, config.format.wrap, config.format.refs, into, raw);
      res = textEntriesResult(wire, buf, len, into, out.rejects);
    } else if (config.format) {
      const into = task.kind === 'raw' && task.out ? Buffer.from(task.out) : undefined;
      const { buf, len } = formatRecordsToBuffer(out.records, config.format.wrap, into, raw);
      res = ldifResult(buf, len, out.records.length, into, out.rejects);
    } else {
      res = { records: encodeRecords(out.records), rejects: out.rejects };
    }
    if (out.counts) res.counts = out.counts;
    if (out.notes?.length) res.notes = out.notes;
    if (lines !== undefined) { res.lines = lines; res.recordCount = recordCount; }
    return res;
  };
}

export default makeHandler();
