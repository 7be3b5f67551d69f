// Typings for sessionproxy (CommonJS and ESM).

/** The claims of a verified X-Session token. */
export interface Claims {
  /** The session id; absent in the proxy's koa cookie format. */
  sid?: string;
  /** The session data. */
  sess: Record<string, unknown>;
  /** True when the session did not exist before this request. */
  new?: boolean;
  iss: string;
  aud?: string | string[];
  iat?: number;
  exp: number;
  [claim: string]: unknown;
}

/** Why a token was refused. */
export type InvalidTokenReason = 'malformed' | 'alg' | 'signature' | 'expired' | 'issuer' | 'audience' | 'kid';

/** Thrown (or rejected with) when a token is refused. */
export class InvalidTokenError extends Error {
  readonly reason: InvalidTokenReason;
  constructor(reason: InvalidTokenReason, detail?: string);
}

/** Thrown or reported when the session changes after the response headers were sent. */
export class LateChangeError extends Error {}

export interface VerifyOptions {
  /** HS256 secret; an empty one is refused. */
  secret?: string | Uint8Array;
  /**
   * Secrets the proxy signed with before token.secret was rotated: tokens
   * they verify are accepted too (for token.ttl after the switch). secret
   * is tried first; an empty one is refused.
   */
  oldSecrets?: ReadonlyArray<string | Uint8Array>;
  /** URL of a JWKS with the proxy's EdDSA (Ed25519) / ES256 (P-256) public keys. */
  jwksUrl?: string;
  /** When set, the token's aud (string or list) must contain it. */
  audience?: string;
  /** Seconds of clock skew allowed on exp (default 5). */
  leeway?: number;
  /** Milliseconds a fetched key set is used before it is fetched again (default 600000). */
  jwksMaxAge?: number;
  /** Least milliseconds between refetches caused by an unknown kid (default 10000, as the Go and Python libraries). */
  jwksCooldown?: number;
}

export interface Verifier {
  verify(token: string | undefined): Promise<Claims>;
}

/** Checks the options once (throws TypeError) and keeps the JWKS cache. */
export function createVerifier(opts: VerifyOptions): Verifier;

/** Verifies a token; resolves to its claims or rejects with an InvalidTokenError. */
export function verify(token: string | undefined, opts: VerifyOptions): Promise<Claims>;

/** The smallest RFC 7396 merge patch from before to after, or null when nothing changed. */
export function mergePatch(before: Record<string, unknown>, after: Record<string, unknown>): Record<string, unknown> | null;

export interface MiddlewareOptions<Req> extends VerifyOptions {
  /** Request header carrying the token (default 'X-Session'). */
  header?: string;
  /** Run without a session instead of answering 401 (or 503 when the JWKS cannot be fetched): true, or per request. */
  optional?: boolean | ((req: Req) => boolean);
  /** Called with a LateChangeError found once the response finished. */
  onError?: (err: Error, req: Req) => void;
  /** Express only: told of a request answered 401, with the reason the client is not shown (default: a console.info line). Koa's 401 goes through ctx.throw, its err.reason to app.on('error'); Fastify's is an error with statusCode 401 and reason, for its error handler and request.log. */
  onRefused?: (err: InvalidTokenError, req: Req) => void;
}

/** koa-session's Session: the data as properties, and its methods. */
export interface KoaSession {
  [key: string]: any;
  readonly isNew: boolean;
  readonly length: number;
  readonly populated: boolean;
  /** This session's lifetime as set during this request (ms or 'session'), else undefined. */
  get maxAge(): number | 'session' | undefined;
  /** Whole ms from 1 to 100 years (a fraction is dropped), or 'session'; anything else throws a TypeError. */
  set maxAge(value: number | 'session');
  /** The session id the proxy sent (undefined in the koa cookie format). */
  readonly externalKey: string | undefined;
  toJSON(): Record<string, unknown>;
  /** New id, same data (call after login). */
  regenerate(): Promise<void>;
  regenerate(callback: (err?: Error) => void): void;
  /** Ends every other session of this session's user; this one stays. Needs the proxy's session.userKey (else 502). */
  destroyOthers(): void;
  /** ctx.session = null that also ends every other session of the user ("log out everywhere"). Needs session.userKey. */
  destroyAll(): void;
  save(): Promise<void>;
  save(callback: (err?: Error) => void): void;
  manuallyCommit(): Promise<void>;
  /** koa-session's commit(): as save(); the directives go out with the headers. */
  commit(options?: object): Promise<void>;
  commit(callback: (err?: Error) => void): void;
  commit(options: object, callback: (err?: Error) => void): void;
}

/** ctx.sessionHandler, as koa-session tutorials use it. */
export interface KoaSessionHandler {
  regenerateId(): void;
  getId(): string | undefined;
  setMaxAge(ms: number | 'session'): void;
}

/** The Koa context members the middleware adds (augment koa's Context with them). */
export interface KoaSessionContext {
  get session(): KoaSession | null;
  /** null destroys the session; an object replaces its data (koa-session's ctx.session = {...}). */
  set session(value: Record<string, unknown> | null);
  sessionHandler: KoaSessionHandler;
}

// Structural, so that these typings need neither koa's, express's nor fastify's.
type KoaContext = any;
type KoaMiddleware = (ctx: KoaContext, next: () => Promise<any>) => Promise<any>;

/** Koa middleware: ctx.session with koa-session's API. */
export function koa(opts: MiddlewareOptions<KoaContext>): KoaMiddleware;

/** express-session's req.session.cookie. */
export interface ExpressCookie {
  /** Setting it sets this session's lifetime; null means a browser-session cookie. */
  maxAge: number | null;
  readonly originalMaxAge: number | null;
  expires: Date | null;
}

/** express-session's Session: the data as properties, and its methods. */
export interface ExpressSession {
  [key: string]: any;
  readonly id: string | undefined;
  cookie: ExpressCookie;
  regenerate(callback: (err?: Error) => void): void;
  destroy(callback: (err?: Error) => void): void;
  /** Ends every other session of this session's user; this one stays. Needs the proxy's session.userKey (else 502). Without a callback, an error is thrown. */
  destroyOthers(callback?: (err?: Error) => void): void;
  /** destroy() that also ends every other session of the user ("log out everywhere"). Needs session.userKey. */
  destroyAll(callback?: (err?: Error) => void): void;
  save(callback?: (err?: Error) => void): this;
  reload(callback: (err?: Error) => void): void;
  touch(): this;
  resetMaxAge(): this;
}

/** The request members the middleware adds (augment Express's Request with them). */
export interface ExpressSessionRequest {
  /** undefined without a session (optional) and after destroy(). */
  get session(): ExpressSession | undefined;
  /** null (or undefined) destroys the session; an object replaces its data. */
  set session(value: Record<string, unknown> | null | undefined);
  sessionID?: string;
}

type ExpressRequest = any;
type ExpressMiddleware = (req: ExpressRequest, res: any, next: (err?: any) => void) => void;

/** Express / Connect middleware: req.session with express-session's API. */
export function express(opts: MiddlewareOptions<ExpressRequest>): ExpressMiddleware;

/** @fastify/session's request.session: the data as properties, and its methods. Without a callback, the methods that take one return a promise. */
export interface FastifySession {
  [key: string]: any;
  /** The session id the proxy sent; undefined after regenerate() (the proxy picks the new one). */
  readonly sessionId: string | undefined;
  /** cookie.maxAge (ms, or null for a browser-session cookie) or cookie.expires sets this session's lifetime. */
  cookie: ExpressCookie;
  get(key: string): any;
  /** undefined or null removes the key. A key named like a member of the session throws a TypeError. */
  set(key: string, value: unknown): void;
  /** A new session with a new id, holding only the fields named (Object.keys(request.session) keeps them all). */
  regenerate(): Promise<void>;
  regenerate(ignoreFields: string[]): Promise<void>;
  regenerate(callback: (err?: Error) => void): void;
  regenerate(ignoreFields: string[], callback: (err?: Error) => void): void;
  /** Ends the session; request.session is null afterwards. */
  destroy(): Promise<void>;
  destroy(callback: (err?: Error) => void): void;
  /** Ends every other session of this session's user; this one stays. Needs the proxy's session.userKey (else 502). */
  destroyOthers(): Promise<void>;
  destroyOthers(callback: (err?: Error) => void): void;
  /** destroy() that also ends every other session of the user ("log out everywhere"). Needs session.userKey. */
  destroyAll(): Promise<void>;
  destroyAll(callback: (err?: Error) => void): void;
  /** Back to the session the request arrived with. */
  reload(): Promise<void>;
  reload(callback: (err?: Error) => void): void;
  /** Settles at once (the directives go out with the headers); an error once the headers were sent and the session changed. */
  save(): Promise<void>;
  save(callback: (err?: Error) => void): void;
  /** Whether the session differs from the one the request arrived with. */
  isModified(): boolean;
  /** Does nothing: the proxy's rolling / renew options extend the cookie. */
  touch(): void;
  /** This session's lifetime, as cookie.maxAge (ms) or cookie.expires; other cookie attributes are the proxy's and throw a TypeError. */
  options(opts: { maxAge?: number | null; expires?: Date | null }): void;
}

/** The request members the plugin adds (augment Fastify's FastifyRequest with them). */
export interface FastifySessionRequest {
  /** null without a session (optional) and after destroy(). */
  get session(): FastifySession | null;
  /** null (or undefined) destroys the session; an object replaces its data. */
  set session(value: Record<string, unknown> | null | undefined);
}

type FastifyRequest = any;

/**
 * Fastify plugin: request.session with @fastify/session's API, for the
 * context that registers it (as fastify-plugin makes it):
 * app.register(sessionproxy.fastify, { secret }).
 */
export function fastify(instance: any, opts: MiddlewareOptions<FastifyRequest>, done: (err?: Error) => void): void;

declare const sessionproxy: {
  verify: typeof verify;
  createVerifier: typeof createVerifier;
  InvalidTokenError: typeof InvalidTokenError;
  LateChangeError: typeof LateChangeError;
  koa: typeof koa;
  express: typeof express;
  fastify: typeof fastify;
  mergePatch: typeof mergePatch;
};
export default sessionproxy;
