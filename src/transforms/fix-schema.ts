/**
 * fix-schema: a map stage that makes every entry valid for the target schema, and says what it changed.
 *
 * Use from code or the CLI:
 *
 *   const stage = await buildFixSchema({ schemaPaths: ['/etc/ldap/schema/core.ldif', ...], preset: 'oid-to-oud',
 *                                        strategy: 'preserve', explain: ['cn=x,dc=example,dc=com'], extensibleObject: false });
 *   // or, with everything already loaded as plain data (this is what a worker receives):
 *   const stage = fixSchema({ schema: schemaData, preset: presetData, strategy: 'strict' });
 *
 * `schemaPaths` empty means the built-in RFC schema; entries may be files (.schema / cn=config LDIF / OpenDJ LDIF),
 * `builtin`, or `ldap://` URLs (see src/schema/load.ts). `preset` is a built-in name or a JSON file path.
 *
 * What it does to an entry (and to an add record), in order; every change is counted by code on the batch and,
 * for DNs given in `explain`, described in a Note:
 *  1. objectClass: preset exclusions (reject PRESET_EXCLUDED), preset maps (SCHEMA_OC_MAPPED) and removals
 *     (PRESET_OC_REMOVED), classes unknown to the target removed (SCHEMA_OC_UNKNOWN_REMOVED), names in the target's
 *     spelling (SCHEMA_OC_RENAMED), missing superclasses added (SCHEMA_SUPERCLASS_ADDED).
 *  2. Exactly one structural chain. Several unrelated structural classes: keep the one that allows the RDN attribute
 *     and covers most of the entry's attributes (preset `structuralByRdn` breaks ties); the others are replaced by an
 *     auxiliary equivalent (`auxiliaryEquivalents`) or dropped (SCHEMA_MULTIPLE_STRUCTURAL). None: one is chosen by
 *     the RDN attribute (`ou` -> organizationalUnit, `cn` -> organizationalRole, ...; SCHEMA_STRUCTURAL_ADDED); when
 *     no class of the target fits, reject SCHEMA_NO_STRUCTURAL.
 *  3. Attributes: preset removals (PRESET_ATTR_REMOVED), source operational attributes and the target's
 *     NO-USER-MODIFICATION ones (SCHEMA_OPERATIONAL_REMOVED), preset value maps (PRESET_VALUE_MAPPED; unmappable:
 *     reject PRESET_VALUE_UNMAPPABLE; mapped to a type the target lacks: reject PRESET_VALUE_UNMAPPABLE, or with
 *     `targetMissing: drop` drop it counted as PRESET_MAP_TARGET_MISSING), preset renames (SCHEMA_ATTR_MAPPED), types unknown to the target
 *     (SCHEMA_ATTR_UNKNOWN_REMOVED), types the final classes do not allow (SCHEMA_ATTR_NOT_ALLOWED_REMOVED; with
 *     strategy `preserve` and `extensibleObject: true`, and when the target defines extensibleObject, they are kept
 *     and extensibleObject is added instead: SCHEMA_EXTENSIBLE_ADDED). Operational types the target lets users write
 *     (USAGE not userApplications, no NO-USER-MODIFICATION) are kept: no class governs them.
 *     Descriptions with options (`cn;lang-ja`) are judged by their base type.
 *  4. Values: empty values of text syntaxes dropped (SCHEMA_EMPTY_VALUE_REMOVED); boolean, integer, generalized
 *     time, DN, name-and-optional-UID, country and IA5 values checked; repaired where unambiguous
 *     (SCHEMA_SYNTAX_REPAIRED: `true` -> `TRUE`, `+007` -> `7`, `20240101120000z` -> `...Z`), else the entry is
 *     rejected (SCHEMA_SYNTAX_INVALID). SINGLE-VALUE types with several values keep the RDN value or the first one
 *     (SCHEMA_SINGLE_VALUE_TRIMMED; the dropped values are named in the note).
 *  5. RDN values present in the entry (RFC 4512 2.3; SCHEMA_RDN_VALUE_ADDED). An RDN attribute the classes do not
 *     allow: reject SCHEMA_RDN_NOT_ALLOWED; unknown to the target: reject SCHEMA_RDN_UNKNOWN.
 *  6. MUST attributes: filled from the RDN, `sn` from the first `cn` value (SCHEMA_MUST_FILLED); else reject
 *     SCHEMA_MUST_MISSING naming the attributes and the classes that require them.
 * A rejected record goes to the reject file as it was read (the stage never mutates a record it rejects).
 *
 * Change records: `add` is treated like an entry. `modify`: modifications of attributes the target does not know,
 * that the preset removes or that are NO-USER-MODIFICATION are dropped (same codes as for entries), preset renames
 * and value maps apply, objectClass values are mapped, added values are syntax-checked; class rules cannot be
 * checked (the entry's classes are not in the record). A modify left with no modification is rejected
 * (SCHEMA_MODIFY_EMPTY) rather than silently vanishing. `delete`, `modrdn` and `moddn` pass unchanged.
 *
 * Strategies: `preserve` (default) keeps data where the target allows; `strict` never adds extensibleObject.
 * Speed: class decisions are cached per (sorted class list, RDN types), attribute decisions per attribute
 * description; the per-entry work is one pass over the attributes.
 */
import type { Attribute, Batch, Entry, LdifRecord, Modification, Note, Reject, Value, AddRecord } from '../entry.js';
import { ndnOf } from '../entry.js';
import { normalizeDn, rdnOf } from '../dn.js';
import { ListMemo } from '../list-memo.js';
import { LdapflowError } from '../errors.js';
import { countOn, type MapStage } from '../stage.js';
import { Schema, SYNTAX, keyOf, type SchemaData } from '../schema/schema.js';
import type { ObjectClassDef } from '../schema/parse.js';
import type { PresetData, ValueMap } from '../presets/index.js';

export type FixSchemaStrategy = 'preserve' | 'strict';

export interface FixSchemaOptions {
  /** The target schema, as plain data (see src/schema/load.ts). */
  schema: SchemaData;
  /** Source-side knowledge (see src/presets/). */
  preset?: PresetData;
  strategy?: FixSchemaStrategy;
  /** Keep attributes the classes do not allow by adding extensibleObject (strategy preserve only). */
  extensibleObject?: boolean;
  /** DNs whose changes are described in batch notes. */
  explain?: string[];
}

export interface BuildFixSchemaOptions {
  schemaPaths: string[];
  preset?: string;
  strategy?: FixSchemaStrategy;
  explain?: string[];
  extensibleObject?: boolean;
  /** Unparseable schema definitions (skipped) are reported here. */
  onWarning?: (message: string) => void;
  /** For `ldap://` schema sources: bind and connection options handed to readSubschema(). */
  schemaBind?: unknown;
  schemaConnect?: unknown;
}

const STAGE = 'fix-schema';

/** Attributes every directory server maintains itself; removed when the target schema does not define them. */
const SOURCE_OPERATIONAL = [
  'createtimestamp', 'modifytimestamp', 'creatorsname', 'modifiersname', 'entryuuid', 'entrycsn', 'entrydn',
  'structuralobjectclass', 'subschemasubentry', 'hassubordinates', 'numsubordinates', 'contextcsn', 'nsuniqueid',
  'ds-sync-hist', 'ds-sync-state', 'ds-entryuuid', 'ibm-entryuuid', 'objectguid', 'usnchanged', 'usncreated',
  'whenchanged', 'whencreated', 'dscorepropagationdata', 'replpropertymetadata', 'pwdchangedtime', 'pwdhistory',
  'pwdfailuretime', 'pwdaccountlockedtime', 'pwdgraceusetime', 'pwdreset', 'memberof', 'ismemberof',
];

/** Default structural class by RDN attribute for entries with none. */
const STRUCTURAL_BY_RDN: Record<string, string> = {
  ou: 'organizationalUnit', cn: 'organizationalRole', o: 'organization', dc: 'domain', c: 'country', l: 'locality',
  uid: 'account',
};
const AUX_EQUIVALENTS: Record<string, string> = { account: 'uidObject', domain: 'dcObject' };

// ---- syntax checks --------------------------------------------------------------------------------------------

const enum Check { None, NonEmpty, Boolean, Integer, GTime, Dn, NameUid, Country, Ia5 }

const NON_EMPTY_SYNTAXES = new Set([
  SYNTAX.directoryString, SYNTAX.printableString, '1.3.6.1.4.1.1466.115.121.1.50', '1.3.6.1.4.1.1466.115.121.1.36',
  '1.3.6.1.4.1.1466.115.121.1.38', '1.3.6.1.4.1.1466.115.121.1.22', '1.3.6.1.4.1.1466.115.121.1.41',
]);

function checkFor(syntax: string | undefined): Check {
  switch (syntax) {
    case SYNTAX.boolean: return Check.Boolean;
    case SYNTAX.integer: return Check.Integer;
    case SYNTAX.generalizedTime: return Check.GTime;
    case SYNTAX.dn: return Check.Dn;
    case SYNTAX.nameAndOptionalUid: return Check.NameUid;
    case SYNTAX.countryString: return Check.Country;
    case SYNTAX.ia5String: return Check.Ia5;
    default: return syntax && NON_EMPTY_SYNTAXES.has(syntax as never) ? Check.NonEmpty : Check.None;
  }
}

/** A DN with no escapes, quotes, '+' or special characters and no outer spaces: valid without parsing. */
const SIMPLE_DN = /^[A-Za-z][A-Za-z0-9-]*=[^\s,=+"\\<>;\x00#](?:[^,=+"\\<>;\x00]*[^\s,=+"\\<>;\x00])?(?:, ?[A-Za-z][A-Za-z0-9-]*=[^\s,=+"\\<>;\x00#](?:[^,=+"\\<>;\x00]*[^\s,=+"\\<>;\x00])?)*$/;
const INT_OK = /^(?:0|-?[1-9][0-9]*)$/;
const INT_FIX = /^\s*([+-]?)0*([0-9]+)\s*$/;
const GTIME_OK = /^[0-9]{10}(?:[0-9]{2}(?:[0-9]{2})?)?(?:[.,][0-9]+)?(?:Z|[+-][0-9]{2}(?:[0-9]{2})?)$/;
const ISO_TIME = /^([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?(?:\.([0-9]+))?(Z|[+-][0-9]{2}:?[0-9]{2})$/i;
const BOOL_FIX: Record<string, string> = {
  true: 'TRUE', yes: 'TRUE', y: 'TRUE', on: 'TRUE', '1': 'TRUE', false: 'FALSE', no: 'FALSE', n: 'FALSE', off: 'FALSE', '0': 'FALSE',
};
// eslint-disable-next-line no-control-regex
const NON_IA5 = /[^\x00-\x7f]/;

/** Check one value: undefined = valid as is; a string = the repaired value; null = invalid, no safe repair. '' = drop. */
function checkValue(check: Check, v: string): string | null | undefined {
  switch (check) {
    case Check.NonEmpty:
      return v === '' ? '' : undefined;
    case Check.Boolean:
      if (v === 'TRUE' || v === 'FALSE') return undefined;
      if (v === '') return '';
      return BOOL_FIX[v.trim().toLowerCase()] ?? null;
    case Check.Integer: {
      if (INT_OK.test(v)) return undefined;
      if (v === '') return '';
      const m = INT_FIX.exec(v);
      if (!m) return null;
      const digits = m[2].replace(/^0+(?=[0-9])/, '');
      return digits === '0' ? '0' : (m[1] === '-' ? '-' : '') + digits;
    }
    case Check.GTime: {
      if (GTIME_OK.test(v)) return undefined;
      if (v === '') return '';
      const t = v.trim().replace(/z$/, 'Z');
      if (GTIME_OK.test(t)) return t;
      const m = ISO_TIME.exec(t);
      if (!m) return null; // includes a time without zone: which zone is ambiguous
      const zone = m[8].toUpperCase() === 'Z' ? 'Z' : m[8].replace(':', '');
      return `${m[1]}${m[2]}${m[3]}${m[4]}${m[5]}${m[6] ?? '00'}${m[7] ? '.' + m[7] : ''}${zone}`;
    }
    case Check.Dn:
    case Check.NameUid: {
      let dn = v;
      // A UID suffix (#'0101'B) ends in B: lastIndexOf is a C++ built-in, slow to call for every value without one.
      if (check === Check.NameUid && v.charCodeAt(v.length - 1) === 66 /* B */) {
        const h = v.lastIndexOf('#');
        if (h >= 0 && /^#'[01]*'B$/.test(v.slice(h))) dn = v.slice(0, h);
      }
      if (SIMPLE_DN.test(dn)) return undefined;
      try {
        normalizeDn(dn);
        if (dn.trim() === dn) return undefined;
      } catch {
        return null;
      }
      return dn.trim() + v.slice(dn.length);
    }
    case Check.Country: {
      if (v.length === 2) return undefined;
      const t = v.trim();
      return t.length === 2 ? t : v === '' ? '' : null;
    }
    case Check.Ia5:
      if (v === '') return '';
      return NON_IA5.test(v) ? null : undefined;
    default:
      return undefined;
  }
}

/**
 * Fix codes by number: an entry's fixes are counted in an array and added to the batch's counts once per batch, in
 * the order they first occur (the order `countOn` per fix gave), instead of a keyed update of `batch.counts` per fix.
 */
const FIX_CODES = [
  'PRESET_ATTR_REMOVED', 'SCHEMA_OPERATIONAL_REMOVED', 'SCHEMA_ATTR_UNKNOWN_REMOVED', 'PRESET_OC_REMOVED', 'SCHEMA_OC_MAPPED',
  'SCHEMA_OC_UNKNOWN_REMOVED', 'SCHEMA_OC_RENAMED', 'SCHEMA_STRUCTURAL_ADDED', 'SCHEMA_MULTIPLE_STRUCTURAL', 'SCHEMA_SUPERCLASS_ADDED',
  'SCHEMA_ATTR_MAPPED', 'SCHEMA_RDN_VALUE_ADDED', 'SCHEMA_MUST_FILLED', 'SCHEMA_EXTENSIBLE_ADDED', 'SCHEMA_ATTR_NOT_ALLOWED_REMOVED',
  'PRESET_VALUE_MAPPED', 'PRESET_MAP_TARGET_MISSING', 'SCHEMA_EMPTY_VALUE_REMOVED', 'SCHEMA_SYNTAX_REPAIRED', 'SCHEMA_SINGLE_VALUE_TRIMMED',
] as const;
const F = Object.fromEntries(FIX_CODES.map((c, i) => [c, i])) as Record<(typeof FIX_CODES)[number], number>;

const CHECK_NAMES = ['', 'text', 'Boolean', 'Integer', 'Generalized Time', 'DN', 'Name and Optional UID', 'Country String', 'IA5 String'];

// ---- decisions ------------------------------------------------------------------------------------------------

interface AttrInfo {
  /** remove: drop with `code`; keep: class rules apply; free: operational, kept without class rules; map: value map. */
  kind: 'remove' | 'keep' | 'free' | 'map';
  /** The fix code (F) of a removal. */
  code?: number;
  why?: string;
  /** Model key of the target type, and its number (Fixer.keyId). */
  key: string;
  id: number;
  /** Output attribute description (target name when mapped; else the source spelling). */
  outName?: string;
  renamedFrom?: string;
  singleValue: boolean;
  check: Check;
  valueMap?: ValueMap;
  valueMapTo?: string;
  /** For a value map: source value (lower-cased, trimmed) -> target value (null: dropped), the first spelling winning
   * as the search through the preset's entries did; and the same by exact spelling for trimmed source values. */
  valueLower?: Map<string, string | null>;
  valueExact?: Map<string, string | null>;
  /** For a value map, filled on first use: the target's lower-cased name, its info, and this type's own info. */
  valueMapToKey?: string;
  valueMapTarget?: AttrInfo;
  valueMapSelf?: AttrInfo;
}

/**
 * An AttrInfo with every field set, in one order: infos spread from a common part had several shapes, and reading
 * `info.kind` and the rest per attribute in fixEntry went through V8's megamorphic property look-up (~60 an entry).
 */
function newInfo(kind: AttrInfo['kind'], key: string, id: number, o: Partial<AttrInfo> = {}): AttrInfo {
  return {
    kind, code: o.code, why: o.why, key, id, outName: o.outName, renamedFrom: o.renamedFrom, singleValue: o.singleValue ?? false,
    check: o.check ?? Check.None, valueMap: o.valueMap, valueMapTo: o.valueMapTo, valueLower: o.valueLower, valueExact: o.valueExact,
    valueMapToKey: undefined, valueMapTarget: undefined, valueMapSelf: undefined,
  };
}

interface ClassChange { code: number; message: string }

interface Plan {
  exclude?: string;
  /** Reject reason when no structural class can be found. */
  noStructural?: string;
  /** Needs attribute coverage to decide (several or no structural classes): plan per attribute set. */
  ambiguous?: boolean;
  classes: string[];
  changes: ClassChange[];
  allowed: Set<string>;
  /** `allowed` by key number: 1 when allowed (a key numbered after the plan was made is not in it). */
  allowedIds: Uint8Array;
  must: string[];
  /** The numbers of the `must` keys, in the same order. */
  mustIds: number[];
  /** Which class requires each MUST key, for messages. */
  mustBy: Map<string, string>;
  extensible: boolean;
}

/**
 * A Plan with every field set, in one order: plans made as `{ ...empty, exclude }` and the like had four shapes, and
 * each new one met in a run threw fixEntry's optimized code away (V8 "wrong map" deoptimizations, then a new
 * compilation of ~50 ms, two or three times per worker).
 */
function newPlan(extra: Pick<Plan, 'exclude' | 'noStructural' | 'ambiguous'>, classes: string[], changes: ClassChange[], allowed: Set<string>,
  allowedIds: Uint8Array, must: string[], mustIds: number[], mustBy: Map<string, string>, extensible: boolean): Plan {
  return {
    exclude: extra.exclude, noStructural: extra.noStructural, ambiguous: extra.ambiguous ?? false,
    classes, changes, allowed, allowedIds, must, mustIds, mustBy, extensible,
  };
}

interface Cx {
  batch: Batch;
  rec: LdifRecord;
  explain: boolean;
  /** Fixes of the batch so far by code number (F), and the codes in the order they first occurred. */
  counts: number[];
  order: number[];
}

function count(cx: Cx, code: number): void {
  if (cx.counts[code]++ === 0) cx.order.push(code);
}

function fix(cx: Cx, code: number, message?: string | (() => string)): void {
  count(cx, code);
  if (cx.explain) {
    const notes = (cx.batch.notes ??= []);
    notes.push({ dn: cx.rec.dn, stage: STAGE, code: FIX_CODES[code], message: typeof message === 'function' ? message() : message ?? FIX_CODES[code] } satisfies Note);
  }
}

/** Count a fix on an attribute; the note text is only built when the entry is explained. */
function fixAttr(cx: Cx, code: number, name: string, verb: string, why: string): void {
  count(cx, code);
  if (cx.explain) (cx.batch.notes ??= []).push({ dn: cx.rec.dn, stage: STAGE, code: FIX_CODES[code], message: name + verb + why });
}

/**
 * The fixed attributes of the entry being fixed, in the order they are first set: what a new Map would hold, kept in
 * arrays reused for every entry. Building a new Map per entry was the largest allocation of the stage (its table
 * regrows 4 -> 8 -> 16 -> 32 for a typical entry, ~1.5 KB); most entries instead become their source map with the
 * removed attributes deleted and the changed ones set in place, which gives the same order (see `inPlace` in fixEntry).
 */
interface EntryState {
  plan: Plan;
  cx: Cx;
  rdn: Array<{ type: string; value: string }>;
  /** Slots: descriptions, attributes, and whether the attribute is the source's own object under that description. */
  keys: string[];
  attrs: Attribute[];
  own: boolean[];
  n: number;
  /** Source descriptions that got no slot while read (deleted from the source map by the in-place commit). */
  dropped: string[];
  nDropped: number;
  /** A slot was made for a description other than the one being read (a rename, a value map's target). */
  foreign: boolean;
  /** model key number -> slot of the attribute without options. */
  byKey: IdStamped;
  /** Model key numbers present (options included). */
  present: IdStamped;
  needExt: boolean;
}

/** The slot of a description, or -1. Linear: only needed off the common path, and an entry has a few dozen slots. */
function findSlot(es: EntryState, desc: string): number {
  for (let i = 0; i < es.n; i++) if (es.keys[i] === desc) return i;
  return -1;
}

/** Set a description's slot (as Map.set would: in place when it has one, else last); returns the slot. */
function setSlot(es: EntryState, desc: string, a: Attribute, own: boolean, known = findSlot(es, desc)): number {
  if (known >= 0) {
    es.attrs[known] = a;
    es.own[known] = own;
    return known;
  }
  const i = es.n++;
  es.keys[i] = desc;
  es.attrs[i] = a;
  es.own[i] = own;
  return i;
}

/**
 * A set (or map to slot numbers) of small integers reused for every entry, emptied by bumping a generation stamp:
 * no clearing, no hashing (model keys are numbered once, see Fixer.keyId).
 */
class IdStamped {
  private gen = 1;
  private stamp = new Int32Array(64);
  private val = new Int32Array(64);
  reset(): void {
    if (++this.gen > 1e9) { this.gen = 1; this.stamp.fill(0); }
  }
  has(id: number): boolean { return this.stamp[id] === this.gen; }
  add(id: number): void {
    if (id >= this.stamp.length) this.grow(id);
    this.stamp[id] = this.gen;
  }
  /** The number set for `id`, or -1. */
  get(id: number): number { return this.stamp[id] === this.gen ? this.val[id] : -1; }
  set(id: number, v: number): void {
    if (id >= this.stamp.length) this.grow(id);
    this.stamp[id] = this.gen;
    this.val[id] = v;
  }
  private grow(id: number): void {
    const n = Math.max(id + 1, this.stamp.length * 2);
    const stamp = new Int32Array(n);
    stamp.set(this.stamp);
    const val = new Int32Array(n);
    val.set(this.val);
    this.stamp = stamp;
    this.val = val;
  }
}

/** Whether `values` holds `want`: exact first, then ignoring case and inner white space. */
function hasValue(values: Value[], want: string): boolean {
  for (const v of values) if (v === want) return true;
  const w = normValue(want);
  for (const v of values) if (typeof v === 'string' && normValue(v) === w) return true;
  return false;
}

class RejectError {
  constructor(readonly code: string, readonly message: string) {}
}

const lowerSet = (xs: string[] | undefined): Set<string> => new Set((xs ?? []).map((x) => x.toLowerCase()));
const lowerMap = <T>(m: Record<string, T> | undefined): Map<string, T> =>
  new Map(Object.entries(m ?? {}).map(([k, v]) => [k.toLowerCase(), v]));

function normValue(v: string): string {
  return v.trim().replace(/\s+/g, ' ').toLowerCase();
}

/** The compiled stage: schema index, preset lookups, caches. One per stage instance (or worker). */
class Fixer {
  readonly s: Schema;
  readonly strategy: FixSchemaStrategy;
  readonly useExtensible: boolean;
  readonly explain: Set<string>;
  readonly presetName: string;
  private readonly removeAttrs: Set<string>;
  private readonly operational: Set<string>;
  private readonly mapAttrs: Map<string, string>;
  private readonly valueMaps: Map<string, ValueMap>;
  private readonly removeOcs: Set<string>;
  private readonly mapOcs: Map<string, string>;
  private readonly excludeOcs: Set<string>;
  private readonly byRdn: Map<string, string>;
  private readonly auxEq: Map<string, string>;
  private readonly attrCache = new Map<string, AttrInfo>();
  /** The last entry's attribute descriptions by position (objectclass left out) and their infos (see fixEntry). */
  private readonly seenKeys: string[] = [];
  private readonly seenInfos: AttrInfo[] = [];
  private readonly planCache = new Map<string, Plan>();
  /** First level of the plan cache: by RDN types and the classes exactly as spelled (list-memo.ts), no sorting. */
  private readonly plansByList = new ListMemo<Plan>((ocValues, rdnTypes) => this.planBySortedList(ocValues, rdnTypes), 20000);
  private readonly extName: string | undefined;
  private readonly es: EntryState = {
    plan: undefined as unknown as Plan, cx: undefined as unknown as Cx, rdn: [], keys: [], attrs: [], own: [], n: 0,
    dropped: [], nDropped: 0, foreign: false, byKey: new IdStamped(), present: new IdStamped(), needExt: false,
  };
  /** Model keys by number (see IdStamped), and the numbers of cn and sn (MUST sn is filled from cn). */
  private readonly keyIds = new Map<string, number>();
  private readonly cnId: number;
  private readonly snId: number;
  /** The batch's fix counts (see Cx), reused. */
  private readonly counts: number[] = FIX_CODES.map(() => 0);
  private readonly countOrder: number[] = [];

  constructor(opts: FixSchemaOptions) {
    this.s = new Schema(opts.schema);
    const p = opts.preset ?? {};
    this.presetName = p.name ?? 'preset';
    this.strategy = opts.strategy ?? 'preserve';
    this.extName = this.s.className('extensibleObject');
    this.useExtensible = this.strategy === 'preserve' && !!opts.extensibleObject && this.extName !== undefined;
    this.explain = new Set((opts.explain ?? []).map((d) => normalizeDn(d)));
    this.removeAttrs = lowerSet(p.removeAttributes);
    this.operational = new Set([...SOURCE_OPERATIONAL, ...lowerSet(p.operationalAttributes)]);
    this.mapAttrs = lowerMap(p.mapAttributes);
    this.valueMaps = lowerMap(p.valueMaps);
    this.removeOcs = lowerSet(p.removeObjectClasses);
    this.mapOcs = lowerMap(p.mapObjectClasses);
    this.excludeOcs = lowerSet(p.excludeObjectClasses);
    this.byRdn = new Map([...lowerMap(STRUCTURAL_BY_RDN), ...lowerMap(p.structuralByRdn)]);
    this.auxEq = new Map([...lowerMap(AUX_EQUIVALENTS), ...lowerMap(p.auxiliaryEquivalents)]);
    this.cnId = this.keyId('cn');
    this.snId = this.keyId('sn');
  }

  /** The number of a model key (given on first sight; never reused). */
  keyId(key: string): number {
    let id = this.keyIds.get(key);
    if (id === undefined) this.keyIds.set(key, (id = this.keyIds.size));
    return id;
  }

  // -- attributes --

  attrInfo(desc: string, noValueMap = false): AttrInfo {
    const cacheKey = noValueMap ? '\0' + desc : desc;
    let info = this.attrCache.get(cacheKey);
    if (!info) {
      info = this.computeAttrInfo(desc, noValueMap);
      this.attrCache.set(cacheKey, info);
    }
    return info;
  }

  private computeAttrInfo(desc: string, noValueMap: boolean): AttrInfo {
    const semi = desc.indexOf(';');
    const base = semi < 0 ? desc : desc.slice(0, semi);
    const opts = semi < 0 ? '' : desc.slice(semi);
    const id = this.keyId(base);
    if (this.removeAttrs.has(desc) || this.removeAttrs.has(base)) {
      return newInfo('remove', base, id, { code: F.PRESET_ATTR_REMOVED, why: `source-internal attribute, removed by preset ${this.presetName}` });
    }
    if (this.operational.has(base)) {
      return newInfo('remove', base, id, { code: F.SCHEMA_OPERATIONAL_REMOVED, why: 'operational attribute of the source server' });
    }
    const vm = noValueMap ? undefined : this.valueMaps.get(base);
    if (vm) {
      const valueLower = new Map<string, string | null>();
      for (const [from, to] of Object.entries(vm.values)) if (!valueLower.has(from.toLowerCase())) valueLower.set(from.toLowerCase(), to);
      const valueExact = new Map<string, string | null>();
      for (const from of Object.keys(vm.values)) if (from.trim() === from) valueExact.set(from, valueLower.get(from.toLowerCase())!);
      return newInfo('map', base, id, { valueMap: vm, valueMapTo: vm.to ?? base, valueLower, valueExact });
    }
    const mapped = this.mapAttrs.get(base);
    const targetBase = mapped ?? base;
    const def = this.s.attr(targetBase);
    if (!def) {
      return newInfo('remove', base, id, { code: F.SCHEMA_ATTR_UNKNOWN_REMOVED, why: `attribute type ${mapped ?? base} is not defined in the target schema` });
    }
    if (def.noUserModification) {
      return newInfo('remove', keyOf(def), this.keyId(keyOf(def)), { code: F.SCHEMA_OPERATIONAL_REMOVED, why: 'NO-USER-MODIFICATION in the target schema: the server maintains it' });
    }
    const operational = def.usage !== undefined && def.usage !== 'userApplications';
    const binary = /;binary(;|$)/.test(opts);
    return newInfo(operational ? 'free' : 'keep', keyOf(def), this.keyId(keyOf(def)), {
      outName: mapped ? mapped + opts : undefined,
      renamedFrom: mapped ? base : undefined,
      singleValue: !!def.singleValue,
      check: binary ? Check.None : checkFor(this.s.syntaxOf(targetBase)),
    });
  }

  // -- classes --

  /** The class plan for an entry; cached by class list + RDN types (+ attribute set when ambiguous). */
  plan(ocValues: Value[], rdnTypes: string, attrs: Map<string, Attribute>): Plan {
    // First level: the class list as spelled; a list not seen yet is looked up by its sorted classes.
    const p = this.plansByList.get(rdnTypes, ocValues);
    if (!p.ambiguous) return p;
    let raw = rdnTypes;
    for (let i = 0; i < ocValues.length; i++) raw += '\u0001' + (ocValues[i] as string);
    const attrKeys: string[] = [];
    for (const k of attrs.keys()) {
      const info = this.attrInfo(k);
      if (info.kind === 'keep') attrKeys.push(info.key);
    }
    const key2 = raw + '|' + attrKeys.sort().join(',');
    let p2 = this.planCache.get(key2);
    if (!p2) {
      p2 = this.computePlan(ocValues, rdnTypes, new Set(attrKeys));
      this.remember(this.planCache, key2, p2);
    }
    return p2;
  }

  /** Second level: the classes sorted and lower-cased. */
  private planBySortedList(ocValues: Value[], rdnTypes: string): Plan {
    const l: string[] = [];
    for (const v of ocValues) l.push(String(v).trim().toLowerCase());
    const key = l.sort().join(',') + '|' + rdnTypes;
    let p = this.planCache.get(key);
    if (!p) {
      p = this.computePlan(ocValues, rdnTypes, null);
      this.remember(this.planCache, key, p);
    }
    return p;
  }

  private remember(cache: Map<string, Plan>, key: string, p: Plan): void {
    if (cache.size > 20000) cache.clear();
    cache.set(key, p);
  }

  private computePlan(ocValues: Value[], rdnTypes: string, attrKeys: Set<string> | null): Plan {
    const s = this.s;
    const changes: ClassChange[] = [];
    const classes: string[] = [];
    const seen = new Set<string>();
    const add = (name: string) => {
      const l = name.toLowerCase();
      if (seen.has(l)) return false;
      seen.add(l);
      classes.push(name);
      return true;
    };
    const empty = (extra: Pick<Plan, 'exclude' | 'noStructural' | 'ambiguous'>): Plan =>
      newPlan(extra, classes, changes, new Set(), new Uint8Array(0), [], [], new Map(), false);
    for (const raw of ocValues) {
      let v = String(raw).trim();
      let l = v.toLowerCase();
      if (this.excludeOcs.has(l)) return empty({ exclude: v });
      const mapped = this.mapOcs.get(l);
      if (mapped !== undefined) {
        if (!mapped) {
          changes.push({ code: F.PRESET_OC_REMOVED, message: `objectClass ${v} removed by preset ${this.presetName}` });
          continue;
        }
        changes.push({ code: F.SCHEMA_OC_MAPPED, message: `objectClass ${v} mapped to ${mapped} by preset ${this.presetName}` });
        v = mapped;
        l = v.toLowerCase();
      } else if (this.removeOcs.has(l)) {
        changes.push({ code: F.PRESET_OC_REMOVED, message: `objectClass ${v} removed by preset ${this.presetName}` });
        continue;
      }
      const target = s.className(v);
      if (!target) {
        changes.push({ code: F.SCHEMA_OC_UNKNOWN_REMOVED, message: `objectClass ${v} removed: not defined in the target schema` });
        continue;
      }
      if (target !== v && !mapped) changes.push({ code: F.SCHEMA_OC_RENAMED, message: `objectClass ${v} written as ${target} (target spelling)` });
      add(target);
    }
    this.addSuperclasses(classes, add, changes);

    // One structural chain.
    const structs = classes.filter((c) => s.kind(c) === 'STRUCTURAL');
    const leaves = structs.filter((c) => !structs.some((o) => o !== c && s.isSubclassOf(o, c)));
    const rdnKeys = rdnTypes ? rdnTypes.split('+').map((t) => s.attrKey(t) ?? t) : [];
    if (leaves.length !== 1) {
      if (attrKeys === null) return empty({ ambiguous: true });
      if (leaves.length === 0) {
        const chosen = this.pickStructural(rdnKeys, attrKeys);
        if (!chosen) {
          return empty({ noStructural: `no structural objectClass, and no class of the target allows the RDN attribute ${rdnTypes || '(none)'}` });
        }
        add(chosen);
        changes.push({ code: F.SCHEMA_STRUCTURAL_ADDED, message: `structural objectClass ${chosen} added (the entry had none; it allows the RDN attribute ${rdnTypes})` });
        this.addSuperclasses([chosen], add, changes);
      } else {
        const scored = leaves.map((c, i) => ({ c, i, score: this.score(c, rdnKeys, attrKeys) }));
        scored.sort((a, b) => b.score - a.score || a.i - b.i);
        const keep = scored[0].c;
        const keepChain = new Set(s.superclassChain(keep));
        for (const { c } of scored.slice(1)) {
          const aux = this.auxEq.get(c.toLowerCase());
          const auxName = aux && s.kind(aux) === 'AUXILIARY' ? s.className(aux) : undefined;
          changes.push({
            code: F.SCHEMA_MULTIPLE_STRUCTURAL,
            message: auxName
              ? `structural objectClass ${c} replaced by auxiliary ${auxName}: only one structural chain allowed, kept ${keep} (fits RDN ${rdnTypes}, covers most attributes)`
              : `structural objectClass ${c} dropped: only one structural chain allowed, kept ${keep} (fits RDN ${rdnTypes}, covers most attributes)`,
          });
          if (auxName) {
            add(auxName);
            this.addSuperclasses([auxName], add, changes);
          }
        }
        // Remove every structural class outside the kept chain.
        for (let i = classes.length - 1; i >= 0; i--) {
          const oc = s.objectClass(classes[i]);
          if (oc && oc.kind === 'STRUCTURAL' && !keepChain.has(oc)) {
            seen.delete(classes[i].toLowerCase());
            classes.splice(i, 1);
          }
        }
      }
    }
    const { must, may } = s.attributesOf(classes);
    const mustBy = new Map<string, string>();
    for (const c of classes) {
      for (const oc of s.superclassChain(c)) for (const a of oc.must) if (!mustBy.has(s.attrKey(a) ?? a.toLowerCase())) mustBy.set(s.attrKey(a) ?? a.toLowerCase(), c);
    }
    const allowed = new Set([...must, ...may]);
    const allowedIds = new Uint8Array(this.keyIds.size + allowed.size);
    for (const k of allowed) allowedIds[this.keyId(k)] = 1;
    const extensible = this.extName !== undefined && seen.has(this.extName.toLowerCase());
    const mustList = [...must].filter((k) => k !== 'objectclass');
    return newPlan({}, classes, changes, allowed, allowedIds, mustList, mustList.map((k) => this.keyId(k)), mustBy, extensible);
  }

  private addSuperclasses(list: string[], add: (n: string) => boolean, changes: ClassChange[]): void {
    for (const c of [...list]) {
      for (const sup of this.s.superclassChain(c).slice(1)) {
        const name = sup.names[0] ?? sup.oid;
        if (add(name)) changes.push({ code: F.SCHEMA_SUPERCLASS_ADDED, message: `objectClass ${name} added: superclass of ${c}` });
      }
    }
  }

  private score(cls: string, rdnKeys: string[], attrKeys: Set<string>): number {
    const { must, may } = this.s.attributesOf([cls]);
    let sc = 0;
    if (rdnKeys.length && rdnKeys.every((k) => must.has(k) || may.has(k))) sc += 1_000_000;
    for (const k of attrKeys) if (must.has(k) || may.has(k)) sc += 100;
    for (const k of must) if (k !== 'objectclass' && !attrKeys.has(k) && !rdnKeys.includes(k)) sc -= 50;
    const pref = rdnKeys.length ? this.byRdn.get(rdnKeys[0]) : undefined;
    if (pref && pref.toLowerCase() === cls.toLowerCase()) sc += 10;
    return sc;
  }

  /** A structural class for an entry with none: the preset/default class for the RDN attribute, else the best fit. */
  private pickStructural(rdnKeys: string[], attrKeys: Set<string>): string | undefined {
    if (!rdnKeys.length) return undefined;
    const pref = this.byRdn.get(rdnKeys[0]);
    const fits = (oc: ObjectClassDef) => {
      const { must, may } = this.s.attributesOf([oc.names[0] ?? oc.oid]);
      if (!rdnKeys.every((k) => must.has(k) || may.has(k))) return false;
      // MUST must be present or derivable (RDN, sn from cn).
      for (const k of must) {
        if (k === 'objectclass' || attrKeys.has(k) || rdnKeys.includes(k)) continue;
        if (k === 'sn' && (attrKeys.has('cn') || rdnKeys.includes('cn'))) continue;
        return false;
      }
      return true;
    };
    if (pref) {
      const oc = this.s.objectClass(pref);
      if (oc && oc.kind === 'STRUCTURAL' && fits(oc)) return oc.names[0] ?? oc.oid;
    }
    let best: string | undefined;
    let bestScore = -Infinity;
    for (const oc of this.s.structuralClasses()) {
      if (oc.obsolete || !fits(oc)) continue;
      const name = oc.names[0] ?? oc.oid;
      const sc = this.score(name, rdnKeys, attrKeys);
      if (sc > bestScore) { best = name; bestScore = sc; }
    }
    return best;
  }

  // -- records --

  run(batch: Batch): Batch {
    const out: LdifRecord[] = [];
    const explainAny = this.explain.size > 0;
    const cx: Cx = { batch, rec: batch.records[0], explain: false, counts: this.counts, order: this.countOrder };
    for (let i = 0; i < cx.order.length; i++) cx.counts[cx.order[i]] = 0; // left by a batch that threw
    cx.order.length = 0;
    for (const rec of batch.records) {
      cx.rec = rec;
      cx.explain = explainAny && this.explainHit(rec);
      try {
        if (rec.kind === 'entry' || rec.changetype === 'add') this.fixEntry(rec, cx);
        else if (rec.changetype === 'modify') this.fixModify(rec, cx);
        out.push(rec);
      } catch (e) {
        if (!(e instanceof RejectError)) throw e;
        // Counted by the pipeline as a reject (by code), not as a fix.
        if (cx.explain) (batch.notes ??= []).push({ dn: rec.dn, stage: STAGE, code: e.code, message: `rejected: ${e.message}` });
        const r: Reject = { code: e.code, message: e.message, dn: rec.dn, record: rec };
        if (rec.origin) r.origin = rec.origin;
        batch.rejects.push(r);
      }
    }
    for (let i = 0; i < cx.order.length; i++) {
      const code = cx.order[i];
      countOn(batch, FIX_CODES[code], cx.counts[code]);
      cx.counts[code] = 0;
    }
    cx.order.length = 0;
    batch.records = out;
    return batch;
  }

  private explainHit(rec: LdifRecord): boolean {
    try {
      return this.explain.has(ndnOf(rec));
    } catch {
      return false;
    }
  }

  private rdnOfRecord(dn: string): Array<{ type: string; value: string }> {
    // Fast path: a first RDN without escapes, quotes or '+'.
    let end = dn.indexOf(',');
    if (end < 0) end = dn.length;
    const eq = dn.indexOf('=');
    if (eq > 0 && eq < end) {
      let i = 0;
      for (; i < end; i++) {
        const c = dn.charCodeAt(i);
        if (c === 92 /* \ */ || c === 34 /* " */ || c === 43 /* + */) break;
      }
      if (i === end) return [{ type: dn.slice(0, eq).trim(), value: dn.slice(eq + 1, end).trim() }];
    }
    try {
      return rdnOf(dn);
    } catch (e) {
      throw new RejectError('SCHEMA_RDN_INVALID', `the DN cannot be parsed: ${(e as Error).message}`);
    }
  }

  private fixEntry(rec: Entry | AddRecord, cx: Cx): void {
    const s = this.s;
    const attrs = rec.attrs;
    const ocAttr = attrs.get('objectclass');
    const rdn = this.rdnOfRecord(rec.dn);
    let rdnTypes = rdn[0]?.type.toLowerCase() ?? '';
    for (let i = 1; i < rdn.length; i++) rdnTypes += '+' + rdn[i].type.toLowerCase();
    const plan = this.plan(ocAttr?.values ?? [], rdnTypes, attrs);
    if (plan.exclude) {
      throw new RejectError('PRESET_EXCLUDED', `objectClass ${plan.exclude} is a source-only entry kind the target cannot hold (excluded by preset ${this.presetName})`);
    }
    if (plan.noStructural) throw new RejectError('SCHEMA_NO_STRUCTURAL', plan.noStructural);
    for (let i = 0; i < plan.changes.length; i++) fix(cx, plan.changes[i].code, plan.changes[i].message);

    // The entry state is scratch, reused across entries; only the attributes it ends with are new.
    const es = this.es;
    es.plan = plan;
    es.cx = cx;
    es.rdn = rdn;
    es.n = 0;
    es.nDropped = 0;
    es.foreign = false;
    es.byKey.reset();
    es.present.reset();
    es.needExt = false;
    setSlot(es, 'objectclass', { name: ocAttr?.name ?? 'objectClass', values: plan.classes.slice() }, false, -1);

    // Keys and values walked side by side: `for (const [desc, a] of attrs)` allocates an entry pair per attribute
    // (measured 64 bytes each, about 1.6 KB per entry) and is several times slower.
    const attrValues = attrs.values();
    let first = true;
    // Whether the source map, with `dropped` deleted and the slots set, equals the new map in order: the source has
    // objectclass first (a new map has it first), and while the source is read every slot made is the description
    // being read. Descriptions added after (RDN values, MUST) go last either way.
    let inPlace = true;
    // The attribute descriptions of one export come in the same order entry after entry, and the reader hands the same
    // string for the same name at the same position (its shape cache): the previous entry's description at this
    // position, when equal (mostly the same string: a pointer compare), gives its info without a look-up in attrCache.
    const seenKeys = this.seenKeys;
    const seenInfos = this.seenInfos;
    let pos = 0;
    for (const desc of attrs.keys()) {
      const a = attrValues.next().value as Attribute;
      if (first) {
        first = false;
        if (desc !== 'objectclass') inPlace = false;
      }
      if (desc === 'objectclass') continue;
      const slots = es.n;
      let info: AttrInfo;
      if (seenKeys[pos] === desc) info = seenInfos[pos];
      else {
        info = this.attrInfo(desc);
        seenKeys[pos] = desc;
        seenInfos[pos] = info;
      }
      pos++;
      if (info.kind === 'remove') {
        fixAttr(cx, info.code!, a.name, ' removed: ', info.why!);
      } else if (info.kind === 'map') {
        this.applyValueMap(info, desc, a, es);
      } else if (info.outName) {
        fixAttr(cx, F.SCHEMA_ATTR_MAPPED, a.name, ' renamed to ', `${info.outName} by preset ${this.presetName}`);
        this.put(es, info, info.outName.toLowerCase(), info.outName, a.values, undefined, false);
      } else this.put(es, info, desc, a.name, a.values, a, true);
      if (es.foreign) inPlace = false;
      else if (es.n === slots) es.dropped[es.nDropped++] = desc;
    }
    if (first) inPlace = false; // no attributes: the new map has objectclass alone

    // RDN values (RFC 4512 2.3).
    for (const ava of rdn) {
      const info = this.attrInfo(ava.type.toLowerCase());
      if (info.kind === 'remove' || info.kind === 'map') {
        throw new RejectError('SCHEMA_RDN_UNKNOWN', `RDN attribute ${ava.type} cannot be kept: ${info.why ?? 'it is value-mapped by the preset'}`);
      }
      if (!(info.kind === 'free' || plan.extensible || plan.allowedIds[info.id] === 1)) {
        if (this.useExtensible) es.needExt = true;
        else throw new RejectError('SCHEMA_RDN_NOT_ALLOWED', `RDN attribute ${ava.type} is not allowed by objectClasses ${plan.classes.join(', ')}`);
      }
      const k = es.byKey.get(info.id);
      const cur = k >= 0 ? es.attrs[k] : undefined;
      if (cur && hasValue(cur.values, ava.value)) continue;
      if (cur) setSlot(es, es.keys[k], { name: cur.name, values: cur.values.concat(ava.value) }, false, k); // never mutate: `cur` may be the source's
      else es.byKey.set(info.id, setSlot(es, ava.type.toLowerCase(), { name: ava.type, values: [ava.value] }, false));
      es.present.add(info.id);
      fixAttr(cx, F.SCHEMA_RDN_VALUE_ADDED, `${ava.type}: ${ava.value}`, ' added: ', 'the RDN value must be present in the entry');
    }

    // MUST attributes.
    let missing: string[] | undefined;
    for (let i = 0; i < plan.must.length; i++) {
      const id = plan.mustIds[i];
      if (es.present.has(id)) continue;
      if (id === this.snId && es.present.has(this.cnId)) {
        let c = es.byKey.get(this.cnId);
        if (c < 0) c = findSlot(es, 'cn');
        const v = c >= 0 ? es.attrs[c].values[0] : undefined;
        if (v !== undefined) {
          setSlot(es, 'sn', { name: 'sn', values: [v] }, false);
          es.present.add(this.snId);
          fixAttr(cx, F.SCHEMA_MUST_FILLED, `sn: ${String(v)}`, ' added from cn: ', `${plan.mustBy.get('sn')} requires sn`);
          continue;
        }
      }
      (missing ??= []).push(plan.must[i]);
    }
    if (missing) {
      const why = missing.map((k) => `${s.attr(k)?.names[0] ?? k} (required by ${plan.mustBy.get(k)})`).join(', ');
      throw new RejectError('SCHEMA_MUST_MISSING', `missing MUST attribute${missing.length > 1 ? 's' : ''} ${why}, and no value can be derived`);
    }
    if (es.needExt && !plan.extensible) {
      es.attrs[0].values.push(this.extName!); // slot 0 is objectclass, a new attribute
      fix(cx, F.SCHEMA_EXTENSIBLE_ADDED, `objectClass ${this.extName} added to keep attributes the other classes do not allow (strategy preserve)`);
    }

    // Nothing throws from here: a rejected record is never modified.
    if (inPlace) {
      for (let i = 0; i < es.nDropped; i++) attrs.delete(es.dropped[i]);
      for (let i = 0; i < es.n; i++) if (!es.own[i]) attrs.set(es.keys[i], es.attrs[i]);
      rec.attrs = attrs; // as before, the record's attrs are set (a text-backed entry drops its text)
    } else {
      const next = new Map<string, Attribute>();
      for (let i = 0; i < es.n; i++) next.set(es.keys[i], es.attrs[i]);
      rec.attrs = next;
    }
    // Drop references to this entry's attributes from the scratch arrays.
    es.attrs.fill(undefined as unknown as Attribute, 0, es.n);
  }

  /**
   * Put one attribute's values into the fixed entry: class rules, syntax, single-value. `own`: `desc` is the source
   * description being read (a source map has each once, so it has no slot yet unless a foreign one made it).
   */
  private put(es: EntryState, info: AttrInfo, desc: string, name: string, values: Value[], orig: Attribute | undefined, own: boolean): void {
    const plan = es.plan;
    if (info.kind === 'keep' && !plan.extensible && plan.allowedIds[info.id] !== 1) {
      if (this.useExtensible) {
        es.needExt = true;
      } else {
        fixAttr(es.cx, F.SCHEMA_ATTR_NOT_ALLOWED_REMOVED, name, ' removed: ',
          `not allowed by objectClasses ${plan.classes.join(', ')}` + (this.strategy === 'strict' ? ' (strategy strict)' : ''));
        return;
      }
    }
    let vals = values;
    if (info.check !== Check.None) vals = this.checkValues(info, name, vals, es.cx);
    const slot = own && !es.foreign ? -1 : findSlot(es, desc);
    const prev = slot >= 0 ? es.attrs[slot] : undefined;
    if (prev) vals = prev.values.concat(vals.filter((v) => !prev.values.includes(v)));
    if (info.singleValue && vals.length > 1) vals = this.trimSingle(name, vals, es.rdn, this.s, info, es.cx);
    if (vals.length === 0) return;
    if (!own) es.foreign = true;
    // An attribute that needed nothing is shared with the source record (attributes are never mutated).
    const same = orig !== undefined && !prev && vals === values;
    const at = setSlot(es, desc, same ? orig : { name: prev ? prev.name : name, values: vals }, same, slot);
    es.present.add(info.id);
    if (desc.indexOf(';') < 0) es.byKey.set(info.id, at);
  }

  private applyValueMap(info: AttrInfo, desc: string, a: Attribute, es: EntryState): void {
    const cx = es.cx;
    const vm = info.valueMap!;
    const to = info.valueMapTo!;
    let mappedOut: Value[] | undefined;
    let kept: Value[] | undefined;
    for (const v of a.values) {
      const sv = typeof v === 'string' ? v : Buffer.from(v).toString('utf8');
      let target = info.valueExact!.get(sv);
      if (target === undefined) target = info.valueLower!.get(sv.trim().toLowerCase());
      if (target !== undefined) {
        // Notes (closures) are made only for an explained entry.
        if (target === null) {
          if (cx.explain) fix(cx, F.PRESET_VALUE_MAPPED, `${a.name}: ${sv} dropped by preset ${this.presetName} (the target's default)`);
          else count(cx, F.PRESET_VALUE_MAPPED);
        } else {
          (mappedOut ??= []).push(target);
          if (cx.explain) fix(cx, F.PRESET_VALUE_MAPPED, `${a.name}: ${sv} mapped to ${to}: ${target} by preset ${this.presetName}`);
          else count(cx, F.PRESET_VALUE_MAPPED);
        }
        continue;
      }
      const other = vm.otherValues ?? 'keep';
      if (other === 'reject') throw new RejectError('PRESET_VALUE_UNMAPPABLE', `${a.name}: value "${sv}" has no mapping in preset ${this.presetName}`);
      if (other === 'drop') fix(cx, F.PRESET_VALUE_MAPPED, () => `${a.name}: ${sv} dropped by preset ${this.presetName} (no mapping)`);
      else (kept ??= []).push(v);
    }
    if (mappedOut) {
      const target = (info.valueMapTarget ??= this.attrInfo((info.valueMapToKey ??= to.toLowerCase()), true));
      if (target.kind === 'remove') {
        if ((vm.targetMissing ?? 'reject') === 'reject') {
          throw new RejectError('PRESET_VALUE_UNMAPPABLE', `${a.name}: mapped to ${to}, which the target cannot hold (${target.why}); the value would be lost`);
        }
        const out = mappedOut;
        if (cx.explain) fix(cx, F.PRESET_MAP_TARGET_MISSING, `${a.name}: mapped value(s) ${out.map(String).join(', ')} for ${to} dropped: ${target.why} (preset ${this.presetName} says targetMissing: drop)`);
        else count(cx, F.PRESET_MAP_TARGET_MISSING);
      } else this.put(es, target, info.valueMapToKey!, to, mappedOut, undefined, false);
    }
    if (kept) {
      const same = (info.valueMapSelf ??= this.attrInfo(desc, true));
      if (same.kind === 'remove') fix(cx, same.code!, () => `${a.name} removed: ${same.why}`);
      else this.put(es, same, desc, a.name, kept, undefined, true);
    }
  }

  private checkValues(info: AttrInfo, name: string, values: Value[], cx: Cx): Value[] {
    let out: Value[] | undefined;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v !== 'string') continue;
      const r = checkValue(info.check, v);
      if (r === undefined) {
        if (out) out.push(v);
        continue;
      }
      out ??= values.slice(0, i);
      if (r === null) {
        throw new RejectError('SCHEMA_SYNTAX_INVALID', `${name}: value "${v}" is not valid ${CHECK_NAMES[info.check]} syntax and cannot be repaired unambiguously`);
      }
      if (r === '') {
        fix(cx, F.SCHEMA_EMPTY_VALUE_REMOVED, () => `${name}: empty value removed (not valid for its syntax)`);
        continue;
      }
      fix(cx, F.SCHEMA_SYNTAX_REPAIRED, () => `${name}: "${v}" repaired to "${r}" (${CHECK_NAMES[info.check]} syntax)`);
      out.push(r);
    }
    return out ?? values;
  }

  private trimSingle(name: string, vals: Value[], rdn: Array<{ type: string; value: string }>, s: Schema, info: AttrInfo, cx: Cx): Value[] {
    const ava = rdn.find((x) => s.attrKey(x.type) === info.key);
    const want = ava && normValue(ava.value);
    const keep = (want !== undefined && vals.find((v) => typeof v === 'string' && normValue(v) === want)) || vals[0];
    const dropped = vals.filter((v) => v !== keep);
    fix(cx, F.SCHEMA_SINGLE_VALUE_TRIMMED, () => `${name} is SINGLE-VALUE: kept "${String(keep)}", dropped ${dropped.map((v) => `"${String(v)}"`).join(', ')}`);
    return [keep];
  }

  private fixModify(rec: Extract<LdifRecord, { changetype: 'modify' }>, cx: Cx): void {
    const mods: Modification[] = [];
    let changed = false;
    for (const m of rec.mods) {
      const desc = m.name.toLowerCase();
      if (desc === 'objectclass') {
        const vals: Value[] = [];
        for (const v of m.values) {
          const l = String(v).trim().toLowerCase();
          if (this.excludeOcs.has(l)) throw new RejectError('PRESET_EXCLUDED', `objectClass ${String(v)} is a source-only entry kind (excluded by preset ${this.presetName})`);
          const mapped = this.mapOcs.get(l);
          const name = mapped ?? String(v);
          if (mapped === '' || this.removeOcs.has(l)) { fix(cx, F.PRESET_OC_REMOVED, `objectClass ${String(v)} removed by preset ${this.presetName}`); changed = true; continue; }
          const target = this.s.className(name);
          if (!target) { fix(cx, F.SCHEMA_OC_UNKNOWN_REMOVED, `objectClass ${name} removed: not defined in the target schema`); changed = true; continue; }
          if (target !== String(v)) { fix(cx, mapped ? F.SCHEMA_OC_MAPPED : F.SCHEMA_OC_RENAMED, `objectClass ${String(v)} written as ${target}`); changed = true; }
          vals.push(target);
        }
        if (vals.length || m.values.length === 0) mods.push({ ...m, values: vals });
        continue;
      }
      let info = this.attrInfo(desc);
      let name = m.name;
      let values = m.values;
      if (info.kind === 'map') {
        const vm = info.valueMap!;
        const mapped: Value[] = [];
        for (const v of values) {
          const sv = String(v).trim().toLowerCase();
          const hit = Object.entries(vm.values).find(([from]) => from.toLowerCase() === sv);
          if (hit) { if (hit[1] !== null) mapped.push(hit[1]); fix(cx, F.PRESET_VALUE_MAPPED, `${m.name}: ${String(v)} mapped by preset ${this.presetName}`); }
          else if ((vm.otherValues ?? 'keep') === 'reject') throw new RejectError('PRESET_VALUE_UNMAPPABLE', `${m.name}: value "${String(v)}" has no mapping in preset ${this.presetName}`);
          else mapped.push(v);
        }
        name = info.valueMapTo!;
        info = this.attrInfo(name.toLowerCase(), true);
        values = mapped;
        changed = true;
        if (values.length === 0 && m.values.length > 0) continue;
      }
      if (info.kind === 'remove') {
        fix(cx, info.code!, () => `${m.op} of ${m.name} dropped: ${info.why}`);
        changed = true;
        continue;
      }
      if (info.outName) {
        fix(cx, F.SCHEMA_ATTR_MAPPED, `${m.name} renamed to ${info.outName} by preset ${this.presetName}`);
        name = info.outName;
        changed = true;
      }
      if ((m.op === 'add' || m.op === 'replace') && info.check !== Check.None) {
        const checked = this.checkValues(info, name, values, cx);
        if (checked !== values) { values = checked; changed = true; }
        if (values.length === 0 && m.values.length > 0) continue;
      }
      mods.push(values === m.values && name === m.name ? m : { op: m.op, name, values });
    }
    if (mods.length === 0) throw new RejectError('SCHEMA_MODIFY_EMPTY', 'every modification of this record was dropped for the target schema');
    if (changed) rec.mods = mods;
  }
}

function validate(opts: FixSchemaOptions): void {
  const bad = (name: string, why: string) => new LdapflowError('SCHEMA_OPTION_INVALID', `fixSchema option "${name}" ${why}`);
  if (!opts || typeof opts !== 'object') throw bad('(options)', 'must be an object');
  if (!opts.schema || !Array.isArray(opts.schema.attributeTypes) || !Array.isArray(opts.schema.objectClasses)) {
    throw bad('schema', 'must be SchemaData ({ attributeTypes, objectClasses })');
  }
  if (opts.strategy !== undefined && opts.strategy !== 'preserve' && opts.strategy !== 'strict') {
    throw bad('strategy', `must be "preserve" or "strict", not "${String(opts.strategy)}"`);
  }
  if (opts.explain !== undefined && (!Array.isArray(opts.explain) || opts.explain.some((d) => typeof d !== 'string'))) {
    throw bad('explain', 'must be a list of DNs');
  }
  for (const d of opts.explain ?? []) {
    try { normalizeDn(d); } catch { throw bad('explain', `holds an invalid DN "${d}"`); }
  }
}

/** The fix-schema map stage. Options are plain data; the stage is rebuilt in a worker from them. */
export function fixSchema(opts: FixSchemaOptions): MapStage {
  validate(opts);
  const fixer = new Fixer(opts);
  return {
    kind: 'map',
    name: STAGE,
    fn: (batch) => fixer.run(batch),
    worker: { factory: 'fixSchema', options: opts },
  };
}

/** Load schema files and a preset, then build the stage (what the CLI's --schema/--preset/--strategy/--explain use). */
export async function buildFixSchema(o: BuildFixSchemaOptions): Promise<MapStage> {
  const { loadSchemas } = await import('../schema/load.js');
  const { loadPreset } = await import('../presets/index.js');
  const schema = await loadSchemas(o.schemaPaths ?? [], { onWarning: o.onWarning, bind: o.schemaBind, connect: o.schemaConnect });
  const preset = o.preset ? await loadPreset(o.preset) : undefined;
  const opts: FixSchemaOptions = { schema };
  if (preset) opts.preset = preset;
  if (o.strategy) opts.strategy = o.strategy;
  if (o.explain?.length) opts.explain = o.explain;
  if (o.extensibleObject) opts.extensibleObject = true;
  return fixSchema(opts);
}
