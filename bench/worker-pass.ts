/**
 * One worker's share of `ldapflow run IN OUT --preset oid-to-oud`, alone in one thread, for counting instructions:
 * the task handler the pool's workers run (src/transforms/worker.ts), with the stages and options the CLI gives them,
 * on `file` tasks cut from the first `--mb` MB of the input. A warm-up pass, then `--passes` passes; prints the CPU
 * milliseconds of each.
 *
 * Wall time on this shared 2-core machine moves 10-20% between runs, more than most changes to the workers' code.
 * Instructions need not: under callgrind, with V8 single-threaded (compilation and garbage collection in the counted
 * thread) and `--predictable` (garbage collection and the rest of V8's timing-driven choices made the same way every
 * run), the count repeats to a few thousand instructions in 5 billion:
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null node --single-threaded --predictable \
 *     dist/bench/worker-pass.js --input /tmp/ldapflow-bench/oid-1000000-s1-o5.ldif --mb 10 --passes 1   # and 3
 *
 * The instructions of one pass after warm-up: (I(--passes 3) - I(--passes 1)) / 2. `--handler PATH` loads the
 * handler of another build (its dist/src/transforms/worker.js) to compare two builds on the same tasks: run both
 * with this file of one build, since a change to the modules this file loads moves the counts of either handler.
 * Without `--predictable` a count moved by 1-10% between runs of one build (2026-12-05: 967 to 1,086M a pass).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import type { CliRunOptions } from '../src/config.js';
import type { MapStage, Stage } from '../src/stage.js';
import type { WorkerConfig, WorkerTask, WorkerResult } from '../src/transforms/worker.js';

interface Job { handler: string; tasks: Array<Extract<WorkerTask, { kind: 'file' }>>; passes: number }

/** The pool's configuration for the preset run to an LDIF file (as planWorkers makes it: see in-workers.ts). */
async function configFor(input: string): Promise<WorkerConfig> {
  const { buildStages } = await import('../src/config.js');
  const { specOf, textAttributesOf } = await import('../src/transforms/in-workers.js');
  const o = { batchSize: 1000, mode: 'auto', fixSchema: true, categorize: true, order: true, preset: 'oid-to-oud', strategy: 'preserve', wrap: 76, onExists: 'fail' } as CliRunOptions;
  const stages: Stage[] = await buildStages(o, 'ldif', () => {});
  const maps = stages.filter((s): s is MapStage => s.kind === 'map');
  return {
    stages: maps.map(specOf),
    parse: { file: input, mode: 'auto', path: input },
    format: { wrap: 76, refs: textAttributesOf(stages.filter((s) => s.kind !== 'map')) ?? [] },
  };
}

/** Tasks of ~450 KB (what the pool cuts for 250 entries of ~1.8 KB), each ending at a record boundary. */
function cut(input: string, limit: number): Job['tasks'] {
  const fd = openSync(input, 'r');
  const end = Math.min(limit, fstatSync(fd).size);
  const win = Buffer.alloc(1 << 16);
  const tasks: Job['tasks'] = [];
  for (let start = 0; start < end;) {
    let stop = Math.min(start + 450_000, end);
    const n = readSync(fd, win, 0, win.length, stop);
    const at = win.subarray(0, n).indexOf('\n\n');
    stop = at < 0 ? stop + n : stop + at + 2;
    tasks.push({ kind: 'file', start, length: stop - start, first: start === 0 });
    start = stop;
  }
  closeSync(fd);
  return tasks;
}

async function thread(job: Job): Promise<number[]> {
  const handler = ((await import(pathToFileURL(job.handler).href)) as { default: (t: WorkerTask) => WorkerResult }).default;
  const out = new SharedArrayBuffer(4 << 20);
  const pass = () => {
    for (const t of job.tasks) {
      const r = handler({ ...t, out });
      if (r.fatal) throw new Error(`${r.fatal.code}: ${r.fatal.message}`);
    }
  };
  pass(); // warm-up: the code is compiled and optimized
  const ms: number[] = [];
  for (let p = 0; p < job.passes; p++) {
    const c0 = process.cpuUsage();
    pass();
    const c = process.cpuUsage(c0);
    ms.push((c.user + c.system) / 1000);
  }
  return ms;
}

if (isMainThread) {
  const { values } = parseArgs({ options: { input: { type: 'string' }, mb: { type: 'string', default: '10' }, passes: { type: 'string', default: '1' }, handler: { type: 'string' } } });
  if (!values.input) {
    console.error('usage: node dist/bench/worker-pass.js --input FILE [--mb 10] [--passes 1] [--handler dist/src/transforms/worker.js]');
    process.exit(2);
  }
  const input = resolve(values.input);
  const handler = resolve(values.handler ?? resolve(import.meta.dirname, '..', 'src', 'transforms', 'worker.js'));
  const config = await configFor(input);
  const tasks = cut(input, Number(values.mb) * 1e6);
  const w = new Worker(new URL(import.meta.url), { workerData: config });
  const ms = await new Promise<number[]>((ok, bad) => {
    w.once('message', ok);
    w.once('error', bad);
    w.postMessage({ handler, tasks, passes: Number(values.passes) } satisfies Job);
  });
  await w.terminate();
  console.log(`${tasks.length} tasks (${values.mb} MB), CPU ms per pass: ${ms.map((x) => x.toFixed(0)).join(' ')}`);
} else {
  // workerData is the pool's WorkerConfig: the handler reads it as a pool worker does.
  void workerData;
  parentPort!.once('message', (job: Job) => { void thread(job).then((ms) => parentPort!.postMessage(ms)); });
}
