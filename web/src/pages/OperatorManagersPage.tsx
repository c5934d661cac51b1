import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router";

import { TextField } from "../components/Form";
import { PageHeading } from "../components/PageHeading";
import { useI18n } from "../i18n/I18nProvider";
import { managerPath } from "./OperatorDecisionPage";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Find a manager's grants by the manager's account id (shown with every decision). */
export default function OperatorManagersPage() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const [accountId, setAccountId] = useState("");
  const [error, setError] = useState<string[] | undefined>(undefined);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const id = accountId.trim();
    if (!UUID.test(id)) {
      setError([t("operator.accountIdInvalid")]);
      return;
    }
    navigate(managerPath(id.toLowerCase()));
  };
  return (
    <div className="narrow">
      <PageHeading>{t("operator.managersTitle")}</PageHeading>
      <p>{t("operator.managersIntro")}</p>
      <form className="form" onSubmit={submit} noValidate>
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
