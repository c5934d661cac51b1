import { useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";

import { api } from "../api/client";
import type { ManagerSummary } from "../api/types";
import { TextField } from "../components/Form";
import { PageHeading } from "../components/PageHeading";
import { PagedTable } from "../components/PagedTable";
import { useI18n } from "../i18n/I18nProvider";
import { isMessageKey } from "../i18n/messages";
import { call } from "../lib/load";
import { managerPath } from "./OperatorDecisionPage";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Manager accounts (GET /operator/managers), searched by login, company or email, each leading
 * to its grants; and a manager found by the account id a decision shows. */
export default function OperatorManagersPage() {
  const { t, dateTime } = useI18n();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "";
  const [typed, setTyped] = useState(q);
  const [accountId, setAccountId] = useState("");
  const [error, setError] = useState<string[] | undefined>(undefined);

  const search = (event: FormEvent) => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (typed.trim()) next.set("q", typed.trim());
    setParams(next);
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const id = accountId.trim();
    if (!UUID.test(id)) {
      setError([t("operator.accountIdInvalid")]);
      return;
    }
    navigate(managerPath(id.toLowerCase()));
  };
  const label = (manager: ManagerSummary) => manager.company ?? manager.login;
  const accountStatus = (status: string) => {
    const key = `operator.accountStatus.${status}`;
    return isMessageKey(key) ? t(key) : status;
  };

  return (
    <div>
      <PageHeading>{t("operator.managersTitle")}</PageHeading>
      <p>{t("operator.managersListIntro")}</p>
      <form className="filters" role="search" onSubmit={search} aria-label={t("operator.managersSearch")}>
        <div className="field">
          <label htmlFor="managers-q">{t("operator.managersSearch")}</label>
          <input
            id="managers-q"
            type="search"
            value={typed}
            maxLength={100}
            onChange={(event) => setTyped(event.target.value)}
            aria-describedby="managers-q-hint"
            spellCheck={false}
          />
          <p className="hint" id="managers-q-hint">
            {t("operator.managersSearchHint")}
          </p>
        </div>
        <div className="filter-actions">
          <button type="submit" className="button">
            {t("portfolio.searchSubmit")}
          </button>
        </div>
      </form>
      {q ? <p role="status">{t("portfolio.searchingFor", { q })}</p> : null}
      <PagedTable
        caption={t("operator.managersCaption")}
        empty={q ? t("operator.managersNoMatch") : t("operator.managersEmpty")}
        load={(query) => call(api.GET("/api/v1/operator/managers", { params: { query: q ? { ...query, q } : query } }))}
        rowKey={(manager) => manager.account_id}
        refresh={q}
        testId="managers-table"
        tableClassName="wide-table"
        columns={[
          { header: t("operator.managerCompany"), cell: (manager) => manager.company ?? "—" },
          { header: t("operator.managerLogin"), cell: (manager) => manager.login },
          { header: t("operator.managerEmail"), cell: (manager) => <span className="break-anywhere">{manager.email}</span> },
          { header: t("operator.managerStatus"), cell: (manager) => accountStatus(manager.status) },
          { header: t("operator.managerSince"), cell: (manager) => dateTime(manager.created_at) },
          { header: t("operator.managerGrantCount"), numeric: true, cell: (manager) => manager.grants },
          {
            header: t("operator.managerAction"),
            cell: (manager) => (
              <Link to={managerPath(manager.account_id)} aria-label={t("operator.showGrantsOf", { manager: label(manager) })}>
                {t("operator.showGrants")}
              </Link>
            ),
          },
        ]}
      />
      <h2>{t("operator.byAccountId")}</h2>
      <p>{t("operator.managersIntro")}</p>
      <form className="form narrow" onSubmit={submit} noValidate>
        <TextField
          id="account_id"
          label={t("operator.accountId")}
          hint={t("operator.accountIdHint")}
          value={accountId}
          onChange={(event) => setAccountId(event.target.value)}
          errors={error}
          autoComplete="off"
          spellCheck={false}
          required
        />
        <button type="submit" className="button">
          {t("operator.showGrants")}
        </button>
      </form>
    </div>
  );
}
