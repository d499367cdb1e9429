//! Many buyers, few units: the Catalog's atomic reservation decides, and the
//! service never oversells, never loses an order, never loses stock.

use crate::helpers::{json_body, order, spawn_app, token};
use futures::future::join_all;

#[tokio::test]
async fn parallel_orders_for_the_last_units_sell_exactly_the_stock() {
    let app = spawn_app().await;
    let stock = app.catalog.stock(4).await;
    assert_eq!(stock, 5);

    let attempts = 24;
    let responses = join_all((0..attempts).map(|i| {
        let token = token(100 + i);
        let app = &app;
        async move { app.post_order(Some(&token), &order(&[(4, 1)])).await }
    }))
    .await;

    let mut created = 0;
    let mut refused = 0;
    for response in responses {
        match response.status().as_u16() {
            201 => created += 1,
            409 => {
                assert_eq!(json_body(response).await["code"], "insufficient_stock");
                refused += 1;
            }
            other => panic!(
                "unexpected status {other}: {}",
                response.text().await.unwrap()
            ),
        }
    }
    assert_eq!(created, stock);
    assert_eq!(refused, attempts - stock);
    assert_eq!(app.catalog.stock(4).await, 0);
    assert_eq!(app.count("orders"), stock);
    assert_eq!(
        app.db()
            .query_row(
                "SELECT sum(quantity) FROM order_items WHERE product_id = 4",
                [],
                |r| r.get::<_, i64>(0)
            )
            .unwrap(),
        stock
    );
}
