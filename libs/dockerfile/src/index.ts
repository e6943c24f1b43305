/**
 * @paas/dockerfile — Dockerfile lexer and parser to typed instructions (no execution).
 *
 * Three layers, as in BuildKit: `parse` gives a plain node tree with line ranges (and `dump`
 * prints it in BuildKit's golden-file format); `instructions` turns it into stages of typed
 * instructions with variables substituted in Docker's scopes; the builder executes them.
 * `substitute` is the shell-like expansion the builder reuses; `DockerIgnore` filters the
 * build context. Every failure is a `DockerfileError` carrying file:line:column.
 */
export { DockerfileError, type SourcePosition } from './errors';
export { parse } from './parser';
export type { DockerfileAST, Node, Heredoc, ParseOptions, Directive, EscapeToken, Span } from './parser';
export { dump } from './dump';
export { substitute, substituteWords, type Env, type LexOptions } from './shell-lex';
export { instructions, type InstructionsOptions } from './stages';
export type * from './instruction-types';
export type { RunMount, MountType, CacheSharing } from './mounts';
export { DockerIgnore, type IgnorePattern } from './dockerignore';
