// Gzipped size of the JavaScript that the /login page loads initially: the entry chunk of
// index.html and everything it imports statically (lazy pages are dynamic imports, left out).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const LIMIT = 150 * 1024;
const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
let manifest;
try {
  manifest = JSON.parse(readFileSync(join(dist, ".vite", "manifest.json"), "utf8"));
} catch {
  console.error("dist/.vite/manifest.json is missing: run `npm run build` first");
  process.exit(2);
}

const entries = Object.keys(manifest).filter((key) => manifest[key].isEntry);
const seen = new Set();
const visit = (key) => {
  if (seen.has(key)) return;
  seen.add(key);
  for (const imported of manifest[key].imports ?? []) visit(imported);
};
entries.forEach(visit);

let total = 0;
const rows = [];
for (const key of seen) {
  const file = manifest[key].file;
  if (!file.endsWith(".js")) continue;
  const gz = gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
  total += gz;
  rows.push(`  ${file}  ${(gz / 1024).toFixed(1)} KB`);
}
console.log(rows.join("\n"));
const verdict = total <= LIMIT ? "within" : "OVER";
console.log(
  `Initial JavaScript for /login: ${(total / 1024).toFixed(1)} KB gzipped (${verdict} the limit of ${LIMIT / 1024} KB)`,
);
process.exit(total <= LIMIT ? 0 : 1);
