//! What each primitive promises the workflows, on both databases.

use crate::{block_on, on_both, Backend, Fresh};
use order_service::domain::events::OrderEvent;
use order_service::domain::fulfilment::FulfilmentUpdate;
use order_service::domain::idempotency::IdempotencyKey;
use order_service::domain::money::Money;
use order_service::domain::order::{ChangeSource, Fulfilment, OrderStatus, PricedOrder};
use order_service::domain::order_request::{OrderLine, Quantity};
use order_service::domain::page::{OrderFilter, PageRequest};
use order_service::domain::payment::{PaymentConfirmation, PaymentRefusal, RefundState};
use order_service::domain::release::Settlement;
use order_service::domain::{ProductId, UserId};
use order_service::store::migrations;
use order_service::store::{
    NewIntent, NewOrder, NewReleases, OwnedKey, ReleaseClaim, Store, StoreError,
};
use std::time::Duration;

const TRACE: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

fn user(id: i64) -> UserId {
    UserId::new(id).unwrap()
}

fn lines(items: &[(i64, i64)]) -> Vec<OrderLine> {
    items
        .iter()
        .map(|(product, quantity)| OrderLine {
            product_id: ProductId::new(*product).unwrap(),
            quantity: Quantity::new(*quantity).unwrap(),
        })
        .collect()
}

/// Places an order of `items` at 12.50 each for `owner`, as the create
/// workflow does: intent, then the order's write; its id and time.
fn place(
    store: &Store,
    owner: i64,
    items: &[(i64, i64)],
    key: Option<&IdempotencyKey>,
) -> (i64, String) {
    let lines = lines(items);
    let intent =
        block_on(store.open_intent(user(owner), "request-1", &lines, "reservations-1", 120))
            .unwrap();
    let priced = PricedOrder::new(&lines, |_| Money::parse("12.50").unwrap()).unwrap();
    let created = OrderEvent::Created(priced.unsaved(user(owner), "request-1")).record(TRACE);
    let owned = key.map(|key| OwnedKey {
        user: user(owner),
        key,
    });
    block_on(store.insert_order(&NewOrder {
        user: user(owner),
        status: OrderStatus::Created,
        order: &priced,
        intent,
        key: owned,
        created: &created,
    }))
    .unwrap()
}

fn page(owner: Option<i64>, limit: u32) -> PageRequest {
    PageRequest {
        limit,
        before_id: None,
        filter: OrderFilter {
            user: owner.map(user),
            ..Default::default()
        },
    }
}

on_both!(
    a_new_database_is_migrated_once,
    an_order_is_written_with_its_items_key_and_event,
    a_create_whose_intent_was_taken_writes_nothing,
    pages_are_newest_first_and_filtered,
    the_order_lock_takes_the_owner_in_sql,
    a_status_change_is_guarded_and_kept_in_the_timeline,
    expired_intents_are_taken_once,
    unpaid_orders_count_created_orders_and_creates_in_flight,
    an_intent_within_the_cap_is_opened_only_below_it,
    orders_past_their_deadline_are_found_oldest_first,
    an_idempotency_key_is_claimed_once_and_settled,
    releases_are_claimed_by_one_request_and_settled_once,
    a_payment_is_recorded_once_and_refunded_once,
    a_fulfilment_update_is_recorded_once,
    events_are_claimed_in_sequence_per_order,
    a_jwks_refresh_is_claimed_once_per_cool_down,
    the_gauges_count_what_is_stored,
    amounts_and_times_read_back_exactly,
);

fn a_new_database_is_migrated_once(backend: Backend) {
    let fresh = Fresh::new(backend);
    // SQLite migrates when a request opens it; PostgreSQL with the first
    // statement that needs the schema.
    assert!(fresh.store.order(user(1), 1).unwrap().is_none());
    let latest = match backend {
        Backend::Sqlite => migrations::latest(migrations::SQLITE),
        Backend::Postgres => migrations::latest(migrations::POSTGRES),
    };
    assert_eq!(fresh.store.take_migrated_to(), Some(latest));
    let later = fresh.another();
    assert!(later.order(user(1), 1).unwrap().is_none());
    assert_eq!(later.take_migrated_to(), None, "nothing left to apply");
    // A create's first statement on a current schema (PostgreSQL: the
    // intent's insert checks the version itself) writes at once.
    let create = fresh.another();
    let (id, _) = place(&create, 1, &[(1, 1)], None);
    assert_eq!(create.take_migrated_to(), None);
    assert!(create.order(user(1), id).unwrap().is_some());
}

/// SQLite: a request's connection opening while another holds the file
/// exclusively (the last connection of a WAL database takes that lock to
/// checkpoint as it closes) waits for it like a writer, instead of
/// answering busy after the connection's 10 ms: CI met that as 503s on
/// sequential requests.
#[test]
fn a_store_opening_under_an_exclusive_lock_waits_for_it() {
    // Migrated, then closed: the holder's connection is the only one.
    let Fresh {
        store, location, ..
    } = Fresh::new(Backend::Sqlite);
    drop(store);
    let crate::Location::Sqlite(dir) = &location else {
        unreachable!()
    };
    let path = dir.path().join("db.sqlite3");
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder
        .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN IMMEDIATE; COMMIT;")
        .unwrap();
    let opening = rusqlite::Connection::open(&path).unwrap();
    opening.busy_timeout(Duration::ZERO).unwrap();
    assert!(
        opening
            .query_row("PRAGMA user_version", [], |_| Ok(()))
            .is_err(),
        "the holder keeps readers out"
    );
    drop(opening);
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(holder);
    });
    let started = std::time::Instant::now();
    let conn = crate::connections::NativeSqlite::open(&path);
    let later = block_on(Store::on(Box::new(conn))).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(later.order(user(1), 1).unwrap().is_none());
    release.join().unwrap();
}

fn an_order_is_written_with_its_items_key_and_event(backend: Backend) {
    let fresh = Fresh::new(backend);
    let store = &fresh.store;
    let key = IdempotencyKey::parse("checkout-1").unwrap();
    let owned = OwnedKey {
        user: user(42),
        key: &key,
    };
    assert!(block_on(store.write(|tx| tx.insert_key(owned, "fingerprint", 60))).unwrap());
    let (id, created_at) = place(store, 42, &[(1, 2), (3, 1)], Some(&key));

    let order = store.order(user(42), id).unwrap().unwrap();
    assert_eq!(order.created_at, created_at);
    assert_eq!(order.total.to_string(), "37.50");
    assert_eq!(order.status, OrderStatus::Created);
    let items: Vec<_> = order
        .lines
        .iter()
        .map(|l| {
            (
                l.product_id.get(),
                l.quantity.get(),
                l.unit_price.to_string(),
            )
        })
        .collect();
    assert_eq!(items, [(1, 2, "12.50".into()), (3, 1, "12.50".into())]);
    // The creating request's id, taken from its intent.
    assert_eq!(order.request_id.as_deref(), Some("request-1"));
    assert!(
        store.order(user(43), id).unwrap().is_none(),
        "never another user's"
    );

    // The key's outcome is the order.
    let stored = block_on(store.write(|tx| tx.lock_key(owned)))
        .unwrap()
        .unwrap();
    assert!(stored.done);
    assert_eq!(stored.order_id, Some(id));

    // Its event carries the order as stored.
    let events = block_on(store.claim_events(10, 30)).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].order_id, events[0].seq), (id, 1));
    assert_eq!(events[0].kind, "order.created");
    assert_eq!(events[0].traceparent.as_deref(), Some(TRACE));
    let payload: serde_json::Value = serde_json::from_str(&events[0].payload).unwrap();
    assert_eq!(payload["id"], id);
    assert_eq!(payload["created_at"], created_at.as_str());
    assert_eq!(payload["total_amount"], "37.50");
    // The intent is closed: nothing for the reconciler.
    assert!(block_on(store.write(|tx| tx.take_expired_intents(10)))
        .unwrap()
        .is_empty());
}

fn a_create_whose_intent_was_taken_writes_nothing(backend: Backend) {
    let fresh = Fresh::new(backend);
    let store = &fresh.store;
    let lines = lines(&[(1, 1)]);
    let intent = block_on(store.open_intent(user(7), "r", &lines, "k", 120)).unwrap();
    let taken = block_on(store.write(|tx| tx.take_intent(intent)))
        .unwrap()
        .unwrap();
    assert_eq!(taken.user, user(7));
    assert_eq!(taken.lines, [(ProductId::new(1).unwrap(), 1)]);
    assert_eq!(taken.reservation_key.as_deref(), Some("k"));
    let priced = PricedOrder::new(&lines, |_| Money::parse("1.00").unwrap()).unwrap();
    let created = OrderEvent::Created(priced.unsaved(user(7), "r")).record(TRACE);
    let written = block_on(store.insert_order(&NewOrder {
        user: user(7),
        status: OrderStatus::Created,
        order: &priced,
        intent,
        key: None,
        created: &created,
    }));
    assert!(matches!(written, Err(StoreError::LeaseLost)), "{written:?}");
    assert!(store.list_orders(&page(None, 10)).unwrap().0.is_empty());
    assert!(block_on(store.claim_events(10, 30)).unwrap().is_empty());
    assert!(block_on(store.write(|tx| tx.take_intent(intent)))
        .unwrap()
        .is_none());
}

fn pages_are_newest_first_and_filtered(backend: Backend) {
    let fresh = Fresh::new(backend);
    let store = &fresh.store;
    let ids: Vec<i64> = (0..5)
        .map(|_| place(store, 42, &[(1, 1)], None).0)
        .collect();
    place(store, 43, &[(1, 1)], None);
    block_on(store.write(|tx| {
        for id in [ids[1], ids[3]] {
            tx.set_status(
                id,
                (OrderStatus::Created, OrderStatus::Paid),
                ChangeSource::Payment,
                Some("p"),
            )?;
        }
        Ok(())
    }))
    .unwrap();

    let (first, more) = store.list_orders(&page(Some(42), 2)).unwrap();
    assert_eq!(
        first.iter().map(|o| o.id).collect::<Vec<_>>(),
        [ids[4], ids[3]]
    );
    assert!(more);
    let mut next = page(Some(42), 10);
    next.before_id = Some(ids[3]);
    let (rest, more) = store.list_orders(&next).unwrap();
    assert_eq!(
        rest.iter().map(|o| o.id).collect::<Vec<_>>(),
        [ids[2], ids[1], ids[0]]
    );
    assert!(!more);
    assert!(
        rest.iter().all(|o| o.lines.len() == 1),
        "items with every order"
    );

    let mut paid = page(Some(42), 10);
    paid.filter.statuses = vec![OrderStatus::Paid];
    let (found, _) = store.list_orders(&paid).unwrap();
    assert_eq!(
        found.iter().map(|o| o.id).collect::<Vec<_>>(),
        [ids[3], ids[1]]
    );

    // Everyone's (the operator's listing), and a created-at range.
    assert_eq!(store.list_orders(&page(None, 10)).unwrap().0.len(), 6);
    let mut future = page(None, 10);
    future.filter.created_from = Some("2999-01-01T00:00:00Z".into());
    assert!(store.list_orders(&future).unwrap().0.is_empty());
    let mut past = page(None, 10);
    past.filter.created_before = Some("2999-01-01T00:00:00Z".into());
    past.filter.created_from = Some("2000-01-01T00:00:00Z".into());
    assert_eq!(store.list_orders(&past).unwrap().0.len(), 6);
}

fn the_order_lock_takes_the_owner_in_sql(backend: Backend) {
    let fresh = Fresh::new(backend);
    let (id, _) = place(&fresh.store, 42, &[(1, 1)], None);
    block_on(fresh.store.write(|tx| {
        assert!(tx.lock_own_order(user(43), id)?.is_none());
        assert_eq!(tx.lock_own_order(user(42), id)?.unwrap().id, id);
        assert_eq!(tx.lock_order(id)?.unwrap().user_id, user(42));
        assert!(tx.lock_order(id + 1)?.is_none());
        Ok(())
    }))
    .unwrap();
}

fn a_status_change_is_guarded_and_kept_in_the_timeline(backend: Backend) {
    let fresh = Fresh::new(backend);
    let store = &fresh.store;
    let (id, _) = place(store, 42, &[(1, 1)], None);
    let pay = (OrderStatus::Created, OrderStatus::Paid);
    block_on(store.write(|tx| tx.set_status(id, pay, ChangeSource::Payment, Some("pay-1"))))
        .unwrap();
    // Guarded by the status it was read with: a second one finds it moved.
    let again = block_on(store.write(|tx| tx.set_status(id, pay, ChangeSource::Payment, None)));
    assert!(matches!(again, Err(StoreError::Malformed(_))), "{again:?}");
    let (changes, refund) = store.history(id).unwrap();
    assert_eq!(changes.len(), 1, "the refused change rolled back");
    assert_eq!(changes[0].status, OrderStatus::Paid);
    assert_eq!(changes[0].source, ChangeSource::Payment);
    assert_eq!(changes[0].shipment, None);
    assert_eq!(refund, RefundState::NotOwed);
    assert_eq!(
        store.order(user(42), id).unwrap().unwrap().status,
        OrderStatus::Paid
    );
}

fn expired_intents_are_taken_once(backend: Backend) {
    let fresh = Fresh::new(backend);
    let store = &fresh.store;
    assert!(!store.reconciliation_due().unwrap());
    let lines = lines(&[(2, 3)]);
    block_on(store.open_intent(user(5), "dead-request", &lines, "k", 0)).unwrap();
    block_on(store.open_intent(user(5), "live-request", &lines, "k2", 600)).unwrap();
    // Times are kept to the second on both backends.
    std::thread::sleep(Duration::from_millis(1100));
    assert!(store.reconciliation_due().unwrap());
    let other = fresh.another();
    let taken = block_on(other.write(|tx| tx.take_expired_intents(10))).unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].request_id, "dead-request");
    assert!(block_on(store.write(|tx| tx.take_expired_intents(10)))
        .unwrap()
        .is_empty());
    assert!(!store.reconciliation_due().unwrap());
}

fn unpaid_orders_count_created_orders_and_creates_in_flight(backend: Backend) {
    let fresh = Fresh::new(backend);
    let store = &fresh.store;
    assert_eq!(store.unpaid_orders(user(42)).unwrap(), 0);
    let (paid, _) = place(store, 42, &[(1, 1)], None);
    place(store, 42, &[(2, 1)], None);
    place(store, 43, &[(2, 1)], None);
    assert_eq!(store.unpaid_orders(user(42)).unwrap(), 2);
    let pay = (OrderStatus::Created, OrderStatus::Paid);
    block_on(store.write(|tx| tx.set_status(paid, pay, ChangeSource::Payment, None))).unwrap();
    assert_eq!(
        store.unpaid_orders(user(42)).unwrap(),
        1,
        "paid: no longer unpaid"
    );
    let items = lines(&[(3, 1)]);
    block_on(store.open_intent(user(42), "running", &items, "k1", 600)).unwrap();
    assert_eq!(
        store.unpaid_orders(user(42)).unwrap(),
        2,
        "a create in flight counts"
    );
    // An intent whose lease ran out is the reconciler's, not a create's.
    block_on(store.open_intent(user(42), "dead", &items, "k2", 0)).unwrap();
    assert_eq!(store.unpaid_orders(user(42)).unwrap(), 2);
    assert_eq!(store.unpaid_orders(user(43)).unwrap(), 1);
}

fn an_intent_within_the_cap_is_opened_only_below_it(backend: Backend) {
    let fresh = Fresh::new(backend);
    let store = &fresh.store;
    place(store, 42, &[(1, 1)], None);
    let items = lines(&[(3, 2)]);
    let intent = NewIntent {
        user: user(42),
        request_id: "capped",
        lines: &items,
        reservation_key: "k",
        lease_seconds: 120,
    };
    assert_eq!(
        block_on(store.open_intent_within(&intent, 1)).unwrap(),
        None
    );
    assert_eq!(store.unpaid_orders(user(42)).unwrap(), 1, "nothing written");
    let opened = block_on(fresh.another().open_intent_within(&intent, 2)).unwrap();
    assert!(opened.is_some());
    assert_eq!(store.unpaid_orders(user(42)).unwrap(), 2);
    assert_eq!(
        block_on(store.open_intent_within(&intent, 2)).unwrap(),
        None
    );
}

fn orders_past_their_deadline_are_found_oldest_first(backend: Backend) {
    let fresh = Fresh::new(backend);
    let store = &fresh.store;
    assert!(!store.expiry_due(0, 0).unwrap(), "no order waits");
    let (first, _) = place(store, 42, &[(1, 1)], None);
    let (paid, _) = place(store, 43, &[(2, 1)], None);
    let (third, _) = place(store, 44, &[(3, 2)], None);
    let pay = (OrderStatus::Created, OrderStatus::Paid);
    block_on(store.write(|tx| tx.set_status(paid, pay, ChangeSource::Payment, None))).unwrap();
    // Times are kept to the second.
    std::thread::sleep(Duration::from_millis(1100));
    assert!(store.expiry_due(0, 0).unwrap());
    assert!(!store.expiry_due(3600, 0).unwrap(), "not yet an hour old");
    // The follow-ups' pace: one pass start per pace between all
    // instances, and none is due while one started within it.
    let other = fresh.another();
    assert!(block_on(store.claim_expiry_pass(3600)).unwrap());
    assert!(!block_on(other.claim_expiry_pass(3600)).unwrap());
    assert!(
        !other.expiry_due(0, 3600).unwrap(),
        "a pass started just now"
    );
    assert!(other.expiry_due(0, 0).unwrap());
    assert!(
        block_on(other.claim_expiry_pass(0)).unwrap(),
        "its pace is over"
    );
    let found = block_on(store.write(|tx| tx.lock_expirable_orders(0, 10))).unwrap();
    let ids: Vec<i64> = found.iter().map(|o| o.id).collect();
    assert_eq!(ids, [first, third], "unpaid ones, oldest first");
    assert_eq!(found[1].lines.len(), 1);
    assert_eq!(found[1].user_id, user(44));
    let one = block_on(store.write(|tx| tx.lock_expirable_orders(0, 1))).unwrap();
    assert_eq!(one.len(), 1);
    assert!(
        block_on(store.write(|tx| tx.lock_expirable_orders(3600, 10)))
            .unwrap()
            .is_empty()
    );
    // An expired order leaves the query, with its timeline entry.
    let expire = (OrderStatus::Created, OrderStatus::Expired);
    block_on(store.write(|tx| {
        tx.set_status(first, expire, ChangeSource::System, None)?;
        tx.set_status(third, expire, ChangeSource::System, None)
    }))
    .unwrap();
    assert!(!store.expiry_due(0, 0).unwrap());
    let (changes, _) = store.history(first).unwrap();
    assert_eq!(changes[0].status, OrderStatus::Expired);
    assert_eq!(changes[0].source, ChangeSource::System);
}

fn an_idempotency_key_is_claimed_once_and_settled(backend: Backend) {
    let fresh = Fresh::new(backend);
    let store = &fresh.store;
    let key = IdempotencyKey::parse("k-1").unwrap();
    let owned = OwnedKey {
        user: user(9),
        key: &key,
    };
    assert!(block_on(store.write(|tx| tx.insert_key(owned, "f1", 60))).unwrap());
    assert!(!block_on(store.write(|tx| tx.insert_key(owned, "f2", 60))).unwrap());
    let other_user = OwnedKey {
        user: user(10),
        key: &key,
    };
    assert!(
        block_on(store.write(|tx| tx.insert_key(other_user, "f1", 60))).unwrap(),
        "scoped to the user"
    );
    let stored = block_on(store.write(|tx| tx.lock_key(owned)))
        .unwrap()
        .unwrap();
    assert_eq!(stored.fingerprint, "f1");
    assert!(!stored.done && !stored.lease_over && !stored.expired);

    block_on(store.complete_key(owned, r#"{"code":"insufficient_stock"}"#)).unwrap();
    let stored = block_on(store.write(|tx| tx.lock_key(owned)))
        .unwrap()
        .unwrap();
    assert!(stored.done);
    assert_eq!(
        stored.body.as_deref(),
        Some(r#"{"code":"insufficient_stock"}"#)
    );
    // Done: giving it up changes nothing.
    block_on(store.release_key(owned)).unwrap();
    assert!(block_on(store.write(|tx| tx.lock_key(owned)))
        .unwrap()
        .is_some());

    block_on(store.write(|tx| tx.take_over_key(owned, "f3", 0))).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let taken = block_on(store.write(|tx| tx.lock_key(owned)))
        .unwrap()
        .unwrap();
    assert_eq!((taken.fingerprint.as_str(), taken.done), ("f3", false));
    assert!(taken.lease_over);
    block_on(store.release_key(owned)).unwrap();
    assert!(block_on(store.write(|tx| tx.lock_key(owned)))
        .unwrap()
        .is_none());
    assert_eq!(
        block_on(store.purge_expired_keys(10)).unwrap(),
        0,
        "within the retention"
    );
}

fn releases_are_claimed_by_one_request_and_settled_once(backend: Backend) {
    let fresh = Fresh::new(backend);
    let store = &fresh.store;
    let products = [
        (ProductId::new(1).unwrap(), 2),
        (ProductId::new(2).unwrap(), 5),
    ];
    let claimed = block_on(store.write(|tx| {
        tx.insert_releases(&NewReleases {
            user: user(3),
            request_id: "r1",
            reason: "order_cancelled",
            order_id: Some(77),
            lines: &products,
            reservation_key: Some("key-1"),
            claim: ReleaseClaim::ThisRequest { seconds: 60 },
        })
    }))
    .unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(claimed[0].attempts, 1);
    assert!(claimed.iter().all(|r| r
        .reservation
        .as_deref()
        .is_some_and(|id| id.starts_with("key-1"))));
    // Claimed by this request: nobody else takes them.
    assert!(block_on(fresh.another().claim_releases(10, true, 60))
        .unwrap()
        .is_empty());
    assert!(store.order_release_pending(77).unwrap());

    let owed_later = block_on(store.write(|tx| {
        tx.insert_releases(&NewReleases {
            user: user(3),
            request_id: "r2",
            reason: "reservation_failed",
            order_id: None,
            lines: &products[..1],
            reservation_key: None,
            claim: ReleaseClaim::Nobody {
                last_error: "Catalog down",
            },
        })
    }))
    .unwrap();
    assert!(owed_later.is_empty(), "nobody's: for the next pass");
    let next_pass = block_on(store.claim_releases(10, false, 60)).unwrap();
    assert_eq!(next_pass.len(), 1);
    assert_eq!(next_pass[0].attempts, 2);
    assert_eq!(next_pass[0].reservation, None);

    block_on(store.write(|tx| tx.reschedule_release(next_pass[0].id, "still down", 3600))).unwrap();
    assert!(
        block_on(store.claim_releases(10, false, 60))
            .unwrap()
            .is_empty(),
        "backing off"
    );
    let (total, pending) = store.pending_releases(10).unwrap();
    assert_eq!(total, 3);
    let rescheduled = pending.iter().find(|p| p.id == next_pass[0].id).unwrap();
    assert_eq!(rescheduled.last_error, "still down");
    assert_eq!(rescheduled.reason, "reservation_failed");

    // Settled by hand: only an unclaimed one, once.
    let settle = |id| {
        block_on(store.write(|tx| tx.move_to_settled(id, Settlement::WrittenOff, "ops", "counted")))
    };
    assert!(
        settle(claimed[0].id).unwrap().is_none(),
        "a request holds it"
    );
    let audit = settle(next_pass[0].id).unwrap().unwrap();
    assert_eq!(
        (audit.outcome.as_str(), audit.settled_by.as_str()),
        ("written_off", "ops")
    );
    assert_eq!(audit.quantity, 2);
    assert!(settle(next_pass[0].id).unwrap().is_none());
    assert!(!block_on(store.write(|tx| tx.release_exists(next_pass[0].id))).unwrap());

    for release in &claimed {
        block_on(store.write(|tx| tx.delete_release(release.id))).unwrap();
    }
    assert!(!store.order_release_pending(77).unwrap());
    assert_eq!(store.pending_releases(10).unwrap().0, 0);
}

fn a_payment_is_recorded_once_and_refunded_once(backend: Backend) {
    let fresh = Fresh::new(backend);
    let store = &fresh.store;
    let (id, _) = place(store, 42, &[(1, 2)], None);
    let payment = PaymentConfirmation {
        payment_id: "pay-1".into(),
        order_id: id,
        amount: Money::parse("25.00").unwrap(),
        currency: "EUR".into(),
    };
    let recorded = block_on(store.write(|tx| tx.insert_payment(&payment, Ok(())))).unwrap();
    assert!(recorded.is_some());
    assert!(
        block_on(store.write(|tx| tx.insert_payment(&payment, Ok(()))))
            .unwrap()
            .is_none()
    );
    let stored = block_on(store.write(|tx| tx.stored_payment("pay-1")))
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.amount.to_string(), stored.outcome),
        ("25.00".into(), Ok(()))
    );
    assert_eq!(store.payment_order("pay-1").unwrap(), Some(id));

    let refused = PaymentConfirmation {
        payment_id: "pay-2".into(),
        ..payment.clone()
    };
    block_on(store.write(|tx| tx.insert_payment(&refused, Err(PaymentRefusal::AlreadyPaid))))
        .unwrap();
    let state = |payment_id| block_on(store.write(|tx| tx.payment_for_refund(payment_id))).unwrap();
    assert_eq!(state("pay-2").unwrap().1, RefundState::Owed);
    assert_eq!(state("pay-1").unwrap().1, RefundState::NotOwed);

    let owed = block_on(store.write(|tx| tx.require_refund(id)))
        .unwrap()
        .unwrap();
    assert_eq!(
        (owed.payment_id.as_str(), owed.amount.to_string()),
        ("pay-1", "25.00".into())
    );
    assert!(
        block_on(store.write(|tx| tx.require_refund(id)))
            .unwrap()
            .is_none(),
        "once"
    );
    assert_eq!(state("pay-1").unwrap().1, RefundState::Owed);
    assert_eq!(store.history(id).unwrap().1, RefundState::Owed);

    let refunded = block_on(store.write(|tx| tx.record_refund("pay-1", "refund-1"))).unwrap();
    assert!(refunded.is_some());
    assert!(
        block_on(store.write(|tx| tx.record_refund("pay-1", "refund-2")))
            .unwrap()
            .is_none()
    );
    let refund = block_on(store.write(|tx| tx.stored_refund("refund-1")))
        .unwrap()
        .unwrap();
    assert_eq!(refund.payment, payment);
    assert_eq!(Some(refund.refunded_at), refunded);
    assert_eq!(store.history(id).unwrap().1, RefundState::Refunded);
}

fn a_fulfilment_update_is_recorded_once(backend: Backend) {
    let fresh = Fresh::new(backend);
    let store = &fresh.store;
    let (id, _) = place(store, 42, &[(1, 1)], None);
    let update = FulfilmentUpdate {
        event_id: "ship-1".into(),
        order_id: id,
        step: Fulfilment::Shipped,
        shipment: Some(("DHL".into(), "JD0146".into())),
    };
    block_on(store.write(|tx| {
        tx.set_status(
            id,
            (OrderStatus::Created, OrderStatus::Paid),
            ChangeSource::Payment,
            Some("p"),
        )?;
        tx.set_status(
            id,
            (OrderStatus::Paid, OrderStatus::Shipped),
            ChangeSource::Fulfilment,
            Some("ship-1"),
        )?;
        assert!(tx.insert_fulfilment(&update)?.is_some());
        assert!(tx.insert_fulfilment(&update)?.is_none());
        Ok(())
    }))
    .unwrap();
    let stored = block_on(store.write(|tx| tx.stored_fulfilment("ship-1")))
        .unwrap()
        .unwrap();
    assert_eq!(stored.update, update);
    let (changes, _) = store.history(id).unwrap();
    let shipped = changes.last().unwrap();
    assert_eq!(shipped.status, OrderStatus::Shipped);
    assert_eq!(
        shipped.shipment,
        Some(("DHL".into(), "JD0146".into())),
        "joined from the update"
    );
}

fn events_are_claimed_in_sequence_per_order(backend: Backend) {
    let fresh = Fresh::new(backend);
    let store = &fresh.store;
    let (first, _) = place(store, 42, &[(1, 1)], None);
    let (second, _) = place(store, 43, &[(1, 1)], None);
    let cancelled = OrderEvent::Cancelled {
        order_id: first,
        user_id: 42,
    }
    .record(TRACE);
    block_on(store.write(|tx| tx.append_event(&cancelled))).unwrap();

    // At most the earliest unpublished event of each order.
    let claimed = block_on(store.claim_events(10, 30)).unwrap();
    let claimed_ids: Vec<(i64, i64)> = claimed.iter().map(|e| (e.order_id, e.seq)).collect();
    assert_eq!(claimed_ids, [(first, 1), (second, 1)]);
    assert!(
        block_on(fresh.another().claim_events(10, 30))
            .unwrap()
            .is_empty(),
        "claimed"
    );
    block_on(store.mark_events_published(&[claimed[0].id])).unwrap();
    block_on(store.unclaim_events(&[claimed[1].id])).unwrap();
    let next = block_on(store.claim_events(10, 30)).unwrap();
    let next_ids: Vec<(i64, i64, &str)> = next
        .iter()
        .map(|e| (e.order_id, e.seq, e.kind.as_str()))
        .collect();
    // In recording order: the second order's returned claim, then the
    // first order's next event, now that its first was published.
    assert_eq!(
        next_ids,
        [(second, 1, "order.created"), (first, 2, "order.cancelled")]
    );
    block_on(store.mark_events_published(&next.iter().map(|e| e.id).collect::<Vec<_>>())).unwrap();
    assert!(block_on(store.claim_events(10, 30)).unwrap().is_empty());
    assert_eq!(
        block_on(store.purge_published_events(10, 3600)).unwrap(),
        0,
        "kept a while"
    );
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(block_on(store.purge_published_events(10, 0)).unwrap(), 3);
}

fn a_jwks_refresh_is_claimed_once_per_cool_down(backend: Backend) {
    let fresh = Fresh::new(backend);
    let store = &fresh.store;
    let url = "https://auth.example/.well-known/jwks.json";
    assert_eq!(store.cached_jwks(url).unwrap(), None);
    assert!(block_on(store.claim_jwks_refresh(url, 30)).unwrap());
    assert!(
        !block_on(fresh.another().claim_jwks_refresh(url, 30)).unwrap(),
        "one per cool-down"
    );
    let tried = store.cached_jwks(url).unwrap().unwrap();
    assert_eq!((tried.document, tried.age_seconds), (None, None));
    block_on(store.save_jwks(url, r#"{"keys":[]}"#)).unwrap();
    let cached = store.cached_jwks(url).unwrap().unwrap();
    assert_eq!(cached.document.as_deref(), Some(r#"{"keys":[]}"#));
    assert!(cached.age_seconds.is_some_and(|age| (0..=2).contains(&age)));
    std::thread::sleep(Duration::from_millis(1100));
    assert!(
        block_on(store.claim_jwks_refresh(url, 1)).unwrap(),
        "after the cool-down"
    );
}

fn the_gauges_count_what_is_stored(backend: Backend) {
    let fresh = Fresh::new(backend);
    let store = &fresh.store;
    let (paid, _) = place(store, 42, &[(1, 1)], None);
    let (unpaid, _) = place(store, 42, &[(1, 1)], None);
    block_on(store.write(|tx| {
        tx.set_status(
            paid,
            (OrderStatus::Created, OrderStatus::Paid),
            ChangeSource::Payment,
            None,
        )
    }))
    .unwrap();
    let gauges = store.gauges().unwrap();
    let mut by_status = gauges.orders_by_status.clone();
    by_status.retain(|(_, count)| *count > 0);
    by_status.sort();
    assert_eq!(by_status, [("CREATED".into(), 1), ("PAID".into(), 1)]);
    assert_eq!(gauges.events_unpublished, 2);
    assert!(gauges.events_unpublished_oldest_seconds >= 0);
    assert_eq!(
        (
            gauges.releases_owed,
            gauges.refunds_owed,
            gauges.idempotency_keys
        ),
        (0, 0, 0)
    );
    // The oldest unpaid order's age (times are kept to the second), 0
    // once none waits.
    std::thread::sleep(Duration::from_millis(1100));
    assert!(store.gauges().unwrap().unpaid_orders_oldest_seconds >= 1);
    block_on(store.write(|tx| {
        tx.set_status(
            unpaid,
            (OrderStatus::Created, OrderStatus::Cancelled),
            ChangeSource::Customer,
            None,
        )
    }))
    .unwrap();
    assert_eq!(store.gauges().unwrap().unpaid_orders_oldest_seconds, 0);
}

fn amounts_and_times_read_back_exactly(backend: Backend) {
    let fresh = Fresh::new(backend);
    let store = &fresh.store;
    // SPEC's largest total: 100 lines of 99,999 units at 12,345,678.91.
    let items: Vec<OrderLine> = lines(&(1..=100).map(|p| (p, 99_999)).collect::<Vec<_>>());
    let intent = block_on(store.open_intent(user(1), "r", &items, "k", 120)).unwrap();
    let priced = PricedOrder::new(&items, |_| Money::parse("12345678.91").unwrap()).unwrap();
    let created = OrderEvent::Created(priced.unsaved(user(1), "r")).record(TRACE);
    let (id, created_at) = block_on(store.insert_order(&NewOrder {
        user: user(1),
        status: OrderStatus::Created,
        order: &priced,
        intent,
        key: None,
        created: &created,
    }))
    .unwrap();
    let order = store.order(user(1), id).unwrap().unwrap();
    assert_eq!(order.total.to_string(), "123455554532109.00");
    assert_eq!(order.lines[99].unit_price.to_string(), "12345678.91");
    // RFC 3339 UTC to the second, as the API shows it.
    assert_eq!(created_at.len(), "2026-01-16T13:45:00Z".len());
    assert!(
        created_at.ends_with('Z') && created_at.as_bytes()[10] == b'T',
        "{created_at}"
    );
}

/// SQLite's create numbers orders by `order_submissions`' AUTOINCREMENT
/// (migration 0016), carried on from the orders' own counter: a database
/// of the previous schema gets ids past every order it held, never one
/// again after a delete.
#[test]
fn sqlite_order_ids_continue_past_the_previous_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    let before = rusqlite::Connection::open(&path).unwrap();
    for (version, sql) in &migrations::SQLITE[..15] {
        before.execute_batch(sql).unwrap();
        assert_eq!(
            before
                .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
                .unwrap(),
            *version
        );
    }
    before
        .execute_batch(
            "INSERT INTO orders (id, user_id, total_amount, status, created_at, updated_at) \
             VALUES (41, 7, '1.00', 'CREATED', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'); \
             DELETE FROM orders WHERE id = 41;",
        )
        .unwrap();
    drop(before);
    let store = block_on(Store::on(Box::new(crate::connections::NativeSqlite::open(
        &path,
    ))))
    .unwrap();
    assert_eq!(
        store.take_migrated_to(),
        Some(migrations::latest(migrations::SQLITE))
    );
    let (first, _) = place(&store, 7, &[(1, 1)], None);
    let (second, _) = place(&store, 7, &[(1, 1)], None);
    assert_eq!((first, second), (42, 43));
}
