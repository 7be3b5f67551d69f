import testing from './testing.js';

export const { mintToken, readDirectives } = testing;
export default testing;
