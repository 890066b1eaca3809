/**
 * One error class for the whole project. Every error carries a code (`AREA_REASON`), where it happened
 * (file and line, or a server URL), the DN when known, and whether the run may go on.
 */
export interface ErrorWhere {
  file?: string;
  line?: number;
  dn?: string;
  recoverable?: boolean;
  cause?: unknown;
}

export class LdapflowError extends Error {
  readonly code: string;
  readonly file?: string;
  readonly line?: number;
  readonly dn?: string;
  readonly recoverable: boolean;

  constructor(code: string, message: string, where: ErrorWhere = {}) {
    super(message, where.cause === undefined ? undefined : { cause: where.cause });
    this.name = 'LdapflowError';
    this.code = code;
    this.file = where.file;
    this.line = where.line;
    this.dn = where.dn;
    this.recoverable = where.recoverable ?? false;
  }

  /** `export.ldif:1042: CODE: message (dn: ...)`: one readable line. */
  describe(): string {
    return formatWhere(this.file, this.line) + `${this.code}: ${this.message}` + (this.dn !== undefined ? ` (dn: ${this.dn})` : '');
  }
}

export function formatWhere(file?: string, line?: number): string {
  if (file === undefined) return '';
  return line === undefined ? `${file}: ` : `${file}:${line}: `;
}

/** A usage error: bad flags or options. The CLI exits 2 on it. */
export class UsageError extends LdapflowError {
  constructor(message: string) {
    super('USAGE', message);
    this.name = 'UsageError';
  }
}

/** One readable line for any thrown value; never a stack trace. */
export function describeError(err: unknown): string {
  if (err instanceof LdapflowError) return err.describe();
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
