//! End-to-end tests: the real `order_service.wasm` under `spin-host`, a real
//! demo Catalog, real SQLite files and real HS256 tokens, over loopback HTTP.
//! One module per endpoint or concern; `helpers` holds the harness, one
//! file per concern: the artefacts and the runtime under test, child
//! processes, Catalog peers, databases, the app under test, typed views of
//! its stored state (tests assert through them, not through SQL of their
//! own; only the schema and migration tests — `persistence`, `postgres`,
//! `storage_parity`, `pg_types` — speak SQL, which is their subject), and
//! credentials.

mod auth;
mod auth_keys;
mod catalog_faults;
mod catalog_peers;
mod catalog_wire;
mod clients;
mod concurrency;
mod container;
mod create_order;
mod errors;
mod event_stream;
mod events;
mod exact_stock;
mod expiry;
mod finding_orders;
mod fulfilment;
mod gateway;
mod health;
mod helpers;
mod host;
mod hosted;
mod idempotency;
mod jwks;
mod kubernetes;
mod lifecycle;
mod metrics;
mod openapi;
mod payments;
mod peer_combinations;
mod persistence;
mod pg_types;
mod postgres;
mod reconcile;
mod routing;
mod storage_parity;
mod telemetry;
mod tracing;
mod unpaid_orders;
