/**
 * Runs one case of the peer LDIF conformance corpus (../shared/conformance/ldif) through ldapflow's parser and
 * compares with what the peer asserts. Returns null when it matches, else a description of the difference.
 */
import { readFileSync } from 'node:fs';
import { parseLdifText } from '../../src/sources/ldif-parser.js';
import type { LdifRecord, Value } from '../../src/entry.js';

export interface Expect {
  source: string;
  kind: 'content' | 'changes' | 'mixed' | 'error';
  mode: 'entries' | 'changes' | 'auto';
  records: any[];
  errorAfterRecords?: number;
  urlFixtures?: Record<string, string | null>;
}

const b64 = (v: Value): string => Buffer.from(typeof v === 'string' ? Buffer.from(v, 'utf8') : v).toString('base64');

function attrsOf(attrs: Map<string, { name: string; values: Value[] }>): Record<string, string[]> {
  const o: Record<string, string[]> = {};
  for (const a of attrs.values()) o[a.name.toLowerCase()] = a.values.map(b64);
  return o;
}
function expAttrs(pairs: [string, string][]): Record<string, string[]> {
  const o: Record<string, string[]> = {};
  for (const [n, v] of pairs) (o[n.toLowerCase()] ??= []).push(v);
  return o;
}

export function toComparable(r: LdifRecord): any {
  if (r.kind === 'entry') return { dn: r.dn, attrs: attrsOf(r.attrs) };
  const base: any = {
    dn: r.dn, changetype: r.changetype,
    controls: (r.controls ?? []).map((c) => ({ oid: c.oid, criticality: c.criticality, value: c.value === null ? null : b64(c.value) })),
  };
  if (r.changetype === 'add') base.attrs = attrsOf(r.attrs);
  if (r.changetype === 'modify') base.mods = r.mods.map((m) => [m.op, m.name.toLowerCase(), m.values.map(b64)]);
  if (r.changetype === 'modrdn' || r.changetype === 'moddn') Object.assign(base, { newrdn: r.newrdn, deleteoldrdn: r.deleteoldrdn, newsuperior: r.newsuperior });
  return base;
}

export function expectedComparable(e: any): any {
  if (!('changetype' in e)) return { dn: e.dn, attrs: expAttrs(e.attrs) };
  const base: any = { dn: e.dn, changetype: e.changetype, controls: e.controls ?? [] };
  if (e.changetype === 'add') base.attrs = expAttrs(e.attrs);
  if (e.changetype === 'modify') base.mods = e.mods.map((m: any) => [m[0], m[1].toLowerCase(), m[2]]);
  if (e.changetype === 'modrdn' || e.changetype === 'moddn') Object.assign(base, { newrdn: e.newrdn, deleteoldrdn: e.deleteoldrdn, newsuperior: e.newsuperior ?? null });
  return base;
}

export function runCase(ldifPath: string, expectPath: string): { ok: boolean; detail: string } {
  const exp: Expect = JSON.parse(readFileSync(expectPath, 'utf8'));
  const bytes = readFileSync(ldifPath);
  const fixtures = exp.urlFixtures ?? {};
  const resolveUrl = (url: string): Uint8Array => {
    const norm = (u: string) => u.replace(/^file:\/*/i, 'file:///');
    const key = Object.keys(fixtures).find((k) => norm(k) === norm(url));
    if (key === undefined) {
      if (!/^file:/i.test(url)) throw Object.assign(new Error(`URL scheme not supported: ${url}`), {});
      throw new Error(`no such file: ${url}`);
    }
    const v = fixtures[key];
    if (v === null) throw new Error(`no such file: ${url}`);
    return Buffer.from(v, 'base64');
  };
  let out;
  try {
    out = parseLdifText(bytes, { file: ldifPath, mode: exp.mode, resolveUrl });
  } catch (err) {
    if (exp.kind === 'error') return { ok: true, detail: `fatal: ${(err as Error).message}` };
    return { ok: false, detail: `threw: ${(err as Error).message}` };
  }
  const got = out.records.map(toComparable);
  if (exp.kind === 'error') {
    if (out.rejects.length === 0) return { ok: false, detail: `expected an error, got ${got.length} records and no reject` };
    if (exp.errorAfterRecords !== undefined && out.rejects[0].origin!.index !== exp.errorAfterRecords) {
      return { ok: false, detail: `first reject at record ${out.rejects[0].origin!.index}, peer says after ${exp.errorAfterRecords}` };
    }
    return { ok: true, detail: `${out.rejects[0].code}: ${out.rejects[0].message}` };
  }
  if (out.rejects.length) return { ok: false, detail: `unexpected reject ${out.rejects[0].code}: ${out.rejects[0].message} (line ${out.rejects[0].origin?.line})` };
  const want = exp.records.map(expectedComparable);
  const a = JSON.stringify(got);
  const b = JSON.stringify(want);
  return a === b ? { ok: true, detail: '' } : { ok: false, detail: `got ${a}\nwant ${b}` };
}
