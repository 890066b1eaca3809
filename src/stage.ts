/**
 * The contracts between the pipeline and its parts. A source yields batches; map stages are pure functions of one
 * batch (inline or on the worker pool); barrier stages transform the stream of batches and may hold state; a sink
 * consumes batches and acknowledges what is durably written.
 */
import type { Batch, LdifRecord, Reject } from './entry.js';

/** A pure function of one batch: no I/O, no state shared across batches. Adds rejects and counts to the batch. */
export type MapFn = (batch: Batch) => Batch;

export interface MapStage {
  kind: 'map';
  name: string;
  fn: MapFn;
  /**
   * How a worker rebuilds this stage: a factory name known to src/transforms/registry.ts and its plain-data
   * (structured-clone safe) options. Without it the stage always runs inline.
   */
  worker?: { factory: string; options: unknown };
}

export interface StageContext {
  /** Count something by code (fixes, notes); shown in the summary. */
  count(code: string, n?: number): void;
  /** Report a reject that is not tied to a batch flowing downstream. */
  reject(r: Reject): void;
  /** Whether the sink is an LDAP server (ordering then defers forward member references). */
  sinkKind: 'ldif' | 'ldap' | 'none';
  signal: AbortSignal;
  /** A temp/state directory the stage may use for spilling. */
  stateDir?: string;
}

export interface BarrierStage {
  kind: 'barrier';
  name: string;
  /**
   * Set when the stage takes text-backed entries (src/transforms/text-record.ts) and, unless it changes an entry,
   * reads nothing of one but its DN, origin, category and these attributes (lower-cased names).
   */
  textAttributes?: string[];
  run(input: AsyncIterable<Batch>, ctx: StageContext): AsyncIterable<Batch>;
}

export type Stage = MapStage | BarrierStage;

export interface SinkContext {
  /** A record the sink could not write (server refused it, ...). */
  reject(r: Reject): void;
  /** `n` records of batch `seq` are durably written. Called once per batch, in any order. */
  acknowledge(seq: number, n: number): void;
  count(code: string, n?: number): void;
  signal: AbortSignal;
}

export interface Sink {
  kind: 'ldif' | 'ldap';
  /**
   * Set when the sink takes batches already written as LDIF text (Batch `ldif`, made by workers): the column that
   * text must be folded at, the same as the sink's own.
   */
  textWrap?: number;
  /** Open the target. Throws an LdapflowError with one readable message when it cannot. */
  open(ctx: SinkContext): Promise<void>;
  /**
   * Accept a batch. Resolves when the sink has room for the next one (backpressure); the batch is written when
   * it is acknowledged through the context.
   */
  write(batch: Batch): Promise<void>;
  /** Finish: everything accepted is written and acknowledged, resources released. */
  close(): Promise<void>;
  /** Stop early (Ctrl-C, fatal error): flush what can be flushed, then release resources. */
  abort(): Promise<void>;
  /**
   * Optional, for checkpoints: resolves once everything accepted so far is durably written (fsynced) and
   * acknowledged; returns the output's byte length when the output is one file, else null.
   */
  sync?(): Promise<number | null>;
}

export interface Source {
  /** What the progress line and summary call it (a path, `-`, a URL without credentials). */
  name: string;
  /** Total input size in bytes when known (for percent and ETA), with a running count of bytes read. */
  totalBytes?: number;
  bytesRead(): number;
  batches(signal: AbortSignal): AsyncIterable<Batch>;
}

export type { Batch, LdifRecord, Reject };

/** Add `n` to `counts[code]` on a batch. */
export function countOn(batch: Batch, code: string, n = 1): void {
  const c = (batch.counts ??= {});
  c[code] = (c[code] ?? 0) + n;
}

/** Counts by code added up: `a`'s codes first, in their order, then `b`'s new ones. */
export function mergeCounts(a: Record<string, number> | undefined, b: Record<string, number> | undefined): Record<string, number> | undefined {
  if (!a) return b;
  if (!b) return a;
  const c = { ...a };
  for (const k in b) c[k] = (c[k] ?? 0) + b[k];
  return c;
}
