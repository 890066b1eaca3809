/**
 * Checkpoints and resume, LDIF -> LDAP (issue 7), against two real slapd servers: a generated 20k-entry OID export
 * (--preset oid-to-oud, the target's schema read from the server) is loaded into server A without interruption, and
 * into server B by a run killed with SIGKILL at five points (when B holds 15%, 30%, 50%, 70%, 85% of A's entries),
 * resumed each time (--resume: records after the checkpoint may be in B already; the LDAP sink's resume mode accepts
 * them when they hold the desired values), then let finish. The content of the two servers (ldapsearch, every user
 * attribute) and the reject files (as sets of records: an LDAP sink's rejects come in completion order) must be equal.
 * A separate file from resume.test.ts so the two long tests can run in parallel.
 */
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generatedExport } from '../support/generated.js';
import { startSlapd, type SlapdHandle } from '../support/slapd.js';
import { ldapsearch, dnsOf } from '../support/ldap-data.js';

const SUFFIX = 'dc=example,dc=com';
const CLI = resolve('dist/src/cli.js');
const { dir, input } = generatedExport('ldapflow-resume-ldap-');

function baseArgs(srv: SlapdHandle, name: string): string[] {
  const pw = join(dir, `pw-${name}`);
  writeFileSync(pw, srv.rootPassword + '\n', { mode: 0o600 });
  return ['run', input, srv.url, '--preset', 'oid-to-oud', '--schema', srv.url, '-D', srv.rootDn, '-y', pw,
    '--reject', join(dir, `${name}.rejects.ldif`), '--checkpoint-interval', '1000', '--state', join(dir, `${name}-state`)];
}

/** Server content as a sorted list of entries, each with its lines sorted (value order is not compared). */
function content(srv: SlapdHandle): string[] {
  return ldapsearch(srv, SUFFIX, ['*']).split('\n\n').filter((e) => e.trim()).map((e) => e.split('\n').sort().join('\n')).sort();
}

function rejectRecords(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return text.split('\n\n').slice(1).map((r) => r.trim()).filter(Boolean).sort();
}

interface Sum { read: number; written: number; rejected: number; rejects: Record<string, number>; fixes: Record<string, number> }
const summary = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as Sum;

/**
 * Kill and resume a load into one server, load another without interruption, compare. `extra`: more CLI options;
 * `ra`/`rb`: the names of the two runs' files in the shared directory.
 */
const killedAndResumed = (extra: string[], na: string, nb: string) => async (t: Test) => {
  const args = (srv: SlapdHandle, name: string) => [...baseArgs(srv, name), ...extra];
  const [a, b] = await Promise.all([startSlapd({ suffix: SUFFIX }), startSlapd({ suffix: SUFFIX })]);
  t.teardown(async () => { await a.stop(); await b.stop(); });

  const ra = spawnSync(process.execPath, [CLI, ...args(a, na), '--summary', join(dir, `${na}.json`)], { encoding: 'utf8', cwd: dir });
  t.equal(ra.status, 3, `reference load: exit 3 (preset exclusions and the existing suffix entry are rejects) ${ra.stderr}`);
  const want = content(a);
  const total = want.length;
  t.ok(total > 19000, `${total} entries in the reference server`);

  const kills: number[] = [];
  const refWritten = summary(join(dir, `${na}.json`)).written;
  for (const [i, f] of [0.15, 0.3, 0.5, 0.7, 0.85].entries()) {
    // SIGKILL at an exact point: the CLI kills itself (LDAPFLOW_TEST_KILL_AT_WRITTEN) once that many records are
    // acknowledged by the server; an outside kill after polling the server races a fast load.
    const at = Math.round(f * refWritten);
    const res = spawnSync(process.execPath, [CLI, ...args(b, nb), '-q', ...(i > 0 ? ['--resume'] : [])], { cwd: dir, encoding: 'utf8', env: { ...process.env, LDAPFLOW_TEST_KILL_AT_WRITTEN: String(at) } });
    t.equal(res.signal, 'SIGKILL', `run ${i + 1} was killed (SIGKILL) at ${at} records written ${res.stderr}`);
    if (res.signal === 'SIGKILL') kills.push(dnsOf(ldapsearch(b, SUFFIX, ['1.1'])).length);
  }
  t.equal(kills.length, 5, `killed five times, with ${kills.join(', ')} of ${total} entries in the server`);

  const fin = spawnSync(process.execPath, [CLI, ...args(b, nb), '--resume', '--summary', join(dir, `${nb}.json`)], { encoding: 'utf8', cwd: dir });
  t.equal(fin.status, 3, fin.stderr);
  t.match(fin.stderr, /resuming from checkpoint \d+/);
  const got = content(b);
  const dns = dnsOf(ldapsearch(b, SUFFIX, ['1.1'])).map((d) => d.toLowerCase());
  t.equal(new Set(dns).size, dns.length, 'no entry twice');
  t.equal(got.length, total, 'as many entries as the uninterrupted load');
  const have = new Set(got);
  const missing = want.filter((e) => !have.has(e)).slice(0, 3);
  t.same(missing, [], 'every entry equal, attribute for attribute');
  t.same(rejectRecords(join(dir, `${nb}.rejects.ldif`)), rejectRecords(join(dir, `${na}.rejects.ldif`)), 'the same rejects');
  const sa = summary(join(dir, `${na}.json`)), sb = summary(join(dir, `${nb}.json`));
  t.same([sb.read, sb.written, sb.rejected, sb.rejects], [sa.read, sa.written, sa.rejected, sa.rejects],
    `the counters went on from the checkpoints (work after a checkpoint was sent again: LDAP_RETRY_CONFIRMED ${sb.fixes.LDAP_RETRY_CONFIRMED ?? 0})`);
};

t.test('LDIF -> LDAP: killed at five points, resumed each time, the server equals an uninterrupted load', killedAndResumed([], 'a', 'b'));

// With a worker the kill points fall elsewhere: between a duplicate DN's add and the modify that applies its later copy
// (the resumed add meets the later state; it was made by the interrupted run, so it is confirmed, not rejected).
t.test('the same with --workers 1', killedAndResumed(['--workers', '1'], 'c', 'd'));
