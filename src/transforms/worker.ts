/**
 * The worker thread side of the map-stage pool (src/transforms/in-workers.ts). Loaded by Piscina from
 * dist/src/transforms/worker.js. Each worker rebuilds the map stages once from `workerData` (factory names and
 * plain-data options, see registry.ts) and then serves tasks:
 *  - `raw`: a chunk of LDIF bytes cut at a record boundary: parse it (lines and record indexes counted from 0; the
 *    main thread adds the chunk's offsets), run the stages, return the records in wire form (record-codec.ts), or
 *    with `format` as LDIF text written into the task's shared `out` buffer;
 *  - `enc`: records already parsed (wire form): decode, run the stages, return them in wire form.
 * Nothing is thrown across the thread boundary: a failure comes back as `fatal` data naming the stage, the DN and
 * where the record starts, so the main thread raises one readable LdapflowError.
 */
import { workerData } from 'node:worker_threads';
import { LdapflowError } from '../errors.js';
import type { Batch, LdifRecord, Note, Reject } from '../entry.js';
import type { MapStage } from '../stage.js';
import { LdifParser, RawSpans, type ParseMode, type ParseOutput } from '../sources/ldif-parser.js';
import { formatRecordsToBuffer } from '../sinks/ldif-format.js';
import { buildStage, type StageFactory } from './registry.js';
import { decodeRecords, encodeRecords, type EncodedRecords } from './record-codec.js';
import { encodeTextRecords, type TextRecordsWire } from './text-record.js';

export interface StageSpec {
  name: string;
  factory: string;
  options: unknown;
}

export interface WorkerConfig {
  stages: StageSpec[];
  parse?: { file: string; mode?: ParseMode; maxRecordBytes?: number };
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

function build(config: WorkerConfig, extra: Record<string, StageFactory>): Built {
  const stages = config.stages.map((s) => (Object.prototype.hasOwnProperty.call(extra, s.factory) ? extra[s.factory](s.options) : buildStage(s.factory, s.options)));
  return { stages, config };
}

function parseChunk(cfg: NonNullable<WorkerConfig['parse']>, bytes: Uint8Array, first: boolean, spans?: RawSpans): { out: ParseOutput; parser: LdifParser } {
  const parser = new LdifParser({ file: cfg.file, mode: cfg.mode, maxRecordBytes: cfg.maxRecordBytes, rawSpans: spans });
  // A chunk after the first starts after records already seen: a `version:` line there is misplaced.
  if (!first) (parser as unknown as { sawRecord: boolean }).sawRecord = true;
  const out: ParseOutput = { records: [], rejects: [] };
  // Fed in 64 KiB pieces: Node turns a latin1 decode of more than ~1 MB into an external string, which every later
  // slice and base64 decode of a value then pays for (measured: the chunk's decode and the values' decodes dominated).
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let off = 0; off < buf.length; off += 1 << 16) parser.push(buf.toString('latin1', off, Math.min(off + (1 << 16), buf.length)), out);
  parser.end(out);
  return { out, parser };
}

class StageFailure extends Error {
  constructor(readonly stage: string, readonly error: unknown) { super('stage failed'); }
}

function runStages(stages: MapStage[], batch: Batch): Batch {
  let b = batch;
  for (const st of stages) {
    try {
      b = st.fn(b);
    } catch (err) {
      throw new StageFailure(st.name, err);
    }
  }
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

/** The task handler; `extra` adds stage factories (for tests: a stage that throws, or kills its thread). */
export function makeHandler(extra: Record<string, StageFactory> = {}): (task: WorkerTask) => WorkerResult {
  let built: Built | undefined;
  return (task: WorkerTask): WorkerResult => {
    if (!built) {
      try {
        built = build(workerData as WorkerConfig, extra);
      } catch (err) {
        return { rejects: [], fatal: fatalFrom(err, 'WORKER_START_FAILED') };
      }
    }
    const { stages, config } = built;
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
      res = buf === into ? { textRecords: wire, ldifLen: len, rejects: out.rejects } : { textRecords: wire, ldif: buf.subarray(0, len), rejects: out.rejects };
    } else if (config.format) {
      const into = task.kind === 'raw' && task.out ? Buffer.from(task.out) : undefined;
      const { buf, len } = formatRecordsToBuffer(out.records, config.format.wrap, into, raw);
      res = buf === into ? { ldifLen: len, ldifRecords: out.records.length, rejects: out.rejects } : { ldif: buf, ldifRecords: out.records.length, rejects: out.rejects };
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
