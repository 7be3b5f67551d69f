// Compiled by tsc --noEmit (test.sh): the typings as an ESM app sees them.
import sessionproxy, { koa, express, verify, createVerifier, InvalidTokenError, type Claims, type KoaSessionContext, type ExpressSessionRequest } from 'sessionproxy';
import { mintToken, readDirectives, applyDirectives, applySession, DirectiveError } from 'sessionproxy/testing';

const mw = koa({ secret: 's', optional: (ctx) => ctx.path === '/health', audience: 'orders' });
const mw2 = sessionproxy.express({ jwksUrl: 'http://127.0.0.1/jwks.json', leeway: 10, header: 'X-App-Session' });
void mw;
void mw2;
void express;

async function check(token: string): Promise<string | undefined> {
  try {
    const claims: Claims = await verify(token, { secret: 's' });
    return claims.sid;
  } catch (err) {
    if (err instanceof InvalidTokenError) return err.reason;
    throw err;
  }
}
void check;
void createVerifier({ secret: 's' }).verify('t');
void createVerifier({ secret: 's', oldSecrets: ['old', new Uint8Array([1])] }).verify('t');

function route(ctx: KoaSessionContext): void {
  if (!ctx.session) return;
  ctx.session.user = { name: 'john doe' };
  ctx.session.maxAge = 'session';
  void ctx.session.regenerate();
  ctx.sessionHandler.regenerateId();
  ctx.session.destroyOthers();
  ctx.session.destroyAll();
  const isNew: boolean = ctx.session.isNew;
  void isNew;
}
void route;

function replaceAndDestroy(ctx: KoaSessionContext): void {
  ctx.session = { a: 1 };
  ctx.session = null;
}
void replaceAndDestroy;

function expressRoute(req: ExpressSessionRequest): void {
  req.session!.cookie.maxAge = 1000;
  req.session!.regenerate((err) => { if (err) throw err; });
  req.session!.destroyOthers();
  req.session!.destroyAll((err) => { if (err) throw err; });
  const id: string | undefined = req.sessionID;
  void id;
  req.session = { a: 1 };
  req.session = null; // destroys, as the README says
}
void expressRoute;

const tok: string = mintToken({ secret: 's', sess: { a: 1 }, sid: 'x' });
const d = readDirectives(new Map<string, string>([['x-session-set', '{}']]));
void readDirectives({ headers: { 'x-app-session-set': '{}' } }, 'X-App-Session');
const after: Record<string, unknown> = applyDirectives({ a: 1 }, { 'x-app-session-set': '{"b":2}' }, 'X-App-Session');
void after;
const next = applySession({ secret: 's', sess: { a: 1 }, sid: 'x' }, { 'x-session-renew': 'true' });
const nextNew: boolean = next.isNew;
void (mintToken(next) + nextNew);
const set: Record<string, unknown> | null = d.set;
const others: boolean = d.destroyOthers;
try {
  readDirectives({ 'x-session-destroy': 'yes' });
} catch (err) {
  if (err instanceof DirectiveError) void (err.header + err.reason);
}
void tok;
void set;
void others;
