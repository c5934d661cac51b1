import { describe, expect, it, vi } from "vitest";

import { fakeFetch, json } from "../test/helpers";
import { createApiClient } from "./client";
import { acceptTokens, getAccessToken, getSession, onSessionExpired } from "./session";

const tokens = (access: string, must = false) => ({
  access_token: access,
  token_type: "Bearer" as const,
  expires_in: 900,
  must_change_password: must,
});
const balance = {
  balance: "-10.00",
  amount_due: "10.00",
  overdue_amount: "0.00",
  overpaid: "0.00",
  charges: "10.00",
  credits: "0.00",
  open_invoices: 1,
  as_of: "2026-11-24",
  currency: "PLN",
};
const unauthorized = { type: "https://e-bok.example/problems/unauthorized", title: "Unauthorized", status: 401 };

describe("the API client's session middleware", () => {
  it("sends the in-memory access token", async () => {
    const { calls } = fakeFetch(() => json(balance));
    acceptTokens(tokens("access-1"));
    const { data } = await createApiClient().GET("/api/v1/balance");
    expect(data?.amount_due).toBe("10.00");
    expect(calls[0]?.headers.get("Authorization")).toBe("Bearer access-1");
    expect(calls[0]?.headers.get("X-Ebok-Session")).toBeNull();
  });

  it("on a 401 refreshes once through the cookie and repeats the call with the new token", async () => {
    const { calls } = fakeFetch((call) => {
      if (call.path === "/api/v1/auth/refresh") return json(tokens("access-2"));
      return call.headers.get("Authorization") === "Bearer access-2" ? json(balance) : json(unauthorized, 401);
    });
    acceptTokens(tokens("access-1"));
    const { data, response } = await createApiClient().GET("/api/v1/balance");

    expect(response.status).toBe(200);
    expect(data?.open_invoices).toBe(1);
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      "GET /api/v1/balance",
      "POST /api/v1/auth/refresh",
      "GET /api/v1/balance",
    ]);
    const refresh = calls[1];
    expect(refresh?.headers.get("X-Ebok-Session")).toBe("cookie");
    expect(refresh?.body).toBe("");
    expect(refresh?.headers.get("Authorization")).toBeNull();
    expect(getAccessToken()).toBe("access-2");
  });

  it("repeats a call with its body", async () => {
    const { calls } = fakeFetch((call) => {
      if (call.path === "/api/v1/auth/refresh") return json(tokens("access-2"));
      if (call.headers.get("Authorization") !== "Bearer access-2") return json(unauthorized, 401);
      return json({ read_at: "2026-11-24T08:00:00Z", value: "12.500", source: "customer", consumption: "1.000" }, 201);
    });
    acceptTokens(tokens("access-1"));
    const { response } = await createApiClient().POST("/api/v1/meters/{meter_number}/readings", {
      params: { path: { meter_number: "M-1" } },
      body: { value: "12.500", read_at: "2026-11-24T08:00:00Z" },
    });
    expect(response.status).toBe(201);
    expect(calls[2]?.body).toBe(JSON.stringify({ value: "12.500", read_at: "2026-11-24T08:00:00Z" }));
  });

  it("refreshes once for calls that fail together", async () => {
    let refreshes = 0;
    fakeFetch(async (call) => {
      if (call.path === "/api/v1/auth/refresh") {
        refreshes += 1;
        await new Promise((resolve) => setTimeout(resolve, 10));
        return json(tokens("access-2"));
      }
      return call.headers.get("Authorization") === "Bearer access-2" ? json(balance) : json(unauthorized, 401);
    });
    acceptTokens(tokens("access-1"));
    const client = createApiClient();
    const answers = await Promise.all([client.GET("/api/v1/balance"), client.GET("/api/v1/balance"), client.GET("/api/v1/balance")]);
    expect(answers.map((a) => a.response.status)).toEqual([200, 200, 200]);
    expect(refreshes).toBe(1);
  });

  it("when the refresh fails, the session has expired", async () => {
    const { calls } = fakeFetch(() => json(unauthorized, 401));
    const expired = vi.fn();
    onSessionExpired(expired);
    acceptTokens(tokens("access-1"));
    const { response } = await createApiClient().GET("/api/v1/balance");
    expect(response.status).toBe(401);
    expect(calls).toHaveLength(2);
    expect(expired).toHaveBeenCalledOnce();
    expect(getSession()).toMatchObject({ status: "signed-out", ended: "expired" });
    expect(getAccessToken()).toBeNull();
  });

  it("says 'cookie' on login and does not refresh on its 401", async () => {
    const { calls } = fakeFetch(() =>
      json({ type: "https://e-bok.example/problems/invalid-credentials", title: "Invalid credentials", status: 401 }, 401),
    );
    const { error } = await createApiClient().POST("/api/v1/auth/login", { body: { login: "a", password: "b" } });
    expect(error?.type).toMatch(/invalid-credentials$/);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.headers.get("X-Ebok-Session")).toBe("cookie");
  });

  it("says 'cookie' on a password change", async () => {
    const { calls } = fakeFetch(() => json(tokens("access-3")));
    acceptTokens(tokens("access-1", true));
    await createApiClient().POST("/api/v1/me/password", { body: { current_password: "x", new_password: "y" } });
    expect(calls[0]?.headers.get("X-Ebok-Session")).toBe("cookie");
    expect(calls[0]?.headers.get("Authorization")).toBe("Bearer access-1");
  });
});
