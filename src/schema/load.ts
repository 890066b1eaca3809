/**
 * Schema loaders. One entry point, `loadSchema(spec)`, where spec is:
 *  - `builtin` (or `default`): the RFC default (core/operational, 4519, 4524 cosine, 2798 inetOrgPerson, 2307 nis);
 *  - `ldap://...` / `ldaps://...`: a live server's subschema subentry (through src/sources/ldap-server.ts
 *    `readSubschema()`, loaded on demand);
 *  - a file path: an OpenLDAP `.schema` file (attributetype/objectclass/objectidentifier keywords), or schema LDIF,
 *    either OpenLDAP cn=config (`olcAttributeTypes`/`olcObjectClasses`, `{N}` prefixes) or OpenDJ/OUD style
 *    (`attributeTypes`/`objectClasses`, also inside `changetype: modify` records). The format is sniffed from the text.
 * `loadSchemas(specs)` loads several and merges them (later ones override by OID) on top of the system schema every
 * server compiles in (RFC 4512 operational types, top, cn, uid, ...); an empty list means `builtin`.
 * Definitions that cannot be parsed are reported through `onWarning` and skipped; a file with no definitions at all
 * is an error (SCHEMA_EMPTY), as is a file that cannot be read (SCHEMA_READ).
 */
import { readFile } from 'node:fs/promises';
import { LdapflowError } from '../errors.js';
import { getStrings, valueToString } from '../entry.js';
import { parseLdifText } from '../sources/ldif-parser.js';
import { mergeSchemas, schemaFromDescriptions, type SchemaData } from './schema.js';
import { DEFAULT_ATTRIBUTE_TYPES, DEFAULT_OBJECT_CLASSES, SYSTEM_ATTRIBUTE_TYPES, SYSTEM_OBJECT_CLASSES } from './default-schema.js';

export interface LoadSchemaOptions {
  /** Called for each definition that could not be parsed (it is skipped). */
  onWarning?: (message: string) => void;
  /** For `ldap://` specs: bind credentials and connection options, passed to readSubschema() as they are. */
  bind?: unknown;
  connect?: unknown;
}

let builtinCache: SchemaData | undefined;
let systemCache: SchemaData | undefined;

/** What every server has built in (RFC 4512 operational types, top, extensibleObject, cn, uid, ...). */
export function systemSchema(): SchemaData {
  return (systemCache ??= schemaFromDescriptions(SYSTEM_ATTRIBUTE_TYPES, SYSTEM_OBJECT_CLASSES, 'system'));
}

/** The built-in RFC schema (parsed once per process). */
export function builtinSchema(): SchemaData {
  return (builtinCache ??= schemaFromDescriptions(DEFAULT_ATTRIBUTE_TYPES, DEFAULT_OBJECT_CLASSES, 'builtin'));
}

/** Strip the `{N}` ordering prefix cn=config puts in front of each value. */
function stripOrdinal(s: string): string {
  const t = s.trimStart();
  if (t.charCodeAt(0) !== 123 /* { */) return t;
  const e = t.indexOf('}');
  return e > 0 && /^\{\d+\}$/.test(t.slice(0, e + 1)) ? t.slice(e + 1) : t;
}

/** Schema from LDIF text: cn=config schema entries or OpenDJ/OUD schema entries (or modify records adding them). */
export function schemaFromLdif(text: string, source: string, opts: LoadSchemaOptions = {}): SchemaData {
  const { records, rejects } = parseLdifText(text, { file: source, mode: 'auto' });
  for (const r of rejects) opts.onWarning?.(`${source}: skipped unreadable LDIF record: ${r.message}`);
  const ats: string[] = [];
  const ocs: string[] = [];
  const take = (name: string, values: string[]) => {
    const n = name.toLowerCase();
    if (n === 'olcattributetypes' || n === 'attributetypes') for (const v of values) ats.push(stripOrdinal(v));
    else if (n === 'olcobjectclasses' || n === 'objectclasses') for (const v of values) ocs.push(stripOrdinal(v));
  };
  for (const rec of records) {
    if (rec.kind === 'entry' || (rec.kind === 'change' && rec.changetype === 'add')) {
      for (const name of ['olcAttributeTypes', 'attributeTypes', 'olcObjectClasses', 'objectClasses']) take(name, getStrings(rec, name));
    } else if (rec.kind === 'change' && rec.changetype === 'modify') {
      for (const m of rec.mods) if (m.op === 'add' || m.op === 'replace') take(m.name, m.values.map(valueToString));
    }
  }
  return finish(ats, ocs, source, opts);
}

/** Schema from an OpenLDAP `.schema` file (slapd.conf syntax). `objectidentifier` macros are expanded. */
export function schemaFromOpenLdapSchema(text: string, source: string, opts: LoadSchemaOptions = {}): SchemaData {
  // Join continuation lines (leading white space) and drop comments.
  const stmts: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (/^\s*#/.test(line)) continue;
    if (/^\s/.test(line) && stmts.length) {
      if (line.trim()) stmts[stmts.length - 1] += ' ' + line.trim();
    } else if (line.trim()) stmts.push(line.trim());
  }
  const macros = new Map<string, string>();
  const expand = (oid: string): string => {
    const c = oid.indexOf(':');
    const head = c < 0 ? oid : oid.slice(0, c);
    const m = macros.get(head.toLowerCase());
    if (m === undefined) return oid;
    return c < 0 ? m : `${m}.${oid.slice(c + 1)}`;
  };
  const ats: string[] = [];
  const ocs: string[] = [];
  for (const s of stmts) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(s);
    if (!m) continue;
    const kw = m[1].toLowerCase();
    const rest = m[2];
    if (kw === 'objectidentifier') {
      const [name, value] = rest.split(/\s+/);
      if (name && value) macros.set(name.toLowerCase(), expand(value));
    } else if (kw === 'attributetype' || kw === 'attributetypes') ats.push(expandDesc(rest, expand));
    else if (kw === 'objectclass' || kw === 'objectclasses') ocs.push(expandDesc(rest, expand));
  }
  return finish(ats, ocs, source, opts);
}

/** Expand an OID macro in the OID position and in SYNTAX. */
function expandDesc(desc: string, expand: (oid: string) => string): string {
  return desc
    .replace(/^(\s*\(\s*)([^\s()']+)/, (_, p: string, oid: string) => p + expand(oid))
    .replace(/(\bSYNTAX\s+)([A-Za-z][\w-]*:[\d.]+)/i, (_, p: string, oid: string) => p + expand(oid));
}

function finish(ats: string[], ocs: string[], source: string, opts: LoadSchemaOptions): SchemaData {
  const data = schemaFromDescriptions(ats, ocs, source, (err, d) => opts.onWarning?.(`${source}: skipped: ${err.message} (${d.slice(0, 80)})`));
  if (data.attributeTypes.length === 0 && data.objectClasses.length === 0) {
    throw new LdapflowError('SCHEMA_EMPTY', `${source}: no attributeTypes or objectClasses definitions found`, { file: source });
  }
  return data;
}

/** Sniff a schema text: OpenLDAP .schema keywords vs LDIF. */
export function schemaFromText(text: string, source: string, opts: LoadSchemaOptions = {}): SchemaData {
  const looksSchema = /^\s*(attributetypes?|objectclass(es)?|objectidentifier)\s+[(A-Za-z0-9]/im.test(text) && !/^dn:/im.test(text);
  return looksSchema ? schemaFromOpenLdapSchema(text, source, opts) : schemaFromLdif(text, source, opts);
}

/** Load one schema: `builtin`, an `ldap(s)://` URL, or a file. */
export async function loadSchema(spec: string, opts: LoadSchemaOptions = {}): Promise<SchemaData> {
  if (spec === 'builtin' || spec === 'default') return builtinSchema();
  if (/^ldaps?:\/\//i.test(spec)) return loadFromServer(spec, opts);
  let text: string;
  try {
    text = await readFile(spec, 'utf8');
  } catch (e) {
    throw new LdapflowError('SCHEMA_READ', `cannot read schema file "${spec}": ${(e as Error).message}`, { file: spec, cause: e });
  }
  return schemaFromText(text, spec, opts);
}

/**
 * Load several schemas and merge them (later ones override by OID); none means the built-in default. Schema files
 * rarely define what servers compile in (slapd's core.ldif has no `cn`, `objectClass` or `top`), so the system part
 * of the built-in schema lies beneath the files; a file's own definition of the same OID wins.
 */
export async function loadSchemas(specs: string[], opts: LoadSchemaOptions = {}): Promise<SchemaData> {
  if (specs.length === 0) return builtinSchema();
  const all: SchemaData[] = [systemSchema()];
  for (const s of specs) all.push(await loadSchema(s, opts));
  return mergeSchemas(all);
}

async function loadFromServer(url: string, opts: LoadSchemaOptions): Promise<SchemaData> {
  // Loaded on demand so that LDIF-only runs never load the LDAP client.
  const { readSubschema } = await import('../sources/ldap-server.js');
  const sub = await readSubschema(url, (opts.bind ?? {}) as Parameters<typeof readSubschema>[1], (opts.connect ?? {}) as Parameters<typeof readSubschema>[2]);
  return subschemaToData(sub as unknown as Record<string, unknown>, url.replace(/\/\/[^@/]*@/, '//'), opts);
}

/** Accept the shapes a subschema reader may return: SchemaData, or the raw attribute values. */
function subschemaToData(sub: Record<string, unknown>, source: string, opts: LoadSchemaOptions): SchemaData {
  const arr = (k: string[]): unknown[] => {
    for (const key of k) if (Array.isArray(sub[key])) return sub[key] as unknown[];
    return [];
  };
  const ats = arr(['attributeTypes', 'attributetypes']);
  const ocs = arr(['objectClasses', 'objectclasses']);
  if (ats.every((a) => typeof a === 'string') && ocs.every((o) => typeof o === 'string')) {
    return finish(ats as string[], ocs as string[], source, opts);
  }
  return { attributeTypes: ats as SchemaData['attributeTypes'], objectClasses: ocs as SchemaData['objectClasses'], sources: [source] };
}
