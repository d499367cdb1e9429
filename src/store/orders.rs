//! Orders and their items.

use super::{first, Store, StoreError};
use crate::domain::order::{Order, OrderStatus, PricedOrder};
use crate::domain::UserId;
use spin_sdk::sqlite3::Value;

impl Store {
    /// Writes a new `CREATED` order and its items in one transaction and
    /// returns it as stored.
    pub fn insert_order(&self, user: UserId, order: &PricedOrder) -> Result<Order, StoreError> {
        self.write_transaction(|store| {
            let inserted = store.exec(
                "INSERT INTO orders (user_id, total_amount, status, created_at, updated_at) \
                 VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), \
                 strftime('%Y-%m-%dT%H:%M:%SZ', 'now')) \
                 RETURNING id, created_at",
                &[
                    Value::Integer(user.get()),
                    Value::Text(order.total.to_string()),
                    Value::Text(OrderStatus::Created.as_str().into()),
                ],
            )?;
            let (Some(id), Some(created_at)) = (
                first::<i64>(&inserted, 0),
                first::<&str>(&inserted, 1).map(str::to_owned),
            ) else {
                return Err(StoreError::Failed("INSERT … RETURNING gave no row".into()));
            };

            // One statement for all items: (?, ?, ?, ?) per line.
            let placeholders = vec!["(?, ?, ?, ?)"; order.lines.len()].join(", ");
            let params: Vec<Value> = order
                .lines
                .iter()
                .flat_map(|line| {
                    [
                        Value::Integer(id),
                        Value::Integer(line.product_id.get()),
                        Value::Integer(i64::from(line.quantity.get())),
                        Value::Text(line.unit_price.to_string()),
                    ]
                })
                .collect();
            store.exec(
                &format!(
                    "INSERT INTO order_items (order_id, product_id, quantity, price) \
                     VALUES {placeholders}"
                ),
                &params,
            )?;
            Ok(Order {
                id,
                user_id: user,
                status: OrderStatus::Created,
                total: order.total,
                created_at,
                lines: order.lines.clone(),
            })
        })
    }
}
