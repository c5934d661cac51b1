import { Fragment, useEffect, useState, type MouseEvent } from "react";
import { Link, NavLink, Outlet, useLocation } from "react-router";

import type { Language } from "../api/types";
import { useI18n } from "../i18n/I18nProvider";
import { LANGUAGE_LABEL, LANGUAGE_NAMES, LANGUAGES, isLanguage, type MessageKey } from "../i18n/messages";
import { useAccount, useChosenCustomer } from "../lib/account";
import { useSession } from "../lib/session";
import { CustomerSwitcher, ScopeNote } from "./Managed";

const SIGNED_IN_NAV: [string, MessageKey][] = [
  ["/", "nav.dashboard"],
  ["/invoices", "nav.invoices"],
  ["/balance", "nav.balance"],
  ["/payments", "nav.payments"],
  ["/payments/online", "nav.onlinePayments"],
  ["/notes", "nav.notes"],
  ["/contracts", "nav.contracts"],
  ["/meters", "nav.meters"],
  ["/e-invoice", "nav.eInvoice"],
  ["/cases", "nav.cases"],
  ["/account", "nav.account"],
];
/** A customer's own account also has who manages their properties. */
const CUSTOMER_NAV: [string, MessageKey][] = [...SIGNED_IN_NAV.slice(0, -1), ["/managers", "nav.managers"], ["/account", "nav.account"]];
/** A manager: the portfolio, then the chosen customer's account views. */
const MANAGER_NAV: [string, MessageKey][] = [["/portfolio", "nav.portfolio"], ...SIGNED_IN_NAV];
const OPERATOR_NAV: [string, MessageKey][] = [
  ["/operator/requests", "nav.operatorRequests"],
  ["/operator/managers", "nav.operatorManagers"],
  ["/account", "nav.account"],
];
const SIGNED_OUT_NAV: [string, MessageKey][] = [
  ["/login", "nav.signIn"],
  ["/register", "nav.register"],
  ["/manager-request", "nav.managerRequest"],
];

export function LanguageSelect() {
  const { language, setLanguage } = useI18n();
  return (
    <div className="language">
      <label htmlFor="language-select">{LANGUAGE_LABEL}</label>
      <select
        id="language-select"
        data-testid="language-select"
        value={language}
        onChange={(event) => {
          if (isLanguage(event.target.value)) setLanguage(event.target.value);
        }}
      >
        {LANGUAGES.map((code: Language) => (
          <option key={code} value={code} lang={code}>
            {LANGUAGE_NAMES[code]}
          </option>
        ))}
      </select>
    </div>
  );
}

export function Layout() {
  const { t } = useI18n();
  const session = useSession();
  const location = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => setMenuOpen(false), [location.pathname]);

  const account = useAccount();
  const chosenKey = useChosenCustomer()?.customer_id;
  const signedIn = session.status === "signed-in";
  const role = account.status === "ok" ? account.role : null;
  const signedInNav = role === "manager" ? MANAGER_NAV : role === "operator" ? OPERATOR_NAV : role === "customer" ? CUSTOMER_NAV : [];
  const items = signedIn ? (session.mustChangePassword ? [] : signedInNav) : session.status === "signed-out" ? SIGNED_OUT_NAV : [];

  const skip = (event: MouseEvent<HTMLAnchorElement>) => {
    event.preventDefault();
    const main = document.getElementById("main");
    main?.focus();
    main?.scrollIntoView();
  };

  return (
    <div className="app">
      <a className="skip-link" href="#main" onClick={skip}>
        {t("app.skip")}
      </a>
      <header className="site-header">
        <div className="header-bar">
          <Link className="logo" to={signedIn ? "/" : "/login"}>
            <span className="logo-mark" aria-hidden="true" />
            <span className="logo-text">e-BOK</span>
            <span className="logo-tagline">{t("app.tagline")}</span>
          </Link>
          <div className="header-controls">
            {role === "manager" && account.status === "ok" ? <CustomerSwitcher customers={account.customers} /> : null}
            <LanguageSelect />
          </div>
        </div>
        {items.length ? (
          <nav className="site-nav" aria-label={t("nav.label")}>
            <button
              type="button"
              className="menu-button"
              aria-expanded={menuOpen}
              aria-controls="nav-list"
              onClick={() => setMenuOpen((open) => !open)}
            >
              <span className="menu-icon" aria-hidden="true" />
              {t("nav.menu")}
            </button>
            <ul id="nav-list" className={menuOpen ? "nav-list open" : "nav-list"}>
              {items.map(([to, key]) => (
                <li key={to}>
                  <NavLink to={to} end={to === "/" || to === "/payments"}>
                    {t(key)}
                  </NavLink>
                </li>
              ))}
            </ul>
          </nav>
        ) : null}
      </header>
      <main id="main" tabIndex={-1}>
        {role === "manager" ? <ScopeNote /> : null}
        {/* A manager's pages start again for another customer. */}
        <Fragment key={role === "manager" ? (chosenKey ?? "") : ""}>
          <Outlet />
        </Fragment>
      </main>
      <footer className="site-footer">
        <p>{t("app.footer")}</p>
        <p>{t("app.footerHelp")}</p>
      </footer>
    </div>
  );
}
