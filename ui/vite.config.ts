/// <reference types="vitest" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The UI is served by loom-api at / (cmd/loom-api/api_static.c); hashed
// files go to assets/, which loom-api lets browsers keep for a year.
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: { outDir: 'dist', assetsDir: 'assets', sourcemap: false, chunkSizeWarningLimit: 1500 },
  server: { proxy: { '/api': process.env.LOOM_API ?? 'http://127.0.0.1:8080' } },
  test: { environment: 'jsdom', globals: true, include: ['test/**/*.test.{ts,tsx}'] },
});
