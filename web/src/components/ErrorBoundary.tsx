import { Component, type ReactNode } from "react";

import { useI18n } from "../i18n/I18nProvider";

function ChunkFailed() {
  const { t } = useI18n();
  return (
    <div className="failure" role="alert">
      <p className="failure-title">{t("common.errorTitle")}</p>
      <p>{t("problem.network")}</p>
      <p className="actions">
        <button type="button" className="button" onClick={() => window.location.reload()}>
          {t("common.retry")}
        </button>
      </p>
    </div>
  );
}

/** A page's code that could not be loaded (offline, or a new version deployed meanwhile). */
export class ErrorBoundary extends Component<{ children: ReactNode; resetKey: string }, { failed: boolean }> {
  override state = { failed: false };

  static getDerivedStateFromError(): { failed: boolean } {
    return { failed: true };
  }

  override componentDidUpdate(previous: { resetKey: string }): void {
    if (previous.resetKey !== this.props.resetKey && this.state.failed) this.setState({ failed: false });
  }

  override render(): ReactNode {
    return this.state.failed ? <ChunkFailed /> : this.props.children;
  }
}
