//! Links the release component with a 128 KiB stack instead of Rust's
//! default 1 MiB.
//!
//! Why: Spin (and spin-host, like it) resets a reused instance slot by
//! `memset`-ing the whole linear memory, up to 2 MiB, after every request.
//! The stack is part of that memory, so with 1 MiB of it a request paid
//! for zeroing 1.19 MiB; with 128 KiB it is 0.31 MiB (bench/README.md,
//! issue 12: health 0.67 → 0.88 × hello at 32 connections).
//!
//! How much is enough: the deepest request measured (a body nested to
//! serde_json's recursion limit of 128) uses 53 KiB of stack in a release
//! build; a create uses 12 KiB. End-to-end tests send bodies and tokens
//! nested to that limit (they fail with a 32 KiB stack). The stack sits
//! below the data (`--stack-first`, Rust's default for wasm), so an
//! overflow traps instead of overwriting data. Debug builds keep the
//! default: their frames are larger (183 KiB for the same body).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32");
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    if wasm && release {
        println!("cargo:rustc-link-arg=-zstack-size=131072");
    }
}
