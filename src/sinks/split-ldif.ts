/**
 * writeSplitLdif: an LDIF sink that writes one file per category (`users.ldif`, `groups.ldif`, ...) into a directory,
 * plus `load-order.txt`: the files in the order to load them (containers and OUs first, then policies, users,
 * applications, services, groups, unknown, rules' own categories, and last `changes.ldif` with change records such as
 * the modifies the ordering stage makes of duplicates).
 *
 * Within a file, records keep the order they arrive in (parents first after order-dependencies). Across files, an
 * entry whose parent went to a file loaded later is counted `SPLIT_PARENT_IN_LATER_FILE` and named in load-order.txt
 * comments, so nobody learns about it from a noSuchObject.
 */
import { mkdirSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LdapflowError } from '../errors.js';
import type { Batch, LdifRecord } from '../entry.js';
import type { Sink, SinkContext } from '../stage.js';
import { writeLdif } from './ldif-file.js';
import { LOAD_ORDER } from '../transforms/categorize.js';
import { normalizeDn, parentDn } from '../dn.js';

export interface WriteSplitLdifOptions {
  /** The directory to write into (created when missing). */
  dir: string;
  /** Fold column, default 76; 0 disables folding. */
  wrap?: number;
}

const CHANGES = 'changes';

function rankOf(cat: string): number {
  const i = LOAD_ORDER.indexOf(cat);
  if (i >= 0) return i;
  return cat === CHANGES ? 1000 : LOAD_ORDER.length; // rules' own categories after the built-in ones
}

export function writeSplitLdif(opts: WriteSplitLdifOptions): Sink & { files(): string[] } {
  if (!opts || typeof opts.dir !== 'string' || opts.dir === '' || opts.dir === '-') {
    throw new LdapflowError('OPTION_INVALID', 'writeSplitLdif: option "dir" must be a directory path');
  }
  const wrap = opts.wrap ?? 76;
  const sinks = new Map<string, ReturnType<typeof writeLdif>>();
  const counts = new Map<string, number>();
  // Ranks of entries that can have children (not users or groups): ndn -> rank of the file they went to.
  const ranks = new Map<string, number>();
  const conflicts: string[] = [];
  let conflictCount = 0;
  let ctx: SinkContext;
  const subCtx = (): SinkContext => ({
    reject: (r) => ctx.reject(r),
    acknowledge: () => { /* the split sink acknowledges whole batches itself */ },
    count: (c, n) => ctx.count(c, n),
    signal: ctx.signal,
  });

  async function sinkFor(cat: string): Promise<ReturnType<typeof writeLdif>> {
    let s = sinks.get(cat);
    if (!s) {
      s = writeLdif({ output: join(opts.dir, `${cat}.ldif`), wrap });
      await s.open(subCtx());
      sinks.set(cat, s);
    }
    return s;
  }

  function categoryOf(r: LdifRecord): string {
    if (r.kind === 'change' && r.changetype !== 'add') return CHANGES;
    return r.category ?? 'unknown';
  }

  const ordered = () => [...sinks.keys()].sort((a, b) => rankOf(a) - rankOf(b) || (a < b ? -1 : 1));

  return {
    kind: 'ldif',
    files: () => ordered().map((c) => `${c}.ldif`),
    async open(c: SinkContext) {
      ctx = c;
      try {
        mkdirSync(opts.dir, { recursive: true });
        if (!statSync(opts.dir).isDirectory()) throw new Error('not a directory');
      } catch (err) {
        throw new LdapflowError('LDIF_OPEN_FAILED', `cannot write into directory ${opts.dir}: ${(err as Error).message}`, { file: opts.dir });
      }
    },
    async write(batch: Batch) {
      const groups = new Map<string, LdifRecord[]>();
      for (const r of batch.records) {
        const cat = categoryOf(r);
        if (cat !== CHANGES) {
          const rank = rankOf(cat);
          let ndn: string | undefined;
          try { ndn = r.ndn ?? normalizeDn(r.dn); } catch { ndn = undefined; }
          if (ndn !== undefined) {
            const pr = ranks.get(parentDn(ndn));
            if (pr !== undefined && pr > rank) {
              conflictCount++;
              if (conflicts.length < 20) conflicts.push(`${r.dn} (${cat}) is below an entry in ${LOAD_ORDER[pr] ?? 'a later file'}`);
              ctx.count('SPLIT_PARENT_IN_LATER_FILE');
            }
            if (cat !== 'users' && cat !== 'groups') ranks.set(ndn, rank);
          }
        }
        const l = groups.get(cat);
        if (l) l.push(r);
        else groups.set(cat, [r]);
      }
      for (const [cat, records] of groups) {
        const s = await sinkFor(cat);
        await s.write({ seq: batch.seq, records, rejects: [] });
        counts.set(cat, (counts.get(cat) ?? 0) + records.length);
      }
      ctx.acknowledge(batch.seq, batch.records.length);
    },
    async close() {
      for (const s of sinks.values()) await s.close();
      const lines = ['# ldapflow load order: load the files in this order (ldapadd -c -f FILE)'];
      for (const cat of ordered()) lines.push(`${cat}.ldif`);
      if (conflictCount) {
        lines.push(`# WARNING: ${conflictCount} entries are below an entry written to a file loaded after theirs:`);
        for (const c of conflicts) lines.push(`#   ${c}`);
      }
      for (const cat of ordered()) lines.push(`# ${cat}.ldif: ${counts.get(cat)} records`);
      writeFileSync(join(opts.dir, 'load-order.txt'), lines.join('\n') + '\n');
    },
    async abort() {
      for (const s of sinks.values()) { try { await s.abort(); } catch { /* keep aborting the others */ } }
    },
  };
}
