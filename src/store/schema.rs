//! The tables and columns the statements name, as the migrations create
//! them (`migrations/sqlite`, `migrations/postgres`: the same names in
//! both). Statements and row readers use these, never strings, so a name
//! is written once and a typo does not compile.

use sea_query::Iden;

#[derive(Debug, Clone, Copy, Iden)]
pub enum Orders {
    Table,
    Id,
    UserId,
    TotalAmount,
    Status,
    CreatedAt,
    UpdatedAt,
    /// The key its lines were reserved under (SPEC §4's reservation ids).
    ReservationKey,
    /// The X-Request-ID of the request that created it.
    RequestId,
}

#[derive(Debug, Clone, Copy, Iden)]
pub enum OrderItems {
    Table,
    Id,
    OrderId,
    ProductId,
    Quantity,
    /// The unit price at order time.
    Price,
}

/// SQLite's create: one row per new order, written by one statement and
/// removed by its trigger, which writes the order (migration 0016).
#[derive(Debug, Clone, Copy, Iden)]
pub enum OrderSubmissions {
    Table,
    /// The new order's id (AUTOINCREMENT, after the orders' own counter).
    Id,
    IntentId,
    UserId,
    TotalAmount,
    Status,
    /// JSON `[[product_id, quantity, "price"], …]`.
    Items,
    Key,
    EventId,
    EventType,
    /// The order's JSON; its id and time are set by the trigger.
    EventPayload,
    Traceparent,
    CreatedAt,
}

/// An order's timeline: each status change after `CREATED`.
#[derive(Debug, Clone, Copy, Iden)]
pub enum OrderStatusChanges {
    Table,
    Id,
    OrderId,
    Status,
    Source,
    /// The payment or fulfilment event id that made it.
    Reference,
    ChangedAt,
}

/// Orders per status, kept by triggers for the metrics (in shards, so
/// concurrent writers rarely update one row).
#[derive(Debug, Clone, Copy, Iden)]
pub enum OrderStatusCounts {
    Table,
    Status,
    Shard,
    Orders,
}

/// "This request is about to reserve these units."
#[derive(Debug, Clone, Copy, Iden)]
pub enum StockIntents {
    Table,
    Id,
    UserId,
    RequestId,
    /// JSON pairs of product id and quantity.
    Items,
    ReservationKey,
    CreatedAt,
    LeaseUntil,
}

#[derive(Debug, Clone, Copy, Iden)]
pub enum IdempotencyKeys {
    Table,
    UserId,
    Key,
    /// The first request's body fingerprint.
    Fingerprint,
    /// `in_flight` or `done`.
    State,
    /// A refusal's stored response body.
    Body,
    /// A created order's id.
    OrderId,
    CreatedAt,
    LeaseUntil,
}

/// Stock owed back to the Catalog.
#[derive(Debug, Clone, Copy, Iden)]
pub enum PendingReleases {
    Table,
    Id,
    UserId,
    ProductId,
    Quantity,
    Reason,
    RequestId,
    OrderId,
    Attempts,
    LastError,
    /// The reservation id to name at the Catalog.
    Reservation,
    CreatedAt,
    NextAttemptAt,
    ClaimedUntil,
}

/// Pending releases an operator settled by hand: the audit.
#[derive(Debug, Clone, Copy, Iden)]
pub enum SettledReleases {
    Table,
    Id,
    UserId,
    ProductId,
    Quantity,
    OrderId,
    Reason,
    RequestId,
    Attempts,
    LastError,
    CreatedAt,
    Outcome,
    SettledBy,
    Note,
    SettledAt,
    Reservation,
}

#[derive(Debug, Clone, Copy, Iden)]
pub enum Payments {
    Table,
    PaymentId,
    OrderId,
    Amount,
    Currency,
    /// `paid` or `refund_required`.
    Outcome,
    /// Why it was refused (NULL when paid).
    Reason,
    CreatedAt,
    /// Set when its paid order was cancelled: owed back.
    RefundRequiredAt,
    RefundId,
    RefundedAt,
}

/// The order events' outbox.
#[derive(Debug, Clone, Copy, Iden)]
pub enum Events {
    Table,
    Id,
    EventId,
    OrderId,
    /// 1, 2, … per order.
    Seq,
    Type,
    Payload,
    Traceparent,
    CreatedAt,
    PublishedAt,
    ClaimedUntil,
}

#[derive(Debug, Clone, Copy, Iden)]
pub enum FulfilmentEvents {
    Table,
    EventId,
    OrderId,
    Status,
    Carrier,
    TrackingReference,
    CreatedAt,
}

/// PostgreSQL's applied migrations (SQLite's version is `user_version`).
#[derive(Debug, Clone, Copy, Iden)]
pub enum SchemaMigrations {
    Table,
    Version,
}

/// When each kind of background pass last started (the follow-ups' pace).
#[derive(Debug, Clone, Copy, Iden)]
pub enum BackgroundPasses {
    Table,
    Name,
    StartedAt,
}

/// The Auth Service's JWKS document, cached for every instance.
#[derive(Debug, Clone, Copy, Iden)]
pub enum JwksCache {
    Table,
    Url,
    Document,
    FetchedAt,
    AttemptedAt,
}
