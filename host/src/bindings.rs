//! Host bindings for the Spin interfaces in `wit/`.

wasmtime::component::bindgen!({
    path: "wit",
    world: "spin-imports",
    imports: { default: async | trappable },
    with: {
        "spin:sqlite/sqlite.connection": crate::resources::SqliteConnection,
        "spin:postgres/postgres.connection": crate::resources::PgConnection,
        "fermyon:spin/redis.connection": crate::resources::RedisConnection,
    },
});
