//! Stock owed back to the Catalog. A release is first written here, claimed
//! by the request that will try it (so two requests never release the same
//! row at once), and deleted only after the Catalog confirmed it; a failed
//! try is rescheduled with back-off, and an operator may settle one by hand
//! (moved to `settled_releases`). Nothing here is ever dropped.

use super::connection::{Record, Row};
use super::schema::{PendingReleases, SettledReleases};
use super::{Run, Store, StoreError, Tx};
use crate::clock;
use crate::domain::release::{reservation_id, PendingRelease, SettledRelease, Settlement};
use crate::domain::{ProductId, UserId};
use sea_query::{Expr, ExprTrait, Func, LockBehavior, LockType, Order as Direction, Query};

/// A release claimed by this request, to try now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedRelease {
    pub id: i64,
    pub user: UserId,
    pub product_id: ProductId,
    pub quantity: u32,
    /// Tries so far, this one included.
    pub attempts: i64,
    /// The reservation id it releases, sent along (SPEC §4).
    pub reservation: Option<String>,
}

impl Record for ClaimedRelease {
    type Column = PendingReleases;
    const COLUMNS: &'static [PendingReleases] = &[
        PendingReleases::Id,
        PendingReleases::UserId,
        PendingReleases::ProductId,
        PendingReleases::Quantity,
        PendingReleases::Attempts,
        PendingReleases::Reservation,
    ];

    fn read(row: Row<'_>) -> Result<Self, StoreError> {
        let bad = || StoreError::Malformed("pending_releases row");
        Ok(ClaimedRelease {
            id: row.int(PendingReleases::Id)?,
            user: UserId::new(row.int(PendingReleases::UserId)?).ok_or_else(bad)?,
            product_id: ProductId::new(row.int(PendingReleases::ProductId)?).ok_or_else(bad)?,
            quantity: u32::try_from(row.int(PendingReleases::Quantity)?).map_err(|_| bad())?,
            attempts: row.int(PendingReleases::Attempts)?,
            reservation: row
                .opt_text(PendingReleases::Reservation)?
                .map(str::to_owned),
        })
    }
}

impl Record for PendingRelease {
    type Column = PendingReleases;
    const COLUMNS: &'static [PendingReleases] = &[
        PendingReleases::Id,
        PendingReleases::UserId,
        PendingReleases::ProductId,
        PendingReleases::Quantity,
        PendingReleases::OrderId,
        PendingReleases::Reason,
        PendingReleases::RequestId,
        PendingReleases::Attempts,
        PendingReleases::LastError,
        PendingReleases::CreatedAt,
        PendingReleases::NextAttemptAt,
        PendingReleases::Reservation,
    ];

    fn read(row: Row<'_>) -> Result<Self, StoreError> {
        Ok(PendingRelease {
            id: row.int(PendingReleases::Id)?,
            user_id: row.int(PendingReleases::UserId)?,
            product_id: row.int(PendingReleases::ProductId)?,
            quantity: row.int(PendingReleases::Quantity)?,
            order_id: row.opt_int(PendingReleases::OrderId)?,
            reason: row.text(PendingReleases::Reason)?.to_owned(),
            request_id: row.text(PendingReleases::RequestId)?.to_owned(),
            attempts: row.int(PendingReleases::Attempts)?,
            last_error: row.text(PendingReleases::LastError)?.to_owned(),
            created_at: row.time(PendingReleases::CreatedAt)?,
            next_attempt_at: row.time(PendingReleases::NextAttemptAt)?,
            reservation: row
                .opt_text(PendingReleases::Reservation)?
                .map(str::to_owned),
        })
    }
}

/// Releases to record as owed in one transaction.
#[derive(Debug, Clone, Copy)]
pub struct NewReleases<'a> {
    pub user: UserId,
    pub request_id: &'a str,
    /// One of the reasons in [`crate::domain::release`].
    pub reason: &'static str,
    pub order_id: Option<i64>,
    pub lines: &'a [(ProductId, u32)],
    /// The key the lines were reserved under: each release then carries
    /// its line's reservation id. `None` for reservations made before.
    pub reservation_key: Option<&'a str>,
    pub claim: ReleaseClaim<'a>,
}

/// Who tries new releases first.
#[derive(Debug, Clone, Copy)]
pub enum ReleaseClaim<'a> {
    /// This request, at once: claimed by it for `seconds` (its first try
    /// counted), so no other request tries them meanwhile.
    ThisRequest { seconds: u64 },
    /// Whoever reconciles next; `last_error` says why they wait.
    Nobody { last_error: &'a str },
}

impl ReleaseClaim<'_> {
    /// Where `claimed_until` goes, from now: past for nobody's.
    fn offset_seconds(self) -> i64 {
        match self {
            ReleaseClaim::ThisRequest { seconds } => clock::signed_seconds(seconds),
            ReleaseClaim::Nobody { .. } => -1,
        }
    }
}

impl Tx<'_> {
    /// Records releases as owed; returns them when this request claimed
    /// them ([`ReleaseClaim::ThisRequest`]), else nothing.
    pub fn insert_releases(
        &self,
        new: &NewReleases<'_>,
    ) -> Result<Vec<ClaimedRelease>, StoreError> {
        let d = self.dialect();
        let last_error = match new.claim {
            ReleaseClaim::ThisRequest { .. } => "",
            ReleaseClaim::Nobody { last_error } => last_error,
        };
        let mut insert = Query::insert()
            .into_table(PendingReleases::Table)
            .columns([
                PendingReleases::UserId,
                PendingReleases::ProductId,
                PendingReleases::Quantity,
                PendingReleases::Reason,
                PendingReleases::RequestId,
                PendingReleases::OrderId,
                PendingReleases::Attempts,
                PendingReleases::LastError,
                PendingReleases::Reservation,
                PendingReleases::CreatedAt,
                PendingReleases::NextAttemptAt,
                PendingReleases::ClaimedUntil,
            ])
            .returning(Query::returning().columns(ClaimedRelease::COLUMNS.iter().copied()))
            .to_owned();
        for (product, quantity) in new.lines {
            let reservation = new.reservation_key.map(|key| reservation_id(key, *product));
            insert.values_panic([
                new.user.get().into(),
                product.get().into(),
                super::quantity(*quantity),
                new.reason.into(),
                new.request_id.into(),
                new.order_id.into(),
                1_i64.into(),
                last_error.into(),
                reservation.into(),
                d.now(),
                d.now(),
                d.now_plus(new.claim.offset_seconds()),
            ]);
        }
        if new.lines.is_empty() {
            return Ok(Vec::new());
        }
        let claimed = ClaimedRelease::read_all(&self.rows(&insert)?)?;
        Ok(match new.claim {
            ReleaseClaim::ThisRequest { .. } => claimed,
            ReleaseClaim::Nobody { .. } => Vec::new(),
        })
    }

    /// Deletes claimed release `id` (the Catalog confirmed it).
    pub fn delete_release(&self, id: i64) -> Result<(), StoreError> {
        let delete = Query::delete()
            .from_table(PendingReleases::Table)
            .and_where(Expr::col(PendingReleases::Id).eq(id))
            .to_owned();
        self.exec(&delete)
    }

    /// Unclaims release `id` and schedules its next try.
    pub fn reschedule_release(
        &self,
        id: i64,
        error: &str,
        retry_in_seconds: u64,
    ) -> Result<(), StoreError> {
        let d = self.dialect();
        let update = Query::update()
            .table(PendingReleases::Table)
            .value(PendingReleases::LastError, error)
            .value(PendingReleases::ClaimedUntil, d.never())
            .value(
                PendingReleases::NextAttemptAt,
                d.now_plus(clock::signed_seconds(retry_in_seconds)),
            )
            .and_where(Expr::col(PendingReleases::Id).eq(id))
            .to_owned();
        self.exec(&update)
    }

    /// Moves pending release `id`, unless a request holds it claimed, to
    /// `settled_releases` with the operator's account; the audit row. The
    /// row is deleted first (on PostgreSQL the delete locks it and checks
    /// the claim again), then written to the audit.
    pub fn move_to_settled(
        &self,
        id: i64,
        settlement: Settlement,
        settled_by: &str,
        note: &str,
    ) -> Result<Option<SettledRelease>, StoreError> {
        let d = self.dialect();
        let moved = Query::delete()
            .from_table(PendingReleases::Table)
            .and_where(Expr::col(PendingReleases::Id).eq(id))
            .and_where(Expr::col(PendingReleases::ClaimedUntil).lt(d.now()))
            .returning(Query::returning().columns(MOVED.iter().copied()))
            .to_owned();
        let rows = self.rows(&moved)?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let text = |column| row.text(column).map(str::to_owned);
        let settled = Query::insert()
            .into_table(SettledReleases::Table)
            .columns([
                SettledReleases::Id,
                SettledReleases::UserId,
                SettledReleases::ProductId,
                SettledReleases::Quantity,
                SettledReleases::OrderId,
                SettledReleases::Reason,
                SettledReleases::RequestId,
                SettledReleases::Attempts,
                SettledReleases::LastError,
                SettledReleases::CreatedAt,
                SettledReleases::Outcome,
                SettledReleases::SettledBy,
                SettledReleases::Note,
                SettledReleases::SettledAt,
                SettledReleases::Reservation,
            ])
            .values_panic([
                row.int(PendingReleases::Id)?.into(),
                row.int(PendingReleases::UserId)?.into(),
                row.int(PendingReleases::ProductId)?.into(),
                super::quantity(
                    u32::try_from(row.int(PendingReleases::Quantity)?)
                        .map_err(|_| StoreError::Malformed("pending_releases.quantity"))?,
                ),
                row.opt_int(PendingReleases::OrderId)?.into(),
                text(PendingReleases::Reason)?.into(),
                text(PendingReleases::RequestId)?.into(),
                row.int(PendingReleases::Attempts)?.into(),
                text(PendingReleases::LastError)?.into(),
                d.time(&row.time(PendingReleases::CreatedAt)?),
                settlement.as_str().into(),
                settled_by.into(),
                note.into(),
                d.now(),
                row.opt_text(PendingReleases::Reservation)?
                    .map(str::to_owned)
                    .into(),
            ])
            .returning(Query::returning().columns(SETTLED.iter().copied()))
            .to_owned();
        let rows = self.rows(&settled)?;
        let row = rows
            .first()
            .ok_or(StoreError::Malformed("INSERT … RETURNING gave no row"))?;
        Ok(Some(SettledRelease {
            id: row.int(SettledReleases::Id)?,
            user_id: row.int(SettledReleases::UserId)?,
            product_id: row.int(SettledReleases::ProductId)?,
            quantity: row.int(SettledReleases::Quantity)?,
            order_id: row.opt_int(SettledReleases::OrderId)?,
            reason: row.text(SettledReleases::Reason)?.to_owned(),
            outcome: Settlement::parse(row.text(SettledReleases::Outcome)?)
                .ok_or(StoreError::Malformed("a settlement outcome"))?,
            settled_by: row.text(SettledReleases::SettledBy)?.to_owned(),
            note: row.text(SettledReleases::Note)?.to_owned(),
            settled_at: row.time(SettledReleases::SettledAt)?,
            reservation: row
                .opt_text(SettledReleases::Reservation)?
                .map(str::to_owned),
        }))
    }

    /// Whether pending release `id` exists.
    pub fn release_exists(&self, id: i64) -> Result<bool, StoreError> {
        let query = Query::select()
            .column(PendingReleases::Id)
            .from(PendingReleases::Table)
            .and_where(Expr::col(PendingReleases::Id).eq(id))
            .to_owned();
        Ok(!self.rows(&query)?.is_empty())
    }
}

/// What a pending release's row carries into the audit.
const MOVED: [PendingReleases; 11] = [
    PendingReleases::Id,
    PendingReleases::UserId,
    PendingReleases::ProductId,
    PendingReleases::Quantity,
    PendingReleases::OrderId,
    PendingReleases::Reason,
    PendingReleases::RequestId,
    PendingReleases::Attempts,
    PendingReleases::LastError,
    PendingReleases::CreatedAt,
    PendingReleases::Reservation,
];

/// The audit row as the operator is shown it.
const SETTLED: [SettledReleases; 11] = [
    SettledReleases::Id,
    SettledReleases::UserId,
    SettledReleases::ProductId,
    SettledReleases::Quantity,
    SettledReleases::OrderId,
    SettledReleases::Reason,
    SettledReleases::Outcome,
    SettledReleases::SettledBy,
    SettledReleases::Note,
    SettledReleases::SettledAt,
    SettledReleases::Reservation,
];

impl Store {
    /// Claims up to `limit` releases nobody is trying right now: those due
    /// by their back-off, or every unclaimed one when `ignore_backoff`.
    /// `SKIP LOCKED` on PostgreSQL keeps instances' claims apart.
    pub async fn claim_releases(
        &self,
        limit: u32,
        ignore_backoff: bool,
        claim_seconds: u64,
    ) -> Result<Vec<ClaimedRelease>, StoreError> {
        let d = self.dialect();
        let mut free = Query::select()
            .column(PendingReleases::Id)
            .from(PendingReleases::Table)
            .and_where(Expr::col(PendingReleases::ClaimedUntil).lt(d.now()))
            .order_by(PendingReleases::NextAttemptAt, Direction::Asc)
            .limit(u64::from(limit))
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .to_owned();
        if !ignore_backoff {
            free.and_where(Expr::col(PendingReleases::NextAttemptAt).lte(d.now()));
        }
        let claim = Query::update()
            .table(PendingReleases::Table)
            .value(
                PendingReleases::ClaimedUntil,
                d.now_plus(clock::signed_seconds(claim_seconds)),
            )
            .value(
                PendingReleases::Attempts,
                Expr::col(PendingReleases::Attempts).add(1_i64),
            )
            .and_where(Expr::col(PendingReleases::Id).in_subquery(free))
            .returning(Query::returning().columns(ClaimedRelease::COLUMNS.iter().copied()))
            .to_owned();
        ClaimedRelease::read_all(&self.write_rows(&claim).await?)
    }

    /// The oldest pending releases (at most `limit`) and how many there are.
    pub fn pending_releases(&self, limit: u32) -> Result<(i64, Vec<PendingRelease>), StoreError> {
        let count = Query::select()
            .expr_as(Func::count(Expr::col(PendingReleases::Id)), "pending")
            .from(PendingReleases::Table)
            .to_owned();
        let total = match self.rows(&count)?.first() {
            Some(row) => row.int("pending")?,
            None => 0,
        };
        let oldest = Query::select()
            .columns(PendingRelease::COLUMNS.iter().copied())
            .from(PendingReleases::Table)
            .order_by(PendingReleases::Id, Direction::Asc)
            .limit(u64::from(limit))
            .to_owned();
        Ok((total, PendingRelease::read_all(&self.rows(&oldest)?)?))
    }

    /// Whether stock of order `order_id` is still owed to the Catalog.
    pub fn order_release_pending(&self, order_id: i64) -> Result<bool, StoreError> {
        let query = Query::select()
            .column(PendingReleases::Id)
            .from(PendingReleases::Table)
            .and_where(Expr::col(PendingReleases::OrderId).eq(order_id))
            .limit(1)
            .to_owned();
        Ok(!self.rows(&query)?.is_empty())
    }
}
