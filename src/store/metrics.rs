//! What only this service knows, for `GET /orders/admin/metrics`: one
//! statement, each part read through an index (the plans are checked by
//! the contract suite). Orders by status come from the counts kept by
//! triggers (migrations: SQLite 0012, PostgreSQL 0009); the other parts
//! count backlogs, bounded by what is owed or retained, never the orders
//! themselves.

use super::schema::{
    Events, IdempotencyKeys, OrderStatusCounts, Orders, Payments, PendingReleases, StockIntents,
};
use super::{Dialect, Run, Store, StoreError};
use crate::domain::gauges::Gauges;
use crate::domain::order::OrderStatus;
use sea_query::{
    Asterisk, CaseStatement, Expr, ExprTrait, Func, Order as Direction, Query, SelectStatement,
    UnionType,
};

const GAUGE: &str = "gauge";
const LABEL: &str = "label";
const VALUE: &str = "value";

/// One row `(gauge, label, value)`; `value` an integer on both backends.
fn gauge(name: &'static str, label: Expr, value: Expr) -> SelectStatement {
    Query::select()
        .expr_as(text(name), GAUGE)
        .expr_as(label, LABEL)
        .expr_as(value.cast_as("bigint"), VALUE)
        .to_owned()
}

/// A text value in a `SELECT` list, typed (PostgreSQL cannot tell a
/// bare parameter's type there).
fn text(value: &'static str) -> Expr {
    Expr::val(value).cast_as("text")
}

fn count_all() -> Expr {
    Func::count(Expr::col(Asterisk)).into()
}

/// A scalar subquery.
fn scalar(query: SelectStatement) -> Expr {
    Expr::SubQuery(None, Box::new(query.into()))
}

/// `query`'s single value, 0 when it finds no row.
fn or_zero(query: SelectStatement) -> Expr {
    Func::coalesce([scalar(query), Expr::val(0_i64)]).into()
}

/// Payments owed back and not refunded: refused ones (by age of their
/// confirmation) and those of paid orders cancelled (by age of the cancel).
fn refunds_owed(refused: bool) -> SelectStatement {
    let mut query = Query::select()
        .from(Payments::Table)
        .and_where(Expr::col(Payments::RefundedAt).is_null())
        .to_owned();
    if refused {
        query.and_where(Expr::col(Payments::Outcome).eq("refund_required"));
    } else {
        query.and_where(Expr::col(Payments::RefundRequiredAt).is_not_null());
    }
    query
}

/// Every gauge, as one statement (public for the contract suite's plans).
pub fn gauges_query(d: Dialect) -> SelectStatement {
    let label = || text("");
    let mut query = Query::select()
        .expr_as(text("orders"), GAUGE)
        .expr_as(Expr::col(OrderStatusCounts::Status), LABEL)
        .expr_as(
            Func::sum(Expr::col(OrderStatusCounts::Orders)).cast_as("bigint"),
            VALUE,
        )
        .from(OrderStatusCounts::Table)
        .group_by_col(OrderStatusCounts::Status)
        .to_owned();
    let oldest_release = Query::select()
        .expr(d.age_seconds(PendingReleases::CreatedAt))
        .from(PendingReleases::Table)
        .and_where(
            Expr::col(PendingReleases::Id).eq(scalar(
                Query::select()
                    .expr(Expr::col(PendingReleases::Id).min())
                    .from(PendingReleases::Table)
                    .to_owned(),
            )),
        )
        .to_owned();
    let oldest_event = Query::select()
        .expr(d.age_seconds(Events::CreatedAt))
        .from(Events::Table)
        .and_where(Expr::col(Events::PublishedAt).is_null())
        .order_by(Events::PublishedAt, Direction::Asc)
        .order_by(Events::Id, Direction::Asc)
        .limit(1)
        .to_owned();
    let oldest_refused = refunds_owed(true)
        .expr(d.age_seconds(Payments::CreatedAt))
        .order_by(Payments::CreatedAt, Direction::Asc)
        .limit(1)
        .to_owned();
    let oldest_cancelled = refunds_owed(false)
        .expr(d.age_seconds(Payments::RefundRequiredAt))
        .order_by(Payments::RefundRequiredAt, Direction::Asc)
        .limit(1)
        .to_owned();
    // The CREATED order of lowest id, through orders_by_status (status, id):
    // ids are handed out in creation order.
    let oldest_unpaid = Query::select()
        .expr(d.age_seconds(Orders::CreatedAt))
        .from(Orders::Table)
        .and_where(Expr::col(Orders::Status).eq(OrderStatus::Created.as_str()))
        .order_by(Orders::Id, Direction::Asc)
        .limit(1)
        .to_owned();
    let (refused, cancelled) = (or_zero(oldest_refused), or_zero(oldest_cancelled));
    let oldest_refund = CaseStatement::new()
        .case(refused.clone().gt(cancelled.clone()), refused)
        .finally(cancelled);
    let parts = [
        gauge(
            "releases_owed",
            label(),
            scalar(
                Query::select()
                    .expr(count_all())
                    .from(PendingReleases::Table)
                    .to_owned(),
            ),
        ),
        gauge("releases_owed_oldest", label(), or_zero(oldest_release)),
        gauge(
            "intents_expired",
            label(),
            scalar(
                Query::select()
                    .expr(count_all())
                    .from(StockIntents::Table)
                    .and_where(Expr::col(StockIntents::LeaseUntil).lt(d.now()))
                    .to_owned(),
            ),
        ),
        gauge(
            "events_unpublished",
            label(),
            scalar(
                Query::select()
                    .expr(count_all())
                    .from(Events::Table)
                    .and_where(Expr::col(Events::PublishedAt).is_null())
                    .to_owned(),
            ),
        ),
        gauge("events_unpublished_oldest", label(), or_zero(oldest_event)),
        gauge(
            "refunds_owed",
            label(),
            scalar(refunds_owed(true).expr(count_all()).to_owned())
                .add(scalar(refunds_owed(false).expr(count_all()).to_owned())),
        ),
        gauge("refunds_owed_oldest", label(), oldest_refund.into()),
        gauge("unpaid_orders_oldest", label(), or_zero(oldest_unpaid)),
        gauge(
            "idempotency_keys",
            label(),
            scalar(
                Query::select()
                    .expr(count_all())
                    .from(IdempotencyKeys::Table)
                    .to_owned(),
            ),
        ),
    ];
    for part in parts {
        query.union(UnionType::All, part);
    }
    query
}

impl Store {
    /// Reads every gauge in one statement.
    pub fn gauges(&self) -> Result<Gauges, StoreError> {
        let rows = self.rows(&gauges_query(self.dialect()))?;
        let mut gauges = Gauges::default();
        for row in rows.iter() {
            let value = row.int(VALUE)?;
            let field = match row.text(GAUGE)? {
                "orders" => {
                    let status = row.text(LABEL)?.to_owned();
                    gauges.orders_by_status.push((status, value));
                    continue;
                }
                "releases_owed" => &mut gauges.releases_owed,
                "releases_owed_oldest" => &mut gauges.releases_owed_oldest_seconds,
                "intents_expired" => &mut gauges.intents_expired,
                "events_unpublished" => &mut gauges.events_unpublished,
                "events_unpublished_oldest" => &mut gauges.events_unpublished_oldest_seconds,
                "refunds_owed" => &mut gauges.refunds_owed,
                "refunds_owed_oldest" => &mut gauges.refunds_owed_oldest_seconds,
                "unpaid_orders_oldest" => &mut gauges.unpaid_orders_oldest_seconds,
                "idempotency_keys" => &mut gauges.idempotency_keys,
                _ => return Err(StoreError::Malformed("a gauge's name")),
            };
            *field = value;
        }
        Ok(gauges)
    }
}
