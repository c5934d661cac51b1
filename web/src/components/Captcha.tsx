import { useCallback, useEffect, useState } from "react";

import { api } from "../api/client";
import { networkFailure } from "../api/problems";
import type { Captcha } from "../api/types";
import { useI18n } from "../i18n/I18nProvider";
import { call, type LoadState } from "../lib/load";
import { solve } from "../lib/proofOfWork";
import { TextField } from "./Form";
import { Failed, Loading } from "./Status";

export interface CaptchaControl {
  captcha: LoadState<Captcha>;
  answer: string;
  setAnswer: (answer: string) => void;
  /** A new CAPTCHA (the old one is spent by every attempt that reached the check). */
  renew: () => Promise<void>;
  /** What the API wants: the CAPTCHA's id and the typed answer. */
  fields: () => { captcha_id: string; captcha_answer: string };
}

/** A CAPTCHA fetched on mount, its answer and a way to get a new one. */
export function useCaptcha(): CaptchaControl {
  const [captcha, setCaptcha] = useState<LoadState<Captcha>>({ status: "loading" });
  const [answer, setAnswer] = useState("");
  const renew = useCallback(async () => {
    setCaptcha({ status: "loading" });
    setAnswer("");
    // First the proof of work (a second or so of the browser's time), then the CAPTCHA.
    const challenge = await call(api.POST("/api/v1/captcha/challenge"));
    if (!challenge.ok) {
      setCaptcha({ status: "error", failure: challenge.failure });
      return;
    }
    let proof;
    try {
      proof = await solve(challenge.data);
    } catch {
      setCaptcha({ status: "error", failure: networkFailure });
      return;
    }
    const outcome = await call(api.POST("/api/v1/captcha", { body: { proof } }));
    setCaptcha(outcome.ok ? { status: "ok", data: outcome.data } : { status: "error", failure: outcome.failure });
  }, []);
  useEffect(() => {
    void renew();
  }, [renew]);
  return {
    captcha,
    answer,
    setAnswer,
    renew,
    fields: () => ({
      captcha_id: captcha.status === "ok" ? captcha.data.captcha_id : "",
      captcha_answer: answer.trim(),
    }),
  };
}

/** The CAPTCHA as a fieldset: the image, the same code as audio, "new code", the answer. */
export function CaptchaFieldset({ control, errors }: { control: CaptchaControl; errors?: string[] }) {
  const { t } = useI18n();
  const { captcha } = control;
  return (
    <fieldset>
      <legend>{t("register.captchaHeading")}</legend>
      {captcha.status === "loading" ? <Loading label={t("register.captchaLoading")} /> : null}
      {captcha.status === "error" ? <Failed failure={captcha.failure} onRetry={() => void control.renew()} /> : null}
      {captcha.status === "ok" ? (
        <div className="captcha">
          <img src={captcha.data.image} alt={t("register.captchaImage")} data-testid="captcha-image" />
          <div className="captcha-audio">
            <p id="captcha-audio-label">{t("register.captchaAudio")}</p>
            <audio
              controls
              preload="none"
              src={captcha.data.audio_url}
              aria-labelledby="captcha-audio-label"
              data-testid="captcha-audio"
            />
          </div>
        </div>
      ) : null}
      <p>
        <button type="button" className="button button-secondary" onClick={() => void control.renew()} data-testid="captcha-new">
          {t("register.captchaNew")}
        </button>
      </p>
      <TextField
        id="captcha_answer"
        label={t("register.captchaAnswer")}
        value={control.answer}
        onChange={(event) => control.setAnswer(event.target.value)}
        errors={errors?.length ? errors : undefined}
        autoComplete="off"
        autoCapitalize="characters"
        spellCheck={false}
        required
      />
    </fieldset>
  );
}

/** Whether a failed attempt spent the CAPTCHA (it got past validation and the rate limit). */
export function spentCaptcha(code: string | null, status: number): boolean {
  return code !== "validation-failed" && code !== "rate-limited" && status !== 0;
}
