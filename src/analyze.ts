/**
 * analyze: read a source once, write nothing, and report what a run would meet: entries by category, schema conflicts
 * by code (with up to three example DNs and the fix `run` applies), entries before their parents, dangling references,
 * membership cycles, duplicate DNs, and what the preset excludes.
 *
 * Definitions (the ones bench/gen.ts writes its ground truth with):
 * - categories: per record, duplicates included (the categorize stage's classifier, on the record as read);
 * - outOfOrder: records whose parent is a record of the input that first appears later;
 * - danglingReferences: values of reference attributes naming no record of the input (any spelling) nor the target
 *   (`baseDn` and what is above it, `existing`);
 * - cycles: elementary cycles of "group G has a member/uniqueMember value naming group H" (a group is an entry with
 *   member or uniqueMember values), as DNs written first-seen, starting with the one written first, in edge order;
 * - duplicates: records whose normalized DN equals that of an earlier record;
 * - excluded: records holding a class the preset's `excludeObjectClasses` lists (counted by the first such class).
 */
import type { Batch, LdifRecord, Entry, AddRecord } from './entry.js';
import { ndnOf } from './entry.js';
import { normalizeDn, parentDn } from './dn.js';
import type { Source } from './stage.js';
import { Classifier, LOAD_ORDER, type CategoryRule } from './transforms/categorize.js';
import { DEFAULT_REFERENCE_ATTRIBUTES } from './transforms/order-dependencies.js';
import type { SchemaData } from './schema/schema.js';
import type { PresetData } from './presets/index.js';

export interface AnalyzeOptions {
  source: Source;
  /** Target schema (plain data); default the built-in RFC schema. */
  schema?: SchemaData;
  /** A preset (plain data, or a built-in name / file path). */
  preset?: PresetData | string;
  /** Categorize rules (as in the config file). */
  rules?: CategoryRule[];
  /** DN(s) that exist in the target (they and what is above them). */
  baseDn?: string | string[];
  /** DNs that exist in the target. */
  existing?: string[];
  /** Reference attributes (default: the preset's, else DEFAULT_REFERENCE_ATTRIBUTES). */
  referenceAttributes?: string[];
  /** Examples kept per list (default 3 DNs per conflict code, 20 for other lists). */
  examples?: number;
  signal?: AbortSignal;
}

export interface ConflictInfo {
  count: number;
  /** Up to three DNs it happens to. */
  examples: string[];
  /** What `run` does about it. */
  fix: string;
  /** True when run rejects the entry rather than fixing it. */
  rejects: boolean;
  /** For rejects: the first message, which names the problem. */
  message?: string;
}

export interface AnalyzeReport {
  source: string;
  /** Records read (entries and change records, duplicates included). */
  entries: number;
  uniqueEntries: number;
  /** Records the reader could not parse (they would go to the reject file). */
  unreadable: number;
  categories: Record<string, number>;
  conflicts: Record<string, ConflictInfo>;
  outOfOrder: { count: number; examples: Array<{ dn: string; parent: string; line?: number }> };
  danglingReferences: { count: number; entries: number; byEntry: Record<string, number>; examples: Array<{ dn: string; attribute: string; value: string }> };
  cycles: string[][];
  duplicates: { count: number; list: Array<{ dn: string; duplicateDn: string; firstLine?: number; secondLine?: number }> };
  excluded: { count: number; byObjectClass: Record<string, number> };
  /** Parents no record of the input nor the target provides (run rejects what lies below, or creates them). */
  missingParents: { count: number; entries: number; examples: string[] };
  /** Top entries: their parent is outside the input and nothing above it is in the input. */
  roots: string[];
}

const FIXES: Record<string, string> = {
  PRESET_EXCLUDED: 'entry rejected: the preset excludes its object class',
  PRESET_OC_REMOVED: 'object class removed (preset)',
  PRESET_ATTR_REMOVED: 'attribute removed (preset)',
  PRESET_VALUE_MAPPED: 'value mapped (preset value map)',
  PRESET_VALUE_UNMAPPABLE: 'entry rejected: a value the preset cannot map',
  PRESET_MAP_TARGET_MISSING: 'value dropped: the mapped attribute is unknown to the target',
  SCHEMA_OC_MAPPED: 'object class renamed (preset map)',
  SCHEMA_OC_RENAMED: 'object class written in the target\'s spelling',
  SCHEMA_OC_UNKNOWN_REMOVED: 'object class unknown to the target removed',
  SCHEMA_SUPERCLASS_ADDED: 'missing superclass added',
  SCHEMA_MULTIPLE_STRUCTURAL: 'one structural chain kept; the other structural classes replaced by an auxiliary equivalent or dropped',
  SCHEMA_STRUCTURAL_ADDED: 'structural class chosen by the RDN attribute added',
  SCHEMA_NO_STRUCTURAL: 'entry rejected: no structural class of the target fits',
  SCHEMA_OPERATIONAL_REMOVED: 'source operational attribute removed (the target computes its own)',
  SCHEMA_ATTR_MAPPED: 'attribute renamed (preset map)',
  SCHEMA_ATTR_UNKNOWN_REMOVED: 'attribute unknown to the target removed',
  SCHEMA_ATTR_NOT_ALLOWED_REMOVED: 'attribute the entry\'s classes do not allow removed',
  SCHEMA_EXTENSIBLE_ADDED: 'extensibleObject added to keep attributes the classes do not allow',
  SCHEMA_EMPTY_VALUE_REMOVED: 'empty value removed',
  SCHEMA_SYNTAX_REPAIRED: 'value repaired to its syntax (TRUE, integer, generalized time ...)',
  SCHEMA_SYNTAX_INVALID: 'entry rejected: a value that does not fit its syntax',
  SCHEMA_SINGLE_VALUE_TRIMMED: 'single-valued attribute: the RDN value or the first one kept',
  SCHEMA_RDN_VALUE_ADDED: 'RDN value added to the entry',
  SCHEMA_RDN_NOT_ALLOWED: 'entry rejected: the RDN attribute is not allowed by its classes',
  SCHEMA_RDN_UNKNOWN: 'entry rejected: the RDN attribute is unknown to the target',
  SCHEMA_RDN_INVALID: 'entry rejected: invalid RDN',
  SCHEMA_MUST_FILLED: 'required attribute filled from the RDN (sn from cn)',
  SCHEMA_MUST_MISSING: 'entry rejected: a required attribute is missing',
  SCHEMA_MODIFY_EMPTY: 'modify rejected: nothing left to modify',
};

type EntryLike = Entry | AddRecord;

export async function analyze(opts: AnalyzeOptions): Promise<AnalyzeReport> {
  const nEx = opts.examples ?? 20;
  let preset: PresetData | undefined;
  if (typeof opts.preset === 'string') {
    const { loadPreset } = await import('./presets/index.js');
    preset = await loadPreset(opts.preset);
  } else preset = opts.preset;
  let schema = opts.schema;
  if (!schema) {
    const { builtinSchema } = await import('./schema/load.js');
    schema = builtinSchema();
  }
  const { fixSchema } = await import('./transforms/fix-schema.js');
  const fixer = fixSchema({ schema, ...(preset ? { preset } : {}) });
  const classifier = new Classifier({ rules: opts.rules, schema });
  const refAttrs = new Set((opts.referenceAttributes ?? preset?.referenceAttributes ?? DEFAULT_REFERENCE_ATTRIBUTES).map((a) => a.toLowerCase()));
  const excludedClasses = new Map((preset?.excludeObjectClasses ?? []).map((c) => [c.toLowerCase(), c]));
  const present = new Set<string>();
  for (const b of opts.baseDn === undefined ? [] : Array.isArray(opts.baseDn) ? opts.baseDn : [opts.baseDn]) {
    for (let p = normalizeDn(b); p; p = parentDn(p)) present.add(p);
  }
  for (const d of opts.existing ?? []) present.add(normalizeDn(d));

  const report: AnalyzeReport = {
    source: opts.source.name,
    entries: 0,
    uniqueEntries: 0,
    unreadable: 0,
    categories: {},
    conflicts: {},
    outOfOrder: { count: 0, examples: [] },
    danglingReferences: { count: 0, entries: 0, byEntry: {}, examples: [] },
    cycles: [],
    duplicates: { count: 0, list: [] },
    excluded: { count: 0, byObjectClass: {} },
    missingParents: { count: 0, entries: 0, examples: [] },
    roots: [],
  };
  for (const c of LOAD_ORDER) report.categories[c] = 0;

  // ndn -> index of first occurrence; per index the DN as first written and its line.
  const first = new Map<string, number>();
  const firstDn: string[] = [];
  const lines: Array<number | undefined> = [];
  // Records whose parent had not been seen: parent ndn -> [dn, line] of the waiting records.
  const waiting = new Map<string, Array<[string, number | undefined]>>();
  // References to DNs not seen yet: target ndn -> [referrer dn, attribute, value].
  const unresolved = new Map<string, Array<[string, string, string]>>();
  // Group graph: group index -> member target ndns (in value order); groups = entries with member/uniqueMember.
  const memberEdges = new Map<number, string[]>();

  const signal = opts.signal ?? new AbortController().signal;
  for await (const batch of opts.source.batches(signal)) {
    report.unreadable += batch.rejects.length;
    for (const rec of batch.records) {
      report.entries++;
      if (rec.kind === 'change' && rec.changetype !== 'add') continue;
      const e = rec as EntryLike;
      let ndn: string;
      try { ndn = ndnOf(e); } catch { report.unreadable++; continue; }
      const cat = classifier.classify(e);
      report.categories[cat] = (report.categories[cat] ?? 0) + 1;
      // Excluded by the preset.
      if (excludedClasses.size) {
        for (const v of e.attrs.get('objectclass')?.values ?? []) {
          const name = excludedClasses.get(String(v).trim().toLowerCase());
          if (name) {
            report.excluded.count++;
            report.excluded.byObjectClass[name] = (report.excluded.byObjectClass[name] ?? 0) + 1;
            break;
          }
        }
      }
      // Duplicates.
      const seenAt = first.get(ndn);
      let idx: number;
      if (seenAt !== undefined) {
        report.duplicates.count++;
        report.duplicates.list.push({ dn: firstDn[seenAt], duplicateDn: e.dn, firstLine: lineOf(seenAt), secondLine: e.origin?.line });
        idx = seenAt;
      } else {
        idx = firstDn.length;
        first.set(ndn, idx);
        firstDn.push(e.dn);
        lines.push(e.origin?.line);
        // Anyone waiting for this DN as a parent is out of order.
        const w = waiting.get(ndn);
        if (w) {
          waiting.delete(ndn);
          report.outOfOrder.count += w.length;
          for (const [dn, line] of w) if (report.outOfOrder.examples.length < nEx) report.outOfOrder.examples.push({ dn, parent: e.dn, line });
        }
        unresolved.delete(ndn);
        // Parent seen?
        const p = parentDn(ndn);
        if (p && !first.has(p)) {
          const l = waiting.get(p);
          if (l) l.push([e.dn, e.origin?.line]);
          else waiting.set(p, [[e.dn, e.origin?.line]]);
        }
      }
      // References.
      for (const [key, a] of e.attrs) {
        const base = key.includes(';') ? key.slice(0, key.indexOf(';')) : key;
        if (!refAttrs.has(base)) continue;
        const isMember = base === 'member' || base === 'uniquemember';
        for (const v of a.values) {
          if (typeof v !== 'string') continue;
          let t: string;
          try { t = normalizeDn(v.replace(/#'[01]*'B$/, '')); } catch { continue; }
          if (isMember) {
            const l = memberEdges.get(idx);
            if (l) l.push(t);
            else memberEdges.set(idx, [t]);
          }
          if (first.has(t) || present.has(t)) continue;
          const l = unresolved.get(t);
          if (l) l.push([e.dn, a.name, v]);
          else unresolved.set(t, [[e.dn, a.name, v]]);
        }
      }
      // Schema conflicts: one record at a time, so each code can be tied to the DNs it happens to.
      const b: Batch = { seq: 0, records: [e], rejects: [] };
      fixer.fn(b);
      if (b.counts) {
        for (const code in b.counts) {
          const c = (report.conflicts[code] ??= { count: 0, examples: [], fix: FIXES[code] ?? code, rejects: false });
          c.count += b.counts[code];
          if (c.examples.length < 3 && !c.examples.includes(e.dn)) c.examples.push(e.dn);
        }
      }
      for (const r of b.rejects) {
        const c = (report.conflicts[r.code] ??= { count: 0, examples: [], fix: FIXES[r.code] ?? 'entry rejected', rejects: true });
        c.rejects = true;
        c.message ??= r.message;
        if (!b.counts?.[r.code]) {
          c.count++;
          if (c.examples.length < 3 && !c.examples.includes(e.dn)) c.examples.push(e.dn);
        }
      }
    }
  }
  report.uniqueEntries = firstDn.length;

  // Dangling references: targets never seen.
  for (const [, list] of unresolved) {
    for (const [dn, attribute, value] of list) {
      report.danglingReferences.count++;
      report.danglingReferences.byEntry[dn] = (report.danglingReferences.byEntry[dn] ?? 0) + 1;
      if (report.danglingReferences.examples.length < nEx) report.danglingReferences.examples.push({ dn, attribute, value });
    }
  }
  report.danglingReferences.entries = Object.keys(report.danglingReferences.byEntry).length;

  // Parents that never came: a root when nothing above it is in the input (and no base says otherwise).
  const anyBase = present.size > 0;
  for (const [p, list] of waiting) {
    if (present.has(p)) continue;
    let anchored = false;
    for (let a = parentDn(p); a; a = parentDn(a)) if (first.has(a) || present.has(a)) { anchored = true; break; }
    if (!anchored && !anyBase) {
      for (const [dn] of list) if (report.roots.length < nEx) report.roots.push(dn);
      continue;
    }
    report.missingParents.count++;
    report.missingParents.entries += list.length;
    if (report.missingParents.examples.length < nEx) report.missingParents.examples.push(p);
  }

  report.cycles = findCycles(memberEdges, first, firstDn);
  return report;

  function lineOf(i: number): number | undefined {
    return lines[i];
  }
}

/** Elementary cycles among groups (Johnson-style search restricted to strongly connected parts). At most `limit`. */
function findCycles(edges: Map<number, string[]>, first: Map<string, number>, firstDn: string[], limit = 10_000): string[][] {
  // Adjacency among groups only, by first-occurrence index, in value order, without repeated edges.
  const adj = new Map<number, number[]>();
  for (const [g, targets] of edges) {
    const out: number[] = [];
    for (const t of targets) {
      const h = first.get(t);
      if (h !== undefined && edges.has(h) && !out.includes(h)) out.push(h);
    }
    if (out.length) adj.set(g, out);
  }
  // Tarjan's SCC (iterative).
  const index = new Map<number, number>();
  const low = new Map<number, number>();
  const onStack = new Set<number>();
  const stack: number[] = [];
  const comp = new Map<number, number>();
  let counter = 0;
  let compId = 0;
  for (const start of adj.keys()) {
    if (index.has(start)) continue;
    const work: Array<[number, number]> = [[start, 0]];
    index.set(start, counter); low.set(start, counter); counter++;
    stack.push(start); onStack.add(start);
    while (work.length) {
      const top = work[work.length - 1];
      const [v, i] = top;
      const nbrs = adj.get(v) ?? [];
      if (i < nbrs.length) {
        top[1]++;
        const w = nbrs[i];
        if (!index.has(w)) {
          index.set(w, counter); low.set(w, counter); counter++;
          stack.push(w); onStack.add(w);
          work.push([w, 0]);
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
      } else {
        work.pop();
        if (work.length) {
          const u = work[work.length - 1][0];
          low.set(u, Math.min(low.get(u)!, low.get(v)!));
        }
        if (low.get(v) === index.get(v)) {
          for (;;) {
            const w = stack.pop()!;
            onStack.delete(w);
            comp.set(w, compId);
            if (w === v) break;
          }
          compId++;
        }
      }
    }
  }
  // Enumerate elementary cycles: from each start s (in written order), only through nodes after s in its component.
  const cycles: number[][] = [];
  const starts = [...adj.keys()].sort((a, b) => a - b);
  for (const s of starts) {
    if (cycles.length >= limit) break;
    const c = comp.get(s);
    const path = [s];
    const onPath = new Set([s]);
    const iters: number[] = [0];
    while (path.length && cycles.length < limit) {
      const v = path[path.length - 1];
      const nbrs = adj.get(v) ?? [];
      const i = iters[iters.length - 1];
      if (i >= nbrs.length) { path.pop(); iters.pop(); onPath.delete(v); continue; }
      iters[iters.length - 1]++;
      const w = nbrs[i];
      if (comp.get(w) !== c || w < s) continue;
      if (w === s) { cycles.push([...path]); continue; }
      if (onPath.has(w)) continue;
      path.push(w); onPath.add(w); iters.push(0);
    }
  }
  return cycles.map((cy) => cy.map((i) => firstDn[i]));
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function table(rows: string[][], head: string[]): string {
  const w = head.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k].length)));
  const line = (r: string[]) => r.map((c, k) => (k === r.length - 1 ? c : pad(c, w[k]))).join('  ').trimEnd();
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

/** The report as readable tables. */
export function formatAnalyzeReport(r: AnalyzeReport): string {
  const out: string[] = [];
  out.push(`Analysis of ${r.source}: ${r.entries} records, ${r.uniqueEntries} distinct DNs${r.unreadable ? `, ${r.unreadable} unreadable` : ''}`);
  out.push('');
  const cats = Object.entries(r.categories);
  out.push(table(cats.map(([c, n]) => [c, String(n)]), ['category', 'entries']));
  out.push('');
  const conf = Object.entries(r.conflicts).sort((a, b) => b[1].count - a[1].count);
  if (conf.length) {
    out.push(table(conf.map(([code, c]) => [code, String(c.count), c.fix, c.examples.join('; ')]), ['schema conflict', 'count', 'what run does', 'examples']));
  } else out.push('schema conflicts: none');
  out.push('');
  const summary: string[][] = [
    ['entries before their parent', String(r.outOfOrder.count), r.outOfOrder.examples.slice(0, 3).map((x) => x.dn).join('; ')],
    ['dangling references', String(r.danglingReferences.count), r.danglingReferences.examples.slice(0, 3).map((x) => `${x.dn} ${x.attribute}: ${x.value}`).join('; ')],
    ['membership cycles', String(r.cycles.length), r.cycles.slice(0, 3).map((c) => c.join(' -> ')).join('; ')],
    ['duplicate DNs', String(r.duplicates.count), r.duplicates.list.slice(0, 3).map((d) => `${d.duplicateDn} (lines ${d.firstLine ?? '?'} and ${d.secondLine ?? '?'})`).join('; ')],
    ['excluded by the preset', String(r.excluded.count), Object.entries(r.excluded.byObjectClass).map(([c, n]) => `${c}: ${n}`).join(', ')],
    ['missing parents', String(r.missingParents.count), r.missingParents.examples.slice(0, 3).join('; ')],
    ['top entries (parent outside the input)', String(r.roots.length), r.roots.slice(0, 3).join('; ')],
  ];
  out.push(table(summary, ['finding', 'count', 'examples']));
  if (r.cycles.length) {
    out.push('');
    out.push('membership cycles:');
    for (const c of r.cycles.slice(0, 50)) out.push(`  ${[...c, c[0]].join(' -> ')}`);
    if (r.cycles.length > 50) out.push(`  ... and ${r.cycles.length - 50} more (--json lists all)`);
  }
  return out.join('\n') + '\n';
}
