import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import InvoicesPage from "../pages/InvoicesPage";
import MeterPage from "../pages/MeterPage";
import PaymentsPage from "../pages/PaymentsPage";
import { fakeFetch, json, renderAt, type Call } from "../test/helpers";

afterEach(() => vi.unstubAllGlobals());

const payment = (n: number) => ({
  booking_id: `B-${n}`,
  booked_on: `2026-0${1 + (n % 9)}-10`,
  amount: `${n}.00`,
  invoice_number: null,
  channel: "transfer",
});

/** Three pages of payments, B-9 … B-1, three a page; cursors named after the page they lead to. */
function payments(call: Call) {
  const cursor = new URLSearchParams(call.search).get("cursor");
  if (cursor === "bad") {
    return json(
      {
        type: "https://e-bok.example/problems/validation-failed",
        title: "Validation failed",
        status: 422,
        errors: [{ field: "cursor", message: "is not a cursor of this list", code: "invalid_cursor" }],
      },
      422,
    );
  }
  const page = cursor === "page3" ? 3 : cursor === "page2" || cursor === "back2" ? 2 : 1;
  return json({
    items: [0, 1, 2].map((i) => payment(9 - (page - 1) * 3 - i)),
    next_cursor: page < 3 ? `page${page + 1}` : null,
    prev_cursor: page > 1 ? `back${page - 1}` : null,
  });
}

const rowHeaders = () => screen.getAllByRole("rowheader").map((cell) => cell.textContent);
const location = () => screen.getByTestId("location").textContent;

describe("lists paged by cursor", () => {
  it("go older and newer by the API's cursors, kept in the address, focus on the new rows", async () => {
    const { calls } = fakeFetch(payments);
    renderAt("/payments", "/payments", <PaymentsPage />, "en");
    await screen.findByRole("table");
    expect(calls.at(-1)?.search).toBe("?limit=20");
    const paging = screen.getByRole("navigation", { name: "Pages" });
    expect((screen.getByRole("button", { name: "Newer entries" }) as HTMLButtonElement).disabled).toBe(true);
    expect(screen.queryByRole("button", { name: "Newest entries" })).toBeNull();
    expect(paging.textContent).not.toMatch(/\d/); // no count, no page numbers: the list is not counted

    fireEvent.click(screen.getByRole("button", { name: "Older entries" }));
    await waitFor(() => expect(location()).toBe("/payments?cursor=page2"));
    await screen.findByRole("table");
    expect(calls.at(-1)?.search).toBe("?limit=20&cursor=page2");
    expect(document.activeElement).toBe(screen.getByRole("region", { name: "Payments received, newest first" }));

    fireEvent.click(screen.getByRole("button", { name: "Older entries" }));
    await waitFor(() => expect(location()).toBe("/payments?cursor=page3"));
    await screen.findByRole("table");
    expect((screen.getByRole("button", { name: "Older entries" }) as HTMLButtonElement).disabled).toBe(true);

    fireEvent.click(screen.getByRole("button", { name: "Newer entries" }));
    await waitFor(() => expect(location()).toBe("/payments?cursor=back2"));
    await screen.findByRole("table");
    fireEvent.click(screen.getByRole("button", { name: "Newest entries" }));
    await waitFor(() => expect(location()).toBe("/payments"));
    await screen.findByRole("table");
    expect(calls.at(-1)?.search).toBe("?limit=20");
  });

  it("a refused cursor in the address says so and leads to the newest entries", async () => {
    fakeFetch(payments);
    renderAt("/payments?cursor=bad", "/payments", <PaymentsPage />, "pl");
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Ten adres nie wskazuje już miejsca na liście");
    fireEvent.click(screen.getByRole("button", { name: "Najnowsze pozycje" }));
    await waitFor(() => expect(location()).toBe("/payments"));
    await screen.findByRole("table");
    expect(rowHeaders()[0]).toBe("10 sty 2026"); // B-9
  });

  it("invoices: filters start from the newest again", async () => {
    const { calls } = fakeFetch(() => json({ items: [], next_cursor: null, prev_cursor: "back" }));
    renderAt("/invoices?status=paid&cursor=abc", "/invoices", <InvoicesPage />, "en");
    await screen.findByRole("navigation", { name: "Pages" });
    expect(new URLSearchParams(calls.at(-1)?.search).get("cursor")).toBe("abc");
    fireEvent.change(screen.getByLabelText("Status"), { target: { value: "unpaid" } });
    fireEvent.click(screen.getByRole("button", { name: "Show" }));
    await waitFor(() => expect(location()).toBe("/invoices?status=unpaid"));
    await waitFor(() => expect(calls.at(-1)?.search).toBe("?limit=10&status=unpaid"));
  });

  it("a meter's readings come a month at a time, by cursor", async () => {
    const reading = { read_at: "2026-11-24T06:00:00Z", value: "123.456", source: "remote", consumption: "0.350" };
    const { calls } = fakeFetch((call) => {
      if (call.path === "/api/v1/meters") {
        return json({
          items: [
            {
              meter_number: "M-1",
              service_point_id: "SP-1",
              contract_number: "U-1",
              address: { street: "Wodna", building: "7", apartment: null, postal_code: "00-950", city: "Warszawa" },
              installed_on: "2024-01-10",
              removed_on: "2026-01-01",
              latest_reading: null,
            },
          ],
        });
      }
      if (call.path.endsWith("/consumption")) return json({}, 503);
      return json({ items: [reading], next_cursor: "older", prev_cursor: null });
    });
    renderAt("/meters/M-1", "/meters/:meter", <MeterPage />, "en");
    const table = await screen.findByTestId("readings-table");
    expect(table.querySelectorAll("tbody tr")).toHaveLength(1);
    const readings = calls.filter((call) => call.path === "/api/v1/meters/M-1/readings");
    expect(readings.map((call) => call.search)).toEqual(["?limit=31"]);
    fireEvent.click(screen.getByRole("button", { name: "Older entries" }));
    await waitFor(() => expect(location()).toBe("/meters/M-1?cursor=older"));
    await waitFor(() => expect(calls.at(-1)?.search).toBe("?limit=31&cursor=older"));
  });
});
