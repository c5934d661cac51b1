/**
 * Who is signed in (GET /me: the role decides the navigation and the home page) and, for a
 * manager, the customers to choose from (the portfolio's first page). Loaded once a session
 * starts, forgotten when it ends; in memory only.
 */
import { useEffect, useSyncExternalStore } from "react";

import { api } from "../api/client";
import {
  chooseCustomer,
  getChosenCustomer,
  storedCustomerId,
  subscribeChosenCustomer,
  type ChosenCustomer,
} from "../api/customer";
import type { Failure } from "../api/problems";
import { getSession, subscribeSession } from "../api/session";
import type { Me, PortfolioEntry, Role } from "../api/types";
import { call } from "./load";

export type AccountState =
  | { status: "none" }
  | { status: "loading" }
  | { status: "ok"; me: Me; role: Role; customers: PortfolioEntry[] }
  | { status: "error"; failure: Failure };

let state: AccountState = { status: "none" };
let generation = 0;
const listeners = new Set<() => void>();

function set(next: AccountState): void {
  state = next;
  listeners.forEach((listener) => listener());
}

function roleOf(me: Me): Role {
  return me.role === "manager" || me.role === "operator" ? me.role : "customer";
}

/** The first page of a manager's customers: the switcher's choices (the portfolio page finds
 * the others). */
async function managedCustomers(): Promise<PortfolioEntry[]> {
  const outcome = await call(api.GET("/api/v1/portfolio", { params: { query: { limit: 100 } } }));
  return outcome.ok ? outcome.data.items : [];
}

export async function loadAccount(): Promise<void> {
  const mine = ++generation;
  set({ status: "loading" });
  const outcome = await call(api.GET("/api/v1/me"));
  if (mine !== generation) return;
  if (!outcome.ok) {
    set({ status: "error", failure: outcome.failure });
    return;
  }
  const role = roleOf(outcome.data);
  const customers = role === "manager" ? await managedCustomers() : [];
  if (mine !== generation) return;
  if (role === "manager") {
    // Keep the chosen customer (before a reload too) when it is still granted, else the first.
    const wanted = getChosenCustomer()?.customer_id ?? storedCustomerId();
    const still = customers.find((entry) => entry.customer_id === wanted);
    chooseCustomer(still ?? customers[0] ?? null);
  } else {
    chooseCustomer(null);
  }
  set({ status: "ok", me: outcome.data, role, customers });
}

/** Reload the customers after a grant changed (e.g. a customer chosen on the portfolio page). */
export function rememberCustomer(customer: PortfolioEntry): void {
  chooseCustomer(customer);
  if (state.status === "ok" && !state.customers.some((entry) => entry.customer_id === customer.customer_id)) {
    set({ ...state, customers: [...state.customers, customer] });
  }
}

function forget(): void {
  generation++;
  chooseCustomer(null);
  if (state.status !== "none") set({ status: "none" });
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function getState(): AccountState {
  return state;
}

/** The signed-in account; loads it when a session (its password changed) has started. */
export function useAccount(): AccountState {
  const session = useSyncExternalStore(subscribeSession, getSession, getSession);
  const current = useSyncExternalStore(subscribe, getState, getState);
  const ready = session.status === "signed-in" && !session.mustChangePassword;
  const ended = session.status === "signed-out";
  useEffect(() => {
    // Not while the session is being restored at start: the chosen customer is kept for it.
    if (ended) forget();
    else if (ready && getState().status === "none") void loadAccount();
  }, [ready, ended]);
  return ready ? current : { status: "none" };
}

export function useChosenCustomer(): ChosenCustomer | null {
  return useSyncExternalStore(subscribeChosenCustomer, getChosenCustomer, getChosenCustomer);
}

/** For tests: back to a fresh page. */
export function resetAccountForTests(): void {
  forget();
}
