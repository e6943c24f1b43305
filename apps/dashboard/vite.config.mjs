// Builds the dashboard into dist/apps/dashboard, which the api serves at `/`
// (apps/api/src/dashboard). Run through Nx: `npx nx run dashboard:build`.
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
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
