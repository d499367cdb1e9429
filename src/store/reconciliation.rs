//! Whether any reconciliation work is due: one read of indexed `EXISTS`
//! parts after each write request, so asking costs next to nothing.

use super::schema::{Events, IdempotencyKeys, PendingReleases, StockIntents};
use super::{Run, Store, StoreError};
use crate::clock;
use crate::domain::events::RETENTION_SECONDS as EVENT_RETENTION;
use crate::domain::idempotency::RETENTION_SECONDS as KEY_RETENTION;
use sea_query::{Expr, ExprTrait, Query, SelectStatement};

pub(super) const DUE: &str = "due";

/// A release whose retry time has come, an intent whose lease ran out, an
/// Idempotency-Key or a published event past its retention (public for
/// the contract suite's plans).
pub fn due_query(d: super::Dialect) -> SelectStatement {
    Query::select().expr_as(due(d), DUE).to_owned()
}

/// True when reconciliation work is due (see [`due_query`]).
pub(super) fn due(d: super::Dialect) -> Expr {
    let exists = |query: SelectStatement| Expr::exists(query);
    let release_due = Query::select()
        .expr(Expr::cust("1"))
        .from(PendingReleases::Table)
        .and_where(Expr::col(PendingReleases::NextAttemptAt).lte(d.now()))
        .and_where(Expr::col(PendingReleases::ClaimedUntil).lt(d.now()))
        .to_owned();
    let intent_expired = Query::select()
        .expr(Expr::cust("1"))
        .from(StockIntents::Table)
        .and_where(Expr::col(StockIntents::LeaseUntil).lt(d.now()))
        .to_owned();
    let key_expired = Query::select()
        .expr(Expr::cust("1"))
        .from(IdempotencyKeys::Table)
        .and_where(Expr::col(IdempotencyKeys::CreatedAt).lt(d.now_plus(-KEY_RETENTION)))
        .to_owned();
    let event_expired = Query::select()
        .expr(Expr::cust("1"))
        .from(Events::Table)
        .and_where(
            Expr::col(Events::PublishedAt).lt(d.now_plus(-clock::signed_seconds(EVENT_RETENTION))),
        )
        .to_owned();
    exists(release_due)
        .or(exists(intent_expired))
        .or(exists(key_expired))
        .or(exists(event_expired))
}

impl Store {
    /// Whether any reconciliation work is due; nothing to ask when this
    /// request's create answered it.
    pub fn reconciliation_due(&self) -> Result<bool, StoreError> {
        if let Some(due) = self.due_known.take() {
            return Ok(due);
        }
        match self.rows(&due_query(self.dialect()))?.first() {
            Some(row) => row.flag(DUE),
            None => Ok(false),
        }
    }
}
