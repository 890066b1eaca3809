/**
 * The worker pool benchmark (issue 6): the full `ldapflow run IN OUT --preset oid-to-oud` with --workers 0/1/2, each
 * run `--repeat` times, on a generated export. Per run: wall time, entries/s, peak RSS (VmHWM), and CPU seconds of the
 * main thread and of all other threads (workers, V8 GC helpers, libuv), sampled from /proc/PID/task while it runs:
 * on a machine shared with other jobs the kernel's autogroup scheduling gives a session a share of the CPU whatever
 * its thread count, so wall time alone cannot say whether more threads would pay on an idle machine; CPU per thread
 * says what each thread costs.
 *
 *   node dist/bench/in-workers.js --input big.ldif [--workers 0,1,2] [--repeat 2] [--extra "--no-order"]
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');
const CLI = join(root, 'dist', 'src', 'cli.js');
const TICK = 10; // ms per clock tick (USER_HZ 100)

interface Sample { wall: number; rssKb: number; mainCpu: number; otherCpu: number; threads: number }

function threadTimes(pid: number, acc: Map<number, number>): void {
  let tids: string[];
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { return; }
  for (const t of tids) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      acc.set(Number(t), (Number(f[11]) + Number(f[12])) * TICK);
    } catch { /* thread ended */ }
  }
}

function peakRss(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
}

async function once(input: string, workers: number, extra: string[]): Promise<Sample> {
  const out = join(tmpdir(), `ldapflow-bench-w${workers}-${process.pid}.ldif`);
  const args = [CLI, 'run', input, out, '--preset', 'oid-to-oud', '--workers', String(workers), '--quiet', ...extra];
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const pid = child.pid!;
  const cpu = new Map<number, number>();
  let rss = 0;
  const poll = setInterval(() => { threadTimes(pid, cpu); rss = Math.max(rss, peakRss(pid)); }, 100);
  const code: number = await new Promise((res) => child.on('exit', (c) => res(c ?? 1)));
  clearInterval(poll);
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0 && code !== 3) throw new Error(`ldapflow exited ${code}`);
  for (const f of [out, out + '.rejects.ldif']) rmSync(f, { force: true });
  let main = 0;
  let other = 0;
  for (const [tid, ms] of cpu) { if (tid === pid) main += ms; else other += ms; }
  return { wall, rssKb: rss, mainCpu: main / 1000, otherCpu: other / 1000, threads: cpu.size };
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
}

const input = arg('--input', '');
if (!input) { process.stderr.write('usage: node dist/bench/in-workers.js --input FILE [--workers 0,1,2] [--repeat 2] [--extra "--no-order"]\n'); process.exit(2); }
const entries = (readFileSync(input, 'latin1').match(/^dn:/gm) ?? []).length;
const workerList = arg('--workers', '0,1,2').split(',').map(Number);
const repeat = Number(arg('--repeat', '2'));
const extra = arg('--extra', '').split(' ').filter(Boolean);
console.log(`input ${input}: ${entries} entries; node ${process.version}; extra flags: ${extra.join(' ') || '(none)'}`);
console.log('| workers | run | load avg (1m) at start | wall s | entries/s | peak RSS MB | main thread CPU s | other threads CPU s | total CPU s |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (let r = 1; r <= repeat; r++) {
  for (const w of workerList) {
    const load = loadavg()[0].toFixed(1);
    const s = await once(input, w, extra);
    console.log(`| ${w} | ${r} | ${load} | ${s.wall.toFixed(1)} | ${Math.round(entries / s.wall)} | ${(s.rssKb / 1024).toFixed(0)} | ${s.mainCpu.toFixed(1)} | ${s.otherCpu.toFixed(1)} | ${(s.mainCpu + s.otherCpu).toFixed(1)} |`);
  }
}
