import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSplitLdif } from '../../src/sinks/split-ldif.js';
import { run } from '../../src/pipeline.js';
import { categorize } from '../../src/transforms/categorize.js';
import { orderDependencies } from '../../src/transforms/order-dependencies.js';
import { parseLdifText } from '../../src/sources/ldif-parser.js';
import { makeEntry, type Batch, type LdifRecord } from '../../src/entry.js';
import type { Source } from '../../src/stage.js';

function source(records: LdifRecord[]): Source {
  return {
    name: 'memory',
    bytesRead: () => 0,
    async *batches(): AsyncGenerator<Batch> { yield { seq: 0, records, rejects: [] }; },
  };
}

t.test('one file per category plus load-order.txt, containers first', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'ldapflow-split-')), 'out');
  const records: LdifRecord[] = [
    makeEntry('cn=g,ou=Groups,dc=example,dc=com', [['objectClass', ['top', 'groupOfNames']], ['cn', 'g'], ['member', 'uid=a,ou=People,dc=example,dc=com']]),
    makeEntry('uid=a,ou=People,dc=example,dc=com', [['objectClass', ['top', 'account']], ['uid', 'a']]),
    makeEntry('ou=People,dc=example,dc=com', [['objectClass', ['top', 'organizationalUnit']], ['ou', 'People']]),
    makeEntry('ou=Groups,dc=example,dc=com', [['objectClass', ['top', 'organizationalUnit']], ['ou', 'Groups']]),
    makeEntry('dc=example,dc=com', [['objectClass', ['top', 'domain']], ['dc', 'example']]),
    makeEntry('cn=thing,dc=example,dc=com', [['objectClass', ['top', 'device']], ['cn', 'thing']]),
    makeEntry('UID=A,ou=People,dc=example,dc=com', [['objectClass', ['top', 'account']], ['uid', 'a'], ['description', 'later']]),
  ];
  const sink = writeSplitLdif({ dir });
  const summary = await run({ source: source(records), stages: [categorize(), orderDependencies({ baseDn: 'dc=com' })], sink });
  t.equal(summary.written, 7);
  t.same(readdirSync(dir).sort(), ['changes.ldif', 'containers.ldif', 'groups.ldif', 'load-order.txt', 'organizational_units.ldif', 'unknown.ldif', 'users.ldif']);
  const order = readFileSync(join(dir, 'load-order.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  t.same(order, ['containers.ldif', 'organizational_units.ldif', 'users.ldif', 'groups.ldif', 'unknown.ldif', 'changes.ldif']);
  const dns = (f: string) => parseLdifText(readFileSync(join(dir, f))).records.map((r) => r.dn);
  t.same(dns('containers.ldif'), ['dc=example,dc=com']);
  t.same(dns('organizational_units.ldif').sort(), ['ou=Groups,dc=example,dc=com', 'ou=People,dc=example,dc=com']);
  t.same(dns('users.ldif'), ['uid=a,ou=People,dc=example,dc=com']);
  t.same(dns('groups.ldif'), ['cn=g,ou=Groups,dc=example,dc=com']);
  t.same(dns('changes.ldif'), ['UID=A,ou=People,dc=example,dc=com'], 'the duplicate became a modify, loaded last');
  t.notOk(summary.fixes.SPLIT_PARENT_IN_LATER_FILE);
});

t.test('an entry below one that goes to a later file is counted and named', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'ldapflow-split-')), 'out');
  const records: LdifRecord[] = [
    makeEntry('dc=example,dc=com', [['objectClass', ['top', 'domain']]]),
    makeEntry('cn=app,dc=example,dc=com', [['objectClass', ['top', 'applicationProcess']]]),
    makeEntry('ou=sub,cn=app,dc=example,dc=com', [['objectClass', ['top', 'organizationalUnit']]]),
  ];
  const summary = await run({ source: source(records), stages: [categorize()], sink: writeSplitLdif({ dir }) });
  t.equal(summary.fixes.SPLIT_PARENT_IN_LATER_FILE, 1);
  t.match(readFileSync(join(dir, 'load-order.txt'), 'utf8'), /WARNING: 1 entries.*\n#   ou=sub,cn=app,dc=example,dc=com \(organizational_units\) is below an entry in applications/);
});
