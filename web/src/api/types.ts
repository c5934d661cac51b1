import type { components } from "./schema";

type Schemas = components["schemas"];

export type Problem = Schemas["ProblemOut"];
export type FieldError = Schemas["FieldError"];
export type Tokens = Schemas["TokensOut"];
export type Me = Schemas["MeOut"];
export type Captcha = Schemas["CaptchaOut"];
export type Terms = Schemas["TermsOut"];
export type Dashboard = Schemas["DashboardOut"];
export type Balance = Schemas["BalanceOut"];
export type Invoice = Schemas["InvoiceOut"];
export type InvoiceDetail = Schemas["InvoiceDetailOut"];
export type InvoiceStatus = Invoice["status"];
export type Payment = Schemas["PaymentOut"];
export type Note = Schemas["NoteOut"];
export type Contract = Schemas["ContractOut"];
export type Meter = Schemas["MeterOut"];
export type Reading = Schemas["ReadingOut"];
export type Consumption = Schemas["ConsumptionOut"];
export type ConsumptionPoint = Schemas["ConsumptionPointOut"];
export type Granularity = Consumption["granularity"];
export type Address = Schemas["Address"];
export type Language = "pl" | "en" | "uk" | "ru";
