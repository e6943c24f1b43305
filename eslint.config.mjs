// ESLint flat config for the whole workspace. Module boundaries follow DESIGN.md:
// apps -> libs, never libs -> apps; engine libs never import platform code, nor a layer of
// the engine above their own.
import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

// The engine's layers (DESIGN.md: oci <- content <- layers <- snapshots <- images <-
// builder/engine), each with the layers it may import; importing a layer above is a lint
// error. The Dockerfile parser and oci stay free of everything else, config included, but
// for the base error (libs/errors, tagged layer:errors), which every layer may import.
const engineLayers = {
  oci: [],
  content: ['oci'],
  layers: ['oci', 'content'],
  snapshots: ['oci', 'content', 'layers'],
  images: ['oci', 'content', 'layers', 'snapshots'],
  dockerfile: ['oci'],
  engine: ['oci', 'content', 'layers', 'snapshots', 'images'],
  builder: ['oci', 'content', 'layers', 'snapshots', 'images', 'dockerfile', 'engine'],
  registry: ['oci', 'content', 'layers', 'snapshots', 'images'],
};
const pure = new Set(['oci', 'dockerfile']);
const layerConstraints = Object.entries(engineLayers).map(([layer, below]) => ({
  sourceTag: `layer:${layer}`,
  onlyDependOnLibsWithTags: [
    'layer:errors',
    ...below.map((l) => `layer:${l}`),
    ...(pure.has(layer) ? [] : ['scope:shared']),
  ],
}));

const boundaries = {
  enforceBuildableLibDependency: false,
  banTransitiveDependencies: false,
  checkDynamicDependenciesExceptions: [],
  depConstraints: [
    { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
    { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
    { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:lib', 'type:tool'] },
    // test tools outside the apps and libs (infra/cluster): e2e may use them, nothing else
    { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib'] },
    { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
    { sourceTag: 'scope:engine', onlyDependOnLibsWithTags: ['scope:engine', 'scope:shared'] },
    { sourceTag: 'scope:platform', onlyDependOnLibsWithTags: ['scope:platform', 'scope:engine', 'scope:shared'] },
    { sourceTag: 'scope:cli', onlyDependOnLibsWithTags: ['scope:platform', 'scope:engine', 'scope:shared'] },
    ...layerConstraints,
  ],
};

export default tseslint.config(
  { ignores: ['**/node_modules/', '**/dist/', '.nx/', 'native/', 'e2e/artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    files: ['**/*.ts', '**/*.tsx'],
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': ['error', boundaries],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
      // Nest modules are classes that carry only decorators.
      '@typescript-eslint/no-extraneous-class': ['error', { allowWithDecorator: true }],
    },
  },
  {
    // Apps are never importable, save the api's testing entry (apps/api/src/testing/index.ts),
    // through which e2e runs the real api in-process.
    files: ['e2e/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': ['error', { ...boundaries, allow: ['@paas/api/testing'] }] },
  },
  {
    files: ['**/*.mjs', 'bin/*'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  prettier,
);
