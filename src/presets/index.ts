/**
 * Presets: source-side knowledge no target schema tells (Oracle-internal attributes, value maps, entry kinds a
 * standard target cannot hold). Plain JSON data files next to this module (`oid-to-oud.json`, ...).
 *
 * `loadPreset(nameOrPath)` loads a built-in preset by name, or a user file by path. A user file may say
 * `"extends": "oid-to-oud"` (a name or a path relative to the file) and then adds to it: lists are merged (union,
 * case-insensitive), maps are merged key by key (the user wins), plain values are replaced. An entry of a list can be
 * taken back with a leading `!` (`"removeAttributes": ["!orclIsVisible"]`).
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LdapflowError } from '../errors.js';

export interface ValueMap {
  /** The attribute mapped values go to; default the same attribute. */
  to?: string;
  /** Source value (case-insensitive) -> target value, or null to drop the value. */
  values: Record<string, string | null>;
  /** Values not listed: keep them (default), drop them, or reject the entry. */
  otherValues?: 'keep' | 'drop' | 'reject';
  /** When `to` is unknown to the target schema: reject the entry (default) or drop the value. */
  targetMissing?: 'reject' | 'drop';
}

export interface PresetData {
  name?: string;
  description?: string;
  /** A preset name or a path (relative to the file) this one adds to. Resolved by loadPreset. */
  extends?: string;
  /** Attribute descriptions removed whatever the target allows: a base type (`orclGUID`) or a full description
   * with options (`authPassword;orclCommonPwd`). Code PRESET_ATTR_REMOVED. */
  removeAttributes?: string[];
  /** The source server's operational attributes (the target computes its own). Code SCHEMA_OPERATIONAL_REMOVED. */
  operationalAttributes?: string[];
  /** Rename an attribute type: source -> target (options are kept). Code SCHEMA_ATTR_MAPPED. */
  mapAttributes?: Record<string, string>;
  /** Map values of an attribute. Code PRESET_VALUE_MAPPED. */
  valueMaps?: Record<string, ValueMap>;
  /** Classes removed even when the target knows them. Code PRESET_OC_REMOVED. */
  removeObjectClasses?: string[];
  /** Classes renamed: source -> target class. Code SCHEMA_OC_MAPPED. */
  mapObjectClasses?: Record<string, string>;
  /** Entries holding one of these classes are rejected. Code PRESET_EXCLUDED. */
  excludeObjectClasses?: string[];
  /** The structural class given to an entry that has none, by RDN attribute (`cn` -> `organizationalRole`). */
  structuralByRdn?: Record<string, string>;
  /** Auxiliary class replacing a structural class dropped by the one-chain rule (`account` -> `uidObject`). */
  auxiliaryEquivalents?: Record<string, string>;
  /** DN-valued attributes the ordering stage treats as references. */
  referenceAttributes?: string[];
  /** What the ordering stage does with references to entries that are not in the run. */
  danglingReferences?: 'remove' | 'keep' | 'reject';
}

const LIST_KEYS = ['removeAttributes', 'operationalAttributes', 'removeObjectClasses', 'excludeObjectClasses', 'referenceAttributes'] as const;
const MAP_KEYS = ['mapAttributes', 'valueMaps', 'mapObjectClasses', 'structuralByRdn', 'auxiliaryEquivalents'] as const;
const SCALAR_KEYS = ['name', 'description', 'extends', 'danglingReferences'] as const;
const KNOWN = new Set<string>([...LIST_KEYS, ...MAP_KEYS, ...SCALAR_KEYS, '$comment']);

function presetDirs(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/presets (running from source) or dist/src/presets -> the package's src/presets (the JSON files ship there).
  return [here, resolve(here, '../../../src/presets')];
}

/** Names of the built-in presets. */
export function builtinPresetPath(name: string): string | undefined {
  for (const d of presetDirs()) {
    const p = resolve(d, `${name}.json`);
    if (existsSync(p)) return p;
  }
  return undefined;
}

function invalid(where: string, msg: string): LdapflowError {
  return new LdapflowError('PRESET_INVALID', `${where}: ${msg}`, { file: where });
}

/** Check the shape of a preset; throws PRESET_INVALID naming the field. */
export function validatePreset(p: unknown, where: string): PresetData {
  if (!p || typeof p !== 'object' || Array.isArray(p)) throw invalid(where, 'a preset must be a JSON object');
  const o = p as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) throw invalid(where, `unknown field "${k}"`);
  for (const k of LIST_KEYS) {
    const v = o[k];
    if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))) throw invalid(where, `"${k}" must be a list of strings`);
  }
  for (const k of MAP_KEYS) {
    const v = o[k];
    if (v !== undefined && (!v || typeof v !== 'object' || Array.isArray(v))) throw invalid(where, `"${k}" must be an object`);
  }
  for (const [attr, vm] of Object.entries((o.valueMaps ?? {}) as Record<string, unknown>)) {
    const m = vm as Record<string, unknown>;
    if (!m || typeof m !== 'object' || !m.values || typeof m.values !== 'object') throw invalid(where, `"valueMaps.${attr}.values" must be an object`);
    if (m.otherValues !== undefined && !['keep', 'drop', 'reject'].includes(m.otherValues as string)) throw invalid(where, `"valueMaps.${attr}.otherValues" must be keep, drop or reject`);
    if (m.targetMissing !== undefined && !['reject', 'drop'].includes(m.targetMissing as string)) throw invalid(where, `"valueMaps.${attr}.targetMissing" must be reject or drop`);
  }
  if (o.danglingReferences !== undefined && !['remove', 'keep', 'reject'].includes(o.danglingReferences as string)) {
    throw invalid(where, '"danglingReferences" must be remove, keep or reject');
  }
  return o as PresetData;
}

function mergeList(base: string[] | undefined, add: string[] | undefined): string[] | undefined {
  if (!add) return base;
  const out = [...(base ?? [])];
  for (const v of add) {
    if (v.startsWith('!')) {
      const drop = v.slice(1).toLowerCase();
      for (let i = out.length - 1; i >= 0; i--) if (out[i].toLowerCase() === drop) out.splice(i, 1);
    } else if (!out.some((x) => x.toLowerCase() === v.toLowerCase())) out.push(v);
  }
  return out;
}

/** `child` added to `base` (see the module comment). */
export function mergePresets(base: PresetData, child: PresetData): PresetData {
  const out: PresetData = { ...base };
  for (const k of LIST_KEYS) {
    const v = mergeList(base[k], child[k]);
    if (v) out[k] = v;
  }
  for (const k of MAP_KEYS) {
    if (child[k]) (out as Record<string, unknown>)[k] = { ...(base[k] ?? {}), ...child[k] };
  }
  for (const k of SCALAR_KEYS) if (child[k] !== undefined) (out as Record<string, unknown>)[k] = child[k];
  delete out.extends;
  return out;
}

/** Load a preset by built-in name or file path, resolving `extends`. */
export async function loadPreset(nameOrPath: string, seen: string[] = []): Promise<PresetData> {
  const isName = /^[a-z0-9][a-z0-9-]*$/i.test(nameOrPath) && !nameOrPath.endsWith('.json');
  const path = isName ? builtinPresetPath(nameOrPath) : resolve(nameOrPath);
  if (!path) throw new LdapflowError('PRESET_UNKNOWN', `unknown preset "${nameOrPath}" (built-in: oid-to-oud; or give a path to a JSON file)`);
  if (seen.includes(path)) throw invalid(path, `"extends" loops: ${[...seen, path].join(' -> ')}`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new LdapflowError('PRESET_READ', `cannot read preset "${path}": ${(e as Error).message}`, { file: path, cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw invalid(path, `not valid JSON: ${(e as Error).message}`);
  }
  const p = validatePreset(json, path);
  if (!p.extends) return p;
  const parentSpec = /^[a-z0-9][a-z0-9-]*$/i.test(p.extends) ? p.extends : resolve(dirname(path), p.extends);
  const parent = await loadPreset(parentSpec, [...seen, path]);
  return mergePresets(parent, p);
}
