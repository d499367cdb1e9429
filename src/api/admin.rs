//! The operator's endpoints:
//! - `GET /orders/admin/orders/` lists anyone's orders (support staff),
//!   with the filters of a user's list and `user_id`;
//! - `POST /orders/admin/reconcile/` drains a batch now (back-off ignored:
//!   the operator asks because something was fixed) and reports what is
//!   still pending;
//! - `POST /orders/admin/releases/<id>/settle/` closes one pending release
//!   the operator handled by hand (a Catalog without `/release/` can never
//!   confirm it), kept in `settled_releases` with who, when and why.
//!
//! Protected by its own bearer token (`admin_token`, a secret variable),
//! not by a user JWT: users are minted by the Auth Service and any of them
//! could otherwise reach it. Unset, the endpoints refuse everyone. The
//! gateway does not route them at all; operators call the service directly.

use super::body;
use super::error::ApiError;
use super::session::{authenticate_operator, dependencies};
use super::{json_response, AccessLog, Reply, RequestFacts};
use crate::domain::order_request::FieldErrors;
use crate::domain::page::{Lister, PageRequest};
use crate::domain::release::{PendingRelease, SettledRelease, Settlement};
use crate::orders::read;
use crate::orders::release::{self, OperatorReport, SettleRefused};
use serde::Serialize;
use serde_json::Value;
use spin_sdk::http::IncomingRequest;
#[cfg(feature = "openapi")]
use {super::error as e, super::openapi::doc};

/// Longest `settled_by` and `note` of a settlement, in characters.
const MAX_SETTLED_BY_CHARS: usize = 100;
const MAX_NOTE_CHARS: usize = 1000;

/// What a reconcile pass did and what is still pending.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReconcileReport {
    /// Orders not paid within `payment_deadline_seconds`, moved to
    /// `EXPIRED` by this pass (their stock owed back, tried in this pass).
    pub expired_orders: u64,
    /// Creates whose request died between reserving and saving, turned
    /// into releases by this pass.
    pub expired_intents: u64,
    pub attempted: u64,
    pub released: u64,
    pub failed: u64,
    pub purged_idempotency_keys: u64,
    /// Published order events older than the 7-day retention, deleted by
    /// this pass.
    pub purged_events: u64,
    pub pending_total: u64,
    /// The oldest pending releases (at most 100).
    pub pending: Vec<PendingReleaseBody>,
    /// Order events this pass sent to the Redis stream (0 when
    /// `events_redis_url` is empty).
    pub events_published: u64,
    /// Present when publishing stopped early (Redis unreachable, …); the
    /// events stay recorded and a later pass sends them. Never contains
    /// the Redis address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_publish_error: Option<String>,
    /// Order events recorded and not yet published (all of them when
    /// `events_redis_url` is empty).
    pub events_unpublished: u64,
    /// Payments owed back (refused, or their paid order cancelled) that the
    /// Payment Service has not confirmed refunded.
    pub refunds_owed: u64,
    /// The age of the oldest of them (0 when none).
    pub refunds_owed_oldest_seconds: u64,
    /// Orders waiting for payment (`CREATED`).
    pub unpaid_orders: u64,
    /// The age of the oldest of them (0 when none).
    pub unpaid_orders_oldest_seconds: u64,
    /// Present when `catalog_service_token` is set: seconds until it
    /// expires (negative once it has). Releases retried after their request
    /// send it; within 7 days of its expiry the pass logs
    /// `catalog_service_token_expiring`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_service_token_expires_in_seconds: Option<i64>,
}

/// A count as the API writes it (never negative).
fn count(n: impl TryInto<u64>) -> u64 {
    n.try_into().unwrap_or(0)
}

impl From<&OperatorReport> for ReconcileReport {
    fn from(report: &OperatorReport) -> Self {
        let pass = &report.pass;
        ReconcileReport {
            expired_orders: count(pass.expired_orders),
            expired_intents: count(pass.expired_intents),
            attempted: count(pass.attempted),
            released: count(pass.released),
            failed: count(pass.failed),
            purged_idempotency_keys: count(pass.purged_idempotency_keys),
            purged_events: count(pass.purged_events),
            pending_total: count(report.pending_total),
            pending: report
                .pending
                .iter()
                .map(PendingReleaseBody::from)
                .collect(),
            events_published: count(report.events_published),
            events_publish_error: report.events_publish_error.clone(),
            events_unpublished: count(report.events_unpublished),
            refunds_owed: count(report.refunds_owed),
            refunds_owed_oldest_seconds: count(report.refunds_owed_oldest_seconds),
            unpaid_orders: count(report.unpaid_orders),
            unpaid_orders_oldest_seconds: count(report.unpaid_orders_oldest_seconds),
            catalog_service_token_expires_in_seconds: report
                .catalog_service_token_expires_in_seconds,
        }
    }
}

/// Stock a cancel or a failed create still owes the Catalog, retried
/// with back-off until the Catalog confirms it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = PendingRelease))]
pub struct PendingReleaseBody {
    /// What `POST /orders/admin/releases/{id}/settle/` names.
    pub id: i64,
    pub user_id: i64,
    pub product_id: i64,
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub quantity: i64,
    /// The cancelled order; `null` for a create that never stored one.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub order_id: Option<i64>,
    /// Why the stock is owed (`order_cancelled`, `reservation_abandoned`,
    /// …).
    pub reason: String,
    /// The request that owed it.
    pub request_id: String,
    pub attempts: i64,
    /// The last attempt's failure, without secrets.
    pub last_error: String,
    #[cfg_attr(feature = "openapi", schema(value_type = super::orders::Timestamp))]
    pub created_at: String,
    #[cfg_attr(feature = "openapi", schema(value_type = super::orders::Timestamp))]
    pub next_attempt_at: String,
    /// The reservation id it names at the Catalog (SPEC §4's extension);
    /// `null` for a reservation made before ids existed. What to name when
    /// releasing by hand.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub reservation: Option<String>,
}

impl From<&PendingRelease> for PendingReleaseBody {
    fn from(release: &PendingRelease) -> Self {
        PendingReleaseBody {
            id: release.id,
            user_id: release.user_id,
            product_id: release.product_id,
            quantity: release.quantity,
            order_id: release.order_id,
            reason: release.reason.clone(),
            request_id: release.request_id.clone(),
            attempts: release.attempts,
            last_error: release.last_error.clone(),
            created_at: release.created_at.clone(),
            next_attempt_at: release.next_attempt_at.clone(),
            reservation: release.reservation.clone(),
        }
    }
}

/// A release an operator settled: the audit row.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = SettledRelease))]
pub struct SettledReleaseBody {
    pub id: i64,
    pub user_id: i64,
    pub product_id: i64,
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub quantity: i64,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub order_id: Option<i64>,
    pub reason: String,
    pub outcome: SettlementOutcome,
    pub settled_by: String,
    pub note: String,
    #[cfg_attr(feature = "openapi", schema(value_type = super::orders::Timestamp))]
    pub settled_at: String,
    /// The reservation id it names at the Catalog (SPEC §4's extension);
    /// `null` for a reservation made before ids existed.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub reservation: Option<String>,
}

/// `released_manually`: the units were given back at the Catalog by other
/// means; `written_off`: they are not coming back.
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SettlementOutcome {
    ReleasedManually,
    WrittenOff,
}

impl From<Settlement> for SettlementOutcome {
    fn from(settlement: Settlement) -> Self {
        match settlement {
            Settlement::ReleasedManually => SettlementOutcome::ReleasedManually,
            Settlement::WrittenOff => SettlementOutcome::WrittenOff,
        }
    }
}

impl From<&SettledRelease> for SettledReleaseBody {
    fn from(settled: &SettledRelease) -> Self {
        SettledReleaseBody {
            id: settled.id,
            user_id: settled.user_id,
            product_id: settled.product_id,
            quantity: settled.quantity,
            order_id: settled.order_id,
            reason: settled.reason.clone(),
            outcome: settled.outcome.into(),
            settled_by: settled.settled_by.clone(),
            note: settled.note.clone(),
            settled_at: settled.settled_at.clone(),
            reservation: settled.reservation.clone(),
        }
    }
}

/// How an operator settles a pending release.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(as = Settlement)]
#[allow(dead_code)]
pub struct SettlementBody {
    outcome: SettlementOutcome,
    /// Who settled it (kept in the audit row and the log). Trimmed of white
    /// space, then 1 to 100 characters, without U+0000 (PostgreSQL cannot
    /// store it).
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000]*[^\u0000\s][^\u0000]*$"
    )]
    settled_by: String,
    /// Why, and what was done. Trimmed of white space, then 1 to 1,000
    /// characters, without U+0000.
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"^[^\u0000]*[^\u0000\s][^\u0000]*$"
    )]
    note: String,
}

/// `GET /orders/admin/orders/`: anyone's orders for support staff, with
/// the user's list's filters and `user_id`.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = "/orders/admin/orders/",
    operation_id = "listAnyOrders",
    tag = "operator",
    summary = "Operators: anyone's orders, newest first (support staff)",
    description = "The list of `GET /orders/orders/` across users, with its filters and \
        `user_id`; `next` keeps them. Operator token; not routed by the gateway.",
    security(("adminToken" = [])),
    params(
        super::orders::ListQuery,
        ("user_id" = Option<i64>, Query, minimum = 1, description = "Only this user's orders."),
    ),
    responses(
        (status = 200, body = super::orders::OrderPage, description = "A page of orders."),
        (status = 400, body = e::ValidationError, description = "A bad `limit`, `cursor`, \
            filter or `user_id` (`invalid`, with `errors`)."),
        (status = 401, body = e::AuthenticationError, description = doc::OPERATOR_UNAUTHENTICATED),
        (status = 403, body = e::PermissionError, description = doc::OPERATOR_FORBIDDEN),
        (status = 503, body = e::UnavailableError, description = doc::DATABASE_UNAVAILABLE),
    ),
))]
pub async fn list_orders(facts: &RequestFacts, access: &AccessLog) -> Result<Reply, ApiError> {
    let settings = authenticate_operator(facts)?;
    let page =
        PageRequest::from_query(&facts.query, Lister::Operator).map_err(ApiError::Invalid)?;
    let deps = dependencies(facts, access, settings).await?;
    let listed = read::any_page(&deps, &page);
    deps.log_if_migrated();
    Ok(super::orders::page_response("/orders/admin/orders/", &page, listed?).into())
}

/// `POST /orders/admin/reconcile/`.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/orders/admin/reconcile/",
    operation_id = "reconcile",
    tag = "operator",
    summary = "Operator: release owed stock now and report what is pending",
    description = "Bearer `admin_token` (a Spin secret variable), not a user JWT. Not routed \
        by the gateway.",
    security(("adminToken" = [])),
    responses(
        (status = 200, body = ReconcileReport,
            description = "What the pass did and what is still pending."),
        (status = 401, body = e::AuthenticationError, description = doc::OPERATOR_UNAUTHENTICATED),
        (status = 403, body = e::PermissionError, description = doc::OPERATOR_FORBIDDEN),
        (status = 503, body = e::UnavailableError, description = doc::DATABASE_UNAVAILABLE),
    ),
))]
pub async fn reconcile(facts: &RequestFacts, access: &AccessLog) -> Result<Reply, ApiError> {
    let settings = authenticate_operator(facts)?;
    let deps = dependencies(facts, access, settings).await?;
    let report = release::reconcile_now(&deps).await;
    deps.log_if_migrated();
    let report = ReconcileReport::from(&report?);
    Ok(json_response(200, &report).build().into())
}

/// `POST /orders/admin/releases/<id>/settle/` with
/// `{"outcome": "released_manually" | "written_off", "settled_by": "...",
/// "note": "..."}`: the pending release leaves the list for good.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/orders/admin/releases/{id}/settle/",
    operation_id = "settleRelease",
    tag = "operator",
    summary = "Operator: close a pending release handled by hand",
    description = "For stock the Catalog cannot take back through the API (e.g. a Catalog \
        without `/release/`): once the operator has returned the units by other means, or \
        decided to write them off, the release leaves the pending list for good. The row \
        moves to `settled_releases` with who, when and why, and a `release_settled` line is \
        logged. Refused (409) while a request is trying that release. Bearer `admin_token`; \
        not routed by the gateway.",
    security(("adminToken" = [])),
    params(("id" = i64, Path, minimum = 1,
        description = "The pending release's id (from the reconcile report).")),
    request_body = SettlementBody,
    responses(
        (status = 200, body = SettledReleaseBody, description = "Settled; the audit row."),
        (status = 400, body = e::BadBody, description = doc::BAD_BODY),
        (status = 401, body = e::AuthenticationError, description = doc::OPERATOR_UNAUTHENTICATED),
        (status = 403, body = e::PermissionError, description = doc::OPERATOR_FORBIDDEN),
        (status = 404, body = e::NotFoundError,
            description = "No pending release with this id (`not_found`)."),
        (status = 409, body = e::ConflictError, description = "A request is trying this \
            release right now (`release_in_progress`)."),
        (status = 413, body = e::RequestError, description = doc::TOO_LARGE),
        (status = 415, body = e::RequestError, description = doc::NOT_JSON),
        (status = 503, body = e::UnavailableError, description = doc::DATABASE_UNAVAILABLE),
    ),
))]
pub async fn settle_release(
    facts: &RequestFacts,
    access: &AccessLog,
    request: IncomingRequest,
    id: i64,
) -> Result<Reply, ApiError> {
    let settings = authenticate_operator(facts)?;
    let body = body::read_json(
        request,
        facts.content_type.as_deref(),
        facts.content_length.as_deref(),
    )
    .await?;
    let (settlement, settled_by, note) = parse_settlement(&body).map_err(ApiError::Invalid)?;
    let deps = dependencies(facts, access, settings).await?;
    let settled = release::settle(&deps, id, settlement, settled_by, note).await;
    deps.log_if_migrated();
    match settled? {
        Ok(settled) => {
            access.order_id.set(settled.order_id);
            Ok(json_response(200, &SettledReleaseBody::from(&settled))
                .build()
                .into())
        }
        Err(SettleRefused::InProgress) => Err(ApiError::ReleaseInProgress),
        Err(SettleRefused::NotFound) => Err(ApiError::NotFound),
    }
}

/// The settlement's fields, or the field errors.
fn parse_settlement(body: &Value) -> Result<(Settlement, &str, &str), FieldErrors> {
    let mut errors = FieldErrors::new();
    let outcome = body
        .get("outcome")
        .and_then(Value::as_str)
        .and_then(Settlement::parse);
    if outcome.is_none() {
        errors.insert(
            "outcome".to_owned(),
            vec![r#"Must be "released_manually" or "written_off"."#.to_owned()],
        );
    }
    let settled_by = bounded_text(body, "settled_by", MAX_SETTLED_BY_CHARS, &mut errors);
    let note = bounded_text(body, "note", MAX_NOTE_CHARS, &mut errors);
    match (outcome, settled_by, note) {
        (Some(outcome), Some(settled_by), Some(note)) => Ok((outcome, settled_by, note)),
        _ => Err(errors),
    }
}

/// `body[field]` as a trimmed, non-empty string of at most `max` characters,
/// without U+0000: PostgreSQL's text cannot hold it, so neither backend
/// takes it (one rule above both, not a 500 on one and a 200 on the other).
fn bounded_text<'a>(
    body: &'a Value,
    field: &str,
    max: usize,
    errors: &mut FieldErrors,
) -> Option<&'a str> {
    let text = body.get(field).and_then(Value::as_str).map(str::trim);
    let valid = text.filter(|t| !t.is_empty() && t.chars().count() <= max && !t.contains('\0'));
    if valid.is_none() {
        errors.insert(
            field.to_owned(),
            vec![format!(
                "A non-empty string of at most {max} characters, without U+0000, is required."
            )],
        );
    }
    valid
}
