/**
 * RFC 4512 section 4.1 schema descriptions: attributeTypes and objectClasses, parsed into plain data.
 *
 * Tolerant of what real servers and files contain: missing spaces around parentheses and `$`, quoted OIDs and
 * quoted names in MUST/MAY lists, keywords in any case, `AUXILLARY`, `SYNTAX 1.2.3{64}` and `SYNTAX '1.2.3' {64}`,
 * OIDs that are names (`myAttr-oid`) or OpenLDAP macros (`OLcfgAt:1`, expanded by the .schema loader), unknown
 * keywords (skipped with their argument). A description without an OID or a closing parenthesis is still read as
 * far as it goes; only one with no OID at all is an error (SCHEMA_PARSE).
 */
import { LdapflowError } from '../errors.js';

export type Usage = 'userApplications' | 'directoryOperation' | 'distributedOperation' | 'dSAOperation';
export type ClassKind = 'STRUCTURAL' | 'AUXILIARY' | 'ABSTRACT';

export interface AttributeTypeDef {
  oid: string;
  /** Names as spelled in the definition; the first is the primary name. */
  names: string[];
  desc?: string;
  obsolete?: boolean;
  sup?: string;
  equality?: string;
  ordering?: string;
  substr?: string;
  /** Syntax OID without the length bound. */
  syntax?: string;
  syntaxLen?: number;
  singleValue?: boolean;
  collective?: boolean;
  noUserModification?: boolean;
  usage?: Usage;
  /** X- extensions, e.g. `X-ORIGIN`. */
  ext?: Record<string, string[]>;
}

export interface ObjectClassDef {
  oid: string;
  names: string[];
  desc?: string;
  obsolete?: boolean;
  sup: string[];
  /** STRUCTURAL when the description names none (RFC 4512 default). */
  kind: ClassKind;
  must: string[];
  may: string[];
  ext?: Record<string, string[]>;
}

// Token kinds: '(' ')' '$' are single characters; words and quoted strings are returned with a tag.
interface Tok {
  t: '(' | ')' | '$' | 'w' | 'q';
  v: string;
}

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  const n = s.length;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13) { i++; continue; }
    if (c === 40 /* ( */) { out.push({ t: '(', v: '(' }); i++; continue; }
    if (c === 41 /* ) */) { out.push({ t: ')', v: ')' }); i++; continue; }
    if (c === 36 /* $ */) { out.push({ t: '$', v: '$' }); i++; continue; }
    if (c === 39 /* ' */ || c === 34 /* " */) {
      const end = s.indexOf(s[i], i + 1);
      const stop = end < 0 ? n : end;
      // RFC 4512 dstring escapes: \27 for a quote, \5C for a backslash.
      out.push({ t: 'q', v: s.slice(i + 1, stop).replace(/\\27/gi, "'").replace(/\\5c/gi, '\\') });
      i = stop + 1;
      continue;
    }
    const start = i;
    while (i < n) {
      const d = s.charCodeAt(i);
      if (d === 32 || d === 9 || d === 10 || d === 13 || d === 40 || d === 41 || d === 36 || d === 39 || d === 34) break;
      i++;
    }
    out.push({ t: 'w', v: s.slice(start, i) });
  }
  return out;
}

const AT_KEYWORDS = new Set([
  'NAME', 'DESC', 'OBSOLETE', 'SUP', 'EQUALITY', 'ORDERING', 'SUBSTR', 'SYNTAX', 'SINGLE-VALUE', 'COLLECTIVE',
  'NO-USER-MODIFICATION', 'USAGE',
]);
const OC_KEYWORDS = new Set(['NAME', 'DESC', 'OBSOLETE', 'SUP', 'STRUCTURAL', 'AUXILIARY', 'AUXILLARY', 'ABSTRACT', 'MUST', 'MAY']);

const USAGES: Record<string, Usage> = {
  userapplications: 'userApplications',
  directoryoperation: 'directoryOperation',
  distributedoperation: 'distributedOperation',
  dsaoperation: 'dSAOperation',
};

class Reader {
  i = 0;
  constructor(readonly toks: Tok[], readonly keywords: Set<string>) {}
  peek(): Tok | undefined { return this.toks[this.i]; }
  next(): Tok | undefined { return this.toks[this.i++]; }
  isKeyword(t: Tok | undefined): boolean {
    if (!t || t.t !== 'w') return false;
    const u = t.v.toUpperCase();
    return this.keywords.has(u) || u.startsWith('X-');
  }
  /** One value or a parenthesized list (`$` or space separated). Words and quoted strings alike. */
  list(): string[] {
    const t = this.peek();
    if (!t) return [];
    if (t.t === '(') {
      this.i++;
      const out: string[] = [];
      for (let u = this.next(); u && u.t !== ')'; u = this.next()) {
        if (u.t === 'w' || u.t === 'q') { if (u.v) out.push(u.v); }
      }
      return out;
    }
    if (t.t === 'w' || t.t === 'q') {
      // A keyword's argument is mandatory, so the next word is it even when it reads like a keyword (`SUP name`).
      this.i++;
      return [t.v];
    }
    return [];
  }
  one(): string | undefined {
    return this.list()[0];
  }
  /** Skip the argument of an unknown keyword: a list, or one token that is not a keyword. */
  skipArg(): void {
    const t = this.peek();
    if (!t) return;
    if (t.t === '(') { this.list(); return; }
    if ((t.t === 'w' || t.t === 'q') && !this.isKeyword(t)) this.i++;
  }
}

function start(desc: string, keywords: Set<string>, what: string): { r: Reader; oid: string } {
  const toks = tokenize(desc);
  const r = new Reader(toks, keywords);
  if (r.peek()?.t === '(') r.i++;
  const first = r.peek();
  if (!first || (first.t !== 'w' && first.t !== 'q') || (first.t === 'w' && r.isKeyword(first))) {
    throw new LdapflowError('SCHEMA_PARSE', `${what} description without an OID: ${desc.slice(0, 120)}`, { recoverable: true });
  }
  r.i++;
  return { r, oid: first.v };
}

function setExt(ext: Record<string, string[]> | undefined, key: string, vals: string[]): Record<string, string[]> {
  const e = ext ?? {};
  e[key] = vals;
  return e;
}

/** Parse one attributeTypes description. Throws SCHEMA_PARSE (recoverable) when it has no OID. */
export function parseAttributeType(desc: string): AttributeTypeDef {
  const { r, oid } = start(desc, AT_KEYWORDS, 'attribute type');
  const at: AttributeTypeDef = { oid, names: [] };
  for (let t = r.next(); t; t = r.next()) {
    if (t.t !== 'w') continue;
    const kw = t.v.toUpperCase();
    switch (kw) {
      case 'NAME': at.names = r.list(); break;
      case 'DESC': at.desc = r.one(); break;
      case 'OBSOLETE': at.obsolete = true; break;
      case 'SUP': at.sup = r.one(); break;
      case 'EQUALITY': at.equality = r.one(); break;
      case 'ORDERING': at.ordering = r.one(); break;
      case 'SUBSTR': case 'SUBSTRINGS': at.substr = r.one(); break;
      case 'SYNTAX': {
        let s = r.one() ?? '';
        // A bound written apart: SYNTAX '1.2.3' {64}
        const nx = r.peek();
        if (nx && nx.t === 'w' && nx.v.startsWith('{')) { s += nx.v; r.i++; }
        const b = s.indexOf('{');
        if (b >= 0) {
          const len = parseInt(s.slice(b + 1), 10);
          if (Number.isFinite(len)) at.syntaxLen = len;
          s = s.slice(0, b);
        }
        if (s) at.syntax = s;
        break;
      }
      case 'SINGLE-VALUE': at.singleValue = true; break;
      case 'COLLECTIVE': at.collective = true; break;
      case 'NO-USER-MODIFICATION': at.noUserModification = true; break;
      case 'USAGE': {
        const u = r.one();
        if (u) at.usage = USAGES[u.toLowerCase()] ?? 'userApplications';
        break;
      }
      default:
        if (kw.startsWith('X-')) at.ext = setExt(at.ext, t.v, r.list());
        else r.skipArg();
    }
  }
  return at;
}

/** Parse one objectClasses description. Throws SCHEMA_PARSE (recoverable) when it has no OID. */
export function parseObjectClass(desc: string): ObjectClassDef {
  const { r, oid } = start(desc, OC_KEYWORDS, 'object class');
  const oc: ObjectClassDef = { oid, names: [], sup: [], kind: 'STRUCTURAL', must: [], may: [] };
  for (let t = r.next(); t; t = r.next()) {
    if (t.t !== 'w') continue;
    const kw = t.v.toUpperCase();
    switch (kw) {
      case 'NAME': oc.names = r.list(); break;
      case 'DESC': oc.desc = r.one(); break;
      case 'OBSOLETE': oc.obsolete = true; break;
      case 'SUP': oc.sup = r.list(); break;
      case 'STRUCTURAL': oc.kind = 'STRUCTURAL'; break;
      case 'AUXILIARY': case 'AUXILLARY': oc.kind = 'AUXILIARY'; break;
      case 'ABSTRACT': oc.kind = 'ABSTRACT'; break;
      case 'MUST': oc.must = r.list(); break;
      case 'MAY': oc.may = r.list(); break;
      default:
        if (kw.startsWith('X-')) oc.ext = setExt(oc.ext, t.v, r.list());
        else r.skipArg();
    }
  }
  return oc;
}
