/**
 * LDAP load benchmark: the same LDIF loaded three ways, each into an equally fresh private slapd (scripts/slapd.ts):
 *   1. ldapflow's LDAP sink (readLdif -> writeLdap, C connections x W in flight), in this process;
 *   2. OpenLDAP's `ldapadd -c -x -D ... -y ...`, one connection, one operation at a time;
 *   3. `slapadd -q` offline into a stopped server's database (the server's own ceiling).
 * Prints entries/s for each, ldapflow/ldapadd, ldapflow/slapadd, and the CPU split between client and slapd
 * (client: process.cpuUsage() or the shell's `times`; slapd: utime+stime from /proc/PID/stat).
 *
 *   node dist/bench/ldap-load.js [FILE.ldif] [--entries N] [--connections C] [--in-flight W] [--sweep] [--skip-ldapadd]
 *
 * Without FILE it writes N simple inetOrgPerson entries (default 100,000) under a few OUs. FILE must hold entries
 * under dc=example,dc=com and may hold the suffix entry itself (it is skipped by all three loaders).
 * --sweep loads with several C x W combinations (on fresh servers) to pick the sink defaults.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { startSlapd, SLAPADD, type SlapdHandle } from '../scripts/slapd.js';
import { readLdif } from '../src/sources/ldif-file.js';
import { writeLdap } from '../src/sinks/ldap-server.js';
import { normalizeDn } from '../src/dn.js';

const SUFFIX = 'dc=example,dc=com';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function generate(file: string, n: number): Promise<void> {
  const out = createWriteStream(file);
  const w = async (s: string) => { if (!out.write(s)) await once(out, 'drain'); };
  const ous = Math.max(1, Math.ceil(n / 5000));
  for (let o = 0; o < ous; o++) await w(`dn: ou=unit${o},${SUFFIX}\nobjectClass: top\nobjectClass: organizationalUnit\nou: unit${o}\n\n`);
  for (let i = 0; i < n; i++) {
    await w(`dn: uid=user${i},ou=unit${i % ous},${SUFFIX}\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: inetOrgPerson\n` +
      `uid: user${i}\ncn: User Number ${i}\nsn: Number${i}\ngivenName: User\nmail: user${i}@example.com\n` +
      `employeeNumber: ${i}\ntelephoneNumber: +1 555 ${String(i % 10000).padStart(4, '0')}\ntitle: Engineer ${i % 17}\n` +
      `description: Generated entry ${i} for the ldapflow load benchmark\nuserPassword: {SSHA}c2VjcmV0c2VjcmV0c2VjcmV0\n\n`);
  }
  out.end();
  await once(out, 'finish');
}

/** utime+stime of a process in seconds. */
function procCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // fields 14 and 15, in clock ticks (USER_HZ = 100)
  } catch { return NaN; }
}

function countEntries(srv: SlapdHandle): number {
  const r = spawnSync('ldapsearch', ['-x', '-LLL', '-H', srv.url, '-D', srv.rootDn, '-w', srv.rootPassword, '-b', SUFFIX, '1.1'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  return r.stdout.split('\n').filter((l) => l.startsWith('dn:')).length - 1; // without the suffix
}

interface Result { name: string; entries: number; seconds: number; clientCpu: number; serverCpu: number; note?: string }

async function loadLdapflow(file: string, c: number, w: number): Promise<Result> {
  const srv = await startSlapd();
  try {
    const sink = writeLdap({ url: srv.url, bindDn: srv.rootDn, password: srv.rootPassword, connections: c, inFlight: w, onExists: 'skip' });
    let rejects = 0;
    let acked = 0;
    const counts: Record<string, number> = {};
    const s0 = procCpu(srv.pid);
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await sink.open({
      reject: (r) => { rejects++; if (rejects <= 3) process.stderr.write(`reject: ${r.code} ${r.message}\n`); },
      acknowledge: (_s, n) => { acked += n; },
      count: (code, n = 1) => { counts[code] = (counts[code] ?? 0) + n; },
      signal: new AbortController().signal,
    });
    for await (const b of readLdif({ input: file }).batches(new AbortController().signal)) await sink.write(b);
    await sink.close();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cu = process.cpuUsage(c0);
    const serverCpu = procCpu(srv.pid) - s0;
    const n = countEntries(srv);
    return { name: `ldapflow C=${c} W=${w}`, entries: n, seconds, clientCpu: (cu.user + cu.system) / 1e6, serverCpu,
      note: `${acked} acknowledged, ${rejects} rejects${Object.keys(counts).length ? ', ' + JSON.stringify(counts) : ''}` };
  } finally {
    await srv.stop();
  }
}

async function loadLdapadd(file: string): Promise<Result> {
  const srv = await startSlapd();
  const dir = mkdtempSync(join(tmpdir(), 'ldapflow-bench-'));
  try {
    const pw = join(dir, 'pw');
    writeFileSync(pw, srv.rootPassword, { mode: 0o600 });
    const s0 = procCpu(srv.pid);
    const t0 = process.hrtime.bigint();
    // The shell's `times` prints the CPU its children used: the ldapadd client.
    const r = spawnSync('bash', ['-c', 'ldapadd -c -x -H "$1" -D "$2" -y "$3" -f "$4" >/dev/null 2>"$5"; echo "rc=$?"; times',
      'bash', srv.url, srv.rootDn, pw, file, join(dir, 'err')], { encoding: 'utf8' });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const serverCpu = procCpu(srv.pid) - s0;
    const lines = r.stdout.trim().split('\n');
    const m = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s/.exec(lines[lines.length - 1] ?? '');
    const clientCpu = m ? Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]) : NaN;
    const errors = readFileSync(join(dir, 'err'), 'utf8').split('\n').filter((l) => l.startsWith('ldap_add:')).length;
    return { name: 'ldapadd -c (1 connection)', entries: countEntries(srv), seconds, clientCpu, serverCpu, note: `${lines[0]}, ${errors} errors` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await srv.stop();
  }
}

async function loadSlapadd(file: string): Promise<Result> {
  const srv = await startSlapd();
  try {
    await srv.kill('SIGTERM'); // offline: slapadd writes the database files directly
    const t0 = process.hrtime.bigint();
    const r = spawnSync('bash', ['-c', '"$1" -q -c -F "$2" -b "$3" -l "$4" >/dev/null 2>&1; echo "rc=$?"; times', 'bash', SLAPADD, join(srv.dir, 'slapd.d'), SUFFIX, file], { encoding: 'utf8' });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const lines = r.stdout.trim().split('\n');
    const m = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s/.exec(lines[lines.length - 1] ?? '');
    const cpu = m ? Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]) : NaN;
    await srv.restart();
    return { name: 'slapadd -q (offline)', entries: countEntries(srv), seconds, clientCpu: 0, serverCpu: cpu, note: lines[0] };
  } finally {
    await srv.stop();
  }
}

function show(r: Result): void {
  const rate = r.entries / r.seconds;
  const total = r.clientCpu + r.serverCpu;
  console.log(`${r.name.padEnd(28)} ${String(r.entries).padStart(8)} entries ${r.seconds.toFixed(2).padStart(7)} s ${Math.round(rate).toString().padStart(7)}/s` +
    `   CPU client ${r.clientCpu.toFixed(2)} s, slapd ${r.serverCpu.toFixed(2)} s (client ${total ? Math.round((100 * r.clientCpu) / total) : 0}%;` +
    ` ${Math.round((1e6 * r.clientCpu) / r.entries)} + ${Math.round((1e6 * r.serverCpu) / r.entries)} us/entry)` +
    (r.note ? `   [${r.note}]` : ''));
}

async function main(): Promise<void> {
  const n = Number(arg('--entries') ?? 100000);
  let file = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : undefined;
  const tmp = mkdtempSync(join(tmpdir(), 'ldapflow-bench-'));
  try {
    if (!file) {
      file = join(tmp, `people-${n}.ldif`);
      await generate(file, n);
    }
    // Drop the suffix entry if the file has one: the fresh servers already hold it.
    const text = readFileSync(file, 'utf8');
    const first = /^dn:\s*(.*)$/m.exec(text);
    if (first && normalizeDn(first[1]) === normalizeDn(SUFFIX)) {
      const cut = text.indexOf('\n\n', first.index);
      const f2 = join(tmp, 'no-suffix.ldif');
      writeFileSync(f2, text.slice(cut + 2));
      file = f2;
    }
    console.log(`ldap-load: ${file}, node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); slapd mdb, olcDbNoSync, index objectClass`);
    if (process.argv.includes('--sweep')) {
      const combos: Array<[number, number]> = [[1, 64], [2, 16], [2, 32], [2, 64], [4, 8], [4, 16], [4, 32], [8, 16]];
      for (const [c, w] of combos) show(await loadLdapflow(file, c, w));
      return;
    }
    const c = Number(arg('--connections') ?? 4);
    const w = Number(arg('--in-flight') ?? 32);
    const flow = await loadLdapflow(file, c, w);
    show(flow);
    const add = process.argv.includes('--skip-ldapadd') ? null : await loadLdapadd(file);
    if (add) show(add);
    const off = await loadSlapadd(file);
    show(off);
    const rf = flow.entries / flow.seconds;
    if (add) console.log(`ldapflow / ldapadd = ${(rf / (add.entries / add.seconds)).toFixed(2)}x (target >= 1.5x)`);
    console.log(`ldapflow / slapadd -q = ${(rf / (off.entries / off.seconds)).toFixed(2)} of the offline rate`);
    console.log(`load average now: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} (on a busy machine the rates say more about the neighbours)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
