// Compiled by tsc --noEmit (test.sh): the typings as a CommonJS app sees them.
import sessionproxy = require('sessionproxy');
import testing = require('sessionproxy/testing');

const mw = sessionproxy.koa({ secret: 's', optional: true });
void mw;
const token: string = testing.mintToken({ secret: 's' });
void sessionproxy.verify(token, { secret: 's' }).then((c) => c.sess);
void sessionproxy.verify(token, { secret: 's', oldSecrets: ['old'] });
