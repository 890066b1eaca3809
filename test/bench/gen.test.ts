/**
 * bench/gen.ts: deterministic for a seed, and its ground truth agrees with what it wrote, checked by re-reading the
 * output independently (a small LDIF reader here, DN normalization from src/dn.ts) and with the project's LDIF parser.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate, parseArgs, type Truth } from '../../bench/gen.js';
import { normalizeDn, parentDn } from '../../src/dn.js';
import { parseLdifText } from '../../src/sources/ldif-parser.js';

interface Rec {
  dn: string;
  line: number;
  attrs: Map<string, Array<string | Buffer>>;
}

/** A deliberately simple reader for what gen.ts writes: unfold, skip comments, decode base64. */
function readRecords(text: string): Rec[] {
  const lines = text.split('\n');
  const recs: Rec[] = [];
  let cur: Rec | null = null;
  let logical: { text: string; line: number } | null = null;
  const flush = () => {
    if (!logical) return;
    const s = logical.text;
    const colon = s.indexOf(':');
    const name = s.slice(0, colon).toLowerCase();
    let value: string | Buffer;
    if (s[colon + 1] === ':') {
      const bytes = Buffer.from(s.slice(colon + 2).trim(), 'base64');
      const str = bytes.toString('utf8');
      value = Buffer.from(str, 'utf8').equals(bytes) ? str : bytes;
    } else value = s.slice(colon + 1).replace(/^ +/, '');
    if (name === 'dn') {
      cur = { dn: value as string, line: logical.line, attrs: new Map() };
      recs.push(cur);
    } else if (name !== 'version' || cur) {
      if (!cur) throw new Error(`line ${logical.line}: attribute before dn`);
      const a = cur.attrs.get(name) ?? [];
      a.push(value);
      cur.attrs.set(name, a);
    }
    logical = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l === '') { flush(); cur = null; continue; }
    if (l[0] === '#') continue;
    if (l[0] === ' ') {
      if (!logical) throw new Error(`line ${i + 1}: continuation without a line`);
      logical.text += l.slice(1);
      continue;
    }
    flush();
    logical = { text: l, line: i + 1 };
  }
  flush();
  return recs;
}

const strs = (r: Rec, name: string): string[] => (r.attrs.get(name) ?? []).map((v) => (typeof v === 'string' ? v : v.toString('utf8')));

const CATEGORY_RULES: Array<[string, string[]]> = [
  ['users', ['person', 'organizationalperson', 'inetorgperson', 'orcluser', 'orcluserv2']],
  ['groups', ['groupofuniquenames', 'groupofnames', 'orclgroup']],
  ['applications', ['orclapplicationentity']],
  ['services', ['orclnetservice']],
  ['policies', ['pwdpolicy', 'orclpwdpolicy']],
  ['organizational_units', ['organizationalunit']],
  ['containers', ['orclcontainer', 'domain']],
];
const EXCLUDED = ['orclApplicationEntity', 'orclNetService', 'orclReferenceObject'];

/** Everything the truth file claims, recomputed from the records. */
function recompute(recs: Rec[]) {
  const firstPos = new Map<string, number>();
  const ndns = recs.map((r) => normalizeDn(r.dn));
  ndns.forEach((n, i) => { if (!firstPos.has(n)) firstPos.set(n, i); });
  const categories: Record<string, number> = {};
  const excludedBy: Record<string, number> = {};
  let outOfOrder = 0;
  let dangling = 0;
  let forward = 0;
  let variants = 0;
  const danglingByEntry: Record<string, number> = {};
  const duplicates: Array<{ first: number; second: number }> = [];
  const edges = new Map<string, string[]>(); // group ndn -> group ndns it names
  recs.forEach((r, i) => {
    const ocs = strs(r, 'objectclass').map((s) => s.toLowerCase());
    const cat = CATEGORY_RULES.find(([, list]) => list.some((c) => ocs.includes(c)))?.[0] ?? 'unknown';
    categories[cat] = (categories[cat] ?? 0) + 1;
    const ex = EXCLUDED.find((c) => ocs.includes(c.toLowerCase()));
    if (ex) excludedBy[ex] = (excludedBy[ex] ?? 0) + 1;
    const p = firstPos.get(normalizeDn(parentDn(r.dn)));
    if (p !== undefined && p > i) outOfOrder++;
    if (firstPos.get(ndns[i])! < i) duplicates.push({ first: firstPos.get(ndns[i])!, second: i });
    for (const attr of ['member', 'uniquemember', 'manager']) {
      for (const v of strs(r, attr)) {
        const nv = normalizeDn(v);
        const at = firstPos.get(nv);
        if (at === undefined) {
          dangling++;
          danglingByEntry[r.dn] = (danglingByEntry[r.dn] ?? 0) + 1;
          continue;
        }
        if (at > i) forward++;
        if (attr !== 'manager' && v !== recs[at].dn) variants++;
        if (attr !== 'manager' && strs(recs[at], 'objectclass').some((c) => /^(groupofuniquenames|groupofnames)$/i.test(c))) {
          const e = edges.get(ndns[i]) ?? [];
          e.push(nv);
          edges.set(ndns[i], e);
        }
      }
    }
  });
  return { categories, excludedBy, outOfOrder, dangling, danglingByEntry, forward, variants, duplicates, edges, ndns, firstPos };
}

/** Strongly connected components that hold a cycle (size > 1, or a self-loop), as sorted lists of normalized DNs. */
function cyclicComponents(edges: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string) => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) { strong(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do { w = stack.pop()!; on.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1 || (edges.get(v) ?? []).includes(v)) out.push(comp.sort());
    }
  };
  for (const v of edges.keys()) if (!idx.has(v)) strong(v);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

async function gen(dir: string, name: string, entries: number, seed: number, outOfOrder: number) {
  const out = join(dir, name + '.ldif');
  const truthFile = join(dir, name + '.json');
  const truth = await generate({ entries, out, seed, outOfOrder, truth: truthFile });
  return { out, truth, truthFile, bytes: readFileSync(out) };
}

t.test('same seed gives the same bytes and truth; another seed does not', async (t) => {
  const dir = t.testdir();
  const a = await gen(dir, 'a', 3000, 42, 0.05);
  const b = await gen(dir, 'b', 3000, 42, 0.05);
  const c = await gen(dir, 'c', 3000, 43, 0.05);
  t.ok(a.bytes.equals(b.bytes), 'identical output for the same seed');
  t.equal(readFileSync(a.truthFile, 'utf8'), readFileSync(b.truthFile, 'utf8'), 'identical truth for the same seed');
  t.notOk(a.bytes.equals(c.bytes), 'different output for another seed');
  t.same(JSON.parse(readFileSync(a.truthFile, 'utf8')), a.truth, 'truth file is the returned truth');
});

for (const [entries, f, seed] of [[5000, 0.05, 7], [2000, 0, 1], [1500, 0.3, 99]] as const) {
  t.test(`truth agrees with the output: ${entries} entries, out-of-order ${f}`, async (t) => {
    const dir = t.testdir();
    const { truth, bytes } = await gen(dir, 'x', entries, seed, f);
    const text = bytes.toString('utf8');
    t.ok(text.startsWith('version: 1\n'), 'starts with version: 1');
    t.equal(truth.bytes, bytes.length, 'truth.bytes is the file size');
    const recs = readRecords(text);
    const got = recompute(recs);

    t.equal(recs.length, entries, 'exactly --entries records');
    t.equal(truth.entries, entries);
    t.equal(truth.outOfOrder, Math.round(f * entries), 'out-of-order count is the fraction asked');
    t.equal(got.outOfOrder, truth.outOfOrder, 'out-of-order count recomputed from the file');
    t.same(got.categories, Object.fromEntries(Object.entries(truth.categories).filter(([, v]) => v > 0)), 'categories');
    t.equal(Object.values(truth.categories).reduce((x, y) => x + y, 0), entries, 'categories sum to entries');
    t.same(got.excludedBy, truth.excludedByObjectClass, 'excluded by objectClass');
    t.equal(truth.excluded, Object.values(truth.excludedByObjectClass).reduce((x, y) => x + y, 0));
    t.equal(got.dangling, truth.danglingReferences, 'dangling references');
    t.ok(truth.danglingReferences > 0, 'there are dangling references');
    t.same(got.danglingByEntry, truth.danglingByEntry, 'dangling references per entry');
    t.equal(got.forward, truth.forwardReferences, 'forward references');
    t.ok(truth.forwardReferences > 0, 'there are forward references');
    t.equal(got.variants, truth.referenceVariants, 'references in another spelling');

    t.equal(got.duplicates.length, truth.duplicates, 'duplicates');
    t.equal(truth.uniqueEntries, entries - truth.duplicates);
    t.ok(truth.duplicates >= 1, 'at least one duplicate');
    for (const d of truth.duplicateList) {
      t.equal(recs[d.firstIndex].dn, d.dn, 'first record of a duplicate');
      t.equal(recs[d.secondIndex].dn, d.duplicateDn, 'second record of a duplicate');
      t.equal(recs[d.firstIndex].line, d.firstLine, 'line of the first dn');
      t.equal(recs[d.secondIndex].line, d.secondLine, 'line of the second dn');
      t.not(d.dn, d.duplicateDn, 'spelled differently');
      t.equal(normalizeDn(d.dn), normalizeDn(d.duplicateDn), 'same entry');
    }

    // Cycles: each listed cycle is a real cycle in edge order, and they are exactly the cyclic components.
    const n = (dn: string) => normalizeDn(dn);
    for (const c of truth.cycles) {
      c.forEach((dn, k) => {
        const to = n(c[(k + 1) % c.length]);
        t.ok((got.edges.get(n(dn)) ?? []).includes(to), `edge ${dn} -> ${c[(k + 1) % c.length]}`);
      });
      t.ok(got.firstPos.get(n(c[0]))! === Math.min(...c.map((dn) => got.firstPos.get(n(dn))!)), 'cycle starts with the first written');
    }
    t.same(cyclicComponents(got.edges), truth.cycles.map((c) => c.map(n).sort()).sort((a, b) => (a[0] < b[0] ? -1 : 1)),
      'cycles are exactly the cyclic components');
    if (entries >= 2000) t.ok(truth.cycles.some((c) => c.length === 1) && truth.cycles.some((c) => c.length === 2) &&
      truth.cycles.some((c) => c.length === 3), 'self-loop, pair and triangle');

    // What makes it realistic.
    t.ok(truth.base64Dns > 0 && /^dn:: /m.test(text), 'base64 DNs');
    t.match(text, /^cn:: /m, 'base64 cn values');
    t.ok(recs.some((r) => (r.attrs.get('jpegphoto') ?? []).some((v) => Buffer.isBuffer(v))), 'binary jpegPhoto that is not UTF-8');
    t.match(text, /^orclACI: .*\n /m, 'folded orclACI');
    t.ok(text.split('\n').every((l) => Buffer.byteLength(l) <= 76 || !/^[\x20-\x7e]*$/.test(l)), 'ASCII lines fit in 76 columns');
    t.ok(recs.some((r) => strs(r, 'objectclass').includes('organizationalUnit') && strs(r, 'objectclass').includes('orclContainer') &&
      r.attrs.has('cn')), 'OU that is also an orclContainer with a cn');
    const groupSizes = recs.filter((r) => r.attrs.has('uniquemember')).map((r) => r.attrs.get('uniquemember')!.length);
    t.ok(groupSizes.length > 0 && Math.min(...groupSizes) >= 50, 'groups of 50+ members');
    const perEntry = bytes.length / entries;
    t.ok(perEntry > 1400 && perEntry < 2300, `about 1.8 KB per entry (${perEntry.toFixed(0)})`);

    // The project's own LDIF parser reads every record, with no reject, binary kept as bytes.
    const parsed = parseLdifText(bytes, { file: 'gen.ldif' });
    t.equal(parsed.rejects.length, 0, 'no rejects from the LDIF parser');
    t.equal(parsed.records.length, entries, 'the LDIF parser reads every record');
    t.same(parsed.records.map((r) => r.dn), recs.map((r) => r.dn), 'same DNs in the same order');
    const photo = parsed.records.map((r) => (r.kind === 'entry' ? r.attrs.get('jpegphoto') : undefined)).find((a) => a);
    t.ok(photo && photo.values[0] instanceof Uint8Array, 'jpegPhoto parsed as bytes');
  });
}

t.test('an out-of-order fraction the users cannot carry is an error', async (t) => {
  const dir = t.testdir();
  await t.rejects(generate({ entries: 200, out: join(dir, 'x.ldif'), outOfOrder: 0.97 }), /too large/);
  await t.rejects(generate({ entries: 10, out: join(dir, 'y.ldif') }), /--entries/);
});

t.test('flags', async (t) => {
  t.same(parseArgs(['--entries', '1000', '--out', 'x.ldif', '--seed', '5', '--out-of-order', '0.05', '--truth', 't.json']),
    { entries: 1000, out: 'x.ldif', seed: 5, outOfOrder: 0.05, truth: 't.json' });
  t.same(parseArgs(['--entries=20000', '--out=-']), { entries: 20000, out: '-' });
});

export type { Truth };
