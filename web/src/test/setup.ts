import { cleanup } from "@testing-library/react";
import { afterEach } from "vitest";

import { resetSessionForTests } from "../api/session";

afterEach(() => {
  cleanup();
  resetSessionForTests();
  localStorage.clear();
});
