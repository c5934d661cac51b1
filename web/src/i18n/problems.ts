/** The API's problem documents and field errors in the reader's language. */
import { fieldErrors, problemCode, type Failure } from "../api/problems";
import type { FieldError } from "../api/types";
import type { Formatters } from "./format";
import { isMessageKey, type Translate } from "./messages";

type Tools = { t: Translate } & Pick<Formatters, "date" | "dateTime" | "cubicMetres" | "duration">;

/** The failure as one sentence: by its code, else the API's own detail. */
export function describeFailure({ t, duration }: Tools, failure: Failure): string {
  if (failure.status === 0) return t("problem.network");
  const code = problemCode(failure);
  let text: string;
  if (code && isMessageKey(`problem.${code}`)) {
    text = t(`problem.${code}` as Parameters<Translate>[0]);
  } else if (failure.problem?.detail) {
    text = failure.problem.detail;
  } else if (failure.problem?.title) {
    text = failure.problem.title;
  } else {
    text = t("problem.server", { status: failure.status });
  }
  if ((failure.status === 429 || failure.status === 503) && failure.retryAfter !== null) {
    text = `${text} ${t("problem.retryAfter", { time: duration(failure.retryAfter) })}`;
  }
  return text;
}

type Params = Record<string, string>;

/** A refused self-reading, by its code, with the values it names formatted for the reader. */
const READING_REFUSALS = new Map<string, (params: Params, tools: Tools) => string>(Object.entries({
  reading_in_future: (_p, { t }) => t("reading.future"),
  meter_removed: (p, { t, date }) => t("reading.meterRemoved", { date: date(p.removed_on ?? "") }),
  reading_before_installation: (p, { t, date }) => t("reading.beforeContract", { date: date(p.installed_on ?? "") }),
  reading_below_last: (p, { t, dateTime, cubicMetres }) =>
    t("reading.belowLast", {
      value: cubicMetres(p.value ?? ""),
      last: cubicMetres(p.last_value ?? ""),
      date: dateTime(p.last_read_at ?? ""),
    }),
  reading_not_after_last: (p, { t, dateTime }) => t("reading.notAfterLast", { date: dateTime(p.last_read_at ?? "") }),
} satisfies Record<string, (params: Params, tools: Tools) => string>));

const PASSWORD_PROBLEMS = new Map<string, Parameters<Translate>[0]>(Object.entries({
  password_too_short: "passwordRule.tooShort",
  password_too_long: "passwordRule.tooLong",
  password_needs_letters_and_digits: "passwordRule.lettersDigits",
  password_contains_login: "passwordRule.containsLogin",
  password_same_as_current: "passwordRule.sameAsCurrent",
  password_too_common: "passwordRule.tooCommon",
} satisfies Record<string, Parameters<Translate>[0]>));

/** Other field errors whose words name the values the API gives with them. */
const WITH_PARAMS = new Map<string, (params: Params, tools: Tools) => string>(Object.entries({
  range_too_long: (p, { t }) => t("field.range_too_long", { max: p.max_buckets ?? "" }),
} satisfies Record<string, (params: Params, tools: Tools) => string>));

/** One field error in words: by its code (and field), else the API's own message. */
export function describeFieldError(tools: Tools, error: FieldError): string {
  const { t } = tools;
  const code = error.code ?? "";
  const worded = READING_REFUSALS.get(code) ?? WITH_PARAMS.get(code);
  if (worded) return worded(error.params ?? {}, tools);
  const password = PASSWORD_PROBLEMS.get(code);
  if (password) return t(password);
  const specific = `field.${error.field}.${code}`;
  if (isMessageKey(specific)) return t(specific);
  const general = `field.${code}`;
  if (isMessageKey(general)) return t(general);
  return error.message;
}

/** Field → its errors in words, for the fields a form shows; the rest go to the summary. */
export function describeFieldErrors(tools: Tools, failure: Failure | null): Map<string, string[]> {
  const described = new Map<string, string[]>();
  for (const [field, errors] of fieldErrors(failure)) {
    described.set(
      field,
      errors.map((error) => describeFieldError(tools, error)),
    );
  }
  return described;
}
