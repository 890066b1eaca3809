/**
 * What checkpoints cost: the CLI's run (buildRun + run, in this process) of a generated OID export through
 * --preset oid-to-oud into an LDIF file, with checkpoints at the default interval (5,000) and with none
 * (--checkpoint-interval 0), alternating, several times each. Reports wall time and process CPU time (user+sys,
 * worker threads included) per mode: on a shared machine CPU time is the steadier measure.
 *
 *   node dist/bench/checkpoint.js [--entries 50000] [--reps 3] [--interval 5000] [--dir DIR]
 */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRun, type CliRunOptions } from '../src/config.js';
import { run } from '../src/pipeline.js';
import { generate } from './gen.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const entries = arg('--entries', 50000);
const reps = arg('--reps', 3);
const interval = arg('--interval', 5000);
const di = process.argv.indexOf('--dir');
const dir = di >= 0 ? process.argv[di + 1] : mkdtempSync(join(tmpdir(), 'ldapflow-bench-cp-'));
const input = join(dir, `in-${entries}.ldif`);
if (!existsSync(input)) await generate({ entries, out: input, seed: 5, outOfOrder: 0.05 });

const base: CliRunOptions = {
  batchSize: 1000, mode: 'auto', fixSchema: true, categorize: true, order: true, strategy: 'preserve', wrap: 76,
  onExists: 'fail', preset: 'oid-to-oud', quiet: true,
};

async function once(cpInterval: number, k: number): Promise<{ wall: number; cpu: number; rate: number }> {
  const out = join(dir, `out-${cpInterval}-${k}.ldif`);
  const o: CliRunOptions = { ...base, checkpointInterval: cpInterval, state: join(dir, `state-${cpInterval}-${k}`) };
  const built = await buildRun(input, out, o);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  try {
    const s = await run(built.runOptions);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    return { wall, cpu: (c.user + c.system) / 1e6, rate: s.read / wall };
  } finally {
    await built.close?.();
    rmSync(out, { force: true });
    rmSync(out + '.rejects.ldif', { force: true });
    rmSync(o.state!, { recursive: true, force: true });
  }
}

const res: Record<string, Array<{ wall: number; cpu: number; rate: number }>> = { off: [], on: [] };
await once(0, -1); // warm-up
for (let k = 0; k < reps; k++) {
  for (const mode of k % 2 ? ['on', 'off'] : ['off', 'on']) {
    const r = await once(mode === 'on' ? interval : 0, k);
    res[mode].push(r);
    process.stderr.write(`checkpoints ${mode}: ${r.wall.toFixed(2)} s wall, ${r.cpu.toFixed(2)} s CPU, ${Math.round(r.rate)} entries/s\n`);
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const line = (m: string) => {
  const w = med(res[m].map((r) => r.wall)), c = med(res[m].map((r) => r.cpu));
  return { wall: w, cpu: c, rate: entries / w };
};
const off = line('off'), on = line('on');
console.log(JSON.stringify({
  entries, reps, interval,
  off: { wallS: +off.wall.toFixed(2), cpuS: +off.cpu.toFixed(2), entriesPerS: Math.round(off.rate) },
  on: { wallS: +on.wall.toFixed(2), cpuS: +on.cpu.toFixed(2), entriesPerS: Math.round(on.rate) },
  wallCostPct: +(((on.wall - off.wall) / off.wall) * 100).toFixed(1),
  cpuCostPct: +(((on.cpu - off.cpu) / off.cpu) * 100).toFixed(1),
}, null, 2));
if (di < 0) rmSync(dir, { recursive: true, force: true });
