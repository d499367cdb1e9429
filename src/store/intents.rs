//! Reservation intents: the durable note "this request is about to reserve
//! these units", written before the first reservation. It is closed by the
//! order's own write (`orders::insert_order`), taken back by a create that
//! failed, or, once its lease ran out (the request died in between), taken
//! by the reconciler, which releases its units.

use super::connection::{Record, Row};
use super::schema::{Orders, SchemaMigrations, StockIntents};
use super::{migrations, Dialect, Run, Store, StoreError, Tx};
use crate::clock;
use crate::domain::order::OrderStatus;
use crate::domain::order_request::OrderLine;
use crate::domain::{ProductId, UserId};
use sea_query::{
    Asterisk, Expr, ExprTrait, Func, Iden, InsertStatement, LockBehavior, LockType,
    Order as Direction, Query, SelectStatement,
};

/// The first key of the per-customer advisory locks ([`Tx::lock_customer`]),
/// apart from the migrations' lock (a single `bigint` key).
const CUSTOMER_LOCK_CLASS: i32 = 0x0c57_0001;

/// An open intent, owned by the request that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntentId(pub(crate) i64);

/// An intent taken back: by its own request after a failure, or by the
/// reconciler once its request ended without closing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenIntent {
    pub user: UserId,
    pub request_id: String,
    pub lines: Vec<(ProductId, u32)>,
    /// Its reservations' key (SPEC §4's reservation ids); `None` for an
    /// intent opened before they existed.
    pub reservation_key: Option<String>,
}

impl Record for TakenIntent {
    type Column = StockIntents;
    const COLUMNS: &'static [StockIntents] = &[
        StockIntents::UserId,
        StockIntents::RequestId,
        StockIntents::Items,
        StockIntents::ReservationKey,
    ];

    /// `items` are JSON pairs of product id and quantity, as
    /// [`intent_items`] wrote them.
    fn read(row: Row<'_>) -> Result<Self, StoreError> {
        let malformed = || StoreError::Malformed("stock_intents row");
        let pairs: Vec<(i64, u32)> = serde_json::from_str(row.text(StockIntents::Items)?)?;
        Ok(TakenIntent {
            user: UserId::new(row.int(StockIntents::UserId)?).ok_or_else(malformed)?,
            request_id: row.text(StockIntents::RequestId)?.to_owned(),
            lines: pairs
                .into_iter()
                .map(|(product, quantity)| ProductId::new(product).map(|p| (p, quantity)))
                .collect::<Option<_>>()
                .ok_or_else(malformed)?,
            reservation_key: row
                .opt_text(StockIntents::ReservationKey)?
                .map(str::to_owned),
        })
    }
}

/// The units an intent names, as stored: JSON pairs of product id and
/// quantity (read back by [`TakenIntent`]).
fn intent_items(lines: &[OrderLine]) -> String {
    let pairs: Vec<[i64; 2]> = lines
        .iter()
        .map(|l| [l.product_id.get(), i64::from(l.quantity.get())])
        .collect();
    serde_json::to_string(&pairs).expect("integers serialise")
}

impl Store {
    /// Records the intent to reserve `lines` under `reservation_key`,
    /// valid for `lease_seconds`.
    ///
    /// On PostgreSQL, when this request has not checked the schema yet
    /// (a create's first statement), the write checks it itself: it
    /// inserts only when the schema is at this release's version or newer
    /// (an instance of a later release migrated it), saving a create the
    /// round trip of a separate check. No row, or no such table or column
    /// yet: migrate, then write again.
    pub async fn open_intent(
        &self,
        user: UserId,
        request_id: &str,
        lines: &[OrderLine],
        reservation_key: &str,
        lease_seconds: u64,
    ) -> Result<IntentId, StoreError> {
        let d = self.dialect();
        let intent = NewIntent {
            user,
            request_id,
            lines,
            reservation_key,
            lease_seconds,
        };
        // The create's hottest write answers its one row itself.
        let id = StockIntents::Id.unquoted();
        if d == Dialect::Postgres && !self.schema_checked.get() {
            let (sql, values) = d.build_one_row(intent.insert(d, true), id);
            match self.conn.query_one_row(&sql, &values) {
                Ok(rows) => {
                    if let Some(written) = rows
                        .first()
                        .map(|row| row.opt_int(id))
                        .transpose()?
                        .flatten()
                    {
                        self.schema_checked.set(true);
                        return Ok(IntentId(written));
                    }
                }
                Err(StoreError::SchemaBehind(_)) => {}
                Err(error) => return Err(error),
            }
        }
        self.ensure_schema()?;
        let (sql, values) = d.build_one_row(intent.insert(d, false), id);
        let rows = self
            .retry_busy(|| self.conn.query_one_row(&sql, &values))
            .await?;
        let written = rows
            .first()
            .map(|row| row.opt_int(id))
            .transpose()?
            .flatten();
        written
            .map(IntentId)
            .ok_or(StoreError::Malformed("INSERT … RETURNING gave no row"))
    }

    /// [`Store::open_intent`] for a customer who may hold at most `cap`
    /// unpaid orders ([`Store::unpaid_orders`]): `None`, and nothing
    /// written, when they hold `cap` already. The count and the insert are
    /// one transaction under the customer's lock (SQLite: the write lock;
    /// PostgreSQL: an advisory lock per customer), so of two creates at
    /// the cap exactly one opens its intent.
    pub async fn open_intent_within(
        &self,
        intent: &NewIntent<'_>,
        cap: u32,
    ) -> Result<Option<IntentId>, StoreError> {
        self.write(|tx| {
            tx.lock_customer(intent.user)?;
            if tx.unpaid_orders(intent.user)? >= i64::from(cap) {
                return Ok(None);
            }
            let id = StockIntents::Id.unquoted();
            let rows = tx.rows(&intent.insert(tx.dialect(), false))?;
            let written = rows
                .first()
                .map(|row| row.opt_int(id))
                .transpose()?
                .flatten()
                .ok_or(StoreError::Malformed("INSERT … RETURNING gave no row"))?;
            Ok(Some(IntentId(written)))
        })
        .await
    }

    /// How many unpaid orders `user` holds: `CREATED` orders, and creates
    /// of theirs in flight (open intents whose lease still runs; an
    /// abandoned one is the reconciler's).
    pub fn unpaid_orders(&self, user: UserId) -> Result<i64, StoreError> {
        UnpaidOrders::unpaid_orders(self, user)
    }
}

/// An intent to record: who reserves what, under which key, for how long.
pub struct NewIntent<'a> {
    pub user: UserId,
    pub request_id: &'a str,
    pub lines: &'a [OrderLine],
    pub reservation_key: &'a str,
    pub lease_seconds: u64,
}

impl NewIntent<'_> {
    /// Its `INSERT … RETURNING id`; `guarded`: only when the schema is at
    /// this release's version or newer (see [`Store::open_intent`]).
    fn insert(&self, d: Dialect, guarded: bool) -> InsertStatement {
        let mut select = Query::select()
            .exprs([
                d.typed(Expr::val(self.user.get()), "bigint"),
                d.typed(Expr::val(self.request_id), "text"),
                d.typed(Expr::val(intent_items(self.lines)), "text"),
                d.typed(Expr::val(self.reservation_key), "text"),
                d.now(),
                d.now_plus(clock::signed_seconds(self.lease_seconds)),
            ])
            .to_owned();
        if guarded {
            let current = Query::select()
                .expr(Expr::col(SchemaMigrations::Version).max())
                .from(SchemaMigrations::Table)
                .to_owned();
            // `schema_migrations.version` is an `integer`.
            let latest =
                i32::try_from(migrations::latest(migrations::POSTGRES)).unwrap_or(i32::MAX);
            select.and_where(Expr::SubQuery(None, Box::new(current.into())).gte(latest));
        }
        Query::insert()
            .into_table(StockIntents::Table)
            .columns([
                StockIntents::UserId,
                StockIntents::RequestId,
                StockIntents::Items,
                StockIntents::ReservationKey,
                StockIntents::CreatedAt,
                StockIntents::LeaseUntil,
            ])
            .select_from(select)
            .expect("as many values as columns")
            .returning_col(StockIntents::Id)
            .to_owned()
    }
}

/// How many unpaid orders `user` holds, as one row `unpaid` (public for
/// the contract suite's plans): their `CREATED` orders (through
/// `orders_by_user_status`) and their intents whose lease still runs.
pub fn unpaid_query(d: Dialect, user: UserId) -> SelectStatement {
    let count = |query: SelectStatement| -> Expr { Expr::SubQuery(None, Box::new(query.into())) };
    let created = Query::select()
        .expr(Func::count(Expr::col(Asterisk)))
        .from(Orders::Table)
        .and_where(Expr::col(Orders::UserId).eq(user.get()))
        .and_where(Expr::col(Orders::Status).eq(OrderStatus::Created.as_str()))
        .to_owned();
    let in_flight = Query::select()
        .expr(Func::count(Expr::col(Asterisk)))
        .from(StockIntents::Table)
        .and_where(Expr::col(StockIntents::UserId).eq(user.get()))
        .and_where(Expr::col(StockIntents::LeaseUntil).gt(d.now()))
        .to_owned();
    Query::select()
        .expr_as(
            count(created).add(count(in_flight)).cast_as("bigint"),
            UNPAID,
        )
        .to_owned()
}

/// Counting a customer's unpaid orders, outside or inside a transaction.
trait UnpaidOrders: Run {
    fn unpaid_orders(&self, user: UserId) -> Result<i64, StoreError> {
        let rows = self.rows(&unpaid_query(self.dialect(), user))?;
        rows.first()
            .map(|row| row.int(UNPAID))
            .transpose()
            .map(Option::unwrap_or_default)
    }
}

impl<T: Run> UnpaidOrders for T {}

const UNPAID: &str = "unpaid";

impl Tx<'_> {
    /// Serialises the transactions that count and add to `user`'s unpaid
    /// orders: on PostgreSQL an advisory lock held until the transaction
    /// ends, keyed by the customer (ids sharing a key only wait for each
    /// other); SQLite's write transaction already holds the database.
    pub fn lock_customer(&self, user: UserId) -> Result<(), StoreError> {
        if self.dialect() != Dialect::Postgres {
            return Ok(());
        }
        let key = i32::try_from(user.get() % i64::from(i32::MAX)).unwrap_or_default();
        let lock = Query::select()
            .expr(
                Func::cust("pg_advisory_xact_lock")
                    .args([Expr::val(CUSTOMER_LOCK_CLASS), Expr::val(key)]),
            )
            .to_owned();
        self.exec(&lock)
    }

    /// Deletes open intent `intent` and returns it; `None` when the
    /// reconciler took it over (its lease ran out).
    pub fn take_intent(&self, intent: IntentId) -> Result<Option<TakenIntent>, StoreError> {
        let delete = Query::delete()
            .from_table(StockIntents::Table)
            .and_where(Expr::col(StockIntents::Id).eq(intent.0))
            .returning(Query::returning().columns(TakenIntent::COLUMNS.iter().copied()))
            .to_owned();
        TakenIntent::read_first(&self.rows(&delete)?)
    }

    /// Deletes up to `limit` intents whose lease ran out (not those another
    /// instance is taking) and returns them.
    pub fn take_expired_intents(&self, limit: u32) -> Result<Vec<TakenIntent>, StoreError> {
        let d = self.dialect();
        let expired = Query::select()
            .column(StockIntents::Id)
            .from(StockIntents::Table)
            .and_where(Expr::col(StockIntents::LeaseUntil).lt(d.now()))
            .order_by(StockIntents::LeaseUntil, Direction::Asc)
            .limit(u64::from(limit))
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .to_owned();
        let delete = Query::delete()
            .from_table(StockIntents::Table)
            .and_where(Expr::col(StockIntents::Id).in_subquery(expired))
            .returning(Query::returning().columns(TakenIntent::COLUMNS.iter().copied()))
            .to_owned();
        TakenIntent::read_all(&self.rows(&delete)?)
    }
}
