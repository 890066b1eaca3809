import t from 'tap';
import { spawnSync } from 'node:child_process';
import { startSlapd, type SlapdHandle } from '../support/slapd.js';
import { generate, toBatches, drive, recorder, ldapsearch, dnsOf, jpeg } from '../support/ldap-data.js';
import { writeLdap } from '../../src/sinks/ldap-server.js';
import { readLdap } from '../../src/sources/ldap-server.js';
import { makeEntry, valuesEqual, type Batch, type Entry, type LdifRecord } from '../../src/entry.js';
import { normalizeDn } from '../../src/dn.js';
import { LdapflowError } from '../../src/errors.js';

const SUFFIX = 'dc=example,dc=com';

function sinkFor(srv: SlapdHandle, extra: Partial<Parameters<typeof writeLdap>[0]> = {}) {
  return writeLdap({ url: srv.url, bindDn: srv.rootDn, password: srv.rootPassword, ...extra });
}

async function readAll(srv: SlapdHandle): Promise<Map<string, Entry>> {
  const src = readLdap({ url: `${srv.url}/${SUFFIX}??sub`, bindDn: srv.rootDn, password: srv.rootPassword, attributes: ['*'] });
  const out = new Map<string, Entry>();
  for await (const b of src.batches(new AbortController().signal)) {
    for (const r of b.records) {
      const k = normalizeDn(r.dn);
      if (out.has(k)) throw new Error(`duplicate ${r.dn}`);
      out.set(k, r as Entry);
    }
  }
  return out;
}

function sameEntry(t: Tap.Test, got: Entry | undefined, want: Entry): void {
  if (!got) { t.fail(`missing ${want.dn}`); return; }
  for (const [k, a] of want.attrs) {
    const g = got.attrs.get(k);
    const ok = !!g && g.values.length === a.values.length && a.values.every((v) => g.values.some((w) => valuesEqual(v, w)));
    if (!ok) { t.fail(`${want.dn}: ${k} differs: ${JSON.stringify(g?.values)} vs ${JSON.stringify(a.values)}`); return; }
  }
}
// eslint-disable-next-line @typescript-eslint/no-namespace
declare namespace Tap { type Test = typeof t; }

t.test('load, read back, second loads with onExists', async (t) => {
  const srv = await startSlapd();
  t.teardown(() => srv.stop());
  const entries = generate(SUFFIX, 3000);
  const batches = toBatches(entries, 1000);
  const rec = await drive(sinkFor(srv), batches);
  t.same(rec.rejects, [], 'no rejects');
  t.equal(rec.acks.size, batches.length, 'every batch acknowledged');
  t.same([...rec.acks.entries()].sort((a, b) => a[0] - b[0]), batches.map((b) => [b.seq, b.records.length]));

  const back = await readAll(srv);
  t.equal(back.size, entries.length + 1, 'all entries and the suffix');
  let bad = 0;
  for (const e of entries) {
    const g = back.get(normalizeDn(e.dn));
    if (!g) { bad++; continue; }
    for (const [k, a] of e.attrs) {
      const v = g.attrs.get(k)?.values ?? [];
      if (v.length !== a.values.length || !a.values.every((x) => v.some((y) => valuesEqual(x, y)))) bad++;
    }
  }
  t.equal(bad, 0, 'every attribute value read back equal');
  const photo = back.get(normalizeDn(entries.find((e) => e.attrs.has('jpegphoto'))!.dn))!.attrs.get('jpegphoto')!.values[0];
  t.ok(photo instanceof Uint8Array, 'jpegPhoto comes back as bytes');
  t.same(Buffer.from(photo as Uint8Array), Buffer.from(jpeg(0)));
  const umlaut = entries.find((e) => e.dn.startsWith('cn=Jürgen'))!;
  t.equal(back.get(normalizeDn(umlaut.dn))?.dn, umlaut.dn, 'non-ASCII DN stored as given');
  // ldapsearch agrees (base64 DN in its output).
  t.ok(dnsOf(ldapsearch(srv, SUFFIX, ['(cn=Jürgen*)', 'dn'])).includes(umlaut.dn));

  // Second load, skip.
  const skip = await drive(sinkFor(srv, { onExists: 'skip' }), toBatches(entries, 1000));
  t.equal(skip.counts.LDAP_SKIPPED_EXISTS, entries.length, 'all skipped, counted');
  t.equal(skip.rejects.length, 0);

  // Change 5 entries on the server, then a replace load brings them back.
  const changed = [entries[100], entries[200], entries[300], entries[400], umlaut];
  const mod = changed.map((e) => `dn: ${e.dn}\nchangetype: modify\nreplace: sn\nsn: CHANGED\n-\nadd: description\ndescription: extra\n`).join('\n');
  const r = spawnSync('ldapmodify', ['-x', '-H', srv.url, '-D', srv.rootDn, '-w', srv.rootPassword], { input: mod, encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const rep = await drive(sinkFor(srv, { onExists: 'replace' }), toBatches(entries, 1000));
  t.equal(rep.counts.LDAP_REPLACED, changed.length, 'changed entries replaced, counted');
  t.equal(rep.counts.LDAP_EXISTS_IDENTICAL, entries.length - changed.length, 'identical ones counted apart');
  t.equal(rep.rejects.length, 0);
  const after = await readAll(srv);
  for (const e of changed) {
    const g = after.get(normalizeDn(e.dn))!;
    t.same(g.attrs.get('sn')?.values, e.attrs.get('sn')!.values, `${e.dn}: sn restored`);
    t.notOk(g.attrs.has('description'), `${e.dn}: extra attribute removed`);
  }

  // Third load, fail: every add is a reject with the server's code, and every batch is still acknowledged.
  const fail = await drive(sinkFor(srv), toBatches(entries.slice(0, 50), 20));
  t.equal(fail.rejects.length, 50);
  t.equal(fail.rejects[0].code, 'LDAP_ENTRY_ALREADY_EXISTS');
  t.match(fail.rejects[0].message, /^add .*: entry already exists \(result 68\)$/);
  t.equal(fail.rejects[0].origin?.file, 'generated');
  t.same([...fail.acks.entries()].sort((a, b) => a[0] - b[0]), [[0, 0], [1, 0], [2, 0]], 'every batch acknowledged, nothing written');
});

t.test('schema violations are rejects with the server code; change records apply in order', async (t) => {
  const srv = await startSlapd();
  t.teardown(() => srv.stop());
  const o = (index: number) => ({ file: 'changes.ldif', line: index * 10 + 1, index });
  const recs: LdifRecord[] = [
    makeEntry(`ou=x,${SUFFIX}`, [['objectClass', 'organizationalUnit'], ['ou', 'x']], o(0)),
    makeEntry(`cn=nosn,ou=x,${SUFFIX}`, [['objectClass', 'person'], ['cn', 'nosn']], o(1)), // sn is required
    makeEntry(`cn=a,ou=x,${SUFFIX}`, [['objectClass', 'person'], ['cn', 'a'], ['sn', 'A']], o(2)),
    { kind: 'change', changetype: 'modify', dn: `cn=a,ou=x,${SUFFIX}`, mods: [{ op: 'add', name: 'description', values: ['d1'] }, { op: 'replace', name: 'sn', values: ['A2'] }], origin: o(3) },
    { kind: 'change', changetype: 'modrdn', dn: `cn=a,ou=x,${SUFFIX}`, newrdn: 'cn=b', deleteoldrdn: false, newsuperior: null, origin: o(4) },
    { kind: 'change', changetype: 'add', dn: `cn=c,cn=b,ou=x,${SUFFIX}`, attrs: makeEntry('x', [['objectClass', 'person'], ['cn', 'c'], ['sn', 'C']]).attrs, origin: o(5) },
    { kind: 'change', changetype: 'delete', dn: `cn=c,cn=b,ou=x,${SUFFIX}`, origin: o(6) },
    { kind: 'change', changetype: 'modify', dn: `cn=missing,ou=x,${SUFFIX}`, mods: [{ op: 'replace', name: 'sn', values: ['x'] }], origin: o(7) },
    makeEntry(`cn=nope,ou=nowhere,${SUFFIX}`, [['objectClass', 'person'], ['cn', 'nope'], ['sn', 'N']], o(8)),
  ];
  const rec = await drive(sinkFor(srv, { connections: 2, inFlight: 8 }), [{ seq: 0, records: recs, rejects: [] } as Batch]);
  t.same(rec.acks.get(0), recs.length - 3, 'the batch is acknowledged: written = records - rejects');
  rec.rejects.sort((a, b) => a.origin!.line - b.origin!.line); // they come in completion order
  t.same(rec.rejects.map((r) => [r.code, r.dn, r.origin?.line]), [
    ['LDAP_OBJECT_CLASS_VIOLATION', `cn=nosn,ou=x,${SUFFIX}`, 11],
    ['LDAP_NO_SUCH_OBJECT', `cn=missing,ou=x,${SUFFIX}`, 71],
    ['LDAP_NO_SUCH_OBJECT', `cn=nope,ou=nowhere,${SUFFIX}`, 81],
  ], 'rejects with code, DN and origin');
  t.match(rec.rejects[0].message, /object class 'person' requires attribute 'sn' \(result 65\)/);
  const out = ldapsearch(srv, `ou=x,${SUFFIX}`, ['-s', 'sub', '(objectClass=person)']);
  t.same(dnsOf(out), [`cn=b,ou=x,${SUFFIX}`], 'renamed entry, child added and deleted');
  t.match(out, /^cn: a$/m, 'deleteoldrdn 0 kept the old RDN value');
  t.match(out, /^sn: A2$/m);
  t.match(out, /^description: d1$/m);
});

t.test('slapd killed and restarted mid-load: every entry exactly once', async (t) => {
  const srv = await startSlapd();
  t.teardown(() => srv.stop());
  const entries = generate(SUFFIX, 12000, { file: 'kill.ldif' });
  const batches = toBatches(entries, 500);
  let killed = false;
  const rec = await drive(sinkFor(srv, { maxRetryMs: 30000 }), batches, recorder(), async (seq) => {
    if (seq === 8 && !killed) {
      killed = true;
      await srv.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
      await srv.restart();
    }
  });
  t.ok(killed);
  t.same(rec.rejects, [], 'no rejects');
  t.ok((rec.counts.LDAP_RECONNECTED ?? 0) >= 1, 'reconnected');
  t.equal(rec.acks.size, batches.length, 'every batch acknowledged');
  const dns = dnsOf(ldapsearch(srv, SUFFIX, ['dn']));
  const norm = dns.map((d) => normalizeDn(d));
  t.equal(new Set(norm).size, norm.length, 'no DN twice');
  t.equal(norm.length, entries.length + 1, 'every entry there');
  const want = new Set(entries.map((e) => normalizeDn(e.dn)));
  t.equal(norm.filter((d) => want.has(d)).length, entries.length);
});

t.test('bind and connection errors are one clear line without the password', async (t) => {
  const srv = await startSlapd({ rootPassword: 'S3cret-pw' });
  t.teardown(() => srv.stop());
  const bad = writeLdap({ url: srv.url, bindDn: srv.rootDn, password: 'wrong-Pa55' });
  const err = await bad.open(recorder().ctx).then(() => null, (e) => e);
  t.ok(err instanceof LdapflowError);
  t.equal(err.code, 'LDAP_INVALID_CREDENTIALS');
  t.equal(err.message, `bind as cn=admin,${SUFFIX} to ${srv.url}: invalid credentials`);
  t.notMatch(err.describe(), /wrong-Pa55|S3cret/);

  const un = writeLdap({ url: 'ldap://127.0.0.1:1', bindDn: srv.rootDn, password: 'x' });
  const e2 = await un.open(recorder().ctx).then(() => null, (e) => e);
  t.equal(e2?.code, 'LDAP_UNREACHABLE');
  t.equal(e2?.message, 'cannot connect to ldap://127.0.0.1:1: connection refused');

  t.throws(() => writeLdap({ url: srv.url, onExists: 'merge' as never }), { code: 'OPTION_INVALID' });
  t.throws(() => writeLdap({ url: 'http://x' }), { code: 'OPTION_INVALID' });
  t.throws(() => writeLdap({ url: srv.url, connections: 0 }), /connections/);
});

t.test('LDAPS with a CA file; a clear error on an untrusted certificate', async (t) => {
  const srv = await startSlapd({ tls: true });
  t.teardown(() => srv.stop());
  const entries = generate(SUFFIX, 200);
  const rec = await drive(writeLdap({ url: srv.ldapsUrl!, bindDn: srv.rootDn, password: srv.rootPassword, tls: { caFile: srv.caFile } }), toBatches(entries, 100));
  t.equal(rec.rejects.length, 0);
  t.equal(dnsOf(ldapsearch(srv, SUFFIX, ['1.1'])).length, entries.length + 1, 'loaded over TLS');
  const st = await drive(writeLdap({ url: srv.url, bindDn: srv.rootDn, password: srv.rootPassword, onExists: 'skip', tls: { caFile: srv.caFile, startTls: true } }), toBatches(entries, 100));
  t.equal(st.counts.LDAP_SKIPPED_EXISTS, entries.length, 'StartTLS works too');
  const err = await writeLdap({ url: srv.ldapsUrl!, bindDn: srv.rootDn, password: srv.rootPassword }).open(recorder().ctx).then(() => null, (e) => e);
  t.equal(err?.code, 'LDAP_TLS_CERTIFICATE');
  t.match(err?.message, /the server certificate is not trusted .*CA file/);
});

t.test('a server that stays down: a fatal error after maxRetryMs, nothing acknowledged that was not written', async (t) => {
  const srv = await startSlapd();
  t.teardown(() => srv.stop());
  const entries = generate(SUFFIX, 3000);
  const batches = toBatches(entries, 500);
  const sink = sinkFor(srv, { maxRetryMs: 1500 });
  const rec = recorder();
  await sink.open(rec.ctx);
  await sink.write(batches[0]);
  await srv.kill('SIGKILL');
  const err = await (async () => {
    for (const b of batches.slice(1)) await sink.write(b);
    await sink.close();
  })().then(() => null, (e) => e);
  await sink.abort();
  t.equal(err?.code, 'LDAP_UNAVAILABLE');
  t.match(err?.message, /could not reconnect|kept refusing/);
  t.notMatch(err?.message, new RegExp(srv.rootPassword));
  await srv.restart();
  const inServer = dnsOf(ldapsearch(srv, SUFFIX, ['1.1'])).length - 1;
  const acked = [...rec.acks.values()].reduce((a, b) => a + b, 0);
  t.ok(acked <= inServer, `acknowledged ${acked} <= ${inServer} in the server`);
  t.ok(acked < entries.length, 'not everything acknowledged');
});

t.test('a hung server (SIGSTOP): operations time out, are retried after SIGCONT, every entry exactly once', async (t) => {
  const srv = await startSlapd();
  t.teardown(async () => { try { process.kill(srv.pid, 'SIGCONT'); } catch { /* gone */ } await srv.stop(); });
  const entries = generate(SUFFIX, 6000, { file: 'hang.ldif' });
  const batches = toBatches(entries, 500);
  let stopped = false;
  const rec = await drive(sinkFor(srv, { timeoutMs: 700, maxRetryMs: 60000 }), batches, recorder(), async (seq) => {
    if (seq === 4 && !stopped) {
      stopped = true;
      process.kill(srv.pid, 'SIGSTOP');
      await new Promise((r) => setTimeout(r, 1500));
      process.kill(srv.pid, 'SIGCONT');
    }
  });
  t.ok(stopped);
  t.same(rec.rejects, [], 'no rejects');
  t.ok((rec.counts.LDAP_RETRIED ?? 0) > 0, `operations retried (${JSON.stringify(rec.counts)})`);
  const norm = dnsOf(ldapsearch(srv, SUFFIX, ['1.1'])).map((d) => normalizeDn(d));
  t.equal(new Set(norm).size, norm.length, 'no DN twice');
  t.equal(norm.length, entries.length + 1, 'every entry there');
  t.equal([...rec.acks.values()].reduce((a, b) => a + b, 0), entries.length, 'every record acknowledged as written');
});

t.test('DN values the server re-spells still compare equal (replace finds nothing to change)', async (t) => {
  const srv = await startSlapd();
  t.teardown(() => srv.stop());
  const recs = [
    makeEntry(`ou=g,${SUFFIX}`, [['objectClass', 'organizationalUnit'], ['ou', 'g']]),
    makeEntry(`cn=boss,ou=g,${SUFFIX}`, [['objectClass', 'inetOrgPerson'], ['cn', 'boss'], ['sn', 'B']]),
    makeEntry(`cn=x,ou=g,${SUFFIX}`, [['objectClass', 'inetOrgPerson'], ['cn', 'x'], ['sn', 'X'], ['manager', 'CN=boss, OU=g, DC=example, DC=com']]),
  ];
  const first = await drive(sinkFor(srv), [{ seq: 0, records: recs, rejects: [] }]);
  t.equal(first.rejects.length, 0);
  const stored = /^manager: (.*)$/m.exec(ldapsearch(srv, `cn=x,ou=g,${SUFFIX}`, ['-s', 'base', 'manager']))?.[1];
  t.equal(stored, 'cn=boss,ou=g,dc=example,dc=com', 'slapd stored the DN in its own spelling, not as sent');
  const again = await drive(sinkFor(srv, { onExists: 'replace' }), [{ seq: 0, records: recs, rejects: [] }]);
  t.equal(again.counts.LDAP_EXISTS_IDENTICAL, 3, 'all identical');
  t.notOk(again.counts.LDAP_REPLACED, 'nothing rewritten');
});
