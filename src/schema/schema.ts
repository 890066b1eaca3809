/**
 * The schema model. `SchemaData` is plain data (JSON-able, structured-clone safe: it is what a worker receives);
 * `Schema` indexes it for queries: any name, alias or OID, case-insensitively; superclass chains; the MUST/MAY of
 * a class set with inheritance; operational, single-value and syntax (inherited through SUP) of an attribute.
 *
 * Attribute and class identity inside the model is the *key*: the lower-cased primary name (first NAME), or the
 * OID when there is no name. MUST/MAY sets are sets of keys.
 */
import type { AttributeTypeDef, ObjectClassDef } from './parse.js';
import { parseAttributeType, parseObjectClass } from './parse.js';
import { LdapflowError } from '../errors.js';

export type { AttributeTypeDef, ObjectClassDef, ClassKind, Usage } from './parse.js';

export interface SchemaData {
  attributeTypes: AttributeTypeDef[];
  objectClasses: ObjectClassDef[];
  /** Where the definitions came from (file paths, URLs, `builtin`), for messages. */
  sources?: string[];
}

/** Well-known syntax OIDs (RFC 4517). */
export const SYNTAX = {
  boolean: '1.3.6.1.4.1.1466.115.121.1.7',
  countryString: '1.3.6.1.4.1.1466.115.121.1.11',
  dn: '1.3.6.1.4.1.1466.115.121.1.12',
  directoryString: '1.3.6.1.4.1.1466.115.121.1.15',
  generalizedTime: '1.3.6.1.4.1.1466.115.121.1.24',
  ia5String: '1.3.6.1.4.1.1466.115.121.1.26',
  integer: '1.3.6.1.4.1.1466.115.121.1.27',
  nameAndOptionalUid: '1.3.6.1.4.1.1466.115.121.1.34',
  printableString: '1.3.6.1.4.1.1466.115.121.1.44',
} as const;

export function keyOf(def: { oid: string; names: string[] }): string {
  return (def.names[0] ?? def.oid).toLowerCase();
}

/**
 * Merge schemas: definitions of a later schema replace earlier ones with the same OID (or, failing that, the same
 * primary name), so `--schema core --schema custom` lets `custom` redefine. Order is kept otherwise.
 */
export function mergeSchemas(list: SchemaData[]): SchemaData {
  const merge = <T extends { oid: string; names: string[] }>(pick: (s: SchemaData) => T[]): T[] => {
    const byId = new Map<string, number>();
    const out: T[] = [];
    for (const s of list) {
      for (const d of pick(s)) {
        const ids = [d.oid.toLowerCase(), ...d.names.map((n) => 'n:' + n.toLowerCase())];
        const at = ids.map((k) => byId.get(k)).find((v) => v !== undefined);
        if (at !== undefined) out[at] = d;
        const idx = at ?? out.push(d) - 1;
        for (const k of ids) byId.set(k, idx);
      }
    }
    return out;
  };
  return {
    attributeTypes: merge((s) => s.attributeTypes),
    objectClasses: merge((s) => s.objectClasses),
    sources: list.flatMap((s) => s.sources ?? []),
  };
}

/** Parse raw description strings (e.g. a subschema subentry's attributeTypes/objectClasses values). */
export function schemaFromDescriptions(
  attributeTypes: string[],
  objectClasses: string[],
  source = 'descriptions',
  onError?: (err: LdapflowError, desc: string) => void,
): SchemaData {
  const data: SchemaData = { attributeTypes: [], objectClasses: [], sources: [source] };
  for (const d of attributeTypes) {
    try { data.attributeTypes.push(parseAttributeType(d)); } catch (e) { report(e, d, onError); }
  }
  for (const d of objectClasses) {
    try { data.objectClasses.push(parseObjectClass(d)); } catch (e) { report(e, d, onError); }
  }
  return data;
}

function report(e: unknown, d: string, onError?: (err: LdapflowError, desc: string) => void): void {
  if (e instanceof LdapflowError && onError) onError(e, d);
  else throw e;
}

export interface ClassSetAttrs {
  must: Set<string>;
  may: Set<string>;
}

/** An indexed, read-only view of a SchemaData. Build once per stage (or per worker). */
export class Schema {
  readonly data: SchemaData;
  private readonly atByName = new Map<string, AttributeTypeDef>();
  private readonly ocByName = new Map<string, ObjectClassDef>();
  private readonly chainCache = new Map<string, ObjectClassDef[]>();

  constructor(data: SchemaData) {
    this.data = data;
    // Later definitions win (mergeSchemas already dedups; raw concatenations behave the same way).
    for (const at of data.attributeTypes) {
      this.atByName.set(at.oid.toLowerCase(), at);
      for (const n of at.names) this.atByName.set(n.toLowerCase(), at);
    }
    for (const oc of data.objectClasses) {
      this.ocByName.set(oc.oid.toLowerCase(), oc);
      for (const n of oc.names) this.ocByName.set(n.toLowerCase(), oc);
    }
  }

  /** An attribute type by any name, alias or OID; options (`cn;lang-ja`) are ignored. Case-insensitive. */
  attr(name: string): AttributeTypeDef | undefined {
    const semi = name.indexOf(';');
    const base = (semi < 0 ? name : name.slice(0, semi)).trim().toLowerCase();
    return this.atByName.get(base.startsWith('oid.') ? base.slice(4) : base);
  }

  /** The model key of an attribute (lower-cased primary name), or undefined when unknown. */
  attrKey(name: string): string | undefined {
    const at = this.attr(name);
    return at && keyOf(at);
  }

  objectClass(name: string): ObjectClassDef | undefined {
    return this.ocByName.get(name.trim().toLowerCase());
  }

  /** The target's spelling of a class name (its primary name), or undefined when unknown. */
  className(name: string): string | undefined {
    const oc = this.objectClass(name);
    return oc ? (oc.names[0] ?? oc.oid) : undefined;
  }

  kind(name: string): ObjectClassDef['kind'] | undefined {
    return this.objectClass(name)?.kind;
  }

  /** The class and all its superclasses (transitively, each once), the class first. Unknown superclasses are skipped. */
  superclassChain(name: string): ObjectClassDef[] {
    const k = name.trim().toLowerCase();
    const cached = this.chainCache.get(k);
    if (cached) return cached;
    const out: ObjectClassDef[] = [];
    const seen = new Set<ObjectClassDef>();
    const walk = (n: string) => {
      const oc = this.objectClass(n);
      if (!oc || seen.has(oc)) return;
      seen.add(oc);
      out.push(oc);
      for (const s of oc.sup) walk(s);
    };
    walk(k);
    this.chainCache.set(k, out);
    return out;
  }

  /** True when `sup` is `name` or one of its superclasses. */
  isSubclassOf(name: string, sup: string): boolean {
    const s = this.objectClass(sup);
    return s !== undefined && this.superclassChain(name).includes(s);
  }

  /** All MUST and MAY attribute keys of a set of classes, inherited ones included. MUST wins over MAY. */
  attributesOf(classes: Iterable<string>): ClassSetAttrs {
    const must = new Set<string>();
    const may = new Set<string>();
    for (const c of classes) {
      for (const oc of this.superclassChain(c)) {
        for (const a of oc.must) must.add(this.attrKey(a) ?? a.toLowerCase());
        for (const a of oc.may) may.add(this.attrKey(a) ?? a.toLowerCase());
      }
    }
    for (const a of must) may.delete(a);
    return { must, may };
  }

  /** Operational: USAGE other than userApplications, or NO-USER-MODIFICATION. */
  isOperational(name: string): boolean {
    const at = this.attr(name);
    return !!at && ((at.usage !== undefined && at.usage !== 'userApplications') || !!at.noUserModification);
  }

  isSingleValue(name: string): boolean {
    return !!this.attr(name)?.singleValue;
  }

  /** The syntax OID of an attribute, inherited through SUP when the definition names none. */
  syntaxOf(name: string): string | undefined {
    let at = this.attr(name);
    for (let depth = 0; at && depth < 16; depth++) {
      if (at.syntax) return at.syntax;
      at = at.sup ? this.attr(at.sup) : undefined;
    }
    return undefined;
  }

  /** The equality matching rule, inherited through SUP. */
  equalityOf(name: string): string | undefined {
    let at = this.attr(name);
    for (let depth = 0; at && depth < 16; depth++) {
      if (at.equality) return at.equality;
      at = at.sup ? this.attr(at.sup) : undefined;
    }
    return undefined;
  }

  /** Structural classes of the schema, for choosing one when an entry has none. */
  structuralClasses(): ObjectClassDef[] {
    return this.data.objectClasses.filter((oc) => oc.kind === 'STRUCTURAL');
  }
}
