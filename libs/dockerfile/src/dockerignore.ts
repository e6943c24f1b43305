/**
 * `.dockerignore`: which files of the build context the builder leaves out. Parsing follows
 * moby/patternmatcher's ignorefile.ReadAll, matching its PatternMatcher.MatchesOrParentMatches:
 * - `#` at the very start of a line is a comment; blank lines are skipped;
 * - patterns are trimmed, cleaned like Go's filepath.Clean, and a leading `/` is dropped
 *   (`/foo` and `foo` both mean the context's top-level foo);
 * - `*` and `?` do not cross `/`, `**` crosses any number of directories, `[...]` is a class,
 *   `\` escapes;
 * - `!pattern` re-includes; the last pattern that matches a path (or one of its parents) wins.
 */
import { posix } from 'node:path';
import { DockerfileError } from './errors';

export interface IgnorePattern {
  /** The cleaned pattern, without its `!`. */
  readonly pattern: string;
  readonly exclusion: boolean;
  /** 1-based line in the .dockerignore, for messages. */
  readonly line: number;
}

interface Compiled extends IgnorePattern {
  readonly dirs: readonly string[];
  readonly test: (path: string) => boolean;
}

function clean(path: string): string {
  const cleaned = posix.normalize(path);
  return cleaned.length > 1 && cleaned.endsWith('/') ? cleaned.slice(0, -1) : cleaned;
}

/**
 * Go's filepath.Match syntax check: a trailing `\`, an unterminated or empty `[...]`, or a range
 * with a missing end is a bad pattern (patternmatcher rejects the whole file for it).
 */
function checkSyntax(pattern: string): boolean {
  const classChar = (i: number): number => {
    const c = pattern[i];
    if (c === undefined || c === '-' || c === ']') return -1;
    if (c === '\\') return i + 1 < pattern.length ? i + 2 : -1;
    return i + 1;
  };
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\') {
      if (i + 1 >= pattern.length) return false;
      i++;
    } else if (ch === '[') {
      let j = i + 1;
      if (pattern[j] === '^') j++;
      let items = 0;
      while (pattern[j] !== ']' || items === 0) {
        j = classChar(j);
        if (j < 0) return false;
        if (pattern[j] === '-') {
          j = classChar(j + 1);
          if (j < 0) return false;
        }
        items++;
      }
      i = j;
    }
  }
  return true;
}

// patternmatcher escapes only these; `^` and brackets pass through to the regexp, as there.
const REGEX_SPECIAL = new Set(['.', '+', '(', ')', '|', '{', '}', '$']);

/** The pattern as a predicate on slash-separated relative paths, as patternmatcher compiles it. */
function compile(pattern: string): (path: string) => boolean {
  let re = '^';
  let kind: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] ?? '';
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') i++;
        if (i + 1 >= pattern.length) {
          if (kind === 'exact') kind = 'prefix';
          else {
            re += '.*';
            kind = 'regexp';
          }
        } else {
          re += '(.*/)?';
          kind = 'regexp';
        }
        if (i <= 2 && pattern.startsWith('**')) kind = 'suffix';
      } else {
        re += '[^/]*';
        kind = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      kind = 'regexp';
    } else if (REGEX_SPECIAL.has(ch)) {
      re += '\\' + ch;
    } else if (ch === '\\') {
      if (i + 1 < pattern.length) {
        i++;
        const escaped = pattern[i] ?? '';
        re += /[\\^$.*+?()[\]{}|/]/.test(escaped) ? '\\' + escaped : escaped;
        kind = 'regexp';
      } else re += '\\\\';
    } else if (ch === '[' || ch === ']') {
      re += ch;
      kind = 'regexp';
    } else re += ch;
  }
  switch (kind) {
    case 'exact':
      return (path) => path === pattern;
    case 'prefix': {
      const prefix = pattern.slice(0, -2);
      return (path) => path.startsWith(prefix);
    }
    case 'suffix': {
      const suffix = pattern.slice(2);
      return (path) => path.endsWith(suffix) || (suffix.startsWith('/') && path === suffix.slice(1));
    }
    default: {
      let regexp: RegExp;
      try {
        regexp = new RegExp(re + '$', 'u');
      } catch {
        return () => false;
      }
      return (path) => regexp.test(path);
    }
  }
}

/** Segment-wise glob check used to decide whether a pattern can reach below a directory. */
function segmentMatches(patternSegment: string, name: string): boolean {
  return compile(patternSegment)(name);
}

export class DockerIgnore {
  private constructor(private readonly compiled: readonly Compiled[]) {}

  /** Parses .dockerignore text; a bad pattern throws DockerfileError with `.dockerignore:LINE`. */
  static parse(text: string, file = '.dockerignore'): DockerIgnore {
    const patterns: IgnorePattern[] = [];
    const lines = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).split('\n');
    lines.forEach((raw, index) => {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line.startsWith('#')) return;
      let pattern = line.trim();
      if (pattern === '') return;
      const exclusion = pattern.startsWith('!');
      if (exclusion) pattern = pattern.slice(1).trim();
      if (exclusion && pattern === '') {
        throw new DockerfileError('illegal exclusion pattern: "!"', { file, line: index + 1, column: 1 });
      }
      pattern = clean(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
      if (!checkSyntax(pattern)) {
        throw new DockerfileError(`syntax error in pattern: ${pattern}`, { file, line: index + 1, column: 1 });
      }
      patterns.push({ pattern, exclusion, line: index + 1 });
    });
    return DockerIgnore.fromPatterns(patterns);
  }

  static fromPatterns(patterns: readonly IgnorePattern[]): DockerIgnore {
    return new DockerIgnore(patterns.map((p) => ({ ...p, dirs: p.pattern.split('/'), test: compile(p.pattern) })));
  }

  get patterns(): readonly IgnorePattern[] {
    return this.compiled.map(({ pattern, exclusion, line }) => ({ pattern, exclusion, line }));
  }

  /** True when some `!` pattern exists (walking must then look inside excluded directories). */
  get hasExceptions(): boolean {
    return this.compiled.some((p) => p.exclusion);
  }

  /**
   * True when the path (relative to the context, `/`-separated) is left out of the context.
   * A path is left out when it or one of its parent directories matches, unless a later `!`
   * pattern matches it or one of its parents. The context root itself is never left out.
   */
  matches(path: string): boolean {
    const file = clean(path.replace(/^\/+/, '')).replace(/^\.\//, '');
    if (file === '.' || file === '') return false;
    const parentPath = posix.dirname(file);
    const parents = parentPath === '.' ? [] : parentPath.split('/');
    let matched = false;
    for (const pattern of this.compiled) {
      if (pattern.exclusion !== matched) continue;
      let match = pattern.test(file);
      for (let i = 0; !match && i < parents.length; i++) match = pattern.test(parents.slice(0, i + 1).join('/'));
      if (match) matched = !pattern.exclusion;
    }
    return matched;
  }

  /**
   * For an excluded directory: could a `!` pattern re-include something below it? When false
   * the walker can skip the whole directory; when true it must walk in and test each entry.
   */
  allowsDescendant(dir: string): boolean {
    const path = clean(dir.replace(/^\/+/, '')).replace(/^\.\//, '');
    const segments = path === '.' || path === '' ? [] : path.split('/');
    return this.compiled.some((p) => p.exclusion && reachesBelow(p.dirs, segments));
  }
}

/** Whether a pattern's segments can match some path strictly below `segments`. */
function reachesBelow(patternDirs: readonly string[], segments: readonly string[]): boolean {
  const walk = (pi: number, si: number): boolean => {
    if (si === segments.length) return pi < patternDirs.length || patternDirs[patternDirs.length - 1] === '**';
    const seg = patternDirs[pi];
    if (seg === undefined) return false;
    if (seg === '**') return walk(pi + 1, si) || walk(pi, si + 1);
    return segmentMatches(seg, segments[si] ?? '') && walk(pi + 1, si + 1);
  };
  return walk(0, 0);
}
