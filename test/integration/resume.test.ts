/**
 * Checkpoints and resume, LDIF -> LDIF (issue 7): a generated 20k-entry OID export (5% of the entries before their
 * parents, so the ordering stage reorders) through --preset oid-to-oud. One run goes through uninterrupted; another
 * is killed with SIGKILL at five points (when its output reaches 15%, 30%, 50%, 70%, 85% of the reference's size),
 * each time resumed with --resume (the first resume and later ones continue runs that were themselves resumed), and
 * then let finish. The output and the reject file must equal the uninterrupted run's byte for byte; the summary's
 * counters must equal too. Also: a resume refuses a changed source or changed options with one line, and
 * `ldapflow resume DIR` continues from the state directory alone.
 */
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generatedExport } from '../support/generated.js';

const CLI = resolve('dist/src/cli.js');
const GEN = resolve('dist/bench/gen.js');
const { dir, input } = generatedExport('ldapflow-resume-');

const common = (out: string, state: string) => [input, out, '--preset', 'oid-to-oud', '--checkpoint-interval', '1000', '--state', state];

function cli(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: dir });
}

interface Sum { read: number; written: number; rejected: number; rejects: Record<string, number> }
const summary = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as Sum;

function dnCount(ldif: Buffer): { total: number; distinct: number } {
  const dns = ldif.toString('latin1').split('\n').filter((l) => l.startsWith('dn:')).map((l) => l.toLowerCase());
  return { total: dns.length, distinct: new Set(dns).size };
}

/**
 * Runs of `args` killed with SIGKILL once `fractions` of `written` records are written, the first fresh and each
 * later one resumed; each must die so and leave no final `out`. Returns the kill points.
 */
function killedRuns(t: Test, args: string[], out: string, fractions: number[], written: number): number[] {
  const kills: number[] = [];
  for (const [i, f] of fractions.entries()) {
    // SIGKILL at an exact point: the CLI kills itself (LDAPFLOW_TEST_KILL_AT_WRITTEN) once that many records are written;
    // an outside kill after polling the output races a fast run.
    const at = Math.round(f * written);
    const res = spawnSync(process.execPath, [CLI, ...args, '-q', ...(i > 0 ? ['--resume'] : [])], { cwd: dir, encoding: 'utf8', env: { ...process.env, LDAPFLOW_TEST_KILL_AT_WRITTEN: String(at) } });
    t.equal(res.signal, 'SIGKILL', `run ${i + 1} was killed (SIGKILL) at ${at} records written ${res.stderr}`);
    if (res.signal === 'SIGKILL') kills.push(at);
    t.notOk(existsSync(out), 'no final output while interrupted');
  }
  return kills;
}

t.test('LDIF -> LDIF: killed at five points, resumed each time, equals the uninterrupted run', async (t) => {
  const ref = join(dir, 'ref.ldif');
  const r = cli(['run', ...common(ref, join(dir, 'ref-state')), '--summary', join(dir, 'ref.json')]);
  t.equal(r.status, 3, `reference run: exit 3 (preset exclusions are rejects) ${r.stderr}`);
  const refOut = readFileSync(ref);
  const refRej = readFileSync(ref + '.rejects.ldif');
  const refSum = summary(join(dir, 'ref.json'));

  const out = join(dir, 'out.ldif');
  const state = join(dir, 'out-state');
  const kills = killedRuns(t, ['run', ...common(out, state)], out, [0.15, 0.3, 0.5, 0.7, 0.85], refSum.written);
  t.equal(kills.length, 5, `killed five times, at ${kills.join(', ')} of ${refSum.written} records written`);

  const fin = cli(['run', ...common(out, state), '--resume', '--summary', join(dir, 'out.json')]);
  t.equal(fin.status, 3, fin.stderr);
  t.match(fin.stderr, /resuming from checkpoint \d+/);
  const got = readFileSync(out);
  t.same(dnCount(got), dnCount(refOut), 'the same number of entries, none twice');
  t.ok(got.equals(refOut), `the output equals the uninterrupted run's byte for byte (${got.length} vs ${refOut.length} bytes)`);
  t.ok(readFileSync(out + '.rejects.ldif').equals(refRej), 'the reject file equals the uninterrupted run\'s');
  t.notOk(existsSync(out + '.partial'), 'the .partial was renamed');
  const s = summary(join(dir, 'out.json'));
  t.same([s.read, s.written, s.rejected, s.rejects], [refSum.read, refSum.written, refSum.rejected, refSum.rejects], 'the counters went on from the checkpoints');

  const again = cli(['run', ...common(out, state), '--resume']);
  t.equal(again.status, 1);
  t.match(again.stderr, /^ldapflow: STATE_ALREADY_DONE: nothing to resume: the run checkpointed in .* finished at /);
});

t.test('--passthrough with 2 workers writing the text: killed at three points, resumed, equals the uninterrupted run', async (t) => {
  const args = (out: string, state: string) => ['run', input, out, '--passthrough', '--workers', '2', '--checkpoint-interval', '1000', '--state', state];
  const ref = join(dir, 'pt-ref.ldif');
  const r = cli([...args(ref, join(dir, 'pt-ref-state')), '--summary', join(dir, 'pt-ref.json')]);
  t.equal(r.status, 0, r.stderr);
  const refSum = summary(join(dir, 'pt-ref.json'));
  const out = join(dir, 'pt-out.ldif');
  const state = join(dir, 'pt-out-state');
  t.equal(killedRuns(t, args(out, state), out, [0.2, 0.5, 0.8], refSum.written).length, 3, 'killed three times');
  const fin = cli([...args(out, state), '--resume', '--summary', join(dir, 'pt-out.json')]);
  t.equal(fin.status, 0, fin.stderr);
  const got = readFileSync(out);
  const refOut = readFileSync(ref);
  t.same(dnCount(got), dnCount(refOut), 'the same number of entries, none twice');
  t.ok(got.equals(refOut), `byte for byte (${got.length} vs ${refOut.length} bytes)`);
  const s = summary(join(dir, 'pt-out.json'));
  t.same([s.read, s.written, s.rejected], [refSum.read, refSum.written, refSum.rejected], 'the counters went on from the checkpoints');
});

t.test('resume refuses a changed source or changed options, with one line; `ldapflow resume DIR`', async (t) => {
  const src = join(dir, 'small.ldif');
  const g2 = spawnSync(process.execPath, [GEN, '--entries', '3000', '--out', src, '--seed', '7'], { encoding: 'utf8' });
  t.equal(g2.status, 0, g2.stderr);
  const out = join(dir, 'small-out.ldif');
  const ref = join(dir, 'small-ref.ldif');
  t.equal(cli(['run', src, ref, '--passthrough', '-q']).status, 0);

  // Killed before its end: simulate by a run that stops at the error threshold after its first checkpoints.
  const child = spawn(process.execPath, [CLI, 'run', src, out, '--passthrough', '--checkpoint-interval', '200', '-q', '--batch-size', '100'], { cwd: dir, stdio: 'ignore' });
  let exited = false;
  const done = new Promise((res) => child.on('exit', () => { exited = true; res(null); }));
  while (!exited) {
    await new Promise((res) => setTimeout(res, 20));
    if (existsSync(out + '.partial') && statSync(out + '.partial').size > 200_000) { child.kill('SIGKILL'); break; }
  }
  await done;
  if (existsSync(out)) { t.comment('the run finished before it could be killed: nothing to check'); return; }

  const changedOpts = cli(['run', src, out, '--passthrough', '--batch-size', '100', '--wrap', '0', '--resume']);
  t.equal(changedOpts.status, 1);
  t.match(changedOpts.stderr, /^ldapflow: STATE_RESUME_REFUSED: cannot resume: the options that shape the output changed since the checkpoint \(wrap 76 -> 0\); run without --resume to start over\n$/);

  const stateDirs = (await import('node:fs')).readdirSync(join(dir, '.ldapflow'));
  t.equal(stateDirs.length, 2, 'one state directory per run (default .ldapflow/<run-id>)');

  appendFileSync(src, '\n');
  const changedSrc = cli(['run', src, out, '--passthrough', '--batch-size', '100', '--resume']);
  t.equal(changedSrc.status, 1);
  t.match(changedSrc.stderr, /^ldapflow: STATE_RESUME_REFUSED: cannot resume: the source .*small\.ldif changed since the checkpoint \(size \d+ -> \d+ bytes\); run without --resume to start over\n$/);
  // Put the source back as it was (same bytes; mtime differs, and that alone also refuses).
  const text = readFileSync(src);
  (await import('node:fs')).writeFileSync(src, text.subarray(0, text.length - 1));
  const mtimeOnly = cli(['run', src, out, '--passthrough', '--batch-size', '100', '--resume']);
  t.match(mtimeOnly.stderr, /changed since the checkpoint \(modified /);
  // ... so `ldapflow resume DIR` of that run refuses too; a run's own state directory resumes when nothing changed.
  const st = join(dir, 'st');
  const out2 = join(dir, 'small-out2.ldif');
  const c2 = spawn(process.execPath, [CLI, 'run', src, out2, '--passthrough', '--checkpoint-interval', '200', '--batch-size', '100', '--state', st, '-q'], { cwd: dir, stdio: 'ignore' });
  let ex2 = false;
  const d2 = new Promise((res) => c2.on('exit', () => { ex2 = true; res(null); }));
  while (!ex2) {
    await new Promise((res) => setTimeout(res, 20));
    if (existsSync(out2 + '.partial') && statSync(out2 + ".partial").size > 1_500_000) { c2.kill('SIGKILL'); break; }
  }
  await d2;
  if (existsSync(out2)) { t.comment('the run finished before it could be killed'); return; }
  const res = spawnSync(process.execPath, [CLI, 'resume', st], { encoding: 'utf8', cwd: '/' });
  t.equal(res.status, 0, res.stderr);
  t.ok(readFileSync(out2).equals(readFileSync(ref)), 'resume DIR (from another working directory) completes the same output');
});
