import type { FieldError, Problem } from "./types";

/** Why a call failed: the API's problem document, or status 0 when the network failed. */
export interface Failure {
  status: number;
  problem: Problem | null;
  /** seconds, from Retry-After */
  retryAfter: number | null;
}

export function isProblem(value: unknown): value is Problem {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { type?: unknown }).type === "string" &&
    typeof (value as { status?: unknown }).status === "number"
  );
}

export function failureOf(response: Response | undefined, body: unknown): Failure {
  const header = response?.headers.get("Retry-After");
  const seconds = header === null || header === undefined ? NaN : Number(header);
  return {
    status: response?.status ?? 0,
    problem: isProblem(body) ? body : null,
    retryAfter: Number.isFinite(seconds) ? seconds : null,
  };
}

export const networkFailure: Failure = { status: 0, problem: null, retryAfter: null };

/** The problem's code: the last part of its `type` (".../problems/invalid-credentials"). */
export function problemCode(failure: Failure): string | null {
  const type = failure.problem?.type;
  if (!type) return null;
  return type.slice(type.lastIndexOf("/") + 1) || null;
}

/** The field errors, grouped by field ("email", "invoice_amount", ...). */
export function fieldErrors(failure: Failure | null): Map<string, FieldError[]> {
  const byField = new Map<string, FieldError[]>();
  for (const error of failure?.problem?.errors ?? []) {
    const list = byField.get(error.field) ?? [];
    list.push(error);
    byField.set(error.field, list);
  }
  return byField;
}
