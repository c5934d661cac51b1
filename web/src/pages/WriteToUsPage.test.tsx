import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { acceptTokens, resetSessionForTests } from "../api/session";
import type { Tokens } from "../api/types";
import { resetAccountForTests } from "../lib/account";
import { fileRefusal } from "../lib/cases";
import { fakeFetch, json, renderAt, type Call } from "../test/helpers";
import WriteToUsPage from "./WriteToUsPage";

const CONTRACTS = {
  items: [
    {
      contract_number: "U/C-1001",
      customer_id: "C-1",
      signed_on: "2020-01-01",
      status: "active",
      service_points: [
        { service_point_id: "SP-1", meter_number: "M-1", address: { street: "Lipowa", building: "7", apartment: null, postal_code: "00-001", city: "Warszawa" } },
        { service_point_id: "SP-2", meter_number: "M-2", address: { street: "Polna", building: "2", apartment: "5", postal_code: "00-002", city: "Warszawa" } },
      ],
    },
  ],
};

const CASE = {
  number: "KOR/2026/000001",
  kind: "failure",
  status: "submitted",
  title: "Lipowa 7",
};

/** Uploads answered in turn by `answer` (status, body); progress told at half and at the end. */
function fakeUploads(answer: (name: string, index: number) => [number, unknown]) {
  const sent: { url: string; headers: Record<string, string>; body: File }[] = [];
  class FakeXhr {
    upload: { onprogress: ((event: ProgressEvent) => void) | null } = { onprogress: null };
    onload: (() => void) | null = null;
    onerror: (() => void) | null = null;
    onabort: (() => void) | null = null;
    status = 0;
    responseText = "";
    private url = "";
    private headers: Record<string, string> = {};
    open(_method: string, url: string) {
      this.url = url;
    }
    setRequestHeader(name: string, value: string) {
      this.headers[name] = value;
    }
    getResponseHeader() {
      return null;
    }
    abort() {
      this.onabort?.();
    }
    send(body: File) {
      const index = sent.length;
      sent.push({ url: this.url, headers: this.headers, body });
      const [status, reply] = answer(body.name, index);
      setTimeout(() => {
        this.upload.onprogress?.({ lengthComputable: true, loaded: body.size / 2, total: body.size } as ProgressEvent);
        this.status = status;
        this.responseText = JSON.stringify(reply);
        this.onload?.();
      }, 5);
    }
  }
  vi.stubGlobal("XMLHttpRequest", FakeXhr);
  return sent;
}

function attachment(name: string, index: number) {
  return { attachment_id: `00000000-0000-4000-8000-00000000000${index}`, filename: name, content_type: "image/png", size: 1000, uploaded_at: "2026-11-26T08:00:00Z" };
}

function png(name = "photo.png", size = 1000): File {
  return new File([new Uint8Array(size)], name, { type: "image/png" });
}

function api(create: (call: Call) => Response | Promise<Response>) {
  return fakeFetch((call) => {
    if (call.method === "GET" && call.path === "/api/v1/contracts") return json(CONTRACTS);
    if (call.method === "POST" && call.path === "/api/v1/cases") return create(call);
    return json({ title: "unexpected" }, 500);
  });
}

const posts = (calls: Call[]) => calls.filter((c) => c.method === "POST");

afterEach(() => {
  resetAccountForTests();
  resetSessionForTests();
  vi.unstubAllGlobals();
});

describe("write to us", () => {
  it("reports a failure at a service point with a photo; a repeat keeps its Idempotency-Key; then the case page", async () => {
    const sent = fakeUploads((name, index) => [201, attachment(name, index)]);
    let answers = 0;
    const { calls } = api(() => {
      answers += 1;
      if (answers === 1) throw new TypeError("network down");
      return json(CASE, 201);
    });
    renderAt("/cases/new", "/cases/new", <WriteToUsPage />, "en");
    fireEvent.click(screen.getByLabelText(/^Failure report/));
    const point = (await screen.findByLabelText("Service point")) as HTMLSelectElement;
    expect(within(point).getByRole("option", { name: "Polna 2/5, 00-002 Warszawa" })).toBeTruthy();
    fireEvent.change(point, { target: { value: "SP-1" } });
    fireEvent.change(screen.getByLabelText(/What is wrong\?/), { target: { value: "No water since the morning" } });
    fireEvent.change(screen.getByLabelText(/Attach files/), { target: { files: [png()] } });
    // While it is sent: a progress bar named by the file.
    expect(screen.getByRole("progressbar", { name: "Sending photo.png" })).toBeTruthy();
    await waitFor(() => expect(screen.getByTestId("upload").getAttribute("data-state")).toBe("done"));
    expect(sent[0]!.url).toBe("/api/v1/attachments?filename=photo.png");
    expect(sent[0]!.headers["Content-Type"]).toBe("image/png");

    const submit = screen.getByRole("button", { name: "Send" });
    fireEvent.click(submit);
    fireEvent.click(submit); // a double click: one request
    expect(await screen.findByText(/Cannot reach the server/)).toBeTruthy();
    expect(posts(calls)).toHaveLength(1);
    fireEvent.click(screen.getByRole("button", { name: "Send" })); // the same form again: the same key
    await waitFor(() => expect(screen.getByTestId("location").textContent).toBe("/cases/KOR%2F2026%2F000001"));
    const [first, again] = posts(calls).map((c) => ({ key: c.headers.get("Idempotency-Key"), body: JSON.parse(c.body) }));
    expect(first!.key).toMatch(/^[A-Za-z0-9_.:-]{8,100}$/);
    expect(again!.key).toBe(first!.key);
    expect(first!.body).toEqual({
      kind: "failure",
      service_point_id: "SP-1",
      location: null,
      description: "No water since the morning",
      since: null,
      attachment_ids: ["00000000-0000-4000-8000-000000000000"],
    });
  });

  it("refuses files by type, size and count before sending, shows the server's refusal per file, and lets them be removed", async () => {
    const sent = fakeUploads((name, index) =>
      name === "fake.pdf"
        ? [415, { type: "https://e-bok.example/problems/unsupported-attachment-type", title: "Unsupported", status: 415 }]
        : [201, attachment(name, index)],
    );
    api(() => json(CASE, 201));
    renderAt("/cases/new", "/cases/new", <WriteToUsPage />, "en");
    fireEvent.click(screen.getByLabelText(/^Other question/));
    const input = screen.getByLabelText(/Attach files/);
    const big = new File([new Uint8Array(1)], "big.png", { type: "image/png" });
    Object.defineProperty(big, "size", { value: 11 * 1024 * 1024 });
    fireEvent.change(input, {
      target: {
        files: [
          new File(["MZ"], "virus.exe", { type: "application/x-msdownload" }),
          big,
          new File(["MZ"], "fake.pdf", { type: "application/pdf" }),
          png("1.png"),
          png("2.png"),
          png("3.png"),
          png("4.png"),
          png("5.png"),
        ],
      },
    });
    await waitFor(() => expect(screen.getAllByTestId("upload").filter((u) => u.getAttribute("data-state") === "uploading")).toHaveLength(0));
    const state = (name: string) => screen.getAllByTestId("upload").find((u) => u.textContent?.startsWith(name))!;
    expect(state("virus.exe").textContent).toMatch(/we accept PDF, JPEG and PNG files only/);
    expect(state("big.png").textContent).toMatch(/larger than 10 MB/);
    expect(state("fake.pdf").textContent).toMatch(/we accept PDF, JPEG and PNG files only/); // the server read its content
    expect(state("4.png").getAttribute("data-state")).toBe("done");
    expect(state("5.png").textContent).toMatch(/at most 5 files/); // the sixth sent
    expect(sent.map((s) => s.body.name)).toEqual(["fake.pdf", "1.png", "2.png", "3.png", "4.png"]);

    fireEvent.click(screen.getByRole("button", { name: "Remove virus.exe" }));
    expect(screen.queryByText("virus.exe")).toBeNull();
  });

  it("asks for each requested value of a data change and names them in the body", async () => {
    const { calls } = api(() => json({ ...CASE, kind: "data-change" }, 201));
    renderAt("/cases/new", "/cases/new", <WriteToUsPage />);
    fireEvent.click(screen.getByLabelText(/^Wniosek o zmianę danych/));
    fireEvent.click(screen.getByRole("button", { name: "Wyślij" }));
    expect(await screen.findByText("Zaznacz co najmniej jedną daną do zmiany.")).toBeTruthy();
    fireEvent.click(screen.getByLabelText("Telefon"));
    fireEvent.change(screen.getByLabelText(/Obecna wartość/), { target: { value: "600 100 200" } });
    fireEvent.click(screen.getByRole("button", { name: "Wyślij" }));
    expect(await screen.findByText("To pole jest wymagane.")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Nowa wartość"), { target: { value: "600 300 400" } });
    fireEvent.click(screen.getByRole("button", { name: "Wyślij" }));
    await waitFor(() => expect(posts(calls)).toHaveLength(1));
    expect(JSON.parse(posts(calls)[0]!.body)).toEqual({
      kind: "data-change",
      changes: [{ field: "phone", current: "600 100 200", requested: "600 300 400" }],
      comment: null,
      attachment_ids: [],
    });
  });

  it("does not offer a partial manager the data-change request, and says why", async () => {
    fakeFetch((call) => {
      if (call.path === "/api/v1/me") return json({ account_id: "a", login: "zarzadca", email: "z@example.com", phone: null, language: "pl", role: "manager", customer_id: null, status: "active", must_change_password: false, activated_at: null });
      if (call.path === "/api/v1/portfolio") {
        return json({ items: [{ customer_id: "C-1", name: "Wspólnota Lipowa", scope: "partial", service_points: ["SP-1"] }], next_cursor: null, prev_cursor: null });
      }
      return json({ title: "unexpected" }, 500);
    });
    acceptTokens({ access_token: "token", must_change_password: false } as Tokens);
    renderAt("/cases/new", "/cases/new", <WriteToUsPage />);
    expect((await screen.findByTestId("partial-data-change")).textContent).toMatch(/Wniosku o zmianę danych klienta nie możesz złożyć/);
    expect(screen.getAllByRole("radio")).toHaveLength(4);
    expect(screen.queryByLabelText(/^Wniosek o zmianę danych/)).toBeNull();
  });

  it("judges a file by its type, else its name", () => {
    expect(fileRefusal({ name: "a.png", type: "image/png", size: 10 })).toBeNull();
    expect(fileRefusal({ name: "scan.PDF", type: "", size: 10 })).toBeNull();
    expect(fileRefusal({ name: "a.exe", type: "", size: 10 })).toBe("unsupported-attachment-type");
    expect(fileRefusal({ name: "a.gif", type: "image/gif", size: 10 })).toBe("unsupported-attachment-type");
    expect(fileRefusal({ name: "a.jpg", type: "image/jpeg", size: 10 * 1024 * 1024 + 1 })).toBe("attachment-too-large");
  });
});
