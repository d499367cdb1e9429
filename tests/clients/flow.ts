// A user's flow through openapi-fetch, typed by what openapi-typescript
// generated from the served document (./schema.d.ts, written by
// tests/api/clients.rs). `tsc` checks it against those types (strict); node
// then runs it: BASE_URL, TOKEN, OTHER_TOKEN as in flow.py.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Schemas = components["schemas"];

function check(holds: boolean, what: string, seen?: unknown): asserts holds {
  if (!holds) throw new Error(`${what}: ${JSON.stringify(seen)}`);
}

const env = (name: string): string => {
  const value = process.env[name];
  check(value !== undefined, `${name} is set`);
  return value;
};

const baseUrl = env("BASE_URL");
const user = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${env("TOKEN")}` } });
const other = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${env("OTHER_TOKEN")}` } });

const body = (...lines: [number, number][]): Schemas["OrderRequest"] => ({
  items: lines.map(([product_id, quantity]) => ({ product_id, quantity })),
});

// Create with an Idempotency-Key; the same request again is the same order.
const first = await user.POST("/orders/orders/", {
  body: body([1, 1]),
  params: { header: { "Idempotency-Key": "ts-1" } },
});
check(first.response.status === 201 && first.data !== undefined, "created", first.error);
const placed: Schemas["Order"] = first.data;
check(placed.total_amount === "999.99" && placed.status === "CREATED", "the order", placed);
const again = await user.POST("/orders/orders/", {
  body: body([1, 1]),
  params: { header: { "Idempotency-Key": "ts-1" } },
});
check(again.data?.id === placed.id, "replayed", again.data);
check(again.response.headers.get("Idempotent-Replayed") === "true", "marked as replayed");

// A status-filtered list.
const listed = await user.GET("/orders/orders/", { params: { query: { status: ["CREATED"], limit: 10 } } });
check(listed.data !== undefined, "listed", listed.error);
const page: Schemas["OrderPage"] = listed.data;
check(page.results.some((order) => order.id === placed.id) && page.next === null, "the page", page);

// One order, then cancelled.
const shown = await user.GET("/orders/orders/{id}/", { params: { path: { id: placed.id } } });
check(shown.data !== undefined, "shown", shown.error);
const detail: Schemas["OrderDetail"] = shown.data;
check(detail.timeline[0]?.status === "CREATED" && detail.refund === null, "the timeline", detail);
const cancelled = await user.POST("/orders/orders/{id}/cancel/", { params: { path: { id: placed.id } } });
check(cancelled.data?.status === "CANCELLED", "cancelled", cancelled.error);
const release: Schemas["StockRelease"] = cancelled.data.stock_release;
check(release === "released", "stock back", release);

// Errors: the code narrows the union of the operation's error bodies to
// one family's type.
const invalid = await user.POST("/orders/orders/", { body: body([1, 0]) });
const badRequest = invalid.error;
check(invalid.response.status === 400 && badRequest?.code === "invalid", "400 invalid", badRequest);
const validation: Schemas["ValidationError"] = badRequest;
check((validation.errors["items[0].quantity"] ?? []).length > 0, "the field's messages", validation);

const short = await user.POST("/orders/orders/", { body: body([4, 1000]) });
const conflict = short.error;
check(short.response.status === 409 && conflict?.code === "insufficient_stock", "409 short", conflict);
const product: Schemas["ProductError"] = conflict;
check(product.product_id === 4, "the product", product);

const hidden = await other.GET("/orders/orders/{id}/", { params: { path: { id: placed.id } } });
check(hidden.response.status === 404 && hidden.error?.code === "not_found", "another user's order", hidden.error);

console.log(`flow.ts: order ${placed.id} as the generated types read it`);
