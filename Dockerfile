# syntax=docker/dockerfile:1
# The Order Service as a container: the component built in a Rust image,
# served by the Spin CLI in a slim Debian image, as a non-root user, with
# the SQLite database on a volume at /app/data. Everything else under /app
# is read-only to that user, so Spin is told where it may write: no Wasmtime
# cache (it would go to $HOME/.cache), state in /app/data/.spin, no
# component log files (runtime config `log_dir = ""`: Spin passes component
# output to its stderr). tests/api/container.rs runs this exact command line
# as an unprivileged user with /app read-only.

# --- build the component -----------------------------------------------------
FROM rust:1.95-slim-bookworm AS build
RUN rustup target add wasm32-wasip2
WORKDIR /src
# Only what the component needs; host/, catalog/, bench/hello, bench/floor,
# tests/pg_probe and tools/api-doc are test and build tooling, stubbed so
# that the workspace resolves (deploy/check replays this stage without
# Docker).
COPY Cargo.toml Cargo.lock ./
COPY host/Cargo.toml host/Cargo.toml
COPY catalog/Cargo.toml catalog/Cargo.toml
COPY bench/hello/Cargo.toml bench/hello/Cargo.toml
COPY bench/floor/Cargo.toml bench/floor/Cargo.toml
COPY tests/pg_probe/Cargo.toml tests/pg_probe/Cargo.toml
COPY tools/api-doc/Cargo.toml tools/api-doc/Cargo.toml
RUN mkdir -p host/src catalog/src/bin bench/hello/src bench/floor/src tests/pg_probe/src tools/api-doc/src \
    && echo 'fn main() {}' > host/src/main.rs && echo 'fn main() {}' > tools/api-doc/src/main.rs \
    && echo 'fn main() {}' > catalog/src/main.rs && echo 'fn main() {}' > catalog/src/bin/mint-token.rs \
    && touch bench/hello/src/lib.rs bench/floor/src/lib.rs tests/pg_probe/src/lib.rs
COPY build.rs ./
COPY src src
COPY migrations migrations
RUN cargo build --locked --release --target wasm32-wasip2 -p order-service

# --- fetch the Spin CLI --------------------------------------------------------
FROM debian:bookworm-slim AS spin
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG SPIN_VERSION=v4.1.0
ARG TARGETARCH
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && arch="$([ "$TARGETARCH" = arm64 ] && echo aarch64 || echo amd64)" \
    && curl -fsSL "https://github.com/spinframework/spin/releases/download/${SPIN_VERSION}/spin-${SPIN_VERSION}-linux-${arch}.tar.gz" \
       | tar -xz -C /usr/local/bin spin \
    && /usr/local/bin/spin --version

# --- runtime -------------------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin spin \
    && mkdir -p /app/data && chown spin:spin /app/data
COPY --from=spin /usr/local/bin/spin /usr/local/bin/spin
WORKDIR /app
COPY spin.toml ./
COPY deploy/runtime-config.toml ./
COPY deploy/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
COPY --from=build /src/target/wasm32-wasip2/release/order_service.wasm target/wasm32-wasip2/release/order_service.wasm
USER 10001
ENV HOME=/app
VOLUME ["/app/data"]
# An unprivileged port: binding 80 needs privileges outside Docker's default
# sysctl (Kubernetes, rootless Podman).
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/orders/health/"]
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["spin", "up", "--listen", "0.0.0.0:8080", "--runtime-config-file", "/app/runtime-config.toml", "--disable-cache", "--state-dir", "/app/data/.spin"]
