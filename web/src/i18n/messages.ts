import type { Language } from "../api/types";
import { en } from "./en";
import { pl, type MessageKey, type Messages } from "./pl";
import { ru } from "./ru";
import { uk } from "./uk";

export type { MessageKey, Messages };

export const LANGUAGES: readonly Language[] = ["pl", "en", "uk", "ru"];
export const MESSAGES: Record<Language, Messages> = { pl, en, uk, ru };
/** Each language's name in itself, for the switch. */
export const LANGUAGE_NAMES: Record<Language, string> = {
  pl: "Polski",
  en: "English",
  uk: "Українська",
  ru: "Русский",
};
export const LANGUAGE_LABEL = "Język / Language";

export type Params = Record<string, string | number>;
export type Translate = (key: MessageKey, params?: Params) => string;

export function isMessageKey(key: string): key is MessageKey {
  return Object.prototype.hasOwnProperty.call(pl, key);
}

export function translator(language: Language): Translate {
  const messages = MESSAGES[language];
  return (key, params) => {
    const text = messages[key];
    if (!params) return text;
    return text.replace(/\{(\w+)\}/g, (whole, name: string) =>
      name in params ? String(params[name]) : whole,
    );
  };
}

export function isLanguage(value: unknown): value is Language {
  return typeof value === "string" && (LANGUAGES as readonly string[]).includes(value);
}
