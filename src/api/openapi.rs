//! `GET /orders/openapi.json`: the API described as OpenAPI 3.1. The
//! document is a checked-in file; tests keep it true (every route in
//! [`super::routes::ROUTES`] documented and nothing more, real responses
//! valid against its schemas).

use spin_sdk::http::Response;

pub const DOCUMENT: &str = include_str!("openapi.json");

pub fn get() -> Response {
    let mut builder = Response::builder();
    builder
        .status(200)
        .header("content-type", "application/json")
        .body(DOCUMENT);
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::super::routes::ROUTES;
    use super::DOCUMENT;
    use serde_json::Value;
    use std::collections::BTreeSet;

    #[test]
    fn the_document_and_the_route_table_agree() {
        let doc: Value = serde_json::from_str(DOCUMENT).expect("openapi.json is JSON");
        assert_eq!(doc["openapi"].as_str().unwrap().get(..3), Some("3.1"));
        let documented: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                    .map(move |method| (path.clone(), method.to_uppercase()))
            })
            .collect();
        let served: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|(path, method, _)| (path.to_string(), method.to_string()))
            .collect();
        assert_eq!(documented, served);
    }
}
