//! Orders and their items: the create, reading one or a page, and, inside
//! a workflow's transaction, locking one and moving its status (with its
//! timeline entry).

use super::connection::{Record, Row};
use super::schema::{
    BackgroundPasses, Events, FulfilmentEvents, IdempotencyKeys, OrderItems, OrderStatusChanges,
    OrderSubmissions, Orders, Payments, StockIntents,
};
use super::{Dialect, NewOrder, Run, Store, StoreError, Tx};
use crate::clock;
use crate::domain::order::{ChangeSource, Order, OrderStatus, PricedLine, StatusChange};
use crate::domain::order_request::Quantity;
use crate::domain::page::PageRequest;
use crate::domain::payment::RefundState;
use crate::domain::{ProductId, UserId};
use sea_query::{
    Alias, BinOper, CommonTableExpression, Expr, ExprTrait, InsertStatement, LockBehavior,
    LockType, Order as Direction, Query, SelectStatement, WithClause,
};

impl Record for Order {
    type Column = Orders;
    const COLUMNS: &'static [Orders] = &[
        Orders::Id,
        Orders::UserId,
        Orders::TotalAmount,
        Orders::Status,
        Orders::CreatedAt,
        Orders::RequestId,
    ];

    /// Without its items ([`with_items`] adds them).
    fn read(row: Row<'_>) -> Result<Self, StoreError> {
        Ok(Order {
            id: row.int(Orders::Id)?,
            user_id: UserId::new(row.int(Orders::UserId)?)
                .ok_or(StoreError::Malformed("orders.user_id"))?,
            total: row.money(Orders::TotalAmount)?,
            status: OrderStatus::parse(row.text(Orders::Status)?)
                .ok_or(StoreError::Malformed("orders.status"))?,
            created_at: row.time(Orders::CreatedAt)?,
            request_id: row.opt_text(Orders::RequestId)?.map(str::to_owned),
            lines: Vec::new(),
        })
    }
}

/// An item, with its order's id.
struct Item {
    order_id: i64,
    line: PricedLine,
}

impl Record for Item {
    type Column = OrderItems;
    const COLUMNS: &'static [OrderItems] = &[
        OrderItems::OrderId,
        OrderItems::ProductId,
        OrderItems::Quantity,
        OrderItems::Price,
    ];

    fn read(row: Row<'_>) -> Result<Self, StoreError> {
        let bad = || StoreError::Malformed("order_items row");
        Ok(Item {
            order_id: row.int(OrderItems::OrderId)?,
            line: PricedLine {
                product_id: ProductId::new(row.int(OrderItems::ProductId)?).ok_or_else(bad)?,
                quantity: Quantity::new(row.int(OrderItems::Quantity)?).ok_or_else(bad)?,
                unit_price: row.money(OrderItems::Price)?,
            },
        })
    }
}

/// A timeline entry: a status change, with its shipment's carrier and
/// reference (from the fulfilment update that made it).
impl Record for StatusChange {
    type Column = OrderStatusChanges;
    const COLUMNS: &'static [OrderStatusChanges] = &[
        OrderStatusChanges::Status,
        OrderStatusChanges::Source,
        OrderStatusChanges::ChangedAt,
    ];

    fn read(row: Row<'_>) -> Result<Self, StoreError> {
        let bad = || StoreError::Malformed("order_status_changes row");
        let shipment = match (
            row.opt_text(FulfilmentEvents::Carrier)?,
            row.opt_text(FulfilmentEvents::TrackingReference)?,
        ) {
            (Some(carrier), Some(tracking)) => Some((carrier.to_owned(), tracking.to_owned())),
            _ => None,
        };
        Ok(StatusChange {
            status: OrderStatus::parse(row.text(OrderStatusChanges::Status)?).ok_or_else(bad)?,
            source: ChangeSource::parse(row.text(OrderStatusChanges::Source)?).ok_or_else(bad)?,
            at: row.time(OrderStatusChanges::ChangedAt)?,
            shipment,
        })
    }
}

/// `SELECT` of [`Order::COLUMNS`] from orders.
fn select_orders() -> SelectStatement {
    Query::select()
        .columns(Order::COLUMNS.iter().copied())
        .from(Orders::Table)
        .to_owned()
}

/// The keyset query of a page, newest first: the filter's user (or
/// everyone), statuses and created-at range, before the cursor's id, one
/// row more than the page to tell whether more follow. Public for the
/// contract suite's query plans.
pub fn page_query(dialect: Dialect, page: &PageRequest) -> SelectStatement {
    let filter = &page.filter;
    let mut query = select_orders();
    query.and_where(Expr::col(Orders::Id).lt(page.before_id.unwrap_or(i64::MAX)));
    if let Some(user) = filter.user {
        query.and_where(Expr::col(Orders::UserId).eq(user.get()));
    }
    if let Some(from) = &filter.created_from {
        query.and_where(Expr::col(Orders::CreatedAt).gte(dialect.time(from)));
    }
    if let Some(before) = &filter.created_before {
        query.and_where(Expr::col(Orders::CreatedAt).lt(dialect.time(before)));
    }
    if !filter.statuses.is_empty() {
        let statuses = filter.statuses.iter().map(|status| status.as_str());
        // A user's orders are few: their index serves the page and the
        // statuses only filter it. `status || ''` keeps SQLite, which has no
        // statistics, from walking the status index instead (every user's
        // orders of that status); PostgreSQL would not use it either.
        // Everyone's orders of some statuses: the status index.
        let status = match filter.user {
            Some(_) => Expr::col(Orders::Status).binary(BinOper::Custom("||"), Expr::val("")),
            None => Expr::col(Orders::Status),
        };
        query.and_where(status.is_in(statuses));
    }
    query
        .order_by(Orders::Id, Direction::Desc)
        .limit(u64::from(page.limit) + 1)
        .to_owned()
}

/// One order of one user.
pub fn own_order_query(user: UserId, id: i64) -> SelectStatement {
    select_orders()
        .and_where(Expr::col(Orders::Id).eq(id))
        .and_where(Expr::col(Orders::UserId).eq(user.get()))
        .to_owned()
}

/// Orders waiting for payment created more than `deadline_seconds` ago,
/// oldest first: through `orders_by_status` (status, id), since ids are
/// handed out in creation order (public for the contract suite's plans).
pub fn expirable_query(d: Dialect, deadline_seconds: u64) -> SelectStatement {
    select_orders()
        .and_where(Expr::col(Orders::Status).eq(OrderStatus::Created.as_str()))
        .and_where(
            Expr::col(Orders::CreatedAt).lt(d.now_plus(-clock::signed_seconds(deadline_seconds))),
        )
        .order_by(Orders::Id, Direction::Asc)
        .to_owned()
}

/// Whether the oldest order waiting for payment is older than
/// `deadline_seconds` and no expiry pass started in the last
/// `pace_seconds`: one row through `orders_by_status` and one key read,
/// none when no order waits (public for the contract suite's plans).
pub fn expiry_due_query(d: Dialect, deadline_seconds: u64, pace_seconds: u64) -> SelectStatement {
    let recent_pass = Query::select()
        .expr(Expr::cust("1"))
        .from(BackgroundPasses::Table)
        .and_where(Expr::col(BackgroundPasses::Name).eq(EXPIRY_PASS))
        .and_where(
            Expr::col(BackgroundPasses::StartedAt)
                .gt(d.now_plus(-clock::signed_seconds(pace_seconds))),
        )
        .to_owned();
    Query::select()
        .expr_as(
            Expr::col(Orders::CreatedAt)
                .lt(d.now_plus(-clock::signed_seconds(deadline_seconds)))
                .and(Expr::exists(recent_pass).not()),
            EXPIRY_DUE,
        )
        .from(Orders::Table)
        .and_where(Expr::col(Orders::Status).eq(OrderStatus::Created.as_str()))
        .order_by(Orders::Id, Direction::Asc)
        .limit(1)
        .to_owned()
}

const EXPIRY_DUE: &str = "expiry_due";
/// The expiry pass's row in `background_passes`.
const EXPIRY_PASS: &str = "expiry";

/// The items of `orders`, in their order.
pub fn items_query(orders: &[i64]) -> SelectStatement {
    Query::select()
        .columns(Item::COLUMNS.iter().copied())
        .from(OrderItems::Table)
        .and_where(Expr::col(OrderItems::OrderId).is_in(orders.iter().copied()))
        .order_by(OrderItems::Id, Direction::Asc)
        .to_owned()
}

impl Store {
    /// `user`'s order `id`, or `None` (also when it is someone else's).
    pub fn order(&self, user: UserId, id: i64) -> Result<Option<Order>, StoreError> {
        Ok(with_items(self, &own_order_query(user, id))?.pop())
    }

    /// The page of orders `page` asks for (its filter's user's, or
    /// everyone's), newest first, and whether more follow.
    pub fn list_orders(&self, page: &PageRequest) -> Result<(Vec<Order>, bool), StoreError> {
        let mut orders = with_items(self, &page_query(self.dialect(), page))?;
        let more = orders.len() > page.limit as usize;
        orders.truncate(page.limit as usize);
        Ok((orders, more))
    }

    /// Order `id`'s history: its status changes after CREATED, oldest
    /// first, and where its refund stands (the order's answer shows both).
    pub fn history(&self, id: i64) -> Result<(Vec<StatusChange>, RefundState), StoreError> {
        let changes = Query::select()
            .columns(
                StatusChange::COLUMNS
                    .iter()
                    .map(|column| (OrderStatusChanges::Table, *column)),
            )
            .columns([
                (FulfilmentEvents::Table, FulfilmentEvents::Carrier),
                (FulfilmentEvents::Table, FulfilmentEvents::TrackingReference),
            ])
            .from(OrderStatusChanges::Table)
            .left_join(
                FulfilmentEvents::Table,
                Expr::col((OrderStatusChanges::Table, OrderStatusChanges::Source))
                    .eq(ChangeSource::Fulfilment.as_str())
                    .and(
                        Expr::col((FulfilmentEvents::Table, FulfilmentEvents::EventId))
                            .equals((OrderStatusChanges::Table, OrderStatusChanges::Reference)),
                    ),
            )
            .and_where(Expr::col((OrderStatusChanges::Table, OrderStatusChanges::OrderId)).eq(id))
            .order_by(
                (OrderStatusChanges::Table, OrderStatusChanges::Id),
                Direction::Asc,
            )
            .to_owned();
        let changes = StatusChange::read_all(&self.rows(&changes)?)?;
        // Whether the payment of a paid order its owner cancelled was
        // refunded (no row: nothing owed).
        let refund = Query::select()
            .expr_as(
                Expr::col(Payments::RefundedAt).is_not_null(),
                Payments::RefundedAt,
            )
            .from(Payments::Table)
            .and_where(Expr::col(Payments::OrderId).eq(id))
            .and_where(Expr::col(Payments::RefundRequiredAt).is_not_null())
            .to_owned();
        let refund = match self.rows(&refund)?.first() {
            None => RefundState::NotOwed,
            Some(row) if row.flag(Payments::RefundedAt)? => RefundState::Refunded,
            Some(_) => RefundState::Owed,
        };
        Ok((changes, refund))
    }

    /// The create: closes the reservation intent (nothing is written when
    /// it is gone: the reconciler took it over, [`StoreError::LeaseLost`]),
    /// writes the order and its items, records the order as the
    /// Idempotency-Key's outcome and records its `order.created` event, in
    /// one transaction; the order's id and creation time.
    ///
    /// One statement on each backend, so SQLite's write lock is held for no
    /// host round trip and PostgreSQL's create is one round trip and one
    /// commit: on SQLite a row of `order_submissions`, whose trigger
    /// (migration 0016) writes the rest, its id (SQLite's AUTOINCREMENT)
    /// the order's; on PostgreSQL data-modifying CTEs, each reading the one
    /// before it.
    pub async fn insert_order(&self, new: &NewOrder<'_>) -> Result<(i64, String), StoreError> {
        match self.dialect() {
            Dialect::Sqlite => {
                let (sql, values) = self.dialect().build(&submission(new)?);
                let rows = match self.retry_busy(|| self.conn.query(&sql, &values)).await {
                    // The trigger's own refusal (migration 0016).
                    Err(StoreError::Refused(failure)) if failure.detail.contains(LEASE_LOST) => {
                        return Err(StoreError::LeaseLost)
                    }
                    other => other?,
                };
                let row = rows
                    .first()
                    .ok_or(StoreError::Malformed("INSERT … RETURNING gave no row"))?;
                Ok((
                    row.int(OrderSubmissions::Id)?,
                    row.time(OrderSubmissions::CreatedAt)?,
                ))
            }
            Dialect::Postgres => {
                self.ensure_schema()?;
                let (sql, values) = self.dialect().build(&create_in_one_statement(new));
                let rows = self
                    .retry_busy(|| self.conn.query_one_row(&sql, &values))
                    .await?;
                let row = rows
                    .first()
                    .ok_or(StoreError::Malformed("the create answered no row"))?;
                // The follow-up's "anything due?", answered here too.
                self.due_known
                    .set(Some(row.flag(super::reconciliation::DUE)?));
                match row.opt_int(Orders::Id)? {
                    Some(id) => Ok((id, row.time(Orders::CreatedAt)?)),
                    None => Err(StoreError::LeaseLost),
                }
            }
        }
    }
}

impl Store {
    /// Whether an order waits past its payment deadline (see
    /// [`expiry_due_query`]).
    pub fn expiry_due(&self, deadline_seconds: u64, pace_seconds: u64) -> Result<bool, StoreError> {
        let query = expiry_due_query(self.dialect(), deadline_seconds, pace_seconds);
        match self.rows(&query)?.first() {
            Some(row) => row.flag(EXPIRY_DUE),
            None => Ok(false),
        }
    }

    /// True when this request may start an expiry pass now: none started
    /// in the last `pace_seconds` (by any instance). One statement, so two
    /// requests asking at once get one yes.
    pub async fn claim_expiry_pass(&self, pace_seconds: u64) -> Result<bool, StoreError> {
        let claim = super::claim_once_per(
            self.dialect(),
            (
                BackgroundPasses::Table,
                BackgroundPasses::Name,
                BackgroundPasses::StartedAt,
            ),
            EXPIRY_PASS,
            pace_seconds,
        );
        Ok(!self.write_rows(&claim).await?.is_empty())
    }
}

impl Tx<'_> {
    /// Up to `limit` orders past their payment deadline
    /// ([`expirable_query`]), locked until the transaction ends. On
    /// PostgreSQL an order another transaction holds is skipped: another
    /// instance is expiring it, or a payment or a cancel is deciding it
    /// (whichever commits first wins; the other finds the new status).
    pub fn lock_expirable_orders(
        &self,
        deadline_seconds: u64,
        limit: u32,
    ) -> Result<Vec<Order>, StoreError> {
        let query = expirable_query(self.dialect(), deadline_seconds)
            .limit(u64::from(limit))
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .to_owned();
        with_items(self, &query)
    }

    /// Order `id` (anyone's: a peer service's update names it), locked
    /// until the transaction ends.
    pub fn lock_order(&self, id: i64) -> Result<Option<Order>, StoreError> {
        let query = select_orders()
            .and_where(Expr::col(Orders::Id).eq(id))
            .lock(LockType::Update)
            .to_owned();
        Ok(with_items(self, &query)?.pop())
    }

    /// `user`'s order `id`, locked until the transaction ends; `None` when
    /// there is none (someone else's is as good as missing).
    pub fn lock_own_order(&self, user: UserId, id: i64) -> Result<Option<Order>, StoreError> {
        let query = own_order_query(user, id).lock(LockType::Update).to_owned();
        Ok(with_items(self, &query)?.pop())
    }

    /// The key order `id`'s lines were reserved under (SPEC §4's
    /// reservation ids); `None` for an order placed before they existed.
    pub fn reservation_key(&self, id: i64) -> Result<Option<String>, StoreError> {
        let query = Query::select()
            .column(Orders::ReservationKey)
            .from(Orders::Table)
            .and_where(Expr::col(Orders::Id).eq(id))
            .to_owned();
        let rows = self.rows(&query)?;
        match rows.first() {
            Some(row) => Ok(row.opt_text(Orders::ReservationKey)?.map(str::to_owned)),
            None => Ok(None),
        }
    }

    /// Moves order `id` from `from` to `to`, and records the change in its
    /// timeline with who made it and what (`reference`: the payment or
    /// fulfilment event id). Guarded by `from` as well as by the lock: an
    /// order found otherwise is [`StoreError::Malformed`].
    pub fn set_status(
        &self,
        id: i64,
        (from, to): (OrderStatus, OrderStatus),
        source: ChangeSource,
        reference: Option<&str>,
    ) -> Result<(), StoreError> {
        let d = self.dialect();
        let update = Query::update()
            .table(Orders::Table)
            .value(Orders::Status, to.as_str())
            .value(Orders::UpdatedAt, d.now())
            .and_where(Expr::col(Orders::Id).eq(id))
            .and_where(Expr::col(Orders::Status).eq(from.as_str()))
            .returning_col(Orders::Id)
            .to_owned();
        if self.rows(&update)?.len() != 1 {
            return Err(StoreError::Malformed("order changed under its lock"));
        }
        let change = Query::insert()
            .into_table(OrderStatusChanges::Table)
            .columns([
                OrderStatusChanges::OrderId,
                OrderStatusChanges::Status,
                OrderStatusChanges::Source,
                OrderStatusChanges::Reference,
                OrderStatusChanges::ChangedAt,
            ])
            .values_panic([
                id.into(),
                to.as_str().into(),
                source.as_str().into(),
                reference.map(str::to_owned).into(),
                d.now(),
            ])
            .to_owned();
        self.exec(&change)
    }
}

/// The orders `query` finds, with their items read in one more statement.
fn with_items(on: &impl Run, query: &SelectStatement) -> Result<Vec<Order>, StoreError> {
    let mut orders = Order::read_all(&on.rows(query)?)?;
    if orders.is_empty() {
        return Ok(orders);
    }
    let ids: Vec<i64> = orders.iter().map(|order| order.id).collect();
    for item in Item::read_all(&on.rows(&items_query(&ids))?)? {
        if let Some(order) = orders.iter_mut().find(|o| o.id == item.order_id) {
            order.lines.push(item.line);
        }
    }
    Ok(orders)
}

// --- the create's statements, shared by both dialects ------------------

/// The columns a new order is written with.
const ORDER_WRITTEN: [Orders; 7] = [
    Orders::UserId,
    Orders::TotalAmount,
    Orders::Status,
    Orders::ReservationKey,
    Orders::RequestId,
    Orders::CreatedAt,
    Orders::UpdatedAt,
];

/// The new order's row, selected from its intent in `intents` (the table,
/// or on PostgreSQL the CTE that deleted it): no row when it is gone.
fn order_from(
    d: Dialect,
    new: &NewOrder<'_>,
    intents: impl sea_query::IntoIden,
) -> SelectStatement {
    Query::select()
        .expr(d.typed(Expr::val(new.user.get()), "bigint"))
        .expr(d.typed(super::money(new.order.total), "numeric"))
        .expr(d.typed(Expr::val(new.status.as_str()), "text"))
        .column(StockIntents::ReservationKey)
        .column(StockIntents::RequestId)
        .expr(d.now())
        .expr(d.now())
        .from(intents)
        .and_where(Expr::col(StockIntents::Id).eq(new.intent.0))
        .to_owned()
}

fn close_intent(new: &NewOrder<'_>) -> sea_query::DeleteStatement {
    Query::delete()
        .from_table(StockIntents::Table)
        .and_where(Expr::col(StockIntents::Id).eq(new.intent.0))
        .to_owned()
}

/// The columns an item is written with.
const ITEM_WRITTEN: [OrderItems; 4] = [
    OrderItems::OrderId,
    OrderItems::ProductId,
    OrderItems::Quantity,
    OrderItems::Price,
];

/// The Idempotency-Key's outcome: this order (only while this request
/// holds the key).
fn key_done(key: super::OwnedKey<'_>, order_id: Expr) -> sea_query::UpdateStatement {
    Query::update()
        .table(IdempotencyKeys::Table)
        .value(IdempotencyKeys::State, "done")
        .value(IdempotencyKeys::Body, Expr::val(None::<String>))
        .value(IdempotencyKeys::OrderId, order_id)
        .and_where(Expr::col(IdempotencyKeys::UserId).eq(key.user.get()))
        .and_where(Expr::col(IdempotencyKeys::Key).eq(key.key.as_str()))
        .and_where(Expr::col(IdempotencyKeys::State).eq("in_flight"))
        .to_owned()
}

/// The columns an event is written with.
const EVENT_WRITTEN: [Events; 7] = [
    Events::EventId,
    Events::OrderId,
    Events::Seq,
    Events::Type,
    Events::Payload,
    Events::Traceparent,
    Events::CreatedAt,
];

/// `order.created`, the order's first event.
fn event_values(new: &NewOrder<'_>, order_id: Expr, payload: Expr, at: Expr) -> [Expr; 7] {
    [
        Expr::val(new.created.event_id.clone()),
        order_id,
        Expr::val(1_i64),
        Expr::val(new.created.kind),
        payload,
        Expr::val(new.created.traceparent.clone()),
        at,
    ]
}

/// The message of the submission trigger's `RAISE` when the intent is gone.
const LEASE_LOST: &str = "stock intent lease lost";

/// The create on SQLite: the order as a row of `order_submissions`, whose
/// trigger closes the intent (or raises [`LEASE_LOST`]), writes the order
/// and its items, completes the key and records the event.
fn submission(new: &NewOrder<'_>) -> Result<InsertStatement, StoreError> {
    let d = Dialect::Sqlite;
    let items: Vec<(i64, u32, String)> = new
        .order
        .lines
        .iter()
        .map(|line| {
            (
                line.product_id.get(),
                line.quantity.get(),
                line.unit_price.to_string(),
            )
        })
        .collect();
    Ok(Query::insert()
        .into_table(OrderSubmissions::Table)
        .columns([
            OrderSubmissions::IntentId,
            OrderSubmissions::UserId,
            OrderSubmissions::TotalAmount,
            OrderSubmissions::Status,
            OrderSubmissions::Items,
            OrderSubmissions::Key,
            OrderSubmissions::EventId,
            OrderSubmissions::EventType,
            OrderSubmissions::EventPayload,
            OrderSubmissions::Traceparent,
            OrderSubmissions::CreatedAt,
        ])
        .values_panic([
            new.intent.0.into(),
            new.user.get().into(),
            super::money(new.order.total),
            new.status.as_str().into(),
            serde_json::to_string(&items)?.into(),
            new.key.map(|key| key.key.as_str().to_owned()).into(),
            new.created.event_id.clone().into(),
            new.created.kind.into(),
            new.created.payload.clone().into(),
            new.created.traceparent.clone().into(),
            d.now(),
        ])
        .returning(Query::returning().columns([OrderSubmissions::Id, OrderSubmissions::CreatedAt]))
        .to_owned())
}

/// The create on PostgreSQL, one statement: every write reads the intent's
/// `DELETE … RETURNING` (`intent`), so nothing is written when it is gone;
/// the order's id and time come from its `INSERT … RETURNING` (`o`), and
/// the event's payload gets them with `jsonb_set`. It answers exactly one
/// row: the order's id and time, or NULLs; and whether reconciliation is
/// due (what the follow-up asks next).
fn create_in_one_statement(new: &NewOrder<'_>) -> sea_query::WithQuery {
    let d = Dialect::Postgres;
    let intent = Alias::new("intent");
    let order = Alias::new("o");
    let order_column = |column: Orders| Expr::col((order.clone(), column));
    let deleted = close_intent(new)
        .returning(Query::returning().columns([
            StockIntents::Id,
            StockIntents::ReservationKey,
            StockIntents::RequestId,
        ]))
        .to_owned();
    let inserted = Query::insert()
        .into_table(Orders::Table)
        .columns(ORDER_WRITTEN)
        .select_from(order_from(d, new, intent))
        .expect("as many values as columns")
        .returning(Query::returning().columns([Orders::Id, Orders::CreatedAt]))
        .to_owned();
    // One `SELECT … FROM o` per line: nothing when there is no order.
    let mut lines = new.order.lines.iter().map(|line| {
        Query::select()
            .expr(order_column(Orders::Id))
            .expr(d.typed(Expr::val(line.product_id.get()), "bigint"))
            .expr(d.typed(super::quantity(line.quantity.get()), "integer"))
            .expr(d.typed(super::money(line.unit_price), "numeric"))
            .from(order.clone())
            .to_owned()
    });
    let mut all_lines = lines.next().expect("an order has a line");
    for line in lines {
        all_lines.union(sea_query::UnionType::All, line);
    }
    let items = Query::insert()
        .into_table(OrderItems::Table)
        .columns(ITEM_WRITTEN)
        .select_from(all_lines)
        .expect("as many values as columns")
        .to_owned();
    let mut with = WithClause::new();
    with.cte(cte("intent", deleted.into()))
        .cte(cte("o", inserted.into()))
        .cte(cte("items", items.into()));
    if let Some(key) = new.key {
        let order_id = Query::select()
            .column(Orders::Id)
            .from(order.clone())
            .to_owned();
        let done = key_done(key, Expr::SubQuery(None, Box::new(order_id.clone().into())))
            .and_where(Expr::exists(order_id))
            .to_owned();
        with.cte(cte("k", done.into()));
    }
    let payload = Expr::cust_with_exprs(
        "CAST(jsonb_set(jsonb_set(CAST(CAST($1 AS text) AS jsonb), '{id}', to_jsonb($2)), '{created_at}', \
         to_jsonb(to_char($3, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))) AS text)",
        [
            Expr::val(new.created.payload.clone()),
            order_column(Orders::Id),
            order_column(Orders::CreatedAt),
        ],
    );
    let event = Query::insert()
        .into_table(Events::Table)
        .columns(EVENT_WRITTEN)
        .select_from(
            Query::select()
                .exprs(event_values(
                    new,
                    order_column(Orders::Id),
                    payload,
                    order_column(Orders::CreatedAt),
                ))
                .from(order.clone())
                .to_owned(),
        )
        .expect("as many values as columns")
        .to_owned();
    with.cte(cte("e", event.into()));
    Query::select()
        .column((order.clone(), Orders::Id))
        .column((order.clone(), Orders::CreatedAt))
        .expr_as(super::reconciliation::due(d), super::reconciliation::DUE)
        .from_subquery(
            Query::select().expr(Expr::cust("1")).to_owned(),
            Alias::new("one"),
        )
        .left_join(order, Expr::cust("TRUE"))
        .to_owned()
        .with(with)
}

fn cte(name: &'static str, query: sea_query::SubQueryStatement) -> CommonTableExpression {
    CommonTableExpression::new()
        .query(query)
        .table_name(Alias::new(name))
        .to_owned()
}
