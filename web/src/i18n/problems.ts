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
  if (failure.status === 429 && failure.retryAfter !== null) {
    text = `${text} ${t("problem.retryAfter", { time: duration(failure.retryAfter) })}`;
  }
  return text;
}

const READING_RULES: [RegExp, (m: RegExpMatchArray, tools: Tools) => string][] = [
  [/in the future/, (_m, { t }) => t("reading.future")],
  [/removed on (\d{4}-\d{2}-\d{2})/, (m, { t, date }) => t("reading.meterRemoved", { date: date(m[1] ?? "") })],
  [
    /on your contract since (\d{4}-\d{2}-\d{2})/,
    (m, { t, date }) => t("reading.beforeContract", { date: date(m[1] ?? "") }),
  ],
  [
    /^([\d.]+) is below the last reading of this meter \(([\d.]+) m³ on (\d{4}-\d{2}-\d{2})\)/,
    (m, { t, date, cubicMetres }) =>
      t("reading.belowLast", {
        value: cubicMetres(m[1] ?? ""),
        last: cubicMetres(m[2] ?? ""),
        date: date(m[3] ?? ""),
      }),
  ],
  [
    /a reading from (\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}) UTC is already there/,
    (m, { t, dateTime }) => t("reading.notAfterLast", { date: dateTime(`${m[1]}T${m[2]}:00Z`) }),
  ],
];

const PASSWORD_RULES: [RegExp, Parameters<Translate>[0]][] = [
  [/at least/, "passwordRule.tooShort"],
  [/at most/, "passwordRule.tooLong"],
  [/letters and digits/, "passwordRule.lettersDigits"],
  [/contain the login/, "passwordRule.containsLogin"],
  [/differ from the current/, "passwordRule.sameAsCurrent"],
];

/** One field error in words: by field and code, then code, then the API's message. */
export function describeFieldError(tools: Tools, error: FieldError): string {
  const { t } = tools;
  if (error.code === "reading_refused") {
    for (const [pattern, render] of READING_RULES) {
      const match = error.message.match(pattern);
      if (match) return render(match, tools);
    }
    return error.message;
  }
  if (error.code === "weak_password") {
    const rule = PASSWORD_RULES.find(([pattern]) => pattern.test(error.message));
    return rule ? t(rule[1]) : error.message;
  }
  const specific = `field.${error.field}.${error.code ?? ""}`;
  if (isMessageKey(specific)) return t(specific);
  const general = `field.${error.code ?? ""}`;
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
