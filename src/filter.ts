/**
 * RFC 4515 LDAP search filters: parse once, match many entries.
 *
 * Matching is what a directory admin expects from a rule file, not a full server implementation:
 * - attribute types are case-insensitive; `(cn=x)` also looks at `cn;lang-ja` values (options are subtypes);
 * - values compare case-insensitively with white space folded (caseIgnoreMatch), except binary values
 *   (Uint8Array), which compare byte for byte against the filter value's bytes;
 * - `~=` is case-insensitive equality; `>=`/`<=` compare numbers numerically, anything else as folded text;
 * - extensible match: `(attr:=v)`, `(attr:caseExactMatch:=v)` (or its OID 2.5.13.5), `(attr:dn:=v)` and
 *   `(:dn:2.5.13.2:=v)` look at the DN's RDN values too;
 * - `(objectClass=x)` consults an optional superclass resolver, so `(objectClass=person)` matches an inetOrgPerson
 *   when a schema (or the built-in class table) is given.
 */
import { LdapflowError } from './errors.js';
import type { Attribute, Value } from './entry.js';
import { parseDn } from './dn.js';

export type Filter =
  | { type: 'and'; filters: Filter[] }
  | { type: 'or'; filters: Filter[] }
  | { type: 'not'; filter: Filter }
  | { type: 'eq' | 'approx' | 'ge' | 'le'; attr: string; value: FilterValue }
  | { type: 'present'; attr: string }
  | { type: 'sub'; attr: string; initial?: FilterValue; any: FilterValue[]; final?: FilterValue }
  | { type: 'ext'; attr?: string; rule?: string; dnAttrs: boolean; value: FilterValue };

/** A filter assertion value: its bytes (escapes decoded), the text, and the folded text used for matching. */
export interface FilterValue {
  bytes: Uint8Array;
  text: string;
  folded: string;
}

export interface MatchOptions {
  /**
   * True when entry class `cls` is `wanted` or a subclass of it; both lower-cased. Consulted for objectClass
   * equality only. Without it, objectClass equality is plain name equality.
   */
  isSubclassOf?: (cls: string, wanted: string) => boolean;
}

interface Matchable {
  dn: string;
  attrs: Map<string, Attribute>;
}

function filterError(text: string, pos: number, why: string): LdapflowError {
  return new LdapflowError('FILTER_INVALID', `invalid LDAP filter "${text}" at position ${pos}: ${why}`, { recoverable: false });
}

/** Fold a value for caseIgnore comparison: trim, inner white space to one space, lower case. */
export function foldValue(s: string): string {
  let t = s.trim();
  if (/\s\s|[\t\n\r]/.test(t)) t = t.replace(/\s+/g, ' ');
  return t.toLowerCase();
}

function makeValue(bytes: number[]): FilterValue {
  const b = Uint8Array.from(bytes);
  const text = Buffer.from(b).toString('utf8');
  return { bytes: b, text, folded: foldValue(text) };
}

/** Parse an RFC 4515 filter string. Outer parentheses may be omitted (`objectClass=person`). */
export function parseFilter(text: string): Filter {
  const src = text.trim();
  if (!src) throw filterError(text, 0, 'empty filter');
  const s = src.startsWith('(') ? src : `(${src})`;
  let i = 0;
  const n = s.length;

  function parseOne(): Filter {
    if (s[i] !== '(') throw filterError(text, i, `expected "(" but found ${s[i] === undefined ? 'end of filter' : `"${s[i]}"`}`);
    i++;
    while (s[i] === ' ') i++;
    const c = s[i];
    let f: Filter;
    if (c === '&' || c === '|') {
      i++;
      const filters: Filter[] = [];
      while (s[i] === ' ') i++;
      while (s[i] === '(') {
        filters.push(parseOne());
        while (s[i] === ' ') i++;
      }
      if (filters.length === 0 && c === '|') { /* (|) is absolute false, allowed by RFC 4526 */ }
      f = c === '&' ? { type: 'and', filters } : { type: 'or', filters };
    } else if (c === '!') {
      i++;
      while (s[i] === ' ') i++;
      f = { type: 'not', filter: parseOne() };
      while (s[i] === ' ') i++;
    } else {
      f = parseItem();
    }
    if (s[i] !== ')') throw filterError(text, i, `expected ")" but found ${s[i] === undefined ? 'end of filter' : `"${s[i]}"`}`);
    i++;
    return f;
  }

  function parseItem(): Filter {
    const start = i;
    while (i < n && s[i] !== '=' && s[i] !== '(' && s[i] !== ')') i++;
    if (s[i] !== '=') throw filterError(text, i, 'missing "=" in a filter item');
    let lhs = s.slice(start, i);
    let op: 'eq' | 'approx' | 'ge' | 'le' | 'ext' = 'eq';
    const last = lhs[lhs.length - 1];
    if (last === '~') op = 'approx';
    else if (last === '>') op = 'ge';
    else if (last === '<') op = 'le';
    else if (last === ':') op = 'ext';
    if (op !== 'eq') lhs = lhs.slice(0, -1);
    i++; // '='
    const attr = lhs.trim();
    // Read the raw value up to the closing parenthesis, splitting on unescaped '*' for substrings.
    const parts: number[][] = [[]];
    while (i < n && s[i] !== ')') {
      const ch = s[i];
      if (ch === '(') throw filterError(text, i, 'unescaped "(" in a value (write \\28)');
      if (ch === '*') { parts.push([]); i++; continue; }
      if (ch === '\\') {
        const h = s.slice(i + 1, i + 3);
        if (/^[0-9a-fA-F]{2}$/.test(h)) { parts[parts.length - 1].push(parseInt(h, 16)); i += 3; continue; }
        // RFC 2254 style: backslash before a literal character.
        if (i + 1 < n) { pushUtf8(parts[parts.length - 1], s.codePointAt(i + 1)!); i += s.codePointAt(i + 1)! > 0xffff ? 3 : 2; continue; }
        throw filterError(text, i, 'dangling "\\" at end of value');
      }
      const cp = s.codePointAt(i)!;
      pushUtf8(parts[parts.length - 1], cp);
      i += cp > 0xffff ? 2 : 1;
    }
    if (op === 'ext') {
      if (parts.length > 1) throw filterError(text, i, '"*" is not allowed in an extensible match value');
      const bits = attr.split(':');
      let a: string | undefined = bits[0] ? bits[0] : undefined;
      let dnAttrs = false;
      let rule: string | undefined;
      for (const b of bits.slice(1)) {
        if (b.toLowerCase() === 'dn') dnAttrs = true;
        else if (b) rule = b.toLowerCase();
      }
      if (!a && !rule) throw filterError(text, start, 'extensible match needs an attribute type or a matching rule');
      if (a) { a = a.toLowerCase(); checkAttr(a, start); }
      return { type: 'ext', attr: a, rule, dnAttrs, value: makeValue(parts[0]) };
    }
    if (!attr) throw filterError(text, start, 'empty attribute type');
    const a = attr.toLowerCase();
    checkAttr(a, start);
    if (parts.length === 1) return { type: op, attr: a, value: makeValue(parts[0]) };
    if (op !== 'eq') throw filterError(text, start, `"*" is only allowed with "=", not "${op === 'approx' ? '~=' : op === 'ge' ? '>=' : '<='}"`);
    if (parts.length === 2 && parts[0].length === 0 && parts[1].length === 0) return { type: 'present', attr: a };
    const initial = parts[0].length ? makeValue(parts[0]) : undefined;
    const fin = parts[parts.length - 1].length ? makeValue(parts[parts.length - 1]) : undefined;
    const any = parts.slice(1, -1).filter((p) => p.length > 0).map(makeValue);
    return { type: 'sub', attr: a, initial, any, final: fin };
  }

  function checkAttr(a: string, pos: number): void {
    if (!/^([a-z][a-z0-9-]*|[0-9]+(\.[0-9]+)*)(;[a-z0-9-]+)*$/.test(a)) throw filterError(text, pos, `bad attribute type "${a}"`);
  }

  const f = parseOne();
  if (i !== n) throw filterError(text, i, `unexpected "${s.slice(i, i + 10)}" after the filter`);
  return f;
}

function pushUtf8(out: number[], cp: number): void {
  if (cp < 0x80) out.push(cp);
  else for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) out.push(b);
}

/** The attributes of an entry matching a filter attribute (base type or with options), in order. */
function attributesFor(e: Matchable, attr: string): Attribute[] {
  const direct = e.attrs.get(attr);
  if (attr.includes(';')) return direct ? [direct] : [];
  let out: Attribute[] | undefined;
  for (const [k, a] of e.attrs) {
    if (k.length > attr.length && k.charCodeAt(attr.length) === 59 /* ; */ && k.startsWith(attr)) (out ??= direct ? [direct] : []).push(a);
  }
  return out ?? (direct ? [direct] : []);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

function valueEquals(v: Value, fv: FilterValue, exact: boolean): boolean {
  if (typeof v !== 'string') return bytesEqual(v, fv.bytes);
  return exact ? v === fv.text : foldValue(v) === fv.folded;
}

const NUMBER = /^\s*-?[0-9]+\s*$/;

function compare(v: Value, fv: FilterValue): number {
  if (typeof v !== 'string') return Buffer.compare(Buffer.from(v), Buffer.from(fv.bytes));
  if (NUMBER.test(v) && NUMBER.test(fv.text)) {
    const d = Number(v) - Number(fv.text);
    return d < 0 ? -1 : d > 0 ? 1 : 0;
  }
  const a = foldValue(v);
  return a < fv.folded ? -1 : a > fv.folded ? 1 : 0;
}

function substringMatch(v: Value, f: Extract<Filter, { type: 'sub' }>): boolean {
  const s = typeof v === 'string' ? foldValue(v) : Buffer.from(v).toString('latin1');
  const pick = (x: FilterValue) => (typeof v === 'string' ? x.folded : Buffer.from(x.bytes).toString('latin1'));
  let pos = 0;
  if (f.initial) {
    const p = pick(f.initial);
    if (!s.startsWith(p)) return false;
    pos = p.length;
  }
  for (const a of f.any) {
    const p = pick(a);
    const at = s.indexOf(p, pos);
    if (at < 0) return false;
    pos = at + p.length;
  }
  if (f.final) {
    const p = pick(f.final);
    if (s.length - p.length < pos || !s.endsWith(p)) return false;
  }
  return true;
}

const EXACT_RULES = new Set(['caseexactmatch', '2.5.13.5', 'caseexactia5match', '1.3.6.1.4.1.1466.109.114.1', 'octetstringmatch', '2.5.13.17']);

/** True when the entry matches the filter. */
export function matchFilter(f: Filter, e: Matchable, opts: MatchOptions = {}): boolean {
  switch (f.type) {
    case 'and':
      for (const x of f.filters) if (!matchFilter(x, e, opts)) return false;
      return true;
    case 'or':
      for (const x of f.filters) if (matchFilter(x, e, opts)) return true;
      return false;
    case 'not':
      return !matchFilter(f.filter, e, opts);
    case 'present':
      if (f.attr === 'objectclass') return true;
      return attributesFor(e, f.attr).some((a) => a.values.length > 0);
    case 'eq':
    case 'approx': {
      const attrs = attributesFor(e, f.attr);
      if (f.attr === 'objectclass' && opts.isSubclassOf) {
        for (const a of attrs) for (const v of a.values) {
          if (typeof v === 'string' && opts.isSubclassOf(v.trim().toLowerCase(), f.value.folded)) return true;
        }
        return false;
      }
      for (const a of attrs) for (const v of a.values) if (valueEquals(v, f.value, false)) return true;
      return false;
    }
    case 'ge':
    case 'le':
      for (const a of attributesFor(e, f.attr)) for (const v of a.values) {
        const c = compare(v, f.value);
        if (f.type === 'ge' ? c >= 0 : c <= 0) return true;
      }
      return false;
    case 'sub':
      for (const a of attributesFor(e, f.attr)) for (const v of a.values) if (substringMatch(v, f)) return true;
      return false;
    case 'ext': {
      const exact = f.rule !== undefined && EXACT_RULES.has(f.rule);
      if (f.attr) {
        for (const a of attributesFor(e, f.attr)) for (const v of a.values) if (valueEquals(v, f.value, exact)) return true;
      } else {
        for (const a of e.attrs.values()) for (const v of a.values) if (valueEquals(v, f.value, exact)) return true;
      }
      if (f.dnAttrs) {
        let rdns;
        try { rdns = parseDn(e.dn); } catch { return false; }
        for (const rdn of rdns) for (const ava of rdn) {
          if (f.attr && ava.type.toLowerCase() !== f.attr) continue;
          if (valueEquals(ava.value, f.value, exact)) return true;
        }
      }
      return false;
    }
  }
}

/** Parse once, return a matcher. */
export function compileFilter(text: string, opts: MatchOptions = {}): (e: Matchable) => boolean {
  const f = parseFilter(text);
  return (e) => matchFilter(f, e, opts);
}

/** The filter back as RFC 4515 text (normalized: lower-cased types, minimal escapes). */
export function formatFilter(f: Filter): string {
  const esc = (v: FilterValue) => {
    let out = '';
    for (const b of v.bytes) {
      out += b === 0x2a || b === 0x28 || b === 0x29 || b === 0x5c || b === 0 || b >= 0x80 ? '\\' + b.toString(16).padStart(2, '0') : String.fromCharCode(b);
    }
    return out;
  };
  switch (f.type) {
    case 'and': return `(&${f.filters.map(formatFilter).join('')})`;
    case 'or': return `(|${f.filters.map(formatFilter).join('')})`;
    case 'not': return `(!${formatFilter(f.filter)})`;
    case 'present': return `(${f.attr}=*)`;
    case 'eq': return `(${f.attr}=${esc(f.value)})`;
    case 'approx': return `(${f.attr}~=${esc(f.value)})`;
    case 'ge': return `(${f.attr}>=${esc(f.value)})`;
    case 'le': return `(${f.attr}<=${esc(f.value)})`;
    case 'sub': return `(${f.attr}=${f.initial ? esc(f.initial) : ''}*${f.any.map((a) => esc(a) + '*').join('')}${f.final ? esc(f.final) : ''})`;
    case 'ext': return `(${f.attr ?? ''}${f.dnAttrs ? ':dn' : ''}${f.rule ? ':' + f.rule : ''}:=${esc(f.value)})`;
  }
}
