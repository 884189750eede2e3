/**
 * Vite build of the Harepost dashboard.
 *   npm run build:dashboard   →  dist/dashboard/index.html + dist/dashboard/assets/*
 * The server serves it under /dashboard/, so every asset URL starts with /dashboard/.
 *
 * `npx vite --config dashboard/vite.config.ts` starts a dev server on 127.0.0.1:5173 that proxies
 * /dashboard/api to HAREPOST_DASHBOARD_API (default http://127.0.0.1:8080).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const outDir = fileURLToPath(new URL('../dist/dashboard', import.meta.url));
const api = process.env.HAREPOST_DASHBOARD_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root,
  base: '/dashboard/',
  plugins: [preact({ prerender: { enabled: false } })],
  publicDir: false,
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2020',
    assetsDir: 'assets',
    sourcemap: false,
    // one entry chunk and no lazy chunks: the modulepreload polyfill would be dead weight
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    strictPort: true,
    proxy: { '/dashboard/api': { target: api, changeOrigin: false } },
  },
  preview: { host: '127.0.0.1', port: 4173 },
});
