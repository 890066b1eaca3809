/**
 * mapStage: turn a per-entry function into a map stage (a pure function of a batch). The function returns the record
 * (changed or not), or a reject `{ code, message }` to send it to the reject file.
 */
import type { Batch, LdifRecord, Reject } from '../entry.js';
import type { MapStage } from '../stage.js';

export type RecordFn = (rec: LdifRecord) => LdifRecord | { code: string; message: string };

export function mapStage(name: string, fn: RecordFn): MapStage {
  return {
    kind: 'map',
    name,
    fn(batch: Batch): Batch {
      const records: LdifRecord[] = [];
      const rejects: Reject[] = batch.rejects;
      for (const rec of batch.records) {
        const r = fn(rec);
        if ('kind' in r) records.push(r);
        else rejects.push({ code: r.code, message: r.message, dn: rec.dn, origin: rec.origin, record: rec });
      }
      return { ...batch, records, rejects };
    },
  };
}
