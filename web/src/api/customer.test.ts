import { afterEach, describe, expect, it } from "vitest";

import { fakeFetch, json } from "../test/helpers";
import { createApiClient } from "./client";
import { chooseCustomer } from "./customer";
import { acceptTokens } from "./session";

const chosen = { customer_id: "C-1001", name: "Wspólnota Wodna 7", scope: "partial" as const, service_points: [] };
const unauthorized = { type: "https://e-bok.example/problems/unauthorized", title: "Unauthorized", status: 401 };

afterEach(() => chooseCustomer(null));

describe("the customer a manager chose", () => {
  it("is added to every account route's call, and to no other", async () => {
    const { calls } = fakeFetch(() => json({ items: [], next_cursor: null, prev_cursor: null }));
    acceptTokens({ access_token: "a", token_type: "Bearer", expires_in: 900, must_change_password: false });
    chooseCustomer(chosen);
    const api = createApiClient();
    await api.GET("/api/v1/invoices", { params: { query: { limit: 5 } } });
    await api.GET("/api/v1/meters/{meter_number}/readings", { params: { path: { meter_number: "M-1" } } });
    await api.GET("/api/v1/me");
    await api.GET("/api/v1/portfolio");
    expect(calls.map((call) => call.search)).toEqual(["?limit=5&customer=C-1001", "?customer=C-1001", "", ""]);
  });

  it("keeps a self-reading's body, and is kept when the call is repeated after a refresh", async () => {
    let first = true;
    const { calls } = fakeFetch((call) => {
      if (call.path === "/api/v1/auth/refresh") {
        return json({ access_token: "b", token_type: "Bearer", expires_in: 900, must_change_password: false });
      }
      if (first) {
        first = false;
        return json(unauthorized, 401);
      }
      return json({}, 201);
    });
    acceptTokens({ access_token: "a", token_type: "Bearer", expires_in: 900, must_change_password: false });
    chooseCustomer(chosen);
    await createApiClient().POST("/api/v1/meters/{meter_number}/readings", {
      params: { path: { meter_number: "M-1" } },
      body: { value: "12.345", read_at: "2026-11-20T10:00:00+01:00" },
    });
    const posts = calls.filter((call) => call.method === "POST" && call.path !== "/api/v1/auth/refresh");
    expect(posts).toHaveLength(2);
    for (const post of posts) {
      expect(post.search).toBe("?customer=C-1001");
      expect(JSON.parse(post.body)).toEqual({ value: "12.345", read_at: "2026-11-20T10:00:00+01:00" });
    }
    expect(posts[1]?.headers.get("Authorization")).toBe("Bearer b");
  });

  it("is not added when none is chosen (a customer's own session)", async () => {
    const { calls } = fakeFetch(() => json({}));
    await createApiClient().GET("/api/v1/balance");
    expect(calls[0]?.search).toBe("");
  });
});
