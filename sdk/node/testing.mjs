import testing from './testing.js';

export const { mintToken, readDirectives, applyDirectives, applySession, DirectiveError } = testing;
export default testing;
