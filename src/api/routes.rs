//! The route table. Routing comes before authentication (SPEC §3): an
//! unknown path is 404 and a known path with another method is 405 with
//! `Allow`, whoever asks. Paths match with or without the trailing slash.
//! [`ROUTES`] is the one list of what is served; the OpenAPI document is
//! checked against it.

use spin_sdk::http::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
    OpenApi,
    ListOrders,
    CreateOrder,
    GetOrder(i64),
    CancelOrder(i64),
    Reconcile,
    ListAnyOrders,
    Metrics,
    SettleRelease(i64),
    ConfirmPayment,
    ConfirmRefund,
    ConfirmFulfilment,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRoute {
    NotFound,
    /// `allow`: the template's methods, in table order.
    MethodNotAllowed {
        allow: String,
    },
}

pub type RouteTemplate = (&'static str, &'static str, fn(i64) -> Route);

/// `(path template as in the OpenAPI document, method, the route it is)`;
/// the route is built from the `{id}` segment (an order or release id: 1
/// to 18 ASCII digits, not starting with 0), or 0 for templates without.
pub const ROUTES: &[RouteTemplate] = &[
    ("/orders/health/", "GET", |_| Route::Health),
    ("/orders/openapi.json", "GET", |_| Route::OpenApi),
    ("/orders/orders/", "GET", |_| Route::ListOrders),
    ("/orders/orders/", "POST", |_| Route::CreateOrder),
    ("/orders/orders/{id}/", "GET", Route::GetOrder),
    ("/orders/orders/{id}/cancel/", "POST", Route::CancelOrder),
    ("/orders/admin/reconcile/", "POST", |_| Route::Reconcile),
    ("/orders/admin/orders/", "GET", |_| Route::ListAnyOrders),
    ("/orders/admin/metrics", "GET", |_| Route::Metrics),
    (
        "/orders/admin/releases/{id}/settle/",
        "POST",
        Route::SettleRelease,
    ),
    ("/orders/payments/", "POST", |_| Route::ConfirmPayment),
    ("/orders/refunds/", "POST", |_| Route::ConfirmRefund),
    ("/orders/fulfilments/", "POST", |_| Route::ConfirmFulfilment),
];

/// Resolves `method path` (path without query) to a route.
pub fn resolve(method: &Method, path: &str) -> Result<Route, NoRoute> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let method = method.to_string();
    let mut known = None;
    for (template, allowed, route) in ROUTES {
        let Some(id) = matches(template, path) else {
            continue;
        };
        known = Some(*template);
        if *allowed == method {
            return Ok(route(id.unwrap_or_default()));
        }
    }
    let template = known.ok_or(NoRoute::NotFound)?;
    let allow: Vec<&str> = ROUTES
        .iter()
        .filter(|(t, _, _)| *t == template)
        .map(|(_, method, _)| *method)
        .collect();
    Err(NoRoute::MethodNotAllowed {
        allow: allow.join(", "),
    })
}

/// Matches `path` (no trailing slash) against `template`; `Some(id)` on a
/// match (`Some(None)` for templates without `{id}`).
fn matches(template: &str, path: &str) -> Option<Option<i64>> {
    let template = template.strip_suffix('/').unwrap_or(template);
    let mut id = None;
    let mut path_segments = path.split('/');
    for expected in template.split('/') {
        let segment = path_segments.next()?;
        if expected == "{id}" {
            id = Some(parse_id(segment)?);
        } else if expected != segment {
            return None;
        }
    }
    path_segments.next().is_none().then_some(id)
}

fn parse_id(segment: &str) -> Option<i64> {
    let plain = (1..=18).contains(&segment.len())
        && !segment.starts_with('0')
        && segment.bytes().all(|b| b.is_ascii_digit());
    plain.then(|| segment.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_paths_with_and_without_trailing_slash() {
        for (method, path, route) in [
            (Method::Get, "/orders/health/", Route::Health),
            (Method::Get, "/orders/health", Route::Health),
            (Method::Post, "/orders/orders/", Route::CreateOrder),
            (Method::Post, "/orders/orders", Route::CreateOrder),
            (Method::Get, "/orders/orders", Route::ListOrders),
            (Method::Get, "/orders/orders/17/", Route::GetOrder(17)),
            (Method::Get, "/orders/orders/17", Route::GetOrder(17)),
            (
                Method::Post,
                "/orders/orders/9/cancel/",
                Route::CancelOrder(9),
            ),
            (
                Method::Post,
                "/orders/orders/9/cancel",
                Route::CancelOrder(9),
            ),
            (Method::Get, "/orders/openapi.json", Route::OpenApi),
            (Method::Post, "/orders/admin/reconcile/", Route::Reconcile),
            (Method::Post, "/orders/refunds", Route::ConfirmRefund),
            (
                Method::Post,
                "/orders/fulfilments/",
                Route::ConfirmFulfilment,
            ),
        ] {
            assert_eq!(resolve(&method, path), Ok(route), "{method} {path}");
        }
    }

    #[test]
    fn other_methods_are_405_with_allow() {
        for (method, path, allow) in [
            (Method::Delete, "/orders/health/", "GET"),
            (Method::Put, "/orders/orders/", "GET, POST"),
            (Method::Post, "/orders/orders/5/", "GET"),
            (Method::Get, "/orders/orders/5/cancel/", "POST"),
            (Method::Get, "/orders/admin/reconcile/", "POST"),
        ] {
            assert_eq!(
                resolve(&method, path),
                Err(NoRoute::MethodNotAllowed {
                    allow: allow.to_owned()
                }),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn unknown_paths_and_bad_ids_are_404() {
        for path in [
            "/orders/",
            "/orders",
            "/orders/nope/",
            "/orders/health//",
            "/orders/orders/x/y/",
            "/orders/orders/abc/",
            "/orders/orders/0/",
            "/orders/orders/007/",
            "/orders/orders/-1/",
            "/orders/orders/+1/",
            "/orders/orders/9999999999999999999/",
            "/orders/orders/5/cancel/extra/",
        ] {
            assert_eq!(
                resolve(&Method::Get, path),
                Err(NoRoute::NotFound),
                "{path}"
            );
        }
    }

    #[test]
    fn allow_lists_every_method_of_the_template() {
        assert_eq!(
            resolve(&Method::Delete, "/orders/orders/"),
            Err(NoRoute::MethodNotAllowed {
                allow: "GET, POST".into()
            })
        );
        assert_eq!(
            resolve(&Method::Get, "/orders/admin/releases/3/settle/"),
            Err(NoRoute::MethodNotAllowed {
                allow: "POST".into()
            })
        );
    }
}
