# Shared by deploy/container-check and deploy/compose-check (sourced): the
# podman settings this machine needs, the Debian base image made from
# packages, and the two binaries the prebuilt image stages take. No image
# registry is reachable here.

# crun (podman's default) refuses this machine's hybrid cgroups; the
# default limits exceed the hard ones here; netavark's networks give
# containers DNS by name (aardvark-dns), CNI's do not without a plugin.
podman_global=(--runtime runc --cgroup-manager=cgroupfs --network-backend netavark)
pod() { podman "${podman_global[@]}" "$@"; }
limits=(--ulimit nofile=20000:20000 --ulimit nproc=4096:4096)
hardened=(--read-only --read-only-tmpfs=false --cap-drop=all --security-opt=no-new-privileges)
base=localhost/debian:bookworm-slim

# The base image, made once from the machine's apt sources (mmdebstrap),
# slim like the official one: no documentation, manuals or locales, and apt
# keeps no package files or caches in the layers built on it.
ensure_base_image() {
    pod image exists "$base" && return 0
    echo "$(basename "$0"): making $base from Debian's packages (mmdebstrap)" >&2
    local sources="" file tarball
    for file in /etc/apt/sources.list.d/*.sources; do [ -e "$file" ] && sources="$file" && break; done
    tarball="$(mktemp --suffix=.tar)"
    mmdebstrap --quiet --variant=apt \
        --aptopt='Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";' \
        --aptopt='DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };' \
        --aptopt='APT::Install-Recommends "false";' \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
        bookworm "$tarball" ${sources:+"$sources"}
    pod import --quiet "$tarball" "$base" >/dev/null
    rm -f "$tarball"
}

# The component built by cargo on the host and a real Spin (SPIN_BIN,
# default ../shared/spin/spin) in target/container/, where the
# Dockerfile's `prebuilt` stages take them; the demo Catalog and
# mint-token as the tests build them.
prepare_binaries() {
    local spin_bin="${SPIN_BIN:-../shared/spin/spin}"
    [ -x "$spin_bin" ] || { echo "$(basename "$0"): set SPIN_BIN to a Spin CLI built for Debian bookworm" >&2; exit 1; }
    cargo build -q --release --target wasm32-wasip2 -p order-service
    cargo build -q -p demo-catalog
    mkdir -p target/container
    cp target/wasm32-wasip2/release/order_service.wasm target/debug/demo-catalog target/container/
    cp "$spin_bin" target/container/spin
}

# A free port on the loopback interface.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
