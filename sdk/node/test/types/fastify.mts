// Compiled by tsc --noEmit (test.sh): the plugin and request.session as a
// TypeScript Fastify app sees them, merged into fastify's own types.
import Fastify from 'fastify';
import sessionproxy, { fastify as sessionPlugin, type FastifySessionRequest } from 'sessionproxy';

declare module 'fastify' {
  interface FastifyRequest extends FastifySessionRequest {}
}

const app = Fastify();
app.register(sessionproxy.fastify, { secret: 's', optional: (request) => request.url === '/health' });
app.register(sessionPlugin, { jwksUrl: 'http://127.0.0.1/jwks.json', header: 'X-App-Session' });
// @ts-expect-error: the options are checked as the plugin's
app.register(sessionproxy.fastify, { secrett: 's' });

app.get('/login', async (request) => {
  if (!request.session) return 'no session';
  await request.session.regenerate(['cart']);
  request.session.set('user', { name: 'john doe' });
  request.session.user = { name: 'john doe' };
  const name: unknown = request.session.get('user');
  request.session.cookie.maxAge = 30 * 24 * 3600 * 1000;
  request.session.options({ maxAge: null });
  // @ts-expect-error: the cookie's other attributes are the proxy's
  request.session.options({ secure: true });
  await request.session.destroyOthers();
  const id: string | undefined = request.session.sessionId;
  const changed: boolean = request.session.isModified();
  return { name, id, changed };
});

app.get('/unchecked', async (request) => {
  // @ts-expect-error: null without a session (optional) or after destroy()
  request.session.set('a', 1);
});

app.get('/logout', (request, reply) => {
  request.session?.destroy((err) => reply.send(err ?? 'bye'));
});

app.get('/replace', async (request) => {
  request.session = { a: 1 };
  request.session = null;
  return 'ok';
});
