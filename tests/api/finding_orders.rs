//! SPEC §3 "Finding orders": the list's `status` and created-at filters,
//! keyset-paginated with the filters carried to the next page, and the
//! operator's listing across users; every shape served by an index on
//! both backends (SQLite's plans: `tests/storage/plans.rs`).

use crate::helpers::{json_body, spawn_app_on, Backend, TestApp, ADMIN_TOKEN};
use reqwest::Method;
use serde_json::{json, Value};

crate::on_both_backends!(
    the_list_filters_by_status_and_creation_time_page_by_page,
    operators_list_anyones_orders_with_the_same_filters,
);

fn ids(page: &Value) -> Vec<i64> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect()
}

/// Every id a list gives, following `next` (pages of `limit`).
async fn all_pages(app: &TestApp, first: &str, token: Option<i64>) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut path = first.to_owned();
    loop {
        let response = match token {
            Some(user) => app.send_as(user, Method::GET, &path).await,
            None => app
                .request(Method::GET, &path)
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap(),
        };
        assert_eq!(response.status(), 200, "{path}");
        let page = json_body(response).await;
        seen.extend(ids(&page));
        match page["next"].as_str() {
            Some(next) => path = next.to_owned(),
            None => return seen,
        }
    }
}

/// Orders of users 42 and 7 in every status; `(id, status)` newest first.
async fn orders_in_every_status(app: &TestApp, user: i64) -> Vec<(i64, &'static str)> {
    let mut made = Vec::new();
    for (n, status) in [
        "CREATED",
        "PAID",
        "CANCELLED",
        "SHIPPED",
        "PAID",
        "DELIVERED",
    ]
    .into_iter()
    .enumerate()
    {
        let id = app.create(user, &[(5, 1)]).await["id"].as_i64().unwrap();
        if status != "CREATED" && status != "CANCELLED" {
            let payment = json!({"payment_id": format!("pay-{user}-{n}"), "order_id": id,
                                 "amount": "0.10", "currency": "EUR"});
            assert_eq!(app.confirm_payment(&payment).await.status(), 200);
        }
        if status == "CANCELLED" {
            assert_eq!(app.cancel(user, &json!(id)).await.status(), 200);
        }
        if status == "SHIPPED" || status == "DELIVERED" {
            let ship = json!({"event_id": format!("ship-{id}"), "order_id": id,
                              "status": "SHIPPED", "carrier": "DHL", "tracking_reference": "T1"});
            assert_eq!(app.fulfil(&ship).await.status(), 200);
        }
        if status == "DELIVERED" {
            let deliver =
                json!({"event_id": format!("deliver-{id}"), "order_id": id, "status": "DELIVERED"});
            assert_eq!(app.fulfil(&deliver).await.status(), 200);
        }
        made.push((id, status));
    }
    made.reverse();
    made
}

fn of(made: &[(i64, &str)], statuses: &[&str]) -> Vec<i64> {
    made.iter()
        .filter(|(_, status)| statuses.contains(status))
        .map(|(id, _)| *id)
        .collect()
}

async fn the_list_filters_by_status_and_creation_time_page_by_page(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let mine = orders_in_every_status(&app, 42).await;
    orders_in_every_status(&app, 7).await; // someone else's, never shown

    for (query, statuses) in [
        ("status=PAID", vec!["PAID"]),
        ("status=PAID,CANCELLED", vec!["PAID", "CANCELLED"]),
        (
            "status=SHIPPED&status=DELIVERED",
            vec!["SHIPPED", "DELIVERED"],
        ),
        (
            "",
            vec!["CREATED", "PAID", "CANCELLED", "SHIPPED", "DELIVERED"],
        ),
    ] {
        // One per page: `next` carries the filter.
        let seen = all_pages(&app, &format!("/orders/orders/?limit=1&{query}"), Some(42)).await;
        assert_eq!(seen, of(&mine, &statuses), "{query}");
    }
    let page = json_body(
        app.send_as(42, Method::GET, "/orders/orders/?limit=1&status=PAID")
            .await,
    )
    .await;
    let next = page["next"].as_str().unwrap();
    assert!(next.contains("status=PAID"), "{next}");
    assert!(next.starts_with("/orders/orders/?"), "{next}");

    // A created-at range: one order moved back in time behind the
    // service's back; [from, before) finds it alone.
    let (old, _) = mine[mine.len() - 1];
    app.execute(&format!(
        "UPDATE orders SET created_at = '2025-06-01T12:00:00Z' WHERE id = {old}"
    ));
    let range = "created_from=2025-06-01T12:00:00Z&created_before=2025-06-01T12:00:01Z";
    let found = all_pages(&app, &format!("/orders/orders/?limit=1&{range}"), Some(42)).await;
    assert_eq!(found, [old]);
    let before = "created_before=2025-06-01T12:00:00Z";
    assert!(
        all_pages(&app, &format!("/orders/orders/?{before}"), Some(42))
            .await
            .is_empty()
    );
    let since = all_pages(
        &app,
        "/orders/orders/?limit=2&created_from=2026-01-01T00:00:00Z&status=PAID,CREATED",
        Some(42),
    )
    .await;
    let mut expected = of(&mine, &["PAID", "CREATED"]);
    expected.retain(|id| *id != old);
    assert_eq!(since, expected);
    // A user's list ignores user_id: only their own orders, ever.
    let theirs = all_pages(&app, "/orders/orders/?user_id=7", Some(42)).await;
    assert_eq!(
        theirs,
        of(
            &mine,
            &["CREATED", "PAID", "CANCELLED", "SHIPPED", "DELIVERED"]
        )
    );

    for (query, field) in [
        ("status=paid", "status"),
        ("status=PAID,NOPE", "status"),
        ("created_from=yesterday", "created_from"),
        ("created_before=2026-01-01", "created_before"),
    ] {
        let response = app
            .send_as(42, Method::GET, &format!("/orders/orders/?{query}"))
            .await;
        assert_eq!(response.status(), 400, "{query}");
        let body = json_body(response).await;
        assert!(body["errors"][field].is_array(), "{query}: {body}");
    }
}

async fn operators_list_anyones_orders_with_the_same_filters(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let a = orders_in_every_status(&app, 42).await;
    let b = orders_in_every_status(&app, 7).await;
    let mut everyone: Vec<(i64, &str)> = a.iter().chain(&b).copied().collect();
    everyone.sort_by_key(|order| std::cmp::Reverse(order.0));

    let shipped = all_pages(&app, "/orders/admin/orders/?limit=1&status=SHIPPED", None).await;
    assert_eq!(shipped, of(&everyone, &["SHIPPED"]));
    let all = all_pages(&app, "/orders/admin/orders/?limit=4", None).await;
    assert_eq!(all.len(), 12);
    let sevens = all_pages(
        &app,
        "/orders/admin/orders/?limit=2&user_id=7&status=PAID,DELIVERED",
        None,
    )
    .await;
    assert_eq!(sevens, of(&b, &["PAID", "DELIVERED"]));
    let page = json_body(
        app.request(Method::GET, "/orders/admin/orders/?limit=1&user_id=7")
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let next = page["next"].as_str().unwrap();
    assert!(
        next.starts_with("/orders/admin/orders/?") && next.contains("user_id=7"),
        "{next}"
    );

    // Operators only: a user's token is 403, none 401.
    let user = app.send_as(42, Method::GET, "/orders/admin/orders/").await;
    assert_eq!(user.status(), 403);
    let nobody = app.get("/orders/admin/orders/").await;
    assert_eq!(nobody.status(), 401);
    let bad = app
        .request(Method::GET, "/orders/admin/orders/?user_id=0")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}
