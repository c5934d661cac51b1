/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The gateway serves the build (web/dist) on the same origin as /api/v1; in development Vite
// serves the app and passes /api to a platform started with `python -m deploy.run_local`.
const api = process.env.EBOK_API_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  server: {
    host: "127.0.0.1",
    port: 5173,
    proxy: { "/api": { target: api, changeOrigin: false } },
  },
  build: {
    manifest: true,
    sourcemap: false,
    target: "es2022",
    rolldownOptions: {
      output: {
        // Libraries in one chunk of their own: it changes less often than the app's code, so a
        // new release leaves it cached.
        // @noble/hashes only serves the CAPTCHA forms: it stays in their chunk, off the sign-in page.
        codeSplitting: { groups: [{ name: "vendor", test: /node_modules\/(?!@noble\/)/ }] },
      },
    },
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
  },
});
