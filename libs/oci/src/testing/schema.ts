/**
 * Test helper: validates documents against the OCI image-spec JSON Schemas (draft-04), read
 * in place from the shared conformance data (never copied into the project).
 *
 * The schemas carry nested draft-04 `id`s that would move the base of their relative `$ref`s;
 * we drop them and register each file under one base so refs resolve file to file.
 */
import Ajv04 from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * `../shared/conformance` beside the checkout; a clone elsewhere (CI, a scratch copy) finds it
 * through PAAS_CONFORMANCE_DIR or the workplace's fixed location.
 */
function findConformanceDir(): string {
  const candidates = [
    process.env['PAAS_CONFORMANCE_DIR'],
    resolve(__dirname, '..', '..', '..', '..', '..', 'shared', 'conformance'),
    '/work/shared/conformance',
  ].filter((c): c is string => typeof c === 'string' && c.length > 0);
  const found = candidates.find((c) => existsSync(join(c, 'image-spec')));
  if (!found) throw new Error(`the conformance data is missing; looked in ${candidates.join(', ')}`);
  return found;
}

export const CONFORMANCE_DIR = findConformanceDir();
const SCHEMA_DIR = join(CONFORMANCE_DIR, 'image-spec', 'schema');
const BASE = 'https://opencontainers.org/schema/image/';

export type OciSchema = 'manifest' | 'index' | 'config' | 'layout' | 'descriptor';
const FILES: Record<OciSchema, string> = {
  manifest: 'image-manifest-schema.json',
  index: 'image-index-schema.json',
  config: 'config-schema.json',
  layout: 'image-layout-schema.json',
  descriptor: 'content-descriptor.json',
};

function withoutIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutIds);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([k]) => k !== 'id')
        .map(([k, v]) => [k, withoutIds(v)]),
    );
  }
  return value;
}

let ajv: Ajv04 | undefined;
function validator(): Ajv04 {
  if (!ajv) {
    ajv = new Ajv04({ allErrors: true, strict: false });
    addFormats(ajv);
    for (const file of readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.json'))) {
      const schema = withoutIds(JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8'))) as object;
      ajv.addSchema(schema, BASE + file);
    }
  }
  return ajv;
}

/** Returns the schema errors as readable lines; empty when the document is valid. */
export function schemaErrors(kind: OciSchema, document: unknown): string[] {
  const validate = validator().getSchema(BASE + FILES[kind]);
  if (!validate) throw new Error(`schema ${FILES[kind]} not found in ${SCHEMA_DIR}`);
  if (validate(document)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}
