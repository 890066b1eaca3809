/**
 * readLdap: a live LDAP server as a Source. An RFC 4516 URL names the server, the base, the scope and the filter;
 * entries are read with Simple Paged Results (RFC 2696), user and operational attributes (`*`, `+`), and come out as
 * `Entry` records in batches. A value is a string when it is valid UTF-8 and bytes (Uint8Array) otherwise, exactly
 * like the LDIF reader. The next page is asked for only when the consumer pulls the next batch (backpressure).
 *
 * Also the connection helpers the LDAP sink shares (URL parsing, connect + bind with one clear error, TLS options,
 * result-code names): only this file and src/sinks/ldap-server.ts import ldapts.
 */
import { readFileSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import type { ConnectionOptions } from 'node:tls';
import { Client, ResultCodeError, InvalidCredentialsError } from 'ldapts';
import { LdapflowError } from '../errors.js';
import type { Attribute, Batch, Entry, Value } from '../entry.js';
import type { Source } from '../stage.js';

export interface LdapTlsOptions {
  /** PEM file with the CA certificate(s) that signed the server certificate. */
  caFile?: string;
  /** Upgrade an `ldap://` connection with the StartTLS extended operation. */
  startTls?: boolean;
  /** Accept any server certificate (default false: a certificate the CA does not vouch for is an error). */
  insecure?: boolean;
}

export interface LdapBind {
  /** Bind DN; empty or absent: anonymous. */
  dn?: string;
  /** Bind password (from a file, the environment or a prompt: never from a flag, never logged). */
  password?: string;
}

export interface ParsedLdapUrl {
  secure: boolean;
  host: string;
  port: number;
  /** `ldap[s]://host:port` without credentials, path or query. */
  server: string;
  base: string;
  attributes: string[];
  scope: 'base' | 'one' | 'sub';
  filter: string;
  /** The URL with any `user:password@` part removed: safe to print. */
  display: string;
}

/**
 * Parse an RFC 4516 LDAP URL: `ldap[s]://host[:port]/BASE?attrs?scope?filter`. Unlike RFC 4516, a missing scope
 * means `sub` and a missing attribute list means `*` and `+` (a migration reads whole subtrees).
 */
export function parseLdapUrl(url: string, what = 'LDAP URL'): ParsedLdapUrl {
  const m = /^(ldaps?):\/\/(?:[^@/?]*@)?(\[[^\]]+\]|[^:/?]*)(?::(\d+))?(?:\/([^?]*)(?:\?([^?]*)(?:\?([^?]*)(?:\?([^?]*)(?:\?(.*))?)?)?)?)?$/i.exec(url);
  if (!m) throw new LdapflowError('OPTION_INVALID', `${what} "${redactUrl(url)}" is not an LDAP URL (ldap://host:port/BASE??sub?(filter))`);
  const secure = m[1].toLowerCase() === 'ldaps';
  const host = m[2] || '127.0.0.1';
  const port = m[3] ? Number(m[3]) : secure ? 636 : 389;
  if (!(port > 0 && port < 65536)) throw new LdapflowError('OPTION_INVALID', `${what} "${redactUrl(url)}": bad port ${m[3]}`);
  const dec = (s: string | undefined) => {
    try { return decodeURIComponent(s ?? ''); } catch { throw new LdapflowError('OPTION_INVALID', `${what} "${redactUrl(url)}": bad %-escape in "${s}"`); }
  };
  const base = dec(m[4]);
  const attrs = dec(m[5]).split(',').map((s) => s.trim()).filter(Boolean);
  const scopeRaw = dec(m[6]).toLowerCase() || 'sub';
  if (scopeRaw !== 'base' && scopeRaw !== 'one' && scopeRaw !== 'sub') {
    throw new LdapflowError('OPTION_INVALID', `${what} "${redactUrl(url)}": scope must be base, one or sub, got "${scopeRaw}"`);
  }
  let filter = dec(m[7]) || '(objectClass=*)';
  if (!filter.startsWith('(')) filter = `(${filter})`;
  const server = `${m[1].toLowerCase()}://${host}:${port}`;
  return { secure, host, port, server, base, attributes: attrs.length ? attrs : ['*', '+'], scope: scopeRaw, filter, display: redactUrl(url) };
}

/** An URL with any `user:password@` part removed. */
export function redactUrl(url: string): string {
  return url.replace(/^(ldaps?:\/\/)[^@/?]*@/i, '$1');
}

/** RFC 4511 result codes by number, as the `LDAP_<NAME>` part of our error codes. */
export const RESULT_NAMES: Record<number, string> = {
  1: 'OPERATIONS_ERROR', 2: 'PROTOCOL_ERROR', 3: 'TIME_LIMIT_EXCEEDED', 4: 'SIZE_LIMIT_EXCEEDED',
  7: 'AUTH_METHOD_NOT_SUPPORTED', 8: 'STRONGER_AUTH_REQUIRED', 10: 'REFERRAL', 11: 'ADMIN_LIMIT_EXCEEDED',
  12: 'UNAVAILABLE_CRITICAL_EXTENSION', 13: 'CONFIDENTIALITY_REQUIRED', 14: 'SASL_BIND_IN_PROGRESS',
  16: 'NO_SUCH_ATTRIBUTE', 17: 'UNDEFINED_ATTRIBUTE_TYPE', 18: 'INAPPROPRIATE_MATCHING', 19: 'CONSTRAINT_VIOLATION',
  20: 'ATTRIBUTE_OR_VALUE_EXISTS', 21: 'INVALID_ATTRIBUTE_SYNTAX', 32: 'NO_SUCH_OBJECT', 33: 'ALIAS_PROBLEM',
  34: 'INVALID_DN_SYNTAX', 36: 'ALIAS_DEREFERENCING_PROBLEM', 48: 'INAPPROPRIATE_AUTHENTICATION',
  49: 'INVALID_CREDENTIALS', 50: 'INSUFFICIENT_ACCESS_RIGHTS', 51: 'BUSY', 52: 'UNAVAILABLE', 53: 'UNWILLING_TO_PERFORM',
  54: 'LOOP_DETECT', 64: 'NAMING_VIOLATION', 65: 'OBJECT_CLASS_VIOLATION', 66: 'NOT_ALLOWED_ON_NON_LEAF',
  67: 'NOT_ALLOWED_ON_RDN', 68: 'ENTRY_ALREADY_EXISTS', 69: 'OBJECT_CLASS_MODS_PROHIBITED',
  71: 'AFFECTS_MULTIPLE_DSAS', 80: 'OTHER',
};

/** `LDAP_OBJECT_CLASS_VIOLATION` for 65; `LDAP_RESULT_<n>` for a code not in RFC 4511. */
export function resultCodeName(code: number): string {
  return 'LDAP_' + (RESULT_NAMES[code] ?? `RESULT_${code}`);
}

/** The server's own diagnostic message of an ldapts result error, without ldapts' " Code: 0x.." suffix. */
export function serverMessage(err: ResultCodeError): string {
  const m = err.message.replace(/\s*Code: 0x[0-9a-f]+$/i, '').trim();
  return m || (RESULT_NAMES[err.code] ?? `result ${err.code}`).toLowerCase().replace(/_/g, ' ');
}

/** True for a failure of the connection itself (refused, reset, closed, timed out), not an LDAP result. */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof ResultCodeError) return false;
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  if (code && /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ECONNABORTED|EAI_AGAIN)$/.test(code)) return true;
  return /Socket error|Connection closed|Socket connection not established|Connection timeout|Operation timed out|socket hang up|read ECONNRESET|write EPIPE/.test(err.message);
}

const TLS_CERT_CODES = /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_UNTRUSTED|CERT_SIGNATURE_FAILURE|CERT_REVOKED|HOSTNAME_MISMATCH)$/;

/** Turn a connect/bind failure into one readable LdapflowError. Never includes the password. */
export function connectError(err: unknown, server: string, bindDn: string | undefined): LdapflowError {
  if (err instanceof LdapflowError) return err;
  if (err instanceof InvalidCredentialsError) {
    return new LdapflowError('LDAP_INVALID_CREDENTIALS', `bind as ${bindDn || '(anonymous)'} to ${server}: invalid credentials`, { file: undefined });
  }
  if (err instanceof ResultCodeError) {
    return new LdapflowError(resultCodeName(err.code), `bind as ${bindDn || '(anonymous)'} to ${server}: ${serverMessage(err)}`);
  }
  const e = err as NodeJS.ErrnoException;
  const code = e?.code ?? '';
  if (TLS_CERT_CODES.test(code)) {
    return new LdapflowError('LDAP_TLS_CERTIFICATE', `TLS to ${server}: the server certificate is not trusted (${code}: ${e.message}); give the CA that signed it with the CA file option`, { cause: err });
  }
  const why: Record<string, string> = {
    ECONNREFUSED: 'connection refused', ENOTFOUND: 'host not found', EAI_AGAIN: 'host name lookup failed',
    ETIMEDOUT: 'connection timed out', EHOSTUNREACH: 'host unreachable', ENETUNREACH: 'network unreachable',
    ECONNRESET: 'connection reset by the server',
  };
  const msg = why[code] ?? (/Connection timeout/.test(e?.message ?? '') ? 'connection timed out' : e?.message ?? String(err));
  return new LdapflowError('LDAP_UNREACHABLE', `cannot connect to ${server}: ${msg}`, { cause: err });
}

function tlsOptions(u: { host: string }, tls: LdapTlsOptions | undefined): ConnectionOptions {
  const o: ConnectionOptions = {};
  if (tls?.caFile) {
    try { o.ca = readFileSync(tls.caFile); } catch (e) {
      throw new LdapflowError('OPTION_INVALID', `cannot read the CA file ${tls.caFile}: ${(e as Error).message}`);
    }
  }
  if (tls?.insecure) o.rejectUnauthorized = false;
  if (!/^[\d.]+$|:/.test(u.host)) o.servername = u.host;
  return o;
}

export interface ConnectOptions {
  tls?: LdapTlsOptions;
  /** Milliseconds for the TCP/TLS connect; default 10000. */
  connectTimeoutMs?: number;
  /** Milliseconds an operation may take; default none. */
  timeoutMs?: number;
}

/** Connect, StartTLS when asked, bind. Throws one readable LdapflowError (LDAP_UNREACHABLE, LDAP_INVALID_CREDENTIALS, ...). */
export async function connectLdap(u: ParsedLdapUrl, bind: LdapBind, opts: ConnectOptions = {}): Promise<Client> {
  if (opts.tls?.startTls && u.secure) throw new LdapflowError('OPTION_INVALID', `${u.server}: StartTLS is for ldap:// URLs; an ldaps:// URL is already TLS`);
  const tls = tlsOptions(u, opts.tls);
  const client = new Client({
    url: u.server,
    connectTimeout: opts.connectTimeoutMs ?? 10000,
    ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
    ...(u.secure ? { tlsOptions: tls } : {}),
  });
  try {
    if (opts.tls?.startTls) await client.startTLS({ ...tls, host: u.host });
    if (bind.dn) await client.bind(bind.dn, bind.password ?? '');
    else await client.bind('', '');
  } catch (err) {
    try { await client.unbind(); } catch { /* already gone */ }
    throw connectError(err, u.server, bind.dn);
  }
  return client;
}

/** A value as the record model wants it: string when valid UTF-8, bytes otherwise. */
export function toValue(v: Buffer | string): Value {
  if (typeof v === 'string') return v;
  return isUtf8(v) ? v.toString('utf8') : new Uint8Array(v.buffer, v.byteOffset, v.length);
}

export interface ReadLdapOptions {
  /** `ldap[s]://host:port/BASE??sub?(filter)`. */
  url: string;
  bindDn?: string;
  password?: string;
  tls?: LdapTlsOptions;
  /** Entries per page and per batch; default 1,000. */
  pageSize?: number;
  /** Attributes to read; default the URL's list, or `*` and `+`. */
  attributes?: string[];
  connectTimeoutMs?: number;
}

/** The LDAP server as a Source. Connects on the first pull; errors are LdapflowErrors with one readable line. */
export function readLdap(opts: ReadLdapOptions): Source {
  if (!opts || typeof opts.url !== 'string') throw new LdapflowError('OPTION_INVALID', 'readLdap: option "url" must be an LDAP URL');
  const u = parseLdapUrl(opts.url, 'readLdap: option "url"');
  const pageSize = opts.pageSize ?? 1000;
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new LdapflowError('OPTION_INVALID', `readLdap: option "pageSize" must be a positive integer, got ${pageSize}`);
  const attributes = opts.attributes ?? u.attributes;
  const name = u.display;
  let bytes = 0;
  return {
    name,
    bytesRead: () => bytes,
    async *batches(signal: AbortSignal): AsyncGenerator<Batch> {
      const client = await connectLdap(u, { dn: opts.bindDn, password: opts.password }, { tls: opts.tls, connectTimeoutMs: opts.connectTimeoutMs });
      let seq = 0;
      let index = 0;
      try {
        // ldapts keeps a value it cannot decode as UTF-8 as a Buffer; toValue decides string vs bytes per value.
        const pages = client.searchPaginated(u.base, {
          scope: u.scope, filter: u.filter, attributes, paged: { pageSize },
        });
        for (;;) {
          if (signal.aborted) return;
          let page;
          try {
            const r = await pages.next();
            if (r.done) break;
            page = r.value;
          } catch (err) {
            if (err instanceof ResultCodeError) {
              throw new LdapflowError(resultCodeName(err.code), `search ${u.base || '(root)'} on ${u.server}: ${serverMessage(err)}`, { file: name, cause: err });
            }
            throw new LdapflowError('LDAP_CONNECTION_LOST', `reading ${u.server}: ${(err as Error).message}`, { file: name, cause: err });
          }
          const records: Entry[] = new Array(page.searchEntries.length);
          for (let k = 0; k < page.searchEntries.length; k++) {
            const se = page.searchEntries[k];
            const attrs = new Map<string, Attribute>();
            for (const key in se) {
              if (key === 'dn') continue;
              const raw = se[key];
              const list = Array.isArray(raw) ? raw : [raw];
              if (list.length === 0) continue; // requested but absent (`*`, `+`)
              const values: Value[] = new Array(list.length);
              for (let j = 0; j < list.length; j++) {
                const v = list[j];
                values[j] = toValue(v);
                bytes += typeof v === 'string' ? v.length : v.length;
              }
              attrs.set(key.toLowerCase(), { name: key, values });
            }
            bytes += se.dn.length;
            records[k] = { kind: 'entry', dn: se.dn, attrs, origin: { file: name, line: 0, index: index++ } };
          }
          // Continuation references (referrals to other servers) are not followed: each one is a visible reject.
          const rejects = page.searchReferences.map((uri) => ({
            code: 'LDAP_REFERRAL_NOT_FOLLOWED',
            message: `${u.server}: search continuation reference ${redactUrl(uri)} not followed (read that server separately)`,
            origin: { file: name, line: 0, index },
          }));
          if (records.length || rejects.length) yield { seq: seq++, records, rejects };
        }
      } finally {
        try { await client.unbind(); } catch { /* gone */ }
      }
    },
  };
}

export interface Subschema {
  /** DN of the subschema subentry (from the root DSE's subschemaSubentry). */
  dn: string;
  attributeTypes: string[];
  objectClasses: string[];
  ldapSyntaxes: string[];
  matchingRules: string[];
}

/** Read the subschema subentry named by the root DSE: raw RFC 4512 definitions, for the schema engine to parse. */
export async function readSubschema(url: string, bind: LdapBind = {}, opts: ConnectOptions = {}): Promise<Subschema> {
  const u = parseLdapUrl(url, '--schema');
  const client = await connectLdap(u, bind, opts);
  try {
    const strs = (v: unknown): string[] => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x))));
    let dn = 'cn=Subschema';
    try {
      const root = await client.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['subschemaSubentry'] });
      const e = root.searchEntries[0];
      const key = e && Object.keys(e).find((k) => k.toLowerCase() === 'subschemasubentry');
      if (key) dn = strs(e[key])[0] ?? dn;
    } catch { /* no readable root DSE: try the usual name */ }
    let r;
    try {
      r = await client.search(dn, {
        scope: 'base', filter: '(objectClass=subschema)',
        attributes: ['attributeTypes', 'objectClasses', 'ldapSyntaxes', 'matchingRules'],
      });
    } catch (err) {
      if (err instanceof ResultCodeError) {
        throw new LdapflowError(resultCodeName(err.code), `reading the subschema ${dn} from ${u.server}: ${serverMessage(err)}`);
      }
      throw connectError(err, u.server, bind.dn);
    }
    const e = r.searchEntries[0];
    if (!e) throw new LdapflowError('LDAP_NO_SUBSCHEMA', `${u.server}: the subschema entry ${dn} is not readable`);
    const get = (name: string) => {
      const k = Object.keys(e).find((x) => x.toLowerCase() === name.toLowerCase());
      return k ? strs(e[k]) : [];
    };
    return { dn, attributeTypes: get('attributeTypes'), objectClasses: get('objectClasses'), ldapSyntaxes: get('ldapSyntaxes'), matchingRules: get('matchingRules') };
  } finally {
    try { await client.unbind(); } catch { /* gone */ }
  }
}
