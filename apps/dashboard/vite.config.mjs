// Builds the dashboard into dist/apps/dashboard, which the api serves at `/`
// (apps/api/src/dashboard). Run through Nx: `npx nx run dashboard:build`.
import react from '@vitejs/plugin-react';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

/** Text worth compressing (images and fonts already are), above a packet or so. */
const COMPRESSIBLE = /\.(html|m?js|css|json|map|svg|txt)$/;
const MIN_GZIP_BYTES = 512;

/**
 * Each built file worth it also as FILE.gz, compressed once here at the highest level: the
 * api sends it to browsers that take gzip (apps/api/src/dashboard/static.ts).
 */
function gzipFiles() {
  return {
    name: 'paas-gzip-files',
    apply: 'build',
    writeBundle(options, bundle) {
      for (const name of Object.keys(bundle)) {
        if (!COMPRESSIBLE.test(name)) continue;
        const file = join(options.dir, name);
        const body = readFileSync(file);
        if (body.length > MIN_GZIP_BYTES) writeFileSync(`${file}.gz`, gzipSync(body, { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  root,
  base: '/',
  plugins: [react(), gzipFiles()],
  // a module of a lib the browser may take on its own (the lib's index pulls in node-only code)
  resolve: {
    alias: {
      '@paas/platform/formation': fileURLToPath(new URL('../../libs/platform/src/formation.ts', import.meta.url)),
    },
  },
  build: {
    outDir: fileURLToPath(new URL('../../dist/apps/dashboard', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
  },
  // `vite dev` against a running api (npm run up): the api and the git receiver behind it
  server: { proxy: { '/api': 'http://127.0.0.1:7000' } },
});
