//! The route table. Routing comes before authentication (SPEC §3): an
//! unknown path is 404 and a known path with another method is 405 with
//! `Allow`, whoever asks. Paths match with or without the trailing slash.

use spin_sdk::http::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
    CreateOrder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRoute {
    NotFound,
    MethodNotAllowed { allow: &'static str },
}

/// Resolves `method path` (path without query) to a route.
pub fn resolve(method: &Method, path: &str) -> Result<Route, NoRoute> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let (allow, route) = match path {
        "/orders/health" => ("GET", (*method == Method::Get).then_some(Route::Health)),
        "/orders/orders" => (
            "POST",
            (*method == Method::Post).then_some(Route::CreateOrder),
        ),
        _ => return Err(NoRoute::NotFound),
    };
    route.ok_or(NoRoute::MethodNotAllowed { allow })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_paths_with_and_without_trailing_slash() {
        assert_eq!(resolve(&Method::Get, "/orders/health/"), Ok(Route::Health));
        assert_eq!(resolve(&Method::Get, "/orders/health"), Ok(Route::Health));
        assert_eq!(
            resolve(&Method::Post, "/orders/orders/"),
            Ok(Route::CreateOrder)
        );
        assert_eq!(
            resolve(&Method::Post, "/orders/orders"),
            Ok(Route::CreateOrder)
        );
    }

    #[test]
    fn other_methods_are_405_with_allow() {
        assert_eq!(
            resolve(&Method::Delete, "/orders/health/"),
            Err(NoRoute::MethodNotAllowed { allow: "GET" })
        );
        assert_eq!(
            resolve(&Method::Put, "/orders/orders/"),
            Err(NoRoute::MethodNotAllowed { allow: "POST" })
        );
    }

    #[test]
    fn unknown_paths_are_404() {
        for path in [
            "/orders/",
            "/orders",
            "/orders/nope/",
            "/orders/health//",
            "/orders/orders/x/y/",
        ] {
            assert_eq!(
                resolve(&Method::Get, path),
                Err(NoRoute::NotFound),
                "{path}"
            );
        }
    }
}
