// Typings for sessionproxy/testing.

export interface MintOptions {
  secret: string | Uint8Array;
  sess?: Record<string, unknown>;
  sid?: string;
  /** Default: true when sess is empty. */
  isNew?: boolean;
  /** Seconds until exp (default 60; negative for an expired token). */
  ttl?: number;
  audience?: string | string[];
  issuer?: string;
  /** Seconds since the epoch (default: the clock). */
  now?: number;
}

/** An HS256 X-Session token, as the proxy signs it. */
export function mintToken(opts: MintOptions): string;

export interface Directives {
  /** The first X-Session-Set patch (the proxy applies each, in order). */
  set: Record<string, unknown> | null;
  /** This session ends: X-Session-Destroy "true", "1" or "all". */
  destroy: boolean;
  /** The user's other sessions end: X-Session-Destroy "others" or "all". */
  destroyOthers: boolean;
  renew: boolean;
  maxAge: number | 'session' | null;
}

type HeaderSource =
  | { get(name: string): string | null | undefined }
  | { getHeader(name: string): unknown }
  | { rawHeaders: string[] }
  | { headers: Record<string, string | string[] | undefined> }
  | Record<string, string | string[] | undefined>;

/** A directive the proxy would answer with 502, applying nothing of the response. */
export class DirectiveError extends Error {
  /** The header's name. */
  header: string;
  /** What is wrong with its value. */
  reason: string;
}

/**
 * The X-Session-* directives of a response; header (default 'X-Session')
 * names them, as the middleware's header option does. Throws a
 * DirectiveError for what the proxy answers with 502.
 */
export function readDirectives(headers: HeaderSource, header?: string): Directives;

/**
 * The session data the proxy keeps once it applied a response's
 * directives to sess (left as it is): {} when the response destroys the
 * session, then every X-Session-Set in order, as a merge patch. Throws a
 * DirectiveError as readDirectives does.
 */
export function applyDirectives(sess: Record<string, unknown>, headers: HeaderSource, header?: string): Record<string, unknown>;

/**
 * The mintToken options of the next request's token once the proxy
 * applied a response's directives to the session opts minted (left as
 * they are): sess as applyDirectives gives it, isNew true until the proxy
 * saved the session, which it does not for a new session left empty, and
 * a new sid (when opts has one) after a destroy, after a renew of a saved
 * session, and while isNew stays true, as nothing remembers the id of an
 * unsaved session. Throws a DirectiveError as readDirectives does.
 */
export function applySession<T extends Partial<MintOptions>>(opts: T, headers: HeaderSource, header?: string): T & { sess: Record<string, unknown>; isNew: boolean };

declare const testing: {
  mintToken: typeof mintToken;
  readDirectives: typeof readDirectives;
  applyDirectives: typeof applyDirectives;
  applySession: typeof applySession;
  DirectiveError: typeof DirectiveError;
};
export default testing;
