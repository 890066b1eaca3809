import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startSlapd } from './slapd.js';

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

t.test('start, search the suffix, restart, stop', async (t) => {
  const srv = await startSlapd({ suffix: 'o=Smoke Test' });
  t.ok(alive(srv.pid), 'slapd runs');
  t.match(srv.url, /^ldap:\/\/127\.0\.0\.1:\d+$/);
  const search = () => spawnSync('ldapsearch', ['-x', '-LLL', '-H', srv.url, '-D', srv.rootDn, '-w', srv.rootPassword,
    '-b', srv.suffix, '-s', 'base', 'objectClass'], { encoding: 'utf8' });
  let r = search();
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^dn: o=Smoke Test$/m);
  t.match(r.stdout, /objectClass: organization/);

  const oldPid = srv.pid;
  await srv.kill('SIGKILL');
  t.notOk(alive(oldPid), 'killed');
  await srv.restart();
  t.not(srv.pid, oldPid, 'new pid after restart');
  r = search();
  t.equal(r.status, 0, 'answers again on the same port: ' + r.stderr);

  const pid = srv.pid;
  await srv.stop();
  t.notOk(alive(pid), 'the PID is gone');
  t.notOk(existsSync(srv.dir), 'the directory is removed');
});

t.test('extra schema and TLS', async (t) => {
  const srv = await startSlapd({ schemas: ['test/fixtures/schema/oracle-oid.ldif'], tls: true });
  t.teardown(() => srv.stop());
  t.ok(srv.ldapsUrl && srv.caFile);
  const r = spawnSync('ldapsearch', ['-x', '-LLL', '-H', srv.ldapsUrl!, '-b', 'cn=Subschema', '-s', 'base',
    '(objectClass=*)', 'objectClasses'], { encoding: 'utf8', env: { ...process.env, LDAPTLS_CACERT: srv.caFile! } });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /NAME 'orclUserV2'/, 'the Oracle schema is loaded');
});
