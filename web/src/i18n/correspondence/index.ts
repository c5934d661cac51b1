/**
 * The correspondence pages' texts (issue 13), kept out of the entry chunk: they load with the
 * pages that use them. `useCasesI18n()` is `useI18n()` whose `t` also knows these keys.
 */
import { useMemo } from "react";

import type { Language } from "../../api/types";
import { useI18n, type I18n } from "../I18nProvider";
import type { MessageKey, Params } from "../messages";
import { en } from "./en";
import { pl, type CorrespondenceKey, type CorrespondenceMessages } from "./pl";
import { ru } from "./ru";
import { uk } from "./uk";

export type { CorrespondenceKey, CorrespondenceMessages };

export const CORRESPONDENCE: Record<Language, CorrespondenceMessages> = { pl, en, uk, ru };

export type CasesTranslate = (key: MessageKey | CorrespondenceKey, params?: Params) => string;
export type CasesI18n = Omit<I18n, "t"> & { t: CasesTranslate };

function isCorrespondenceKey(key: string): key is CorrespondenceKey {
  return Object.prototype.hasOwnProperty.call(pl, key);
}

export function casesTranslator(language: Language, t: I18n["t"]): CasesTranslate {
  const messages = CORRESPONDENCE[language];
  return (key, params) => {
    if (!isCorrespondenceKey(key)) return t(key, params);
    const text = messages[key];
    if (!params) return text;
    return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
  };
}

export function useCasesI18n(): CasesI18n {
  const i18n = useI18n();
  const { language, t } = i18n;
  const translate = useMemo(() => casesTranslator(language, t), [language, t]);
  return useMemo(() => ({ ...i18n, t: translate }), [i18n, translate]);
}
