//! `GET /orders/openapi.json`: the API described as OpenAPI 3.1.
//!
//! The document is generated from the API's own types and the handlers'
//! `utoipa::path` annotations ([`generate`], behind the `openapi` feature),
//! written to `openapi.json` by `./dev openapi` (tools/api-doc), committed,
//! and served from that file: the component never links utoipa. A test in
//! tools/api-doc fails while the file and the code disagree; the API suite
//! checks real responses against it.

use spin_sdk::http::Response;

pub const DOCUMENT: &str = include_str!("openapi.json");

#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = "/orders/openapi.json",
    operation_id = "openapi",
    tag = "service",
    summary = "This document",
    security(),
    responses((status = 200, body = OpenApiDocument, description = "OpenAPI 3.1 document.")),
))]
pub fn get() -> Response {
    let mut builder = Response::builder();
    builder
        .status(200)
        .header("content-type", "application/json")
        .body(DOCUMENT);
    builder.build()
}

/// Descriptions several operations share, written once.
#[cfg(feature = "openapi")]
pub mod doc {
    pub const USER_UNAUTHENTICATED: &str =
        "Missing, invalid or expired access token (`not_authenticated`, `token_not_valid`).";
    pub const OPERATOR_UNAUTHENTICATED: &str = "No bearer token (`not_authenticated`).";
    pub const OPERATOR_FORBIDDEN: &str =
        "Not the operator token, or the endpoint is disabled (`permission_denied`).";
    pub const PAYMENT_UNSIGNED: &str = "No `Payment-Signature` (`not_authenticated`), or a \
        malformed, stale or wrong one (`signature_not_valid`).";
    pub const DATABASE_UNAVAILABLE: &str = "Database busy (`service_busy`) or unavailable \
        (`database_unavailable`, PostgreSQL restarting or unreachable). Retry after \
        `Retry-After`.";
    pub const BAD_BODY: &str =
        "Body not JSON (`parse_error`) or fields missing or wrong (`invalid`, with `errors`).";
    pub const TOO_LARGE: &str = "Body over 64 KiB (`request_too_large`).";
    pub const NOT_JSON: &str = "Not `application/json` (`unsupported_media_type`).";
}

#[cfg(feature = "openapi")]
pub use document::generate;

#[cfg(feature = "openapi")]
mod document {
    use super::super::{admin, error, fulfilments, health, metrics, orders, payments};
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::path::Operation;
    use utoipa::openapi::schema::{Object, Type};
    use utoipa::openapi::security::SecurityScheme;
    use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder};
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    use utoipa::{Modify, OpenApi};

    /// The document: every route of [`super::super::routes::ROUTES`], in its
    /// order.
    #[derive(OpenApi)]
    #[openapi(
        info(
            title = "Order Service",
            description = "Orders of an e-commerce system, as a Spin HTTP component. \
                Contract: SPEC.md. Errors are JSON `{detail, code, ...}` with DRF codes; each \
                family of errors is its own schema, its `code` an enum of the family's codes. \
                Every response carries `X-Request-ID`. Paths are accepted with or without the \
                trailing slash; unknown paths answer 404 and a known path with another method \
                405 with `Allow`, before authentication.",
        ),
        servers((url = "/")),
        paths(
            health::get,
            super::get,
            orders::list,
            orders::create,
            orders::get,
            orders::cancel,
            admin::reconcile,
            admin::list_orders,
            metrics::get,
            admin::settle_release,
            payments::confirm,
            payments::refund,
            fulfilments::confirm,
        ),
        components(schemas(
            orders::Money,
            orders::Timestamp,
            error::ErrorBody,
            error::InternalError,
        )),
        security(("bearerAuth" = [])),
        tags(
            (name = "orders", description = "A user's own orders: SimpleJWT access tokens."),
            (name = "operator", description = "Support and operations: the `admin_token`; \
                not routed by the gateway."),
            (name = "peer services", description = "The Payment and Fulfilment Services' \
                signed confirmations; not routed by the gateway."),
            (name = "service", description = "Liveness and this document; no credentials."),
        ),
        modifiers(&Conventions),
    )]
    struct ApiDoc;

    /// What every operation shares, said once: the security schemes, the
    /// `X-Request-ID` header on every answer, `WWW-Authenticate` on a 401,
    /// `Retry-After` on a 503, and the 500 of any operation with
    /// credentials.
    struct Conventions;

    impl Modify for Conventions {
        fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
            let components = api.components.get_or_insert_with(Default::default);
            components.add_security_scheme(
                "bearerAuth",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .description(Some(
                            "A SimpleJWT access token (`token_type` access, `user_id`, `jti`, \
                             `exp`), HMAC or asymmetric as configured.",
                        ))
                        .build(),
                ),
            );
            components.add_security_scheme(
                "adminToken",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("The `admin_token` variable."))
                        .build(),
                ),
            );
            components.add_security_scheme(
                "paymentSignature",
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    "Payment-Signature",
                    "`t=<unix seconds>,v1=<hex HMAC-SHA256>`, the MAC of `<t>.<exact request \
                     body>` with `payment_webhook_secret`; `t` within 300 s of the service's \
                     clock; several `v1` allowed (secret rotation).",
                ))),
            );
            components.add_security_scheme(
                "fulfilmentSignature",
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    "Fulfilment-Signature",
                    "As `Payment-Signature`, with `fulfilment_webhook_secret`. The same \
                     scheme sent under the header `Payment-Signature` is taken too (the \
                     secret decides).",
                ))),
            );
            let header = |description: &str| {
                HeaderBuilder::new()
                    .schema(Some(Object::with_type(Type::String)))
                    .description(Some(description))
                    .build()
            };
            components.headers.insert(
                "X-Request-ID".into(),
                RefOr::T(
                    HeaderBuilder::new()
                        .schema(Some(
                            Object::builder()
                                .schema_type(Type::String)
                                .max_length(Some(128)),
                        ))
                        .description(Some(
                            "The incoming id when acceptable, else a new one; also sent to \
                             the Catalog.",
                        ))
                        .build(),
                ),
            );
            components.headers.insert(
                "WWW-Authenticate".into(),
                RefOr::T(header(
                    "`Bearer realm=\"api\"` (`not_authenticated`, `token_not_valid`).",
                )),
            );
            components.headers.insert(
                "Retry-After".into(),
                RefOr::T(header("Seconds to wait before trying again.")),
            );
            let internal = ResponseBuilder::new()
                .description(
                    "An unexpected failure (`internal_error`); its cause is logged beside the \
                     request id.",
                )
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("InternalError")))
                        .build(),
                )
                .build();
            for item in api.paths.paths.values_mut() {
                for operation in operations(item) {
                    let open = operation.security.as_ref().is_some_and(Vec::is_empty);
                    if !open {
                        operation
                            .responses
                            .responses
                            .insert("500".into(), RefOr::T(internal.clone()));
                    }
                    for (status, response) in operation.responses.responses.iter_mut() {
                        let RefOr::T(response) = response else {
                            continue;
                        };
                        let mut add = |name: &str| {
                            response.headers.insert(
                                name.into(),
                                RefOr::Ref(Ref::new(format!("#/components/headers/{name}"))),
                            );
                        };
                        add("X-Request-ID");
                        match status.as_str() {
                            "401" => add("WWW-Authenticate"),
                            "503" | "429" => add("Retry-After"),
                            _ => {}
                        }
                    }
                }
            }
        }
    }

    fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
        [item.get.as_mut(), item.post.as_mut()]
            .into_iter()
            .flatten()
    }

    /// The document as `./dev openapi` writes it: pretty JSON, a final
    /// newline.
    pub fn generate() -> String {
        let mut document = ApiDoc::openapi()
            .to_pretty_json()
            .expect("the document serialises");
        document.push('\n');
        document
    }

    /// What the document endpoint answers: an OpenAPI document.
    #[derive(utoipa::ToSchema)]
    #[allow(dead_code)]
    pub struct OpenApiDocument {
        openapi: String,
        paths: std::collections::BTreeMap<String, serde_json::Value>,
    }
}

#[cfg(feature = "openapi")]
use document::OpenApiDocument;

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
