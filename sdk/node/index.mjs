import sessionproxy from './index.js';

export const { verify, createVerifier, InvalidTokenError, LateChangeError, koa, express, mergePatch } = sessionproxy;
export default sessionproxy;
