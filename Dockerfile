# syntax=docker/dockerfile:1
# The Order Service as a container: the component built in a Rust image,
# served by the Spin CLI in a slim Debian image, as a non-root user, with
# the SQLite database on a volume at /app/data. Everything else under /app
# is read-only to that user, so Spin is told where it may write: no Wasmtime
# cache (it would go to $HOME/.cache), state in /app/data/.spin, no
# component log files (runtime config `log_dir = ""`: Spin passes component
# output to its stderr). tests/api/container.rs runs this exact command line
# as an unprivileged user with /app read-only.

# Where registries are not reachable, the base images and the two binaries
# come from elsewhere (`./dev container`: Debian's packages imported with
# mmdebstrap, the component built by cargo on the host, a Spin built from
# source), chosen by build arguments whose defaults are the public ones:
#   DEBIAN_IMAGE   the runtime's base (and the Spin download stage's)
#   RUST_IMAGE     the component's build stage
#   COMPONENT      `build` (compile here) or `prebuilt`
#                  (target/container/order_service.wasm)
#   SPIN_CLI       `spin-download` (the release for SPIN_VERSION) or
#                  `spin-prebuilt` (target/container/spin)
ARG DEBIAN_IMAGE=debian:bookworm-slim
ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG COMPONENT=build
ARG SPIN_CLI=spin-download

# --- build the component -----------------------------------------------------
FROM ${RUST_IMAGE} AS build
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

FROM scratch AS prebuilt
COPY target/container/order_service.wasm /src/target/wasm32-wasip2/release/order_service.wasm

FROM ${COMPONENT} AS component

# --- fetch the Spin CLI --------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS spin-download
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG SPIN_VERSION=v4.1.0
ARG TARGETARCH
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && arch="$([ "$TARGETARCH" = arm64 ] && echo aarch64 || echo amd64)" \
    && curl -fsSL "https://github.com/spinframework/spin/releases/download/${SPIN_VERSION}/spin-${SPIN_VERSION}-linux-${arch}.tar.gz" \
       | tar -xz -C /usr/local/bin spin \
    && /usr/local/bin/spin --version

FROM scratch AS spin-prebuilt
COPY target/container/spin /usr/local/bin/spin

FROM ${SPIN_CLI} AS spin-cli

# --- runtime -------------------------------------------------------------------
FROM ${DEBIAN_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin spin \
    && mkdir -p /app/data && chown spin:spin /app/data \
    && mkdir -p /run/secrets
COPY --from=spin-cli /usr/local/bin/spin /usr/local/bin/spin
WORKDIR /app
COPY spin.toml ./
COPY deploy/runtime-config.toml ./
COPY deploy/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
COPY --from=component /src/target/wasm32-wasip2/release/order_service.wasm target/wasm32-wasip2/release/order_service.wasm
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
