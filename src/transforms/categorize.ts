/**
 * categorize: a map stage that sets `record.category` on every entry (and add record) and counts `CATEGORY_<NAME>`.
 *
 * Order of signals: user rules first (first match wins: an RFC 4515 filter or a DN suffix), then the built-in
 * defaults: objectClass (walking the superclass chain, from the schema when given and from a built-in table of
 * well-known classes otherwise), then the DN (naming attribute and parent container), then attributes.
 * When several classes of one entry map to different categories the more specific category wins:
 * policies > services > applications > groups > users > organizational_units > containers.
 */
import type { Batch, Entry, LdifRecord, Value } from '../entry.js';
import { ndnOf } from '../entry.js';
import { countOn, type MapStage } from '../stage.js';
import { LdapflowError } from '../errors.js';
import { normalizeDn } from '../dn.js';
import { ListMemo } from '../list-memo.js';
import { parseFilter, matchFilter, type Filter, type MatchOptions } from '../filter.js';
import { Schema, type SchemaData } from '../schema/schema.js';

export const CATEGORIES = [
  'users', 'groups', 'organizational_units', 'containers', 'applications', 'services', 'policies', 'unknown',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** The order to load split files in: parents (containers, OUs) first, then what refers to others. */
export const LOAD_ORDER: string[] = [
  'containers', 'organizational_units', 'policies', 'users', 'applications', 'services', 'groups', 'unknown',
];

export type CategoryRule =
  | { category: string; filter: string }
  | { category: string; dnSuffix: string };

export interface CategorizeOptions {
  /** User rules, tried in order before the built-in defaults; first match wins. */
  rules?: CategoryRule[];
  /** A schema (plain data) for superclass chains of classes the built-in table does not know. */
  schema?: SchemaData;
  /** Set false to use only the rules (entries no rule matches become `unknown`). Default true. */
  builtins?: boolean;
}

/** Well-known structural/auxiliary classes and their category (lower-case names). */
const CLASS_CATEGORY: Record<string, Category> = {
  // people (RFC 4519/2798, NIS, AD, OID, Sun/OUD)
  person: 'users', organizationalperson: 'users', inetorgperson: 'users', residentialperson: 'users',
  posixaccount: 'users', shadowaccount: 'users', account: 'users', inetuser: 'users',
  user: 'users', orcluser: 'users', orcluserv2: 'users', ntuser: 'users',
  // groups
  groupofnames: 'groups', groupofuniquenames: 'groups', posixgroup: 'groups', groupofurls: 'groups',
  groupofentries: 'groups', group: 'groups', orclgroup: 'groups', orclprivilegegroup: 'groups',
  orcldynamicgroup: 'groups', nisnetgroup: 'groups', groupofmembers: 'groups',
  // organizational units
  organizationalunit: 'organizational_units',
  // containers
  container: 'containers', orclcontainer: 'containers', orclcontext: 'containers', organization: 'containers',
  domain: 'containers', dcobject: 'containers', domaindns: 'containers', builtindomain: 'containers',
  locality: 'containers', country: 'containers', nscontainer: 'containers', 'msds-passwordsettingscontainer': 'containers',
  // applications (non-human identities and application registrations)
  orclapplicationentity: 'applications', computer: 'applications',
  applicationprocess: 'applications', applicationentity: 'applications', 'msds-managedserviceaccount': 'applications',
  'msds-groupmanagedserviceaccount': 'applications',
  // services
  orclnetservice: 'services', orclnetservicealias: 'services', orcldbserver: 'services', orclservice: 'services',
  serviceconnectionpoint: 'services', ipservice: 'services', orclnetdescription: 'services',
  // policies
  pwdpolicy: 'policies', orclpwdpolicy: 'policies', grouppolicycontainer: 'policies', 'msds-passwordsettings': 'policies',
  passwordpolicy: 'policies', sunpwdpolicy: 'policies', 'ds-pwp-password-policy': 'policies', orclpolicy: 'policies',
};

/** Superclasses of well-known classes that are not in the category table themselves (or whose SUP matters). */
const BUILTIN_SUP: Record<string, string[]> = {
  inetorgperson: ['organizationalperson'], organizationalperson: ['person'], residentialperson: ['person'],
  user: ['organizationalperson'], computer: ['user'], grouppolicycontainer: ['container'],
  'msds-passwordsettings': ['top'], groupofuniquenames: ['top'], groupofnames: ['top'],
};

const PRIORITY: Record<string, number> = {
  policies: 7, services: 6, applications: 5, groups: 4, users: 3, organizational_units: 2, containers: 1, unknown: 0,
};

const CATEGORY_NAME = /^[a-z][a-z0-9_]*$/;

interface CompiledRule {
  category: string;
  filter?: Filter;
  suffix?: string;
}

/** The built-in classifier, shared by categorize and analyze. */
export class Classifier {
  private readonly rules: CompiledRule[];
  private readonly schema?: Schema;
  private readonly builtins: boolean;
  private readonly classCache = new Map<string, string | null>();
  /** The category of each class list seen (list-memo.ts). */
  private readonly listCategories = new ListMemo<string>((values) => this.classListCategory(values), 10000);
  private readonly matchOpts: MatchOptions;

  constructor(opts: CategorizeOptions = {}) {
    if (opts.rules !== undefined && !Array.isArray(opts.rules)) throw optionError('rules', 'must be a list of {category, filter} or {category, dnSuffix}');
    this.rules = (opts.rules ?? []).map((r, k) => compileRule(r, k));
    this.schema = opts.schema ? new Schema(opts.schema) : undefined;
    this.builtins = opts.builtins ?? true;
    this.matchOpts = { isSubclassOf: (cls, wanted) => this.isSubclassOf(cls, wanted) };
  }

  /** True when `cls` is `wanted` or a subclass of it (schema first, then the built-in table). */
  isSubclassOf(cls: string, wanted: string): boolean {
    if (cls === wanted) return true;
    if (this.schema && this.schema.objectClass(cls)) return this.schema.isSubclassOf(cls, wanted);
    const seen = new Set<string>();
    const stack = [cls];
    while (stack.length) {
      const c = stack.pop()!;
      if (c === wanted) return true;
      if (seen.has(c)) continue;
      seen.add(c);
      for (const s of BUILTIN_SUP[c] ?? []) stack.push(s);
    }
    return false;
  }

  /** The category of one class by itself or its nearest categorized superclass, or null. */
  private classCategory(cls: string): string | null {
    const hit = this.classCache.get(cls);
    if (hit !== undefined) return hit;
    let cat: string | null = CLASS_CATEGORY[cls] ?? null;
    if (cat === null && this.schema) {
      for (const oc of this.schema.superclassChain(cls)) {
        for (const name of [oc.oid, ...oc.names]) {
          const c = CLASS_CATEGORY[name.toLowerCase()];
          if (c) { cat = c; break; }
        }
        if (cat) break;
      }
    }
    if (cat === null) {
      const stack = [...(BUILTIN_SUP[cls] ?? [])];
      const seen = new Set<string>();
      while (stack.length && cat === null) {
        const c = stack.shift()!;
        if (seen.has(c)) continue;
        seen.add(c);
        cat = CLASS_CATEGORY[c] ?? null;
        stack.push(...(BUILTIN_SUP[c] ?? []));
      }
    }
    this.classCache.set(cls, cat);
    return cat;
  }

  /** The category of an entry. */
  classify(e: Entry | { dn: string; ndn?: string; attrs: Entry['attrs'] }): string {
    for (let i = 0; i < this.rules.length; i++) {
      const r = this.rules[i];
      if (r.filter) {
        if (matchFilter(r.filter, e, this.matchOpts)) return r.category;
      } else if (r.suffix !== undefined) {
        let n: string;
        try { n = ndnOf(e); } catch { continue; }
        if (n === r.suffix || n.endsWith(',' + r.suffix)) return r.category;
      }
    }
    if (!this.builtins) return 'unknown';
    const oc = e.attrs.get('objectclass');
    if (oc && oc.values.length) {
      const best = this.listCategories.get('', oc.values);
      if (best !== 'unknown') return best;
    }
    return byDn(e) ?? byAttributes(e) ?? 'unknown';
  }

  /** The most specific category of any class in the list (`unknown` when none has one). */
  private classListCategory(values: Value[]): string {
    let key = '';
    for (const v of values) key += (typeof v === 'string' ? v : Buffer.from(v).toString('utf8')) + '\n';
    let best = 'unknown';
    for (const raw of key.toLowerCase().split('\n')) {
      const c = raw.trim();
      if (!c) continue;
      const cat = this.classCategory(c);
      if (cat && (PRIORITY[cat] ?? 0) > (PRIORITY[best] ?? 0)) best = cat;
    }
    return best;
  }
}

function optionError(name: string, why: string): LdapflowError {
  return new LdapflowError('OPTION_INVALID', `categorize: option "${name}" ${why}`);
}

function compileRule(r: CategoryRule, k: number): CompiledRule {
  if (!r || typeof r !== 'object') throw optionError(`rules[${k}]`, 'must be an object {category, filter} or {category, dnSuffix}');
  const category = (r as { category?: unknown }).category;
  if (typeof category !== 'string' || !CATEGORY_NAME.test(category)) {
    throw optionError(`rules[${k}].category`, `must be a lower-case name such as "services", got ${JSON.stringify(category)}`);
  }
  if ('filter' in r && typeof r.filter === 'string') {
    try {
      return { category, filter: parseFilter(r.filter) };
    } catch (err) {
      throw optionError(`rules[${k}].filter`, (err as Error).message);
    }
  }
  if ('dnSuffix' in r && typeof r.dnSuffix === 'string') {
    try {
      return { category, suffix: normalizeDn(r.dnSuffix) };
    } catch (err) {
      throw optionError(`rules[${k}].dnSuffix`, (err as Error).message);
    }
  }
  throw optionError(`rules[${k}]`, 'needs "filter" (an RFC 4515 filter) or "dnSuffix" (a DN)');
}

const DN_CONTAINER: Array<[RegExp, Category]> = [
  [/^(ou|cn)=(people|users|employees|staff|persons|accounts)(,|$)/, 'users'],
  [/^(ou|cn)=(groups|roles)(,|$)/, 'groups'],
  [/^(ou|cn)=(policies|password ?policies|pwpolicies|ppolicy)(,|$)/, 'policies'],
  [/^(ou|cn)=(services|oraclenetservices|netservices)(,|$)/, 'services'],
  [/^(ou|cn)=(applications|products|apps)(,|$)/, 'applications'],
];

function byDn(e: { dn: string; ndn?: string }): Category | undefined {
  let n: string;
  try { n = ndnOf(e); } catch { return undefined; }
  const eq = n.indexOf('=');
  const type = eq > 0 ? n.slice(0, eq) : '';
  if (type === 'ou') return 'organizational_units';
  if (type === 'dc' || type === 'o' || type === 'c' || type === 'l') return 'containers';
  const comma = n.indexOf(',');
  const parent = comma < 0 ? '' : n.slice(comma + 1);
  for (const [re, cat] of DN_CONTAINER) if (re.test(parent)) return cat;
  if (type === 'uid') return 'users';
  return undefined;
}

function byAttributes(e: { attrs: Entry['attrs'] }): Category | undefined {
  const a = e.attrs;
  if (a.has('member') || a.has('uniquemember') || a.has('memberuid')) return 'groups';
  if (a.has('pwdmaxage') || a.has('pwdminlength') || a.has('pwdattribute') || a.has('orclpwdmaxage')) return 'policies';
  if (a.has('orclnetdescstring')) return 'services';
  if (a.has('userpassword') && (a.has('uid') || a.has('samaccountname') || a.has('sn'))) return 'users';
  return undefined;
}

function isEntryLike(r: LdifRecord): r is Entry | Extract<LdifRecord, { changetype: 'add' }> {
  return r.kind === 'entry' || r.changetype === 'add';
}

export function categorize(opts: CategorizeOptions = {}): MapStage {
  const classifier = new Classifier(opts);
  return {
    kind: 'map',
    name: 'categorize',
    worker: { factory: 'categorize', options: opts },
    fn(batch: Batch): Batch {
      // Counted by runs of one category (neighbours mostly share one), in the order categories first appear.
      const counts = new Map<string, number>();
      let run: string | undefined;
      let n = 0;
      const records = batch.records;
      for (let i = 0; i < records.length; i++) {
        const r = records[i];
        if (!isEntryLike(r)) continue;
        const cat = classifier.classify(r);
        r.category = cat;
        if (cat !== run) {
          if (run !== undefined) counts.set(run, (counts.get(run) ?? 0) + n);
          run = cat;
          n = 0;
        }
        n++;
      }
      if (run !== undefined) counts.set(run, (counts.get(run) ?? 0) + n);
      for (const [cat, k] of counts) countOn(batch, 'CATEGORY_' + cat.toUpperCase(), k);
      return batch;
    },
  };
}
