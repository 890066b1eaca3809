/**
 * What checkpoints cost: the CLI's run (buildRun + run, in this process) of a generated OID export through
 * --preset oid-to-oud into an LDIF file, with checkpoints at the default interval and with none
 * (--checkpoint-interval 0), alternating, several times each. The options are the CLI's own defaults (batch size,
 * checkpoint interval, ...): `run IN OUT --preset oid-to-oud -q` parsed by the CLI's command definition
 * (src/cli.ts buildProgram). Reports wall time and process CPU time (user+sys, worker threads included) per mode: on
 * a shared machine CPU time is the steadier measure.
 *
 *   node dist/bench/checkpoint.js [--entries 50000] [--reps 3] [--interval N (default: the CLI's)] [--dir DIR]
 */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../src/cli.js';
import { buildRun, type CliRunOptions } from '../src/config.js';
import { run } from '../src/pipeline.js';
import { generate } from './gen.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

/** The options the CLI hands to its run for these arguments (its defaults filled in), without running anything. */
async function cliOptions(args: string[]): Promise<CliRunOptions> {
  const program = buildProgram(() => {});
  let got: CliRunOptions | undefined;
  program.commands.find((c) => c.name() === 'run')!.action((_source: string, _sink: string, o: CliRunOptions) => { got = o; });
  await program.parseAsync(['run', ...args], { from: 'user' });
  return got!;
}

const entries = arg('--entries', 50000);
const reps = arg('--reps', 3);
const di = process.argv.indexOf('--dir');
const dir = di >= 0 ? process.argv[di + 1] : mkdtempSync(join(tmpdir(), 'ldapflow-bench-cp-'));
const input = join(dir, `in-${entries}.ldif`);
if (!existsSync(input)) await generate({ entries, out: input, seed: 5, outOfOrder: 0.05 });

const base: CliRunOptions = await cliOptions([input, join(dir, 'out.ldif'), '--preset', 'oid-to-oud', '-q']);
const interval = arg('--interval', base.checkpointInterval!);
process.stderr.write(`batch size ${base.batchSize}, checkpoint interval ${interval}\n`);

async function once(cpInterval: number, k: number): Promise<{ wall: number; cpu: number; rate: number; sys: number; saves: number; ioS: number }> {
  const out = join(dir, `out-${cpInterval}-${k}.ldif`);
  const o: CliRunOptions = { ...base, checkpointInterval: cpInterval, state: join(dir, `state-${cpInterval}-${k}`) };
  const built = await buildRun(input, out, o);
  // Time spent flushing and fsyncing the output (sink.sync) and in the synced LevelDB write (save), summed: what the
  // pipeline waited for when checkpoints were taken in line; overlapped with the run when they are in the background.
  let saves = 0, ioMs = 0;
  const timed = <A extends unknown[], R>(f: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
    const t = performance.now();
    try { return await f(...a); } finally { ioMs += performance.now() - t; }
  };
  const sink = built.runOptions.sink;
  if (sink.sync) sink.sync = timed(sink.sync.bind(sink));
  const cps = built.runOptions.checkpoints;
  if (cps) { const save = timed(cps.save.bind(cps)); cps.save = (c) => { saves++; return save(c); }; }
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  try {
    const s = await run(built.runOptions);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    return { wall, cpu: (c.user + c.system) / 1e6, sys: c.system / 1e6, rate: s.read / wall, saves, ioS: ioMs / 1000 };
  } finally {
    await built.close?.();
    rmSync(out, { force: true });
    rmSync(out + '.rejects.ldif', { force: true });
    rmSync(o.state!, { recursive: true, force: true });
  }
}

type Rep = Awaited<ReturnType<typeof once>>;
const res: Record<string, Rep[]> = { off: [], on: [] };
await once(0, -1); // warm-up
for (let k = 0; k < reps; k++) {
  for (const mode of k % 2 ? ['on', 'off'] : ['off', 'on']) {
    const r = await once(mode === 'on' ? interval : 0, k);
    res[mode].push(r);
    process.stderr.write(`checkpoints ${mode}: ${r.wall.toFixed(2)} s wall, ${r.cpu.toFixed(2)} s CPU (${r.sys.toFixed(2)} s system), ${Math.round(r.rate)} entries/s` +
      (mode === 'on' ? `, ${r.saves} checkpoints, ${r.ioS.toFixed(3)} s in sync+save` : '') + '\n');
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const line = (m: string) => {
  const w = med(res[m].map((r) => r.wall)), c = med(res[m].map((r) => r.cpu));
  return { wall: w, cpu: c, rate: entries / w };
};
const off = line('off'), on = line('on');
// Each rep ran on and off back to back: the median of the per-rep ratios is less swayed by load that comes and goes.
const paired = (f: (r: Rep) => number) => +((med(res.on.map((r, k) => f(r) / f(res.off[k]))) - 1) * 100).toFixed(1);
console.log(JSON.stringify({
  entries, reps, interval, batchSize: base.batchSize,
  off: { wallS: +off.wall.toFixed(2), cpuS: +off.cpu.toFixed(2), entriesPerS: Math.round(off.rate) },
  on: { wallS: +on.wall.toFixed(2), cpuS: +on.cpu.toFixed(2), entriesPerS: Math.round(on.rate) },
  wallCostPct: +(((on.wall - off.wall) / off.wall) * 100).toFixed(1),
  cpuCostPct: +(((on.cpu - off.cpu) / off.cpu) * 100).toFixed(1),
  pairedWallCostPct: paired((r) => r.wall),
  pairedCpuCostPct: paired((r) => r.cpu),
  checkpointsPerRun: med(res.on.map((r) => r.saves)),
  syncAndSaveS: +med(res.on.map((r) => r.ioS)).toFixed(3),
}, null, 2));
if (di < 0) rmSync(dir, { recursive: true, force: true });
