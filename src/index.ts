/**
 * ldapflow as a library: the same pipeline as the CLI, typed.
 *
 *   import { run, readLdif, writeLdif } from 'ldapflow';
 *   const summary = await run({ source: readLdif({ input: 'export.ldif' }), sink: writeLdif({ output: 'out.ldif' }) });
 *
 * Progress comes as events (`onProgress`) or as an async iterable (`progress()` below).
 */
export { run, RunError } from './pipeline.js';
export type { RunOptions, Summary, Progress } from './pipeline.js';
export { readLdif } from './sources/ldif-file.js';
export type { ReadLdifOptions } from './sources/ldif-file.js';
export { LdifParser, parseLdifText } from './sources/ldif-parser.js';
export type { ParseOptions, ParseMode, ParseOutput } from './sources/ldif-parser.js';
export { writeLdif } from './sinks/ldif-file.js';
export type { WriteLdifOptions } from './sinks/ldif-file.js';
export { formatRecord, formatAttr, formatComment } from './sinks/ldif-format.js';
export { parseDn, normalizeDn, formatDn, escapeDnValue, parentDn, rdnOf, dnEquals, dnDepth, isWithin } from './dn.js';
export type { Ava, Rdn } from './dn.js';
export * from './entry.js';
export { LdapflowError, UsageError, describeError } from './errors.js';
export type { Stage, MapStage, BarrierStage, MapFn, Sink, SinkContext, Source, StageContext } from './stage.js';
export { countOn } from './stage.js';
export { mapStage } from './transforms/map-stage.js';
export { readLdifInWorkers, runInWorkers, defaultWorkers } from './transforms/in-workers.js';
export type { ReadLdifInWorkersOptions, WorkerPoolOptions } from './transforms/in-workers.js';

import type { Progress, RunOptions, Summary } from './pipeline.js';
import { run } from './pipeline.js';

/**
 * Run a pipeline and iterate over its progress; the iterator's return value is the summary.
 *
 *   const it = progress({ source, sink });
 *   for await (const p of it) console.log(p.read);
 */
export async function* progress(opts: Omit<RunOptions, 'onProgress'>, intervalMs = 250): AsyncGenerator<Progress, Summary> {
  const queue: Progress[] = [];
  let wake: (() => void) | undefined;
  let done = false;
  let result: Summary | undefined;
  let failure: unknown;
  const p = run({ ...opts, progressIntervalMs: intervalMs, onProgress: (x) => { queue.push(x); wake?.(); } })
    .then((s) => { result = s; }, (e) => { failure = e; })
    .finally(() => { done = true; wake?.(); });
  for (;;) {
    while (queue.length) yield queue.shift()!;
    if (done) break;
    await new Promise<void>((r) => { wake = r; });
    wake = undefined;
  }
  await p;
  if (failure) throw failure;
  return result!;
}
