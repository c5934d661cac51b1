import { lazy, Suspense, useEffect, type ReactNode } from "react";
import { Route, Routes, useLocation, useNavigate } from "react-router";

import { onSessionExpired, restoreSession } from "./api/session";
import { ErrorBoundary } from "./components/ErrorBoundary";
import { Layout } from "./components/Layout";
import { RequireAuth } from "./components/RequireAuth";
import { RoleHome } from "./components/RoleHome";
import { Loading } from "./components/Status";
import { LoginPage } from "./pages/LoginPage";

// Only the sign-in page and the shell are in the entry chunk; every other page loads on demand.
const RegisterPage = lazy(() => import("./pages/RegisterPage"));
const PayPage = lazy(() => import("./pages/PayPage"));
const OnlinePaymentsPage = lazy(() => import("./pages/OnlinePaymentsPage"));
const OnlinePaymentPage = lazy(() => import("./pages/OnlinePaymentPage"));
const PaymentReturnPage = lazy(() =>
  import("./pages/OnlinePaymentPage").then((module) => ({ default: module.PaymentReturnPage })),
);
const RegisterSentPage = lazy(() => import("./pages/RegisterSentPage"));
const ActivatePage = lazy(() => import("./pages/ActivatePage"));
const PasswordPage = lazy(() => import("./pages/PasswordPage"));
const DashboardPage = lazy(() => import("./pages/DashboardPage"));
const InvoicesPage = lazy(() => import("./pages/InvoicesPage"));
const InvoicePage = lazy(() => import("./pages/InvoicePage"));
const BalancePage = lazy(() => import("./pages/BalancePage"));
const PaymentsPage = lazy(() => import("./pages/PaymentsPage"));
const NotesPage = lazy(() => import("./pages/NotesPage"));
const ContractsPage = lazy(() => import("./pages/ContractsPage"));
const MetersPage = lazy(() => import("./pages/MetersPage"));
const MeterPage = lazy(() => import("./pages/MeterPage"));
const AccountPage = lazy(() => import("./pages/AccountPage"));
const NotFoundPage = lazy(() => import("./pages/NotFoundPage"));
// Managers, operators and grants (issue 10).
const ManagerRequestPage = lazy(() => import("./pages/ManagerRequestPage"));
const ManagerRequestSentPage = lazy(() => import("./pages/ManagerRequestSentPage"));
const PortfolioPage = lazy(() => import("./pages/PortfolioPage"));
const ManagersPage = lazy(() => import("./pages/ManagersPage"));
const ScopedActionPage = lazy(() => import("./pages/ScopedActionPage"));
// E-invoice and notification preferences (issue 12).
const EInvoicePage = lazy(() => import("./pages/EInvoicePage"));
const EInvoiceConfirmPage = lazy(() => import("./pages/EInvoiceConfirmPage"));
const NotificationPreferencesPage = lazy(() => import("./pages/NotificationPreferencesPage"));
// Correspondence (issue 13).
const CasesPage = lazy(() => import("./pages/CasesPage"));
const CasePage = lazy(() => import("./pages/CasePage"));
const WriteToUsPage = lazy(() => import("./pages/WriteToUsPage"));
const OperatorRequestsPage = lazy(() => import("./pages/OperatorRequestsPage"));
const OperatorDecisionPage = lazy(() => import("./pages/OperatorDecisionPage"));
const OperatorManagersPage = lazy(() => import("./pages/OperatorManagersPage"));
const OperatorManagerPage = lazy(() => import("./pages/OperatorManagerPage"));

function Page({ children }: { children: ReactNode }) {
  const location = useLocation();
  return (
    <ErrorBoundary resetKey={location.pathname}>
      <Suspense fallback={<Loading />}>{children}</Suspense>
    </ErrorBoundary>
  );
}

function Private({ children, passwordPage }: { children: ReactNode; passwordPage?: boolean }) {
  return (
    <RequireAuth passwordPage={passwordPage ?? false}>
      <Page>{children}</Page>
    </RequireAuth>
  );
}

export function App() {
  const navigate = useNavigate();
  useEffect(() => {
    void restoreSession();
    return onSessionExpired(() => navigate("/login", { replace: true, state: { reason: "expired" } }));
  }, [navigate]);

  return (
    <Routes>
      <Route element={<Layout />}>
        <Route path="/login" element={<LoginPage />} />
        <Route path="/register" element={<Page><RegisterPage /></Page>} />
        <Route path="/register/sent" element={<Page><RegisterSentPage /></Page>} />
        <Route path="/activate" element={<Page><ActivatePage /></Page>} />
        <Route path="/password" element={<Private passwordPage><PasswordPage /></Private>} />
        <Route path="/" element={<Private><RoleHome><DashboardPage /></RoleHome></Private>} />
        <Route path="/invoices" element={<Private><InvoicesPage /></Private>} />
        <Route path="/invoices/:number" element={<Private><InvoicePage /></Private>} />
        <Route path="/balance" element={<Private><BalancePage /></Private>} />
        <Route path="/payments" element={<Private><PaymentsPage /></Private>} />
        <Route path="/pay" element={<Private><PayPage /></Private>} />
        <Route path="/payments/online" element={<Private><OnlinePaymentsPage /></Private>} />
        <Route path="/payments/online/return" element={<Private><PaymentReturnPage /></Private>} />
        <Route path="/payments/online/:paymentId" element={<Private><OnlinePaymentPage /></Private>} />
        <Route path="/notes" element={<Private><NotesPage /></Private>} />
        <Route path="/contracts" element={<Private><ContractsPage /></Private>} />
        <Route path="/meters" element={<Private><MetersPage /></Private>} />
        <Route path="/meters/:meter" element={<Private><MeterPage /></Private>} />
        <Route path="/account" element={<Private><AccountPage /></Private>} />
        <Route path="/account/notifications" element={<Private><NotificationPreferencesPage /></Private>} />
        <Route path="/manager-request" element={<Page><ManagerRequestPage /></Page>} />
        <Route path="/manager-request/sent" element={<Page><ManagerRequestSentPage /></Page>} />
        <Route path="/portfolio" element={<Private><PortfolioPage /></Private>} />
        <Route path="/managers" element={<Private><ManagersPage /></Private>} />
        <Route path="/e-invoice" element={<Private><EInvoicePage /></Private>} />
        <Route path="/e-invoice/confirm" element={<Page><EInvoiceConfirmPage /></Page>} />
        <Route path="/cases" element={<Private><CasesPage /></Private>} />
        <Route path="/cases/new" element={<Private><WriteToUsPage /></Private>} />
        <Route path="/cases/:number" element={<Private><CasePage /></Private>} />
        <Route path="/customer-data" element={<Private><ScopedActionPage action="customerData" /></Private>} />
        <Route path="/operator/requests" element={<Private><OperatorRequestsPage /></Private>} />
        <Route path="/operator/requests/:reference" element={<Private><OperatorDecisionPage /></Private>} />
        <Route path="/operator/managers" element={<Private><OperatorManagersPage /></Private>} />
        <Route path="/operator/managers/:accountId" element={<Private><OperatorManagerPage /></Private>} />
        <Route path="*" element={<Page><NotFoundPage /></Page>} />
      </Route>
    </Routes>
  );
}
