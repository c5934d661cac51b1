import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const web = resolve(__dirname, "..", "..");

describe("generated API types", () => {
  it("src/api/schema.d.ts is what openapi-typescript makes of src/api/openapi.json (run `npm run api`)", () => {
    const dir = mkdtempSync(join(tmpdir(), "ebok-schema-"));
    try {
      const out = join(dir, "schema.d.ts");
      execFileSync(
        process.execPath,
        [join(web, "node_modules", "openapi-typescript", "bin", "cli.js"), join(web, "src", "api", "openapi.json"), "-o", out],
        { cwd: web, stdio: "pipe" },
      );
      const fresh = readFileSync(out, "utf8");
      const committed = readFileSync(join(web, "src", "api", "schema.d.ts"), "utf8");
      expect(committed === fresh, "schema.d.ts is stale: run `npm run api` in web/").toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it("the document is the gateway's public API", () => {
    const document = JSON.parse(readFileSync(join(web, "src", "api", "openapi.json"), "utf8")) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(["/api/v1/auth/login", "/api/v1/me/dashboard", "/api/v1/meters/{meter_number}/readings"]),
    );
  });
});
