/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4) for specs: every
 * family must have its HELP and TYPE before its samples, names and labels must be well formed,
 * a histogram's buckets must be cumulative and end in `le="+Inf"` equal to `_count`. Throws
 * naming the line that breaks a rule.
 */
export interface ParsedSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface ParsedFamily {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly samples: ParsedSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/;

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest !== '') {
    const m = LABEL.exec(rest);
    if (!m) throw new Error(`${where}: bad labels at ${JSON.stringify(rest)}`);
    const [whole, key, raw] = m as unknown as [string, string, string];
    if (key in labels) throw new Error(`${where}: label ${key} twice`);
    labels[key] = raw.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(whole.length);
  }
  return labels;
}

function parseValue(text: string, where: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  // Prometheus reads NaN in any case (Go's ParseFloat); prom-client writes an empty summary's as `Nan`
  if (text.toLowerCase() === 'nan') return NaN;
  const n = Number(text);
  if (text === '' || Number.isNaN(n)) throw new Error(`${where}: bad value ${JSON.stringify(text)}`);
  return n;
}

/** Families by name. */
export function parsePrometheus(text: string): Map<string, ParsedFamily> {
  const families = new Map<string, ParsedFamily>();
  const help = new Map<string, string>();
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('the text must end with a newline');
  lines.forEach((line, i) => {
    const where = `line ${i + 1} (${JSON.stringify(line)})`;
    if (line === '') return;
    if (line.startsWith('# HELP ')) {
      const [, name = '', ...words] = line.split(' ').slice(1);
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name`);
      help.set(name, words.join(' '));
      return;
    }
    if (line.startsWith('# TYPE ')) {
      const [, name = '', type = ''] = line.split(' ').slice(1);
      if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type))
        throw new Error(`${where}: bad type`);
      if (!help.has(name)) throw new Error(`${where}: TYPE before HELP`);
      if (families.has(name)) throw new Error(`${where}: ${name} described twice`);
      families.set(name, { name, help: help.get(name) ?? '', type, samples: [] });
      return;
    }
    if (line.startsWith('#')) return;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`${where}: not a sample line`);
    const name = m[1] as string;
    const base = name.replace(/_(bucket|sum|count)$/, '');
    const family = families.get(name) ?? families.get(base);
    if (!family) throw new Error(`${where}: a sample before its family's HELP and TYPE`);
    if (family.name !== name && !['histogram', 'summary'].includes(family.type))
      throw new Error(`${where}: ${name} in the ${family.type} ${family.name}`);
    family.samples.push({ name, labels: parseLabels(m[3] ?? '', where), value: parseValue(m[4] as string, where) });
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

function checkHistogram(family: ParsedFamily): void {
  const series = new Map<string, { le: Array<[number, number]>; count?: number; sum?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let one = series.get(key);
    if (!one) series.set(key, (one = { le: [] }));
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      one.le.push([parseValue(le, family.name), s.value]);
    } else if (s.name.endsWith('_count')) one.count = s.value;
    else if (s.name.endsWith('_sum')) one.sum = s.value;
  }
  for (const [key, one] of series) {
    const last = one.le.at(-1);
    if (!last || last[0] !== Infinity) throw new Error(`${family.name} ${key}: no le="+Inf" bucket`);
    if (one.count === undefined || one.sum === undefined) throw new Error(`${family.name} ${key}: no _sum or _count`);
    if (last[1] !== one.count) throw new Error(`${family.name} ${key}: +Inf bucket ${last[1]} != count ${one.count}`);
    for (let i = 1; i < one.le.length; i++) {
      const [prevLe, prev] = one.le[i - 1] as [number, number];
      const [le, value] = one.le[i] as [number, number];
      if (!(le > prevLe) || value < prev) throw new Error(`${family.name} ${key}: buckets not cumulative`);
    }
  }
}

/** The value of the sample `name` whose labels include `labels`; undefined when there is none. */
export function sampleValue(
  families: Map<string, ParsedFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
  const found = family?.samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return found?.value;
}
