import sessionproxy from './index.js';

export const { verify, createVerifier, InvalidTokenError, LateChangeError, koa, express, fastify, mergePatch } = sessionproxy;
export default sessionproxy;
