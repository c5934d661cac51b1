import { fieldErrors, type Failure } from "../api/problems";
import type { I18n } from "../i18n/I18nProvider";
import { describeFieldError } from "../i18n/problems";

/**
 * Field errors of a form with lists (`properties.0.address.street`): placed by the field's full
 * path, worded by the path without its positions (`field.properties.address.street.<code>`).
 */
export function listFieldErrors(i18n: I18n, failure: Failure | null): Map<string, string[]> {
  const described = new Map<string, string[]>();
  for (const [field, errors] of fieldErrors(failure)) {
    const general = field.replace(/\.\d+(?=\.|$)/g, "");
    described.set(
      field,
      errors.map((error) => describeFieldError(i18n, { ...error, field: general })),
    );
  }
  return described;
}
