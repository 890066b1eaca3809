/**
 * Test data and a minimal driver for the LDAP source and sink tests: generated entries with a parent chain,
 * a binary jpegPhoto and non-ASCII DNs; a sink driven directly with a recording context (until the pipeline exists).
 */
import { spawnSync } from 'node:child_process';
import { makeEntry, type Batch, type Entry, type LdifRecord, type Reject } from '../../src/entry.js';
import type { Sink, SinkContext } from '../../src/stage.js';

/** A JPEG-looking byte string that is not valid UTF-8. */
export function jpeg(i: number): Uint8Array {
  const b = new Uint8Array(64);
  b[0] = 0xff; b[1] = 0xd8; b[2] = 0xff; b[3] = 0xe0;
  for (let k = 4; k < 64; k++) b[k] = (i * 31 + k * 7) & 0xff;
  b[63] = 0xd9;
  return b;
}

/**
 * `n` people spread over a chain of OUs: ou=people / ou=dept<k> / ou=team<j>, people in the teams, every 50th
 * with a jpegPhoto, every 97th with a non-ASCII name. Parents come before children.
 */
export function generate(suffix: string, n: number, opts: { file?: string; teams?: number } = {}): Entry[] {
  const file = opts.file ?? 'generated';
  const teams = opts.teams ?? Math.max(1, Math.ceil(n / 500));
  const out: Entry[] = [];
  let index = 0;
  const o = () => ({ file, line: 0, index: index++ });
  out.push(makeEntry(`ou=people,${suffix}`, [['objectClass', ['top', 'organizationalUnit']], ['ou', 'people']], o()));
  const depts = Math.max(1, Math.ceil(teams / 4));
  for (let d = 0; d < depts; d++) {
    out.push(makeEntry(`ou=dept${d},ou=people,${suffix}`, [['objectClass', ['top', 'organizationalUnit']], ['ou', `dept${d}`]], o()));
  }
  const teamDns: string[] = [];
  for (let t = 0; t < teams; t++) {
    const dn = `ou=team${t},ou=dept${t % depts},ou=people,${suffix}`;
    teamDns.push(dn);
    out.push(makeEntry(dn, [['objectClass', ['top', 'organizationalUnit']], ['ou', `team${t}`], ['description', `Team ${t} — équipe`]], o()));
  }
  for (let i = 0; i < n; i++) {
    const cn = i % 97 === 5 ? `Jürgen Müller ${i}` : `User ${i}`;
    const attrs: Array<[string, string | Uint8Array | Array<string | Uint8Array>]> = [
      ['objectClass', ['top', 'person', 'organizationalPerson', 'inetOrgPerson']],
      ['cn', cn], ['sn', `Surname${i}`], ['givenName', i % 97 === 5 ? 'Jürgen' : `Given${i}`],
      ['uid', `u${i}`], ['mail', `u${i}@example.com`], ['employeeNumber', String(i)],
    ];
    if (i % 50 === 0) attrs.push(['jpegPhoto', jpeg(i)]);
    if (i % 10 === 0) attrs.push(['telephoneNumber', [`+1 555 ${String(i).padStart(4, '0')}`, `+1 555 9${String(i).padStart(3, '0')}`]]);
    out.push(makeEntry(`cn=${cn},${teamDns[i % teams]}`, attrs, o()));
  }
  return out;
}

export function toBatches(records: LdifRecord[], size = 1000, firstSeq = 0): Batch[] {
  const out: Batch[] = [];
  for (let i = 0; i < records.length; i += size) out.push({ seq: firstSeq + out.length, records: records.slice(i, i + size), rejects: [] });
  return out;
}

export interface Recorded {
  acks: Map<number, number>;
  rejects: Reject[];
  counts: Record<string, number>;
  ctx: SinkContext;
}

export function recorder(): Recorded {
  const r: Recorded = {
    acks: new Map(),
    rejects: [],
    counts: {},
    ctx: {
      reject: (x) => { r.rejects.push(x); },
      acknowledge: (seq, n) => {
        if (r.acks.has(seq)) throw new Error(`batch ${seq} acknowledged twice`);
        r.acks.set(seq, n);
      },
      count: (code, n = 1) => { r.counts[code] = (r.counts[code] ?? 0) + n; },
      signal: new AbortController().signal,
    },
  };
  return r;
}

/** Open the sink, write the batches, close it; returns what the context saw. */
export async function drive(sink: Sink, batches: Iterable<Batch> | AsyncIterable<Batch>, rec = recorder(), onBatch?: (seq: number) => Promise<void> | void): Promise<Recorded> {
  await sink.open(rec.ctx);
  try {
    for await (const b of batches as AsyncIterable<Batch>) {
      await sink.write(b);
      if (onBatch) await onBatch(b.seq);
    }
  } catch (e) {
    await sink.abort();
    throw e;
  }
  await sink.close();
  return rec;
}

/** ldapsearch as root; returns stdout (LDIF, unwrapped). */
export function ldapsearch(srv: { url: string; rootDn: string; rootPassword: string }, base: string, args: string[] = []): string {
  const r = spawnSync('ldapsearch', ['-x', '-LLL', '-o', 'ldif-wrap=no', '-H', srv.url, '-D', srv.rootDn, '-w', srv.rootPassword, '-b', base, ...args],
    { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0 && r.status !== 32) throw new Error(`ldapsearch failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** The DNs ldapsearch returns (base64 DNs decoded). */
export function dnsOf(ldif: string): string[] {
  const out: string[] = [];
  for (const line of ldif.split('\n')) {
    if (line.startsWith('dn: ')) out.push(line.slice(4));
    else if (line.startsWith('dn:: ')) out.push(Buffer.from(line.slice(5), 'base64').toString('utf8'));
  }
  return out;
}
