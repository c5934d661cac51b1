import { api } from "../api/client";
import { PageHeading } from "../components/PageHeading";
import { Failed, Loading } from "../components/Status";
import { ContractCard } from "../components/Views";
import { useI18n } from "../i18n/I18nProvider";
import { call, useLoad } from "../lib/load";

export default function ContractsPage() {
  const { t } = useI18n();
  const [state, reload] = useLoad(() => call(api.GET("/api/v1/contracts")), []);
  return (
    <div>
      <PageHeading>{t("contracts.title")}</PageHeading>
      {state.status === "loading" ? <Loading /> : null}
      {state.status === "error" ? <Failed failure={state.failure} onRetry={reload} /> : null}
      {state.status === "ok" ? (
        state.data.items.length ? (
          state.data.items.map((contract) => <ContractCard key={contract.contract_number} contract={contract} />)
        ) : (
          <p className="empty">{t("contracts.empty")}</p>
        )
      ) : null}
    </div>
  );
}
