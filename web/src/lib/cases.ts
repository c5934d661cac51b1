/** Correspondence (issue 13): what the "Write to us", cases and case pages share. */
import { api } from "../api/client";
import { getChosenCustomer } from "../api/customer";
import { failureOf, networkFailure, type Failure } from "../api/problems";
import { getAccessToken, refreshTokens } from "../api/session";
import type { components } from "../api/schema";
import { call, type Outcome } from "./load";

type Schemas = components["schemas"];
export type Case = Schemas["CaseOut"];
export type CaseSummary = Schemas["CaseSummaryOut"];
export type CaseKind = Case["kind"];
export type CaseStatus = Case["status"];
export type Attachment = Schemas["AttachmentOut"];
export type Author = Schemas["AuthorOut"];
export type CaseMessage = Schemas["MessageOut"];
export type DataField = Schemas["DataChangeIn"]["field"];
export type CaseBody = Schemas["CaseIn"];

/** The dashboard's open-cases part (GET /me/dashboard `open_cases`). */
export type OpenCases = Schemas["Part_CasesSummaryOut_"];

export const KINDS: CaseKind[] = ["failure", "water-quality", "data-change", "billing-complaint", "question"];
export const STATUSES: CaseStatus[] = ["submitted", "registered", "in-progress", "answered", "closed", "rejected"];
export const DATA_FIELDS: DataField[] = ["name", "correspondence_address", "phone", "contact_email"];

/** The API's limits (shared/api/correspondence.py): checked here for a fast answer; the
 * server's refusal is the truth. */
export const MAX_ATTACHMENTS = 5;
export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;
export const ATTACHMENT_TYPES = ["application/pdf", "image/jpeg", "image/png"] as const;
export const ACCEPT = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png";
const EXTENSIONS = /\.(pdf|jpe?g|png)$/i;

/** A case that takes no more messages: closed or rejected. */
export function isFinished(status: CaseStatus): boolean {
  return status === "closed" || status === "rejected";
}

export function casePath(number: string): string {
  return `/cases/${encodeURIComponent(number)}`;
}

/** A refusal a file earns before it is sent: its type (by the browser's type, or the name's
 * ending when the browser names none) or its size. */
export function fileRefusal(file: { name: string; type: string; size: number }): "unsupported-attachment-type" | "attachment-too-large" | "empty-attachment" | null {
  const typed = (ATTACHMENT_TYPES as readonly string[]).includes(file.type);
  if (!typed && (file.type || !EXTENSIONS.test(file.name))) return "unsupported-attachment-type";
  if (file.size > MAX_ATTACHMENT_BYTES) return "attachment-too-large";
  if (file.size === 0) return "empty-attachment";
  return null;
}

/** A new Idempotency-Key (the API takes 8–100 of [A-Za-z0-9_.:-]). */
export function newRequestKey(): string {
  const random = globalThis.crypto?.randomUUID?.();
  if (random) return random;
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function headersOf(xhr: XMLHttpRequest): Headers {
  const headers = new Headers();
  const retry = xhr.getResponseHeader("Retry-After");
  if (retry) headers.set("Retry-After", retry);
  return headers;
}

/** The upload's address: the file's name, and the customer a manager works for. */
export function uploadUrl(filename: string): string {
  const query = new URLSearchParams({ filename });
  const chosen = getChosenCustomer();
  if (chosen) query.set("customer", chosen.customer_id);
  return `/api/v1/attachments?${query.toString()}`;
}

function sendOnce(
  file: File,
  onProgress: (fraction: number) => void,
  signal: AbortSignal | undefined,
): Promise<{ status: number; body: unknown; headers: Headers }> {
  return new Promise((resolve) => {
    // XMLHttpRequest, not fetch: only it tells how much of the body has gone.
    const xhr = new XMLHttpRequest();
    xhr.open("POST", uploadUrl(file.name));
    const token = getAccessToken();
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => resolve({ status: xhr.status, body: parseJson(xhr.responseText), headers: headersOf(xhr) });
    xhr.onerror = () => resolve({ status: 0, body: null, headers: new Headers() });
    xhr.onabort = () => resolve({ status: -1, body: null, headers: new Headers() });
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}

export type UploadOutcome = { ok: true; attachment: Attachment } | { ok: false; failure: Failure; aborted?: boolean };

/** POST /attachments with the file as the body and its progress told; an expired access token
 * is refreshed once (as the API client does) and the file sent again. */
export async function uploadAttachment(
  file: File,
  onProgress: (fraction: number) => void,
  signal?: AbortSignal,
): Promise<UploadOutcome> {
  const token = getAccessToken();
  let answer = await sendOnce(file, onProgress, signal);
  if (answer.status === 401 && (getAccessToken() !== token || (await refreshTokens()))) {
    onProgress(0);
    answer = await sendOnce(file, onProgress, signal);
  }
  if (answer.status === -1) return { ok: false, failure: networkFailure, aborted: true };
  if (answer.status === 0) return { ok: false, failure: networkFailure };
  if (answer.status === 201 || answer.status === 200) return { ok: true, attachment: answer.body as Attachment };
  return { ok: false, failure: failureOf(new Response(null, { status: answer.status, headers: answer.headers }), answer.body) };
}

/** An attachment as a file the browser saves: the link needs the Authorization header, so the
 * file is fetched through the API client and handed over as a blob. */
export async function downloadAttachment(attachment: Attachment): Promise<Outcome<Blob>> {
  const outcome = await call<Blob>(
    api.GET("/api/v1/attachments/{attachment_id}", {
      params: { path: { attachment_id: attachment.attachment_id } },
      parseAs: "blob",
    }) as Promise<{ data?: Blob; error?: unknown; response: Response }>,
  );
  if (!outcome.ok) return outcome;
  const url = URL.createObjectURL(outcome.data);
  const link = document.createElement("a");
  link.href = url;
  link.download = attachment.filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  // The browser has taken the file once the click is handled.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return outcome;
}

/** A file size for people: KB up to 1 MB, then MB with one decimal. */
export function fileSize(bytes: number, number: (value: number, digits?: number) => string): { value: string; unit: "kb" | "mb" } {
  if (bytes < 1024 * 1024) return { value: number(Math.max(1, Math.round(bytes / 1024)), 0), unit: "kb" };
  return { value: number(bytes / (1024 * 1024), 1), unit: "mb" };
}
