/**
 * A private OpenLDAP server for tests and benchmarks: `slapd` as a plain child process on 127.0.0.1 on a free port,
 * in its own temp directory (config built offline with `slapadd -n0` into a private slapd.d, mdb backend), stopped by
 * its PID. It never looks at, uses or stops a system slapd.
 *
 *   const srv = await startSlapd({ suffix: 'dc=example,dc=com' });
 *   ... srv.url, srv.rootDn, srv.rootPassword ...
 *   await srv.stop();
 *
 * CLI (manual use, benchmarks):
 *   node dist/scripts/slapd.js start [--suffix DN] [--schema FILE]... [--password PW] [--index ATTR]... [--sync] [--tls]
 *     -> prints {"url":...,"pid":...,"dir":...} and leaves slapd running
 *   node dist/scripts/slapd.js stop --pid N --dir D
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, existsSync, readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SLAPD = process.env.LDAPFLOW_SLAPD ?? '/usr/sbin/slapd';
export const SLAPADD = process.env.LDAPFLOW_SLAPADD ?? '/usr/sbin/slapadd';
const SCHEMA_DIR = '/etc/ldap/schema';
const MODULE_DIR = '/usr/lib/ldap';

export interface SlapdOptions {
  /** Suffix of the mdb database; default `dc=example,dc=com`. */
  suffix?: string;
  /** Extra schema files in cn=config LDIF form (`dn: cn=NAME,cn=schema,cn=config`), loaded after the standard ones. */
  schemas?: string[];
  /** Attribute options and option prefixes the server accepts (olcAttributeOptions), e.g. `['oid', 'orclcommonpwd']`
   * for authPassword;oid as Oracle OID exports it; prefixes end with `-`. */
  attributeOptions?: string[];
  /** Password of the root DN `cn=admin,<suffix>`; default `secret`. */
  rootPassword?: string;
  /** olcDbMaxSize in MiB; default 4096. */
  maxSizeMiB?: number;
  /** olcDbNoSync; default true (several times faster loads; a killed slapd loses nothing, only an OS crash may). */
  noSync?: boolean;
  /** Equality indexes; default `['objectClass']`. */
  indexes?: string[];
  /** Also listen on ldaps:// and allow StartTLS, with a throw-away CA and server certificate made with openssl. */
  tls?: boolean;
  /** Log level passed to `slapd -d`; default 0 (stderr kept in DIR/slapd.log). */
  debug?: string;
  /** Milliseconds to wait for the server to answer; default 15000. */
  startTimeoutMs?: number;
  /** Run slapd in its own process group so it outlives this process (the CLI uses it). */
  detached?: boolean;
}

export interface SlapdHandle {
  /** `ldap://127.0.0.1:PORT` */
  url: string;
  host: string;
  port: number;
  /** With `tls`: `ldaps://127.0.0.1:TLSPORT`, the CA certificate file (PEM) that signed the server certificate. */
  ldapsUrl?: string;
  tlsPort?: number;
  caFile?: string;
  /** The current slapd PID (changes on restart). */
  pid: number;
  dir: string;
  suffix: string;
  rootDn: string;
  rootPassword: string;
  /** SIGTERM, SIGKILL after a timeout, then remove the directory. */
  stop(): Promise<void>;
  /** Stop (keeping the data) if running, then start again on the same port(s). */
  restart(): Promise<void>;
  /** Send a signal to slapd (e.g. SIGKILL to simulate a crash) and wait until it has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Whether the slapd process is alive. */
  running(): boolean;
}

const live = new Map<number, { dir: string; keep: boolean }>();
let exitHookInstalled = false;
function killAll(): void {
  for (const [pid, { dir, keep }] of live) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    if (!keep) try { rmSync(dir, { recursive: true, force: true }); } catch { /* ignore */ }
  }
  live.clear();
}

/** Servers die with the process that started them: on exit, and on a terminating signal (then re-raised). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAll();
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => res(port));
    });
  });
}

function suffixEntry(suffix: string): string {
  const first = suffix.split(',')[0];
  const eq = first.indexOf('=');
  const type = first.slice(0, eq).trim().toLowerCase();
  const value = first.slice(eq + 1).trim();
  const lines = [`dn: ${suffix}`];
  switch (type) {
    case 'dc': lines.push('objectClass: top', 'objectClass: dcObject', 'objectClass: organization', `dc: ${value}`, `o: ${value}`); break;
    case 'o': lines.push('objectClass: top', 'objectClass: organization', `o: ${value}`); break;
    case 'ou': lines.push('objectClass: top', 'objectClass: organizationalUnit', `ou: ${value}`); break;
    case 'c': lines.push('objectClass: top', 'objectClass: country', `c: ${value}`); break;
    case 'cn': lines.push('objectClass: top', 'objectClass: organizationalRole', `cn: ${value}`); break;
    default: throw new Error(`startSlapd: cannot make a suffix entry for "${suffix}" (first RDN type must be dc, o, ou, c or cn)`);
  }
  return lines.join('\n') + '\n';
}

function configLdif(dir: string, o: Required<Omit<SlapdOptions, 'tls' | 'debug' | 'startTimeoutMs' | 'detached' | 'attributeOptions'> & { attributeOptions: string[] }> & { tls: boolean }): string {
  const schemaIncludes = ['core', 'cosine', 'inetorgperson', 'nis']
    .map((s) => `include: file://${SCHEMA_DIR}/${s}.ldif`)
    .concat(o.schemas.map((f) => `include: file://${resolve(f)}`));
  const tls = o.tls
    ? [
        `olcTLSCACertificateFile: ${join(dir, 'tls', 'ca.pem')}`,
        `olcTLSCertificateFile: ${join(dir, 'tls', 'server.pem')}`,
        `olcTLSCertificateKeyFile: ${join(dir, 'tls', 'server.key')}`,
      ]
    : [];
  return [
    ['dn: cn=config', 'objectClass: olcGlobal', 'cn: config', `olcPidFile: ${join(dir, 'slapd.pid')}`,
      `olcArgsFile: ${join(dir, 'slapd.args')}`, 'olcLogLevel: none', ...tls,
      ...(o.attributeOptions.length ? [`olcAttributeOptions: ${o.attributeOptions.join(' ')}`] : [])].join('\n'),
    ['dn: cn=module{0},cn=config', 'objectClass: olcModuleList', 'cn: module{0}', `olcModulePath: ${MODULE_DIR}`,
      'olcModuleLoad: back_mdb'].join('\n'),
    ['dn: cn=schema,cn=config', 'objectClass: olcSchemaConfig', 'cn: schema'].join('\n'),
    schemaIncludes.join('\n\n'),
    ['dn: olcDatabase={-1}frontend,cn=config', 'objectClass: olcDatabaseConfig', 'objectClass: olcFrontendConfig',
      'olcDatabase: {-1}frontend', 'olcSizeLimit: unlimited'].join('\n'),
    ['dn: olcDatabase={0}config,cn=config', 'objectClass: olcDatabaseConfig', 'olcDatabase: {0}config',
      'olcAccess: {0}to * by * none'].join('\n'),
    ['dn: olcDatabase={1}mdb,cn=config', 'objectClass: olcDatabaseConfig', 'objectClass: olcMdbConfig',
      'olcDatabase: {1}mdb', `olcSuffix: ${o.suffix}`, `olcDbDirectory: ${join(dir, 'db')}`,
      `olcRootDN: cn=admin,${o.suffix}`, `olcRootPW: ${o.rootPassword}`,
      `olcDbMaxSize: ${o.maxSizeMiB * 1024 * 1024}`, `olcDbNoSync: ${o.noSync ? 'TRUE' : 'FALSE'}`,
      ...o.indexes.map((i) => `olcDbIndex: ${i} eq`),
      'olcSizeLimit: unlimited', 'olcLimits: {0}* size=unlimited size.prtotal=unlimited',
      'olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none',
      'olcAccess: {1}to * by * read'].join('\n'),
  ].join('\n\n') + '\n';
}

function run(cmd: string, args: string[], what: string): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw new Error(`${what}: ${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${what}: ${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim()}`);
}

function makeCerts(dir: string): void {
  const t = join(dir, 'tls');
  mkdirSync(t, { recursive: true });
  const q = (args: string[]) => run('openssl', args, 'startSlapd tls');
  q(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=ldapflow test CA',
    '-keyout', join(t, 'ca.key'), '-out', join(t, 'ca.pem'), '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  q(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', join(t, 'server.key'), '-out', join(t, 'server.csr')]);
  writeFileSync(join(t, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  q(['x509', '-req', '-in', join(t, 'server.csr'), '-CA', join(t, 'ca.pem'), '-CAkey', join(t, 'ca.key'), '-CAcreateserial',
    '-days', '2', '-out', join(t, 'server.pem'), '-extfile', join(t, 'ext.cnf')]);
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host, port });
    s.once('connect', () => { s.destroy(); res(true); });
    s.once('error', () => { s.destroy(); res(false); });
  });
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

async function waitExit(child: ChildProcess | null, pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  if (child && child.exitCode === null && child.signalCode === null) {
    await new Promise<void>((res) => {
      const t = setTimeout(res, ms);
      child.once('exit', () => { clearTimeout(t); res(); });
    });
    return child.exitCode !== null || child.signalCode !== null;
  }
  while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return !alive(pid);
}

/** Start a private slapd. Rejects with slapd's own log when it does not come up. */
export async function startSlapd(opts: SlapdOptions = {}): Promise<SlapdHandle> {
  installExitHook();
  const suffix = opts.suffix ?? 'dc=example,dc=com';
  const rootPassword = opts.rootPassword ?? 'secret';
  const dir = mkdtempSync(join(tmpdir(), 'ldapflow-slapd-'));
  try {
    mkdirSync(join(dir, 'slapd.d'));
    mkdirSync(join(dir, 'db'));
    const tls = !!opts.tls;
    if (tls) makeCerts(dir);
    writeFileSync(join(dir, 'config.ldif'), configLdif(dir, {
      suffix, rootPassword, schemas: opts.schemas ?? [], maxSizeMiB: opts.maxSizeMiB ?? 4096,
      noSync: opts.noSync ?? true, indexes: opts.indexes ?? ['objectClass'], tls, attributeOptions: opts.attributeOptions ?? [],
    }));
    run(SLAPADD, ['-n0', '-F', join(dir, 'slapd.d'), '-l', join(dir, 'config.ldif')], 'startSlapd: building cn=config');
    writeFileSync(join(dir, 'suffix.ldif'), suffixEntry(suffix));
    run(SLAPADD, ['-q', '-F', join(dir, 'slapd.d'), '-b', suffix, '-l', join(dir, 'suffix.ldif')], 'startSlapd: adding the suffix entry');
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  const host = '127.0.0.1';
  let port = 0;
  let tlsPort: number | undefined;
  let child: ChildProcess | null = null;
  let pid = 0;
  const timeout = opts.startTimeoutMs ?? 15000;

  const launch = async (): Promise<void> => {
    const urls = [`ldap://${host}:${port}/`];
    if (tlsPort) urls.push(`ldaps://${host}:${tlsPort}/`);
    const logFile = join(dir, 'slapd.log');
    const { openSync, closeSync } = await import('node:fs');
    const fd = openSync(logFile, 'a');
    const c = spawn(SLAPD, ['-d', opts.debug ?? '0', '-h', urls.join(' '), '-F', join(dir, 'slapd.d')], {
      stdio: ['ignore', fd, fd],
      detached: !!opts.detached,
    });
    closeSync(fd);
    c.unref();
    const spawned = await new Promise<number>((res, rej) => {
      c.once('spawn', () => res(c.pid!));
      c.once('error', (e) => rej(new Error(`startSlapd: cannot run ${SLAPD}: ${e.message}`)));
    });
    child = c;
    pid = spawned;
    live.set(pid, { dir, keep: false });
    c.once('exit', () => live.delete(spawned));
    const end = Date.now() + timeout;
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null) {
        const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n') : '';
        throw new Error(`startSlapd: slapd exited (${c.exitCode ?? c.signalCode}) before answering on ${urls.join(' ')}:\n${log}`);
      }
      if ((await canConnect(host, port)) && (!tlsPort || (await canConnect(host, tlsPort)))) return;
      if (Date.now() > end) {
        await killPid(c, pid, 'SIGKILL');
        throw new Error(`startSlapd: slapd did not answer on ${urls.join(' ')} within ${timeout} ms`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  // A free port can be taken between probing and binding: try a few times.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    if (opts.tls) tlsPort = await freePort();
    try {
      await launch();
      break;
    } catch (e) {
      if (attempt >= 3 || !/exited/.test(String(e))) {
        rmSync(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }

  const handle: SlapdHandle = {
    url: `ldap://${host}:${port}`,
    host,
    port,
    pid,
    dir,
    suffix,
    rootDn: `cn=admin,${suffix}`,
    rootPassword,
    ...(tlsPort ? { ldapsUrl: `ldaps://${host}:${tlsPort}`, tlsPort, caFile: join(dir, 'tls', 'ca.pem') } : {}),
    running: () => pid > 0 && alive(pid),
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (!pid) return;
      await killPid(child, pid, signal);
    },
    async stop() {
      if (pid && alive(pid)) await stopPid(child, pid);
      live.delete(pid);
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      if (pid && alive(pid)) await stopPid(child, pid);
      live.delete(pid);
      // The same ports: clients reconnect to the URL they know.
      for (let attempt = 0; ; attempt++) {
        try {
          await launch();
          break;
        } catch (e) {
          if (attempt >= 20) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      handle.pid = pid;
    },
  };
  return handle;
}

async function killPid(child: ChildProcess | null, pid: number, signal: NodeJS.Signals): Promise<void> {
  try { process.kill(pid, signal); } catch { return; }
  if (signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT') await waitExit(child, pid, 10000);
}

async function stopPid(child: ChildProcess | null, pid: number, graceMs = 10000): Promise<void> {
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  if (await waitExit(child, pid, graceMs)) return;
  try { process.kill(pid, 'SIGKILL'); } catch { return; }
  await waitExit(child, pid, 5000);
}

/** Stop a slapd started by the CLI: by PID only, and only when its command line names that directory. */
export async function stopSlapdByPid(pid: number, dir: string): Promise<void> {
  let cmdline = '';
  try { cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '); } catch { /* gone */ }
  if (cmdline && !cmdline.includes(join(dir, 'slapd.d'))) {
    throw new Error(`pid ${pid} is not the slapd of ${dir} (${cmdline.trim()}); not stopping it`);
  }
  if (cmdline) await stopPid(null, pid);
  if (dir.includes('ldapflow-slapd-')) rmSync(dir, { recursive: true, force: true });
}

async function cli(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  const get = (name: string): string | undefined => {
    const i = rest.indexOf(name);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  const all = (name: string): string[] => rest.flatMap((a, i) => (a === name && rest[i + 1] ? [rest[i + 1]] : []));
  if (cmd === 'start') {
    const h = await startSlapd({
      suffix: get('--suffix'),
      schemas: all('--schema'),
      rootPassword: get('--password'),
      indexes: all('--index').length ? all('--index') : undefined,
      noSync: !rest.includes('--sync'),
      maxSizeMiB: get('--max-size-mib') ? Number(get('--max-size-mib')) : undefined,
      tls: rest.includes('--tls'),
      attributeOptions: all('--attribute-option'),
      detached: true,
    });
    live.delete(h.pid); // leave it running after this process exits
    process.stdout.write(JSON.stringify({ url: h.url, ldapsUrl: h.ldapsUrl, caFile: h.caFile, pid: h.pid, dir: h.dir,
      suffix: h.suffix, rootDn: h.rootDn }) + '\n');
    process.exit(0);
  } else if (cmd === 'stop') {
    const pid = Number(get('--pid'));
    const dir = get('--dir');
    if (!pid || !dir) throw new Error('usage: slapd.js stop --pid N --dir D');
    await stopSlapdByPid(pid, dir);
  } else {
    process.stderr.write('usage: slapd.js start [--suffix DN] [--schema FILE]... [--password PW] [--index ATTR]... [--sync] [--tls] [--attribute-option OPT]...\n' +
      '       slapd.js stop --pid N --dir D\n');
    process.exit(2);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
