import testing from './testing.js';

export const { mintToken, readDirectives, DirectiveError } = testing;
export default testing;
