import t from 'tap';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { orderDependencies, type OrderDependenciesOptions, type OrderEvent } from '../../src/transforms/order-dependencies.js';
import { makeEntry, type Batch, type LdifRecord, type Reject, getStrings } from '../../src/entry.js';
import { normalizeDn, parentDn } from '../../src/dn.js';

const stateDir = mkdtempSync(join(tmpdir(), 'ldapflow-order-test-'));

interface Result {
  out: LdifRecord[];
  rejects: Reject[];
  counts: Record<string, number>;
  events: OrderEvent[];
}

async function order(records: LdifRecord[], opts: OrderDependenciesOptions = {}, sinkKind: 'ldif' | 'ldap' = 'ldif', batch = 1000): Promise<Result> {
  const events: OrderEvent[] = [];
  const stage = orderDependencies({ stateDir, ...opts, onEvent: (e) => events.push(e) });
  const ctxRejects: Reject[] = [];
  const counts: Record<string, number> = {};
  const ctx = {
    count(c: string, n = 1) { counts[c] = (counts[c] ?? 0) + n; },
    reject(r: Reject) { ctxRejects.push(r); },
    sinkKind,
    signal: new AbortController().signal,
    stateDir,
  };
  async function* src(): AsyncGenerator<Batch> {
    for (let i = 0, seq = 0; i < records.length; i += batch) yield { seq: seq++, records: records.slice(i, i + batch), rejects: [] };
  }
  const out: LdifRecord[] = [];
  const rejects: Reject[] = [...ctxRejects];
  if (stage.kind !== 'barrier') throw new Error('not a barrier');
  for await (const b of stage.run(src(), ctx)) {
    out.push(...b.records);
    rejects.push(...b.rejects);
    for (const k in b.counts ?? {}) counts[k] = (counts[k] ?? 0) + b.counts![k];
  }
  return { out, rejects, counts, events };
}

/** Every entry's parent is written before it (or is `present`). Returns the number of violations. */
function violations(out: LdifRecord[], present: string[] = []): string[] {
  const seen = new Set(present.map(normalizeDn));
  const bad: string[] = [];
  for (const r of out) {
    if (r.kind === 'change' && r.changetype !== 'add') continue;
    const n = normalizeDn(r.dn);
    const p = parentDn(n);
    if (p && !seen.has(p)) bad.push(r.dn);
    seen.add(n);
  }
  return bad;
}

const e = (dn: string, ...attrs: Array<[string, string | string[]]>) => makeEntry(dn, [['objectClass', 'top'], ...attrs]);
const dns = (rs: LdifRecord[]) => rs.map((r) => r.dn);

t.test('children first: every child waits for its parent and is released as soon as it passes', async (t) => {
  const input = [
    e('uid=a,ou=People,dc=example,dc=com'),
    e('ou=People,dc=example,dc=com'),
    e('uid=b,ou=People,dc=example,dc=com'),
    e('dc=example,dc=com'),
    e('ou=Groups,dc=example,dc=com'),
  ];
  const r = await order(input, { baseDn: 'dc=com' });
  t.same(dns(r.out), [
    'dc=example,dc=com', 'ou=People,dc=example,dc=com', 'uid=a,ou=People,dc=example,dc=com',
    'uid=b,ou=People,dc=example,dc=com', 'ou=Groups,dc=example,dc=com',
  ]);
  t.equal(r.rejects.length, 0);
  t.equal(r.counts.ORDER_CHILD_BEFORE_PARENT, 3, 'uid=a, ou=People and uid=b waited');
});

t.test('deep chain in reverse order, no baseDn: the top entry is taken as rooted in the target', async (t) => {
  const chain: string[] = [];
  let dn = 'dc=example,dc=com';
  chain.push(dn);
  for (let i = 0; i < 300; i++) { dn = `ou=l${i},${dn}`; chain.push(dn); }
  const r = await order(chain.slice().reverse().map((d) => e(d)));
  t.same(dns(r.out), chain);
  t.same(violations(r.out, ['dc=com']), []);
  t.equal(r.counts.ORDER_ROOT_ASSUMED, 1);
  t.equal(r.rejects.length, 0);
});

function bigTree(n: number): LdifRecord[] {
  const recs: LdifRecord[] = [e('dc=example,dc=com'), e('ou=People,dc=example,dc=com')];
  for (let o = 0; o < 20; o++) recs.push(e(`ou=Unit${o},ou=People,dc=example,dc=com`));
  for (let i = 0; recs.length < n; i++) recs.push(e(`uid=user${i},ou=Unit${i % 20},ou=People,dc=example,dc=com`, ['uid', `user${i}`]));
  return recs;
}

t.test('100k entries in reversed order come out complete and parent-first', async (t) => {
  const recs = bigTree(100_000).reverse();
  const r = await order(recs, { baseDn: 'dc=com' });
  t.equal(r.out.length, 100_000);
  t.equal(new Set(r.out.map((x) => normalizeDn(x.dn))).size, 100_000);
  t.same(violations(r.out, ['dc=com']), []);
  t.equal(r.rejects.length, 0);
  t.ok(r.counts.ORDER_CHILD_BEFORE_PARENT >= 99_999, 'everything but the top entry waited');
});

t.test('spill to disk under a tiny buffer limit', async (t) => {
  // Shuffle deterministically so children and parents are mixed, with the root last.
  const recs = bigTree(20_000);
  const root = recs.shift()!;
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = recs.length - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); [recs[i], recs[j]] = [recs[j], recs[i]]; }
  recs.push(root);
  (recs[5] as ReturnType<typeof makeEntry>).attrs.set('jpegphoto', { name: 'jpegPhoto', values: [new Uint8Array([0, 255, 1, 2])] });
  const withPhoto = recs[5].dn;
  const r = await order(recs, { baseDn: 'dc=com', bufferEntries: 100 });
  t.ok(r.counts.ORDER_SPILLED > 15_000, `spilled ${r.counts.ORDER_SPILLED}`);
  t.equal(r.out.length, 20_000);
  t.equal(new Set(r.out.map((x) => normalizeDn(x.dn))).size, 20_000);
  t.same(violations(r.out, ['dc=com']), []);
  t.equal(r.rejects.length, 0);
  const photo = r.out.find((x) => x.dn === withPhoto)! as ReturnType<typeof makeEntry>;
  t.same([...(photo.attrs.get('jpegphoto')!.values[0] as Uint8Array)], [0, 255, 1, 2], 'binary values survive the spill');
  t.same(readdirSync(stateDir).filter((f) => f.startsWith('ldapflow-spill-')), [], 'spill directory removed');
});

t.test('missing parent: rejected with everything below it, or created', async (t) => {
  const input = [
    e('dc=example,dc=com'),
    e('uid=x,ou=Lost,dc=example,dc=com'),
    e('cn=y,uid=x,ou=Lost,dc=example,dc=com'),
    e('uid=z,ou=People,dc=example,dc=com'),
    e('ou=People,dc=example,dc=com'),
  ];
  const r = await order(input, { baseDn: 'dc=com' });
  t.same(dns(r.out), ['dc=example,dc=com', 'ou=People,dc=example,dc=com', 'uid=z,ou=People,dc=example,dc=com']);
  t.same(r.rejects.map((x) => [x.code, x.dn]), [
    ['ORDER_MISSING_PARENT', 'uid=x,ou=Lost,dc=example,dc=com'],
    ['ORDER_MISSING_PARENT', 'cn=y,uid=x,ou=Lost,dc=example,dc=com'],
  ]);
  t.match(r.rejects[0].message, /parent "ou=lost,dc=example,dc=com" is not in the input/);

  const c = await order(input, { baseDn: 'dc=com', createMissingParents: true });
  t.equal(c.rejects.length, 0);
  t.same(violations(c.out, ['dc=com']), []);
  const created = c.out.find((x) => x.dn === 'ou=Lost,dc=example,dc=com') as ReturnType<typeof makeEntry>;
  t.ok(created, 'parent created with the spelling of its child');
  t.same(getStrings(created, 'objectClass'), ['top', 'organizationalUnit']);
  t.same(getStrings(created, 'ou'), ['Lost']);
  t.equal(c.counts.ORDER_PARENT_CREATED, 1);
  t.equal(c.out.length, 6);
});

t.test('entries above the base with the base given: missing parents are rejected, not assumed', async (t) => {
  const r = await order([e('uid=a,ou=Nowhere,dc=other,dc=org')], { baseDn: 'dc=example,dc=com' });
  t.equal(r.out.length, 0);
  t.equal(r.rejects[0]?.code, 'ORDER_MISSING_PARENT');
  t.match(r.rejects[0].message, /not in the target/);
});

t.test('existing parents in the target count as present (list and async check)', async (t) => {
  const input = [e('uid=a,ou=People,dc=example,dc=com'), e('uid=b,ou=Gone,dc=example,dc=com')];
  const asked: string[] = [];
  const r = await order(input, { existing: async (ndn) => { asked.push(ndn); return ndn === 'ou=people,dc=example,dc=com'; } });
  t.same(dns(r.out), ['uid=a,ou=People,dc=example,dc=com']);
  t.equal(r.rejects[0]?.code, 'ORDER_MISSING_PARENT');
  t.ok(asked.includes('ou=people,dc=example,dc=com'));
  const l = await order(input, { existing: ['ou=People,dc=example,dc=com', 'OU=Gone, DC=example,DC=com'] });
  t.equal(l.out.length, 2);
});

t.test('duplicates under DN variants: the later record wins, both lines reported', async (t) => {
  const at = (line: number) => ({ file: 'x.ldif', line, index: line });
  const waiting1 = makeEntry('uid=a,ou=People,dc=example,dc=com', [['cn', 'first']], at(1));
  const waiting2 = makeEntry('UID=A, OU=people,DC=Example,DC=COM', [['cn', 'second']], at(5));
  const root = makeEntry('dc=example,dc=com', [], at(9));
  const ou = makeEntry('ou=People,dc=example,dc=com', [], at(12));
  const passed2 = makeEntry('OU=PEOPLE,dc=example,dc=com', [['description', 'again']], at(20));
  const r = await order([waiting1, waiting2, root, ou, passed2], { baseDn: 'dc=com' });
  t.equal(r.counts.ORDER_DUPLICATE_DN, 2);
  const dup = r.rejects.find((x) => x.code === 'ORDER_DUPLICATE_DN')!;
  t.ok(dup, 'the earlier waiting record is rejected');
  t.equal(dup.origin?.line, 1);
  t.match(dup.message, /x\.ldif:1 and at x\.ldif:5/);
  const users = r.out.filter((x) => normalizeDn(x.dn) === 'uid=a,ou=people,dc=example,dc=com');
  t.equal(users.length, 1);
  t.same(getStrings(users[0] as ReturnType<typeof makeEntry>, 'cn'), ['second']);
  const mod = r.out.find((x) => x.kind === 'change' && x.changetype === 'modify');
  t.ok(mod, 'a duplicate of a written entry becomes a modify');
  t.same(mod && mod.kind === 'change' && mod.changetype === 'modify' ? mod.mods : [], [{ op: 'replace', name: 'description', values: ['again'] }]);
  t.ok(r.events.some((x) => x.code === 'ORDER_DUPLICATE_DN' && /x\.ldif:12 and at x\.ldif:20/.test(x.message)));
  t.same(violations(r.out, ['dc=com']), []);
});

function groupsInput(): LdifRecord[] {
  return [
    e('dc=example,dc=com'),
    e('ou=Groups,dc=example,dc=com'),
    // A group whose members come later, spelled differently; a dangling member; a group in itself; a cycle.
    e('cn=g1,ou=Groups,dc=example,dc=com', ['member', ['UID=Alice, OU=People,DC=EXAMPLE,DC=com', 'uid=ghost,ou=People,dc=example,dc=com', 'cn=g2,ou=groups,dc=example,dc=com']]),
    e('cn=g2,ou=Groups,dc=example,dc=com', ['member', ['cn=G1,ou=Groups,dc=example,dc=com', 'cn=g2,ou=Groups,dc=example,dc=com']]),
    e('ou=People,dc=example,dc=com'),
    e('uid=alice,ou=People,dc=example,dc=com', ['manager', 'uid=bob,ou=people,dc=example,dc=com']),
    e('uid=bob,ou=People,dc=example,dc=com'),
  ];
}

t.test('LDIF sink: a group whose members come later is held, members stay inline in exact spelling', async (t) => {
  const r = await order(groupsInput(), { baseDn: 'dc=com', danglingReferences: 'remove' }, 'ldif');
  t.equal(r.out.length, 7);
  t.same(violations(r.out, ['dc=com']), []);
  const pos = (dn: string) => r.out.findIndex((x) => x.dn === dn);
  t.ok(pos('cn=g1,ou=Groups,dc=example,dc=com') > pos('uid=bob,ou=People,dc=example,dc=com'), 'held until end of input');
  t.equal(r.counts.ORDER_HELD_FOR_REFERENCES, 2, 'g1 (alice, ghost, g2 unseen) and alice (bob unseen) were held');
  const g1 = r.out[pos('cn=g1,ou=Groups,dc=example,dc=com')] as ReturnType<typeof makeEntry>;
  t.same(getStrings(g1, 'member'), ['uid=alice,ou=People,dc=example,dc=com', 'cn=g2,ou=Groups,dc=example,dc=com']);
  const alice = r.out[pos('uid=alice,ou=People,dc=example,dc=com')] as ReturnType<typeof makeEntry>;
  t.same(getStrings(alice, 'manager'), ['uid=bob,ou=People,dc=example,dc=com']);
  t.equal(r.counts.REF_DANGLING, 1);
  t.equal(r.counts.REF_DANGLING_REMOVED, 1);
  t.same(r.events.filter((x) => x.code === 'REF_DANGLING').map((x) => [x.dn, x.value]), [['cn=g1,ou=Groups,dc=example,dc=com', 'uid=ghost,ou=People,dc=example,dc=com']]);
  t.notOk(r.out.some((x) => x.kind === 'change'), 'no modify records for an LDIF sink');
  const k = await order(groupsInput(), { baseDn: 'dc=com', danglingReferences: 'keep' }, 'ldif');
  const g1k = k.out.find((x) => x.dn === 'cn=g1,ou=Groups,dc=example,dc=com') as ReturnType<typeof makeEntry>;
  t.ok(getStrings(g1k, 'member').includes('uid=ghost,ou=People,dc=example,dc=com'), 'kept');
  t.equal(k.counts.REF_DANGLING_REMOVED, undefined);
});

t.test('LDAP sink: members not yet written are added by modify after their targets; cycles load', async (t) => {
  const r = await order(groupsInput(), { baseDn: 'dc=com', danglingReferences: 'remove' }, 'ldap');
  t.same(violations(r.out, ['dc=com']), []);
  // Simulate a server that checks references: every DN value must name an entry written before.
  const written = new Set<string>(['dc=com']);
  const bad: string[] = [];
  const members = new Map<string, Set<string>>();
  for (const x of r.out) {
    if (x.kind === 'entry') {
      for (const name of ['member', 'manager']) for (const v of getStrings(x, name)) {
        if (!written.has(normalizeDn(v)) && normalizeDn(v) !== normalizeDn(x.dn)) bad.push(`${x.dn} ${name} ${v}`);
        if (name === 'member') (members.get(x.dn) ?? members.set(x.dn, new Set()).get(x.dn)!).add(v);
      }
      written.add(normalizeDn(x.dn));
    } else if (x.changetype === 'modify') {
      t.ok(written.has(normalizeDn(x.dn)), `modify of a written entry ${x.dn}`);
      for (const m of x.mods) for (const v of m.values) {
        if (!written.has(normalizeDn(v as string))) bad.push(`${x.dn} +${m.name} ${v}`);
        if (m.name === 'member') (members.get(x.dn) ?? members.set(x.dn, new Set()).get(x.dn)!).add(v as string);
      }
    }
  }
  t.same(bad, ['cn=g1,ou=Groups,dc=example,dc=com member UID=Alice, OU=People,DC=EXAMPLE,DC=com'], 'only the value kept inline so the group has a member names an entry not yet written');
  t.same([...members.get('cn=g1,ou=Groups,dc=example,dc=com')!].sort(), ['UID=Alice, OU=People,DC=EXAMPLE,DC=com', 'cn=g2,ou=Groups,dc=example,dc=com']);
  t.same([...members.get('cn=g2,ou=Groups,dc=example,dc=com')!].sort(), ['cn=g1,ou=Groups,dc=example,dc=com', 'cn=g2,ou=Groups,dc=example,dc=com']);
  t.ok(r.counts.ORDER_REFERENCE_DEFERRED >= 2);
  t.equal(r.counts.REF_DANGLING, 1);
  t.equal(r.rejects.length, 0);
});

t.test('without baseDn a suffix-first export streams: the domain-only top entry passes at once', async (t) => {
  const r = await order(bigTree(3000));
  t.equal(r.out.length, 3000);
  t.equal(r.counts.ORDER_CHILD_BEFORE_PARENT, undefined, 'nothing waited');
  t.equal(r.counts.ORDER_ROOT_ASSUMED, 1);
  t.match(r.events.find((x) => x.code === 'ORDER_ROOT_ASSUMED')?.message ?? '', /taken as existing in the target/);
});

t.test('danglingReferences reject: the entry goes to the rejects with its dangling values named', async (t) => {
  const r = await order(groupsInput(), { baseDn: 'dc=com', danglingReferences: 'reject' }, 'ldif');
  t.same(r.rejects.map((x) => [x.code, x.dn]), [['REF_DANGLING', 'cn=g1,ou=Groups,dc=example,dc=com']]);
  t.match(r.rejects[0].message, /member: uid=ghost,ou=People,dc=example,dc=com/);
  t.equal(r.out.length, 6);
});

t.test('a duplicate of a spilled record replaces it on disk; the byte budget spills too', async (t) => {
  const recs: LdifRecord[] = [];
  for (let i = 0; i < 300; i++) recs.push(e(`uid=u${i},ou=People,dc=example,dc=com`, ['description', `first ${i}`]));
  recs.push(e('UID=U299, OU=People, DC=example, DC=com', ['description', 'second 299']));
  recs.push(e('ou=People,dc=example,dc=com'), e('dc=example,dc=com'));
  const r = await order(recs, { baseDn: 'dc=com', bufferEntries: 10 });
  t.ok(r.counts.ORDER_SPILLED >= 290);
  t.equal(r.out.length, 302);
  t.same(r.rejects.map((x) => [x.code, x.dn]), [['ORDER_DUPLICATE_DN', 'uid=u299,ou=People,dc=example,dc=com']]);
  const u = r.out.find((x) => normalizeDn(x.dn) === 'uid=u299,ou=people,dc=example,dc=com') as ReturnType<typeof makeEntry>;
  t.same(getStrings(u, 'description'), ['second 299']);
  const b = await order(recs, { baseDn: 'dc=com', bufferBytes: 20_000 });
  t.ok(b.counts.ORDER_SPILLED > 200, `spilled ${b.counts.ORDER_SPILLED} by bytes`);
  t.equal(b.out.length, 302);
  t.same(violations(b.out, ['dc=com']), []);
});

/** Late parents, groups that wait for a parent and for references, held records passed out of input order, duplicates
 * of a waiting and of a held record, and children of a parent that never comes. */
function spillInput(): LdifRecord[] {
  const at = (line: number) => ({ file: 's.ldif', line, index: line });
  const recs: LdifRecord[] = [e('dc=example,dc=com'), e('ou=Groups,dc=example,dc=com')];
  // With room for 7: s0-s4, x0 and x1 in memory, x2-x4, s5 and s6 on disk; ou=X frees room for s7 and s8.
  const slow = (i: number) => e(`uid=s${i},ou=Slow,dc=example,dc=com`);
  for (let i = 0; i < 5; i++) recs.push(slow(i));
  for (let i = 0; i < 5; i++) recs.push(e(`uid=x${i},ou=X,dc=example,dc=com`));
  recs.push(slow(5), slow(6), e('ou=X,dc=example,dc=com'), slow(7), slow(8), e('ou=Slow,dc=example,dc=com'));
  for (let o = 0; o < 5; o++) {
    for (let i = 0; i < 30; i++) recs.push(e(`uid=u${o}x${i},ou=Late${o},dc=example,dc=com`, ['description', `user ${o} ${i}`]));
    // Waits for its parent, then is held for a member written later.
    recs.push(e(`cn=g${o},ou=Late${o},dc=example,dc=com`, ['member', `uid=p${o},ou=People,dc=example,dc=com`]));
    if (o < 4) recs.push(e(`ou=Late${o},dc=example,dc=com`));
  }
  recs.push(makeEntry('UID=U1X3, OU=Late1,DC=example,DC=com', [['description', 'second']], at(7)));
  for (let g = 0; g < 40; g++) {
    recs.push(e(`cn=h${g},ou=Groups,dc=example,dc=com`, ['member', [`uid=p${g % 7},ou=People,dc=example,dc=com`, `UID=U0X${g % 30}, OU=Late0,DC=example,DC=com`]]));
  }
  recs.push(e('ou=Late4,dc=example,dc=com')); // g4 is held after every h group, though it came before them
  recs.push(e('CN=H5,ou=Groups,dc=example,dc=com', ['member', 'uid=p6,ou=People,dc=example,dc=com'], ['description', 'second']));
  for (let i = 0; i < 25; i++) recs.push(e(`uid=lost${i},ou=Gone,dc=example,dc=com`));
  recs.push(e('ou=People,dc=example,dc=com'));
  for (let p = 0; p < 7; p++) recs.push(e(`uid=p${p},ou=People,dc=example,dc=com`));
  return recs;
}

function dump(r: LdifRecord): string {
  const attrs = 'attrs' in r ? [...r.attrs.values()].map((a) => [a.name, a.values.map((v) => (typeof v === 'string' ? v : [...v]))]) : null;
  return JSON.stringify([r.kind, r.kind === 'change' ? r.changetype : '', r.dn, attrs, r.kind === 'change' && r.changetype === 'modify' ? r.mods : null]);
}

t.test('the output does not depend on the buffer: records from memory and from disk come out in the same order', async (t) => {
  for (const sink of ['ldif', 'ldap'] as const) {
    const all = await order(spillInput(), { baseDn: 'dc=com' }, sink);
    t.equal(all.counts.ORDER_SPILLED, undefined, `${sink}: nothing spilled with the default buffer`);
    t.ok(all.counts.ORDER_CHILD_BEFORE_PARENT >= 160);
    if (sink === 'ldif') t.ok(all.counts.ORDER_HELD_FOR_REFERENCES >= 45);
    t.equal(all.rejects.filter((x) => x.code === 'ORDER_MISSING_PARENT').length, 25);
    t.same(violations(all.out, ['dc=com']), []);
    for (const opts of [{ bufferEntries: 1 }, { bufferEntries: 7 }, { bufferEntries: 20 }, { bufferBytes: 3000 }]) {
      const r = await order(spillInput(), { baseDn: 'dc=com', ...opts }, sink);
      t.ok(r.counts.ORDER_SPILLED > 0, `${sink} ${JSON.stringify(opts)}: spilled ${r.counts.ORDER_SPILLED}`);
      t.same(r.out.map(dump), all.out.map(dump), `${sink} ${JSON.stringify(opts)}: the same records in the same order`);
      t.same(r.rejects.map((x) => [x.code, x.dn, x.message]), all.rejects.map((x) => [x.code, x.dn, x.message]), 'the same rejects in the same order');
    }
  }
  t.same(readdirSync(stateDir).filter((f) => f.startsWith('ldapflow-spill-')), [], 'spill directories removed');
});

t.test('records held for references take at most half of the buffer: children waiting on a parent keep the rest', async (t) => {
  const input = () => {
    const recs: LdifRecord[] = [e('dc=example,dc=com'), e('ou=Groups,dc=example,dc=com')];
    for (let g = 0; g < 20; g++) recs.push(e(`cn=g${g},ou=Groups,dc=example,dc=com`, ['member', `uid=p${g},ou=People,dc=example,dc=com`]));
    for (const unit of ['A', 'B']) {
      for (let i = 0; i < 5; i++) recs.push(e(`uid=${unit}${i},ou=${unit},dc=example,dc=com`));
      recs.push(e(`ou=${unit},dc=example,dc=com`));
    }
    recs.push(e('ou=People,dc=example,dc=com'));
    for (let g = 0; g < 20; g++) recs.push(e(`uid=p${g},ou=People,dc=example,dc=com`));
    return recs;
  };
  const r = await order(input(), { baseDn: 'dc=com', bufferEntries: 10 });
  t.equal(r.counts.ORDER_HELD_FOR_REFERENCES, 20);
  t.equal(r.counts.ORDER_CHILD_BEFORE_PARENT, 10);
  t.equal(r.counts.ORDER_SPILLED, 15, '5 held groups in memory, 15 on disk; the waiting children all in memory');
  t.equal(r.out.length, input().length);
  t.same(r.out.map(dump), (await order(input(), { baseDn: 'dc=com' })).out.map(dump));
});

t.test('a held record on disk replaced by a later one with its DN: the later one takes its place, the earlier is rejected', async (t) => {
  const input = () => {
    const recs: LdifRecord[] = [e('dc=example,dc=com'), e('ou=Groups,dc=example,dc=com')];
    for (let g = 0; g < 20; g++) recs.push(e(`cn=g${g},ou=Groups,dc=example,dc=com`, ['member', `uid=p${g},ou=People,dc=example,dc=com`]));
    // Twice each: a group held on disk (g17) and one held in memory (g2), both replaced while held.
    recs.push(e('CN=G17,ou=Groups,dc=example,dc=com', ['member', 'uid=p1,ou=People,dc=example,dc=com'], ['description', 'second']));
    recs.push(e('cn=g2,ou=Groups,dc=example,dc=com', ['member', 'uid=p3,ou=People,dc=example,dc=com'], ['description', 'second']));
    recs.push(e('ou=People,dc=example,dc=com'));
    for (let g = 0; g < 20; g++) recs.push(e(`uid=p${g},ou=People,dc=example,dc=com`));
    return recs;
  };
  const small = await order(input(), { baseDn: 'dc=com', bufferEntries: 10 });
  const big = await order(input(), { baseDn: 'dc=com' });
  t.ok(small.counts.ORDER_SPILLED > 0, `spilled ${small.counts.ORDER_SPILLED}`);
  t.equal(big.counts.ORDER_SPILLED, undefined, 'nothing spilled with the default buffer');
  for (const r of [small, big]) {
    t.same(r.rejects.map((x) => [x.code, x.dn]).sort(), [['ORDER_DUPLICATE_DN', 'cn=g17,ou=Groups,dc=example,dc=com'], ['ORDER_DUPLICATE_DN', 'cn=g2,ou=Groups,dc=example,dc=com']], 'the earlier records are rejected');
    const g17 = r.out.find((x) => x.dn.toLowerCase() === 'cn=g17,ou=groups,dc=example,dc=com')!;
    t.equal(g17.dn, 'CN=G17,ou=Groups,dc=example,dc=com', 'the later g17 is written');
    t.same(getStrings(g17 as never, 'description'), ['second'], 'with its own attributes');
  }
  t.same(small.out.map(dump), big.out.map(dump), 'from disk and from memory: the same records in the same order');
});

t.test('exact spellings of DNs, kept off the heap', async (t) => {
  const { Spellings } = await import('../../src/transforms/order-dependencies.js');
  const sp = new Spellings();
  const cases: Array<[string, string]> = [
    ['uid=a,ou=people,dc=example,dc=com', 'uid=a,ou=people,dc=example,dc=com'],
    ['UID=Alice,OU=People,DC=Example,DC=COM', 'uid=alice,ou=people,dc=example,dc=com'],
    ['cn=José Ávila,ou=Vendas,dc=example,dc=com', 'cn=josé ávila,ou=vendas,dc=example,dc=com'],
    ['cn=\u{10400}x,dc=com', 'cn=\u{10428}x,dc=com'], // a case pair outside the BMP: surrogates differ
    ['UID=A, OU=People,DC=example,DC=com', 'uid=a,ou=people,dc=example,dc=com'],
    ['CN=' + 'X'.repeat(300) + ',DC=com', 'cn=' + 'x'.repeat(300) + ',dc=com'],
  ];
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 5000; i++) {
      const [dn, ndn] = cases[(i + round) % cases.length];
      sp.set(i, dn, ndn);
    }
    let wrong = 0;
    for (let i = 0; i < 5000; i++) {
      const [dn, ndn] = cases[(i + round) % cases.length];
      if (sp.get(i, ndn) !== dn) wrong++;
    }
    t.equal(wrong, 0, `round ${round}: every spelling comes back (the second round overwrites each one with another kind)`);
  }
  // As a worker gives them (setDiffs): the (position, character) pairs where the DN differs from its normalized form,
  // over slots that held another kind before.
  for (let i = 0; i < 5000; i++) {
    const [dn, ndn] = cases[(i + 1) % 3];
    const d: number[] = [7, 7]; // what comes before them in the worker's numbers
    for (let k = 0; k < dn.length; k++) if (dn.charCodeAt(k) !== ndn.charCodeAt(k)) d.push(k, dn.charCodeAt(k));
    sp.setDiffs(i, Int32Array.from(d), 2, (d.length - 2) / 2, dn, ndn);
  }
  let wrong = 0;
  for (let i = 0; i < 5000; i++) if (sp.get(i, cases[(i + 1) % 3][1]) !== cases[(i + 1) % 3][0]) wrong++;
  t.equal(wrong, 0, 'spellings given as differences come back, none among them included');
});

t.test('bad options name the option', async (t) => {
  for (const [o, re] of [
    [{ bufferEntries: 0 }, /bufferEntries/],
    [{ danglingReferences: 'drop' }, /danglingReferences/],
    [{ baseDn: 'not a dn' }, /baseDn/],
    [{ existing: 42 }, /existing/],
  ] as const) {
    let err: unknown;
    try { orderDependencies(o as never); } catch (x) { err = x; }
    t.match((err as Error)?.message, re);
    t.equal((err as { code?: string })?.code, 'OPTION_INVALID');
  }
});

t.test('the DN index: 200k DNs, growth, no false hits, ordinals in the order added', async (t) => {
  const { DnIndex } = await import('../../src/transforms/order-dependencies.js');
  const ix = new DnIndex();
  let wrong = 0;
  for (let i = 0; i < 200_000; i++) if (ix.add(`uid=u${i},ou=people,dc=example,dc=com`) !== i) wrong++;
  t.equal(wrong, 0, 'each new DN gets the next ordinal');
  t.equal(ix.size, 200_000);
  for (let i = 0; i < 200_000; i++) if (ix.get(`uid=u${i},ou=people,dc=example,dc=com`) !== i) wrong++;
  for (let i = 200_000; i < 400_000; i++) if (ix.has(`uid=u${i},ou=people,dc=example,dc=com`)) wrong++;
  t.equal(wrong, 0);
  t.equal(ix.add('uid=u7,ou=people,dc=example,dc=com'), 7, 'a DN added again keeps its ordinal');
  t.equal(ix.size, 200_000);
  t.equal(ix.add('uid=new,ou=people,dc=example,dc=com'), 200_000);
  t.equal(ix.get('uid=new,ou=people,dc=example,dc=com'), 200_000);
});

t.test('text entries (workers) and plain records decide references alike, a target included', async (t) => {
  const { encodeTextRecords, decodeTextRecords } = await import('../../src/transforms/text-record.js');
  const { formatRecordsToBuffer } = await import('../../src/sinks/ldif-format.js');
  // Groups held for members that come after them, members in the target only (under the base DN, or said to exist by
  // the `existing` function), re-spelled, dangling, not DNs, and one group whose members all dangle (emptied).
  const recs: LdifRecord[] = [e('dc=example,dc=com'), e('ou=Groups,dc=example,dc=com'), e('ou=People,dc=example,dc=com')];
  for (let g = 0; g < 12; g++) {
    const m: string[] = [];
    for (let k = 0; k < 9; k++) m.push(k % 3 === 0 ? `UID=U${g + k},OU=People,DC=example,DC=com` : `uid=u${g + k},ou=People,dc=example,dc=com`);
    if (g % 2 === 0) m.push('cn=in target,ou=Elsewhere,dc=example,dc=com'); // `existing` says yes
    if (g % 3 === 0) m.push('dc=example,dc=com'); // the base DN itself
    if (g % 4 === 0) m.push('uid=ghost,ou=People,dc=example,dc=com');
    if (g % 5 === 0) m.push('not a dn');
    recs.push(e(`cn=g${g},ou=Groups,dc=example,dc=com`, ['cn', `g${g}`], ['member', m]));
  }
  recs.push(e('cn=ghosts,ou=Groups,dc=example,dc=com', ['cn', 'ghosts'], ['member', ['uid=ghost1,ou=People,dc=example,dc=com', 'uid=ghost2,ou=People,dc=example,dc=com']]));
  for (let u = 0; u < 25; u++) recs.push(e(`uid=u${u},ou=People,dc=example,dc=com`, ['uid', `u${u}`], ['manager', `UID=U${(u + 3) % 25},ou=People,dc=example,dc=com`]));
  // After the users: members all known but the base DN's parent (in the target, not held), and one dangling (held).
  recs.push(e('cn=late,ou=Groups,dc=example,dc=com', ['cn', 'late'], ['member', ['uid=u1,ou=People,dc=example,dc=com', 'DC=com']]));
  recs.push(e('cn=late2,ou=Groups,dc=example,dc=com', ['cn', 'late2'], ['member', ['uid=u2,ou=People,dc=example,dc=com', 'uid=late ghost,dc=example,dc=com']]));
  const existingFn = async (ndn: string) => ndn.endsWith('ou=elsewhere,dc=example,dc=com');
  // With the target asked (existing) and without (only the base DN is there: judged by hash, no text read).
  for (const [dangling, existing] of [['remove', existingFn], ['keep', existingFn], ['remove', undefined], ['keep', undefined]] as const) {
    const opts = { baseDn: 'dc=example,dc=com', existing, danglingReferences: dangling, batchSize: 7 };
    const plain = await order(recs.map((r) => structuredClone(r)), opts, 'ldif', 10);
    const { wire, buf, len } = encodeTextRecords(recs.map((r) => structuredClone(r)), 76, ['member', 'manager']);
    const text = decodeTextRecords(wire, buf.subarray(0, len), 76, 'in.ldif', 0, 0);
    t.ok(text.filter((r) => r.constructor.name === 'TextEntry').length >= recs.length - 1, 'text entries go in');
    const got = await order(text, opts, 'ldif', 10);
    const ldif = (rs: LdifRecord[]) => { const o = formatRecordsToBuffer(rs); return o.buf.subarray(0, o.len).toString(); };
    t.equal(ldif(got.out), ldif(plain.out), `${dangling}: the same output`);
    t.same(got.counts, plain.counts, `${dangling}: the same counts`);
    t.same(got.events.map((x) => [x.code, x.dn, x.message]), plain.events.map((x) => [x.code, x.dn, x.message]), `${dangling}: the same events`);
    for (const code of ['ORDER_HELD_FOR_REFERENCES', 'REF_REWRITTEN', 'REF_DANGLING', 'REF_INVALID_DN']) t.ok(got.counts[code] > 0, `${dangling}: ${code} (${got.counts[code]})`);
    if (dangling === 'remove') t.ok(got.counts.REF_ATTRIBUTE_EMPTIED > 0, 'an attribute emptied of dangling values');
    if (existing || dangling === 'keep') t.ok(ldif(got.out).includes('member: cn=in target,ou=Elsewhere,dc=example,dc=com'), 'a member in the target is kept');
    else t.notOk(ldif(got.out).includes('cn=in target'), 'a member in no target is removed');
    t.ok(ldif(got.out).includes('member: dc=example,dc=com'), 'the base DN as a member is kept, re-spelled');
    const late = got.out.findIndex((r) => r.dn === 'cn=late,ou=Groups,dc=example,dc=com');
    const late2 = got.out.findIndex((r) => r.dn === 'cn=late2,ou=Groups,dc=example,dc=com');
    t.ok(late >= 0 && late < late2 && late2 === got.out.length - 1, `${dangling}: a group whose only unknown member is above the base DN passes in place; one with a dangling member is held to the end`);
  }
});
