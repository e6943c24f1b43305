/**
 * `RUN --mount=type=cache,target=/root/.cache,sharing=locked` parsed into a typed mount.
 * Field names and defaults follow BuildKit's instructions/commands_runmount.go; the builder
 * decides what each mount means, this only checks that it is well formed.
 */
import { DockerfileError } from './errors';

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
export type CacheSharing = 'shared' | 'private' | 'locked';

export interface RunMount {
  readonly type: MountType;
  readonly target?: string;
  readonly source?: string;
  /** Stage name, image or context for bind and cache mounts. */
  readonly from?: string;
  readonly readOnly: boolean;
  /** Cache id, or secret/ssh id. */
  readonly id?: string;
  readonly sharing?: CacheSharing;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly required?: boolean;
  /** Secret exposed as an environment variable instead of a file. */
  readonly env?: string;
  /** tmpfs size in bytes. */
  readonly size?: number;
}

const TYPES = new Set<MountType>(['bind', 'cache', 'tmpfs', 'secret', 'ssh']);
const KEYS = new Set([
  'type',
  'target',
  'dst',
  'destination',
  'source',
  'src',
  'from',
  'readonly',
  'ro',
  'readwrite',
  'rw',
  'id',
  'sharing',
  'mode',
  'uid',
  'gid',
  'required',
  'env',
  'size',
]);

/** Splits on commas outside double quotes, like Go's encoding/csv for one record. */
function csvFields(value: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === '"') {
      if (quoted && value[i + 1] === '"') {
        field += '"';
        i++;
      } else quoted = !quoted;
    } else if (ch === ',' && !quoted) {
      fields.push(field);
      field = '';
    } else field += ch;
  }
  if (quoted) throw new DockerfileError(`invalid mount ${JSON.stringify(value)}: unterminated quote`);
  fields.push(field);
  return fields;
}

function bool(key: string, value: string | undefined): boolean {
  if (value === undefined) return true;
  const v = value.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new DockerfileError(`invalid value for ${key}: ${value}`);
}

function integer(key: string, value: string | undefined, radix = 10): number {
  const n = value !== undefined && /^[0-9a-fA-F]+$/.test(value) ? Number.parseInt(value, radix) : NaN;
  if (!Number.isSafeInteger(n) || (radix === 8 && !/^[0-7]+$/.test(value ?? ''))) {
    throw new DockerfileError(`invalid value for ${key}: ${value ?? ''}`);
  }
  return n;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  g: 1024 ** 3,
};

export function parseMount(value: string): RunMount {
  const fields: Record<string, string | undefined> = {};
  for (const raw of csvFields(value)) {
    const field = raw.trim();
    if (field === '') continue;
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (!KEYS.has(key)) throw new DockerfileError(`unexpected key '${key}' in '${field}'`);
    fields[key] = eq < 0 ? undefined : field.slice(eq + 1);
  }
  const type = (fields['type'] ?? 'bind') as MountType;
  if (!TYPES.has(type)) throw new DockerfileError(`unsupported mount type "${type}"`);
  const target = fields['target'] ?? fields['dst'] ?? fields['destination'];
  const source = fields['source'] ?? fields['src'];
  const mount: { -readonly [K in keyof RunMount]: RunMount[K] } = {
    type,
    readOnly: type === 'bind' || type === 'secret' || type === 'ssh',
  };
  if (target !== undefined) mount.target = target;
  if (source !== undefined) mount.source = source;
  if ('readonly' in fields || 'ro' in fields) mount.readOnly = bool('readonly', fields['readonly'] ?? fields['ro']);
  if ('readwrite' in fields || 'rw' in fields) mount.readOnly = !bool('readwrite', fields['readwrite'] ?? fields['rw']);
  if (fields['from'] !== undefined) mount.from = fields['from'];
  if (fields['id'] !== undefined) mount.id = fields['id'];
  if ('sharing' in fields) {
    const sharing = fields['sharing'] ?? '';
    if (sharing !== 'shared' && sharing !== 'private' && sharing !== 'locked') {
      throw new DockerfileError(`unsupported sharing value "${sharing}"`);
    }
    mount.sharing = sharing;
  }
  if ('mode' in fields) mount.mode = integer('mode', fields['mode'], 8);
  if ('uid' in fields) mount.uid = integer('uid', fields['uid']);
  if ('gid' in fields) mount.gid = integer('gid', fields['gid']);
  if ('required' in fields) mount.required = bool('required', fields['required']);
  if (fields['env'] !== undefined) mount.env = fields['env'];
  if ('size' in fields) {
    const m = /^(\d+)([a-z]*)$/i.exec(fields['size'] ?? '');
    const unit = SIZE_UNITS[(m?.[2] ?? 'x').toLowerCase()];
    if (!m || unit === undefined) throw new DockerfileError(`invalid value for size: ${fields['size'] ?? ''}`);
    mount.size = Number(m[1]) * unit;
  }
  if (type === 'secret' || type === 'ssh') {
    if (type === 'ssh' && mount.target === undefined && mount.id === undefined) mount.id = 'default';
    if (type === 'secret' && mount.id === undefined && mount.target === undefined && mount.env === undefined) {
      throw new DockerfileError('secret mount requires an id, a target or an env');
    }
  } else if (mount.target === undefined || mount.target === '') {
    throw new DockerfileError(`mount type=${type} requires a target`);
  }
  if (mount.sharing !== undefined && type !== 'cache') {
    throw new DockerfileError(`sharing is only valid for cache mounts`);
  }
  return mount;
}
