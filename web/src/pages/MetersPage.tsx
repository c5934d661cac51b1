import { api } from "../api/client";
import { PageHeading } from "../components/PageHeading";
import { Failed, Loading } from "../components/Status";
import { MeterCard } from "../components/Views";
import { useI18n } from "../i18n/I18nProvider";
import { call, useLoad } from "../lib/load";

export default function MetersPage() {
  const { t } = useI18n();
  const [state, reload] = useLoad(() => call(api.GET("/api/v1/meters")), []);
  return (
    <div>
      <PageHeading>{t("meters.title")}</PageHeading>
      {state.status === "loading" ? <Loading /> : null}
      {state.status === "error" ? <Failed failure={state.failure} onRetry={reload} /> : null}
      {state.status === "ok" ? (
        state.data.items.length ? (
          <div className="cards">
            {state.data.items.map((meter) => (
              <MeterCard key={meter.meter_number} meter={meter} level={2} />
            ))}
          </div>
        ) : (
          <p className="empty">{t("meters.empty")}</p>
        )
      ) : null}
    </div>
  );
}
