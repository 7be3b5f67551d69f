import testing from './testing.js';

export const { mintToken, readDirectives, applyDirectives, DirectiveError } = testing;
export default testing;
