/**
 * The typed form of a Dockerfile: stages of instructions, a discriminated union on `kind`.
 * Values that Docker substitutes (FROM, COPY, ENV, WORKDIR, ...) are already substituted with
 * the build args and ENV in scope; RUN, CMD, ENTRYPOINT, SHELL and HEALTHCHECK keep their text
 * for the shell, as Docker does.
 */
import type { RunMount } from './mounts';

export interface SourceLocation {
  readonly file: string;
  readonly startLine: number;
  readonly endLine: number;
  readonly column: number;
}

interface Base {
  readonly location: SourceLocation;
  /** The instruction's logical line, for history entries and cache keys. */
  readonly original: string;
}

/** Shell form (run by the stage's SHELL) or exec form (argv, no shell). */
export type CommandLine = { readonly shell: string } | { readonly exec: readonly string[] };

/** A here-document body for RUN (given to the shell) or a COPY/ADD inline file. */
export interface HeredocFile {
  readonly name: string;
  readonly fileDescriptor: number;
  /** Tabs already stripped for `<<-`; substituted for COPY/ADD unless the delimiter was quoted. */
  readonly content: string;
  readonly expand: boolean;
}

export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

export interface FromInstruction extends Base {
  readonly kind: 'from';
  readonly image: string;
  readonly platform?: string;
  /** `AS name`, lower-cased. */
  readonly alias?: string;
  /** Index of an earlier stage when `image` names one. */
  readonly stage?: number;
}

export interface RunInstruction extends Base {
  readonly kind: 'run';
  readonly command: CommandLine;
  readonly mounts: readonly RunMount[];
  readonly network?: 'default' | 'none' | 'host';
  readonly security?: 'sandbox' | 'insecure';
  readonly heredocs: readonly HeredocFile[];
}

export interface CmdInstruction extends Base {
  readonly kind: 'cmd';
  readonly command: CommandLine;
}

export interface EntrypointInstruction extends Base {
  readonly kind: 'entrypoint';
  readonly command: CommandLine;
}

export interface EnvInstruction extends Base {
  readonly kind: 'env';
  readonly pairs: readonly KeyValue[];
}

export interface ArgDeclaration {
  readonly key: string;
  /** The default written in the Dockerfile, substituted. */
  readonly default?: string;
  /** The value in effect: the build arg, else the default, else the global value. */
  readonly value?: string;
}

export interface ArgInstruction extends Base {
  readonly kind: 'arg';
  readonly args: readonly ArgDeclaration[];
}

export interface WorkdirInstruction extends Base {
  readonly kind: 'workdir';
  readonly path: string;
}

interface CopyLike extends Base {
  /** Source paths (after substitution), in order; heredoc sources are in `contents`. */
  readonly sources: readonly string[];
  readonly contents: readonly HeredocFile[];
  readonly dest: string;
  readonly chown?: string;
  readonly chmod?: string;
  readonly link: boolean;
  readonly exclude: readonly string[];
  /** The source and destination given as a JSON array. */
  readonly json: boolean;
}

export interface CopyInstruction extends CopyLike {
  readonly kind: 'copy';
  /** A stage name or index, or an image; resolved by the builder. */
  readonly from?: string;
  readonly parents: boolean;
}

export interface AddInstruction extends CopyLike {
  readonly kind: 'add';
  readonly checksum?: string;
  readonly keepGitDir: boolean;
  readonly unpack?: boolean;
}

export interface ExposeInstruction extends Base {
  readonly kind: 'expose';
  readonly ports: readonly string[];
}

export interface UserInstruction extends Base {
  readonly kind: 'user';
  readonly user: string;
}

export interface LabelInstruction extends Base {
  readonly kind: 'label';
  readonly pairs: readonly KeyValue[];
}

export interface VolumeInstruction extends Base {
  readonly kind: 'volume';
  readonly paths: readonly string[];
}

export interface HealthcheckInstruction extends Base {
  readonly kind: 'healthcheck';
  /** `["NONE"]`, `["CMD", ...argv]` or `["CMD-SHELL", command]`, as in the image config. */
  readonly test: readonly string[];
  /** Durations in nanoseconds, as the image config stores them; absent when not given. */
  readonly interval?: number;
  readonly timeout?: number;
  readonly startPeriod?: number;
  readonly startInterval?: number;
  readonly retries?: number;
}

export interface ShellInstruction extends Base {
  readonly kind: 'shell';
  readonly shell: readonly string[];
}

export interface StopSignalInstruction extends Base {
  readonly kind: 'stopsignal';
  readonly signal: string;
}

export interface OnbuildInstruction extends Base {
  readonly kind: 'onbuild';
  /** The trigger as stored in the image config (`RUN echo hi`), heredoc bodies appended. */
  readonly expression: string;
  /** The trigger's instruction word, upper-cased. */
  readonly trigger: string;
}

export interface MaintainerInstruction extends Base {
  readonly kind: 'maintainer';
  readonly maintainer: string;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | EnvInstruction
  | ArgInstruction
  | WorkdirInstruction
  | CopyInstruction
  | AddInstruction
  | ExposeInstruction
  | UserInstruction
  | LabelInstruction
  | VolumeInstruction
  | HealthcheckInstruction
  | ShellInstruction
  | StopSignalInstruction
  | OnbuildInstruction
  | MaintainerInstruction;

export interface Stage {
  readonly index: number;
  /** The `AS` name, lower-cased, if any. */
  readonly name?: string;
  readonly from: FromInstruction;
  /** Everything after FROM, in order. */
  readonly instructions: readonly Instruction[];
  /** ENV in effect at the end of the stage (inherited by `FROM <this stage>`), image ENV aside. */
  readonly env: Readonly<Record<string, string>>;
}

export interface Stages {
  /** ARGs before the first FROM: usable in FROM lines, or in a stage that redeclares them. */
  readonly metaArgs: readonly ArgInstruction[];
  readonly stages: readonly Stage[];
}
