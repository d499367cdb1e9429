//! The document the component serves (`src/api/openapi.json`, committed)
//! is the one the code generates: a change of an API type, handler
//! annotation or description fails here until `./dev openapi` is run.

const COMMITTED: &str = include_str!("../../../src/api/openapi.json");

#[test]
fn the_committed_document_is_the_generated_one() {
    let generated = order_service::openapi_document();
    if generated != COMMITTED {
        let first = generated
            .lines()
            .zip(COMMITTED.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| generated.lines().count().min(COMMITTED.lines().count()));
        panic!(
            "src/api/openapi.json is not what the code generates (first difference at line {}: \
             generated {:?}, committed {:?}); run `./dev openapi` and commit the result",
            first + 1,
            generated.lines().nth(first),
            COMMITTED.lines().nth(first),
        );
    }
}
