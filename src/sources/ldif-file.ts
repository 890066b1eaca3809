/**
 * readLdif: an LDIF file, a `.ldif.gz` file, or standard input (`-`) as a Source of batches. A thin wrapper over the
 * parsing engine: reads chunks, hands them to the parser as latin1 text, cuts batches of `batchSize` records.
 * Memory is bounded by the chunk size plus the largest record.
 */
import { createReadStream, statSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { LdifParser, type ParseMode, type ParseOutput } from './ldif-parser.js';
import { LdapflowError } from '../errors.js';
import type { Batch } from '../entry.js';
import type { Source } from '../stage.js';

export interface ReadLdifOptions {
  /** A path, or `-` for standard input. */
  input: string;
  /** A readable to use instead of opening `input` (for tests and library use); `input` is then only its name. */
  stream?: Readable;
  mode?: ParseMode;
  /** Records per batch (default 250). */
  batchSize?: number;
  /** Force gzip decoding on or off; default: by the `.gz` suffix or the gzip magic bytes. */
  gzip?: boolean;
  resolveUrl?: (url: string) => Uint8Array;
  maxRecordBytes?: number;
}

/** Whether an input is standard input, and its size when it is a file; a missing file or a directory is a coded error. */
export function inputInfo(input: string, stream?: Readable): { isStdin: boolean; totalBytes?: number } {
  const isStdin = input === '-' && !stream;
  if (isStdin || stream) return { isStdin };
  try {
    const st = statSync(input);
    if (st.isDirectory()) throw new LdapflowError('SOURCE_NOT_A_FILE', `${input}: is a directory, not an LDIF file`);
    return { isStdin, totalBytes: st.size };
  } catch (err) {
    if (err instanceof LdapflowError) throw err;
    throw new LdapflowError('SOURCE_NOT_FOUND', (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `cannot read: ${(err as Error).message}`, { file: input });
  }
}

/** Whether input is gunzipped: when asked (`gzip`), else when named `.gz` or when its first bytes (`head`) are gzip's. */
export function gunzipWanted(opts: { input: string; gzip?: boolean }, head: Uint8Array | undefined): boolean {
  return opts.gzip ?? (opts.input.endsWith('.gz') || (head !== undefined && head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b));
}

/** The input's bytes, gunzipped when gunzipWanted() says so. */
export async function* decodedInput(raw: Readable, opts: { input: string; gzip?: boolean }, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
  const it = raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first: IteratorResult<Buffer> = await it.next();
  const gunzip = gunzipWanted(opts, first.done ? undefined : first.value);
  const replay = async function* (): AsyncGenerator<Buffer> {
    if (!first.done) yield first.value;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  };
  if (!gunzip) {
    for await (const c of replay()) { onBytes(c.length); yield c; }
    return;
  }
  const gz = createGunzip();
  (async () => {
    try {
      for await (const c of replay()) { onBytes(c.length); if (!gz.write(c)) await new Promise((r) => gz.once('drain', r)); }
      gz.end();
    } catch (err) { gz.destroy(err as Error); }
  })();
  for await (const c of gz) yield c as Buffer;
}

export function readLdif(opts: ReadLdifOptions): Source {
  if (!opts || typeof opts.input !== 'string' || opts.input === '') {
    throw new LdapflowError('OPTION_INVALID', 'readLdif: option "input" must be a path or "-"');
  }
  const batchSize = opts.batchSize ?? 250; // measured: larger batches outlive V8's young generation (GC time)
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new LdapflowError('OPTION_INVALID', `readLdif: option "batchSize" must be a positive integer, got ${batchSize}`);
  const { isStdin, totalBytes } = inputInfo(opts.input, opts.stream);
  let bytes = 0;
  const name = isStdin ? '-' : opts.input;
  return {
    name,
    totalBytes,
    bytesRead: () => bytes,
    async *batches(signal: AbortSignal): AsyncGenerator<Batch> {
      const raw: Readable = opts.stream ?? (isStdin ? process.stdin : createReadStream(opts.input, { highWaterMark: 1 << 16 }));
      const parser = new LdifParser({ file: name === '-' ? '<stdin>' : name, mode: opts.mode, resolveUrl: opts.resolveUrl, maxRecordBytes: opts.maxRecordBytes });
      let seq = 0;
      let out: ParseOutput = { records: [], rejects: [] };
      // Abort (Ctrl-C) must not wait for the next chunk: a slow or idle stdin would hold the run open. Destroying the
      // input ends the read; the error that causes is not reported (the run was stopped on purpose).
      const onAbort = () => raw.destroy();
      if (signal.aborted) return;
      signal.addEventListener('abort', onAbort, { once: true });
      // Read errors, the first chunk's included, surface in the loop below (reported unless the run was aborted).
      const input = decodedInput(raw, opts, (n) => { bytes += n; });
      try {
        for await (const chunk of input) {
          if (signal.aborted) break;
          parser.push((chunk as Buffer).toString('latin1'), out);
          while (out.records.length + out.rejects.length >= batchSize) {
            yield cut();
          }
        }
        if (!signal.aborted) {
          parser.end(out);
          while (out.records.length + out.rejects.length > 0) yield cut();
        }
      } catch (err) {
        if (signal.aborted && !(err instanceof LdapflowError)) return;
        if (err instanceof LdapflowError) throw err;
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') throw new LdapflowError('SOURCE_BAD_GZIP', `${name}: not a valid gzip file (${(err as Error).message})`, { file: name });
        throw new LdapflowError('SOURCE_READ_FAILED', `${name}: ${(err as Error).message}`, { file: name, cause: err });
      } finally {
        signal.removeEventListener('abort', onAbort);
        if (!isStdin && !opts.stream) (raw as Readable).destroy();
      }

      function cut(): Batch {
        // Keep records and rejects of one batch from the same stretch of input.
        if (out.records.length + out.rejects.length <= batchSize) {
          const b: Batch = { seq: seq++, records: out.records, rejects: out.rejects };
          out = { records: [], rejects: [] };
          return b;
        }
        const records = out.records.splice(0, batchSize);
        const lastIndex = records.length ? records[records.length - 1].origin!.index : -1;
        let k = 0;
        while (k < out.rejects.length && out.rejects[k].origin!.index < lastIndex) k++;
        return { seq: seq++, records, rejects: out.rejects.splice(0, k) };
      }
    },
  };
}
