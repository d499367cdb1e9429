//! Orders: status, and pricing from Catalog price snapshots.

use super::money::Money;
use super::order_request::{OrderLine, Quantity};
use super::payment::{PaymentRefusal, RefundState};
use super::{ProductId, UserId};

/// The life of an order (SPEC §5), stored as its upper-case name. Every
/// status rule lives here: handlers and storage ask, they do not decide.
///
/// ```text
/// CREATED ──cancel──▶ CANCELLED ──cancel──▶ CANCELLED (nothing released again)
///    └──pay (amount = total)──▶ PAID ──ship──▶ SHIPPED ──deliver──▶ DELIVERED
///                                 └──cancel──▶ CANCELLED, its refund owed
/// CREATED ──payment deadline passed (the system)──▶ EXPIRED, stock released
/// SHIPPED, DELIVERED, EXPIRED ──cancel──▶ refused (409)
/// anything but CREATED ──pay──▶ refused, recorded for a refund
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Created,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
    /// Not paid within `payment_deadline_seconds` (SPEC §3 "Stock nobody
    /// pays for"); terminal, its stock given back.
    Expired,
}

/// Who moved an order to a status: shown in its timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeSource {
    /// The owner (placing or cancelling it).
    Customer,
    /// The Payment Service's confirmation.
    Payment,
    /// The Fulfilment Service's update.
    Fulfilment,
    /// An operator, by hand.
    Operator,
    /// The service itself: an order whose payment deadline passed.
    System,
}

impl ChangeSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeSource::Customer => "customer",
            ChangeSource::Payment => "payment",
            ChangeSource::Fulfilment => "fulfilment",
            ChangeSource::Operator => "operator",
            ChangeSource::System => "system",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "customer" => Some(ChangeSource::Customer),
            "payment" => Some(ChangeSource::Payment),
            "fulfilment" => Some(ChangeSource::Fulfilment),
            "operator" => Some(ChangeSource::Operator),
            "system" => Some(ChangeSource::System),
            _ => None,
        }
    }
}

/// One entry of an order's timeline: a status it reached, when, and who
/// moved it there (with the carrier's reference for a shipment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub status: OrderStatus,
    pub source: ChangeSource,
    pub at: String,
    /// `(carrier, tracking reference)` of a shipment.
    pub shipment: Option<(String, String)>,
}

/// What the single-order answer adds to the order (SPEC §3): its timeline
/// and where its refund stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderHistory {
    /// Every status the order reached, its creation first.
    pub timeline: Vec<StatusChange>,
    pub refund: RefundState,
}

impl OrderHistory {
    /// From the stored changes after CREATED: the order's creation (by its
    /// owner, at its `created_at`) comes first.
    pub fn new(order: &Order, changes: Vec<StatusChange>, refund: RefundState) -> Self {
        let created = StatusChange {
            status: OrderStatus::Created,
            source: ChangeSource::Customer,
            at: order.created_at.clone(),
            shipment: None,
        };
        Self {
            timeline: std::iter::once(created).chain(changes).collect(),
            refund,
        }
    }
}

/// What cancelling an order in a given status means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancellation {
    /// Becomes `CANCELLED`; its reserved stock goes back to the Catalog.
    ReleaseStock,
    /// A paid order (not shipped): as [`Cancellation::ReleaseStock`], and
    /// its payment is owed back (`payment.refund_required`, SPEC §3).
    ReleaseStockAndRefund,
    /// Already cancelled: answer as before, release nothing again.
    AlreadyCancelled,
}

/// A transition the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} an order that is {}", from.as_str())]
pub struct InvalidTransition {
    pub from: OrderStatus,
    pub action: &'static str,
}

impl OrderStatus {
    /// Every status, in the order of an order's life.
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Created,
        OrderStatus::Paid,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Created => "CREATED",
            OrderStatus::Paid => "PAID",
            OrderStatus::Shipped => "SHIPPED",
            OrderStatus::Delivered => "DELIVERED",
            OrderStatus::Cancelled => "CANCELLED",
            OrderStatus::Expired => "EXPIRED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "CREATED" => Some(OrderStatus::Created),
            "PAID" => Some(OrderStatus::Paid),
            "SHIPPED" => Some(OrderStatus::Shipped),
            "DELIVERED" => Some(OrderStatus::Delivered),
            "CANCELLED" => Some(OrderStatus::Cancelled),
            "EXPIRED" => Some(OrderStatus::Expired),
            _ => None,
        }
    }

    /// The cancel transition (SPEC §3): an unpaid order is cancelled, a
    /// paid one too with its refund owed (until it ships), and cancelling
    /// twice is harmless.
    pub fn cancel(self) -> Result<Cancellation, InvalidTransition> {
        match self {
            OrderStatus::Created => Ok(Cancellation::ReleaseStock),
            OrderStatus::Paid => Ok(Cancellation::ReleaseStockAndRefund),
            OrderStatus::Cancelled => Ok(Cancellation::AlreadyCancelled),
            OrderStatus::Shipped | OrderStatus::Delivered | OrderStatus::Expired => {
                Err(InvalidTransition {
                    from: self,
                    action: "cancel",
                })
            }
        }
    }

    /// The expiry (SPEC §3 "Stock nobody pays for"): only an order still
    /// waiting for its payment expires.
    pub fn expires(self) -> bool {
        self == OrderStatus::Created
    }

    /// The fulfilment transitions (SPEC §3 "Fulfilment and refunds"): a
    /// paid order ships, a shipped one is delivered; nothing else moves.
    pub fn fulfil(self, to: Fulfilment) -> Result<(), InvalidTransition> {
        match (self, to) {
            (OrderStatus::Paid, Fulfilment::Shipped)
            | (OrderStatus::Shipped, Fulfilment::Delivered) => Ok(()),
            (from, to) => Err(InvalidTransition {
                from,
                action: to.action(),
            }),
        }
    }
}

/// A step of the Fulfilment Service's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fulfilment {
    Shipped,
    Delivered,
}

impl Fulfilment {
    /// The status the step moves an order to.
    pub fn status(self) -> OrderStatus {
        match self {
            Fulfilment::Shipped => OrderStatus::Shipped,
            Fulfilment::Delivered => OrderStatus::Delivered,
        }
    }

    /// The verb a refusal names.
    fn action(self) -> &'static str {
        match self {
            Fulfilment::Shipped => "ship",
            Fulfilment::Delivered => "deliver",
        }
    }
}

impl OrderStatus {
    /// The pay transition (SPEC §3): a `CREATED` order whose total the
    /// payment matches exactly becomes `PAID`; anything else is refused.
    pub fn pay(self, amount: Money, total: Money) -> Result<(), PaymentRefusal> {
        match self {
            OrderStatus::Cancelled => Err(PaymentRefusal::OrderCancelled),
            OrderStatus::Expired => Err(PaymentRefusal::OrderExpired),
            OrderStatus::Paid | OrderStatus::Shipped | OrderStatus::Delivered => {
                Err(PaymentRefusal::AlreadyPaid)
            }
            OrderStatus::Created if amount != total => Err(PaymentRefusal::AmountMismatch),
            OrderStatus::Created => Ok(()),
        }
    }
}

/// One line of an order with the unit price the Catalog quoted for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PricedLine {
    pub product_id: ProductId,
    pub quantity: Quantity,
    pub unit_price: Money,
}

/// An order ready to be stored: lines with price snapshots and their total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedOrder {
    pub lines: Vec<PricedLine>,
    pub total: Money,
}

/// The order total would exceed what an amount can hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("order total is too large")]
pub struct TotalTooLarge;

impl PricedOrder {
    /// Prices every line with `unit_price` and sums `price × quantity` exactly.
    pub fn new(
        lines: &[OrderLine],
        unit_price: impl Fn(ProductId) -> Money,
    ) -> Result<Self, TotalTooLarge> {
        let mut total = Money::ZERO;
        let mut priced = Vec::with_capacity(lines.len());
        for line in lines {
            let price = unit_price(line.product_id);
            let subtotal = price.times(line.quantity.get()).ok_or(TotalTooLarge)?;
            total = total.plus(subtotal).ok_or(TotalTooLarge)?;
            priced.push(PricedLine {
                product_id: line.product_id,
                quantity: line.quantity,
                unit_price: price,
            });
        }
        Ok(Self {
            lines: priced,
            total,
        })
    }

    /// The order as `request_id` is about to write it for `user`:
    /// `CREATED`, with the two fields the database assigns (`id`,
    /// `created_at`) still empty.
    pub fn unsaved(&self, user: UserId, request_id: &str) -> Order {
        Order {
            id: 0,
            user_id: user,
            status: OrderStatus::Created,
            total: self.total,
            created_at: String::new(),
            request_id: Some(request_id.to_owned()),
            lines: self.lines.clone(),
        }
    }
}

/// Why an order was refused once the Catalog was asked: the outcomes an
/// Idempotency-Key keeps (SPEC §3), besides a created order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown or inactive at the Catalog.
    ProductNotFound(ProductId),
    InsufficientStock(ProductId),
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::ProductNotFound(_) => "product_not_found",
            Refusal::InsufficientStock(_) => "insufficient_stock",
        }
    }

    pub fn product_id(self) -> ProductId {
        match self {
            Refusal::ProductNotFound(id) | Refusal::InsufficientStock(id) => id,
        }
    }

    /// The refusal [`Refusal::code`] names, for `product`.
    pub fn from_code(code: &str, product: ProductId) -> Option<Self> {
        match code {
            "product_not_found" => Some(Refusal::ProductNotFound(product)),
            "insufficient_stock" => Some(Refusal::InsufficientStock(product)),
            _ => None,
        }
    }
}

/// An order as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: i64,
    pub user_id: UserId,
    pub status: OrderStatus,
    pub total: Money,
    pub created_at: String,
    /// The X-Request-ID of the request that created it; `None` for an
    /// order created before it was kept.
    pub request_id: Option<String>,
    pub lines: Vec<PricedLine>,
}

impl Order {
    /// The order as the service shows it to everyone (SPEC §3 body, the
    /// `order.created` event): money as strings with two places.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "user_id": self.user_id.get(),
            "total_amount": self.total.to_string(),
            "status": self.status.as_str(),
            "created_at": self.created_at,
            "request_id": self.request_id,
            "items": self.lines.iter().map(|line| serde_json::json!({
                "product_id": line.product_id.get(),
                "quantity": line.quantity.get(),
                "price": line.unit_price.to_string(),
            })).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unpaid_order_with_the_exact_total_becomes_paid() {
        let total = Money::parse("19.99").unwrap();
        let money = |t: &str| Money::parse(t).unwrap();
        assert_eq!(OrderStatus::Created.pay(money("19.99"), total), Ok(()));
        assert_eq!(OrderStatus::Created.pay(money("19.990"), total), Ok(()));
        assert_eq!(
            OrderStatus::Created.pay(money("19.98"), total),
            Err(PaymentRefusal::AmountMismatch)
        );
        assert_eq!(
            OrderStatus::Cancelled.pay(total, total),
            Err(PaymentRefusal::OrderCancelled)
        );
        assert_eq!(
            OrderStatus::Paid.pay(total, total),
            Err(PaymentRefusal::AlreadyPaid)
        );
    }

    fn line(product: i64, quantity: i64) -> OrderLine {
        OrderLine {
            product_id: ProductId::new(product).unwrap(),
            quantity: Quantity::new(quantity).unwrap(),
        }
    }

    #[test]
    fn cancelling_releases_stock_once_and_a_paid_order_owes_its_refund() {
        assert_eq!(
            OrderStatus::Created.cancel(),
            Ok(Cancellation::ReleaseStock)
        );
        assert_eq!(
            OrderStatus::Paid.cancel(),
            Ok(Cancellation::ReleaseStockAndRefund)
        );
        assert_eq!(
            OrderStatus::Cancelled.cancel(),
            Ok(Cancellation::AlreadyCancelled)
        );
        for shipped in [OrderStatus::Shipped, OrderStatus::Delivered] {
            assert_eq!(
                shipped.cancel(),
                Err(InvalidTransition {
                    from: shipped,
                    action: "cancel"
                })
            );
        }
    }

    #[test]
    fn only_a_paid_order_ships_and_only_a_shipped_one_is_delivered() {
        for from in OrderStatus::ALL {
            let ships = from.fulfil(Fulfilment::Shipped);
            let delivered = from.fulfil(Fulfilment::Delivered);
            assert_eq!(ships.is_ok(), from == OrderStatus::Paid, "{from:?}");
            assert_eq!(delivered.is_ok(), from == OrderStatus::Shipped, "{from:?}");
        }
        assert_eq!(
            OrderStatus::Created.fulfil(Fulfilment::Delivered),
            Err(InvalidTransition {
                from: OrderStatus::Created,
                action: "deliver"
            })
        );
        assert_eq!(
            OrderStatus::Shipped.pay(Money::ZERO, Money::ZERO),
            Err(PaymentRefusal::AlreadyPaid)
        );
    }

    #[test]
    fn statuses_round_trip_through_their_stored_names() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
        }
        for source in [
            ChangeSource::Customer,
            ChangeSource::Payment,
            ChangeSource::Fulfilment,
            ChangeSource::Operator,
        ] {
            assert_eq!(ChangeSource::parse(source.as_str()), Some(source));
        }
        assert_eq!(OrderStatus::parse("created"), None);
    }

    #[test]
    fn total_is_the_exact_sum_of_price_times_quantity() {
        let prices = |id: ProductId| match id.get() {
            1 => Money::parse("999.99").unwrap(),
            _ => Money::parse("0.10").unwrap(),
        };
        let order = PricedOrder::new(&[line(1, 2), line(2, 3)], prices).unwrap();
        assert_eq!(order.total.to_string(), "2000.28");
        assert_eq!(order.lines[0].unit_price.to_string(), "999.99");
        assert_eq!(order.lines[1].quantity.get(), 3);

        let unsaved = order.unsaved(UserId::new(42).unwrap(), "request-1");
        assert_eq!((unsaved.id, unsaved.status), (0, OrderStatus::Created));
        assert_eq!(unsaved.user_id.get(), 42);
        assert_eq!(unsaved.total, order.total);
        assert_eq!(unsaved.lines, order.lines);
        assert_eq!(unsaved.created_at, "", "the database assigns it");
        assert_eq!(unsaved.request_id.as_deref(), Some("request-1"));
    }

    #[test]
    fn an_absurd_total_is_an_error_not_a_wrap() {
        let price = |_| Money::parse("100000000000000000").unwrap();
        assert_eq!(
            PricedOrder::new(&[line(1, 100_000)], price),
            Err(TotalTooLarge)
        );
    }
}
