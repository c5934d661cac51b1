import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { fakeFetch, json, renderAt } from "../test/helpers";
import CasePage from "./CasePage";

const CUSTOMER = { role: "customer", login: "jan.kowalski", name: "Jan Kowalski" };
const UTILITY: { role: string; login: string | null; name: string } = { role: "utility", login: null, name: "Anna Nowak" };
const PHOTO = { attachment_id: "00000000-0000-4000-8000-000000000001", filename: "photo.png", content_type: "image/png", size: 2048, uploaded_at: "2026-11-26T08:00:00Z" };

function theCase(status: string): { messages: unknown[] } & Record<string, unknown> {
  return {
    number: "KOR/2026/000001",
    kind: "failure",
    status,
    title: "Lipowa 7, 00-001 Warszawa",
    service_point_id: "SP-1",
    invoice_number: null,
    submitted_by: CUSTOMER,
    submitted_at: "2026-11-26T08:00:00Z",
    updated_at: "2026-11-26T09:00:00Z",
    customer_id: "C-1",
    description: "No water",
    location: null,
    since: "2026-11-25",
    subject: null,
    changes: [],
    attachments: [PHOTO],
    timeline: [
      { status: "submitted", at: "2026-11-26T08:00:00Z", by: CUSTOMER, reason: null },
      { status: "registered", at: "2026-11-26T08:30:00Z", by: UTILITY, reason: null },
      { status, at: "2026-11-26T09:00:00Z", by: UTILITY, reason: null },
    ],
    messages: [
      { message_id: "m1", author: UTILITY, text: "A crew is on its way.", attachments: [], posted_at: "2026-11-26T09:00:00Z" },
    ],
  };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("case page", () => {
  it("shows the status, the timeline and the utility's reply, and sends a message", async () => {
    let item = theCase("answered");
    const { calls } = fakeFetch((call) => {
      if (call.method === "GET" && call.path === "/api/v1/cases/KOR%2F2026%2F000001") return json(item);
      if (call.method === "POST" && call.path === "/api/v1/cases/KOR%2F2026%2F000001/messages") {
        const body = JSON.parse(call.body) as { text: string };
        const message = { message_id: "m2", author: CUSTOMER, text: body.text, attachments: [], posted_at: "2026-11-26T10:00:00Z" };
        item = { ...item, messages: [...item.messages, message] };
        return json(message, 201);
      }
      return json({ title: "unexpected" }, 500);
    });
    renderAt("/cases/KOR%2F2026%2F000001", "/cases/:number", <CasePage />, "en");
    expect((await screen.findByTestId("case-status")).textContent).toBe("answered");
    const timeline = screen.getByTestId("case-timeline");
    expect(within(timeline).getAllByRole("listitem").map((li) => li.getAttribute("data-status"))).toEqual(["submitted", "registered", "answered"]);
    const reply = within(screen.getByTestId("case-messages")).getByRole("listitem");
    expect(reply.className).toContain("message-utility");
    expect(reply.textContent).toContain("Anna Nowak (the water utility)");
    expect(screen.getByRole("button", { name: "Download photo.png" })).toBeTruthy();

    fireEvent.click(screen.getByRole("button", { name: "Send the message" }));
    expect(await screen.findByText("Type your message.")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Your message"), { target: { value: "Thank you" } });
    fireEvent.click(screen.getByRole("button", { name: "Send the message" }));
    expect(await screen.findByText("Your message has been sent.")).toBeTruthy();
    await waitFor(() => expect(within(screen.getByTestId("case-messages")).getAllByRole("listitem")).toHaveLength(2));
    expect(calls.filter((c) => c.method === "POST").map((c) => JSON.parse(c.body))).toEqual([{ text: "Thank you", attachment_ids: [] }]);
    // Four files may still be attached (the case holds one).
    expect(screen.getByText(/This case can take 4 more/)).toBeTruthy();
  });

  it("has no message form for a closed case, and says why", async () => {
    fakeFetch(() => json(theCase("closed")));
    renderAt("/cases/KOR%2F2026%2F000001", "/cases/:number", <CasePage />);
    expect((await screen.findByTestId("case-finished")).textContent).toMatch(/Sprawa jest zamknięta/);
    expect(screen.queryByTestId("message-form")).toBeNull();
  });
});
