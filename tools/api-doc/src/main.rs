//! Prints the OpenAPI document generated from the API's types
//! (`order_service::openapi_document`). `./dev openapi` writes it to
//! `src/api/openapi.json`, the file the component serves; the test in
//! `tests/` fails while the two differ.

fn main() {
    print!("{}", order_service::openapi_document());
}
