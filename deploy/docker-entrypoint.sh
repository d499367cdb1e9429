#!/bin/sh
# The container's entrypoint. Reads secret variables from Docker/Compose
# secret files when mounted, so they never sit in the image or in
# `docker inspect` output: the JWT key (the shared HS* key, or the Auth
# Service's public keys with an asymmetric jwt_algorithm: one of the two is
# required), the service token for retried releases, the operator token of
# /orders/admin/, the PostgreSQL connection string (optional: without it,
# orders live in SQLite on /app/data), the event stream's Redis URL
# (optional: without it, events are recorded, not published) and the
# Payment and Fulfilment Services' signing secrets (optional: without one,
# its endpoints answer 403). Fails loudly, before Spin starts, when a secret
# file cannot be read or the data directory cannot be written by this user.
set -eu

fail() {
    echo "docker-entrypoint: $*" >&2
    exit 1
}

# read_secret VARIABLE FILE required|optional
read_secret() {
    variable=$1
    file=$2
    eval "current=\${$variable:-}"
    if [ -n "$current" ]; then
        return 0
    fi
    if [ -e "$file" ]; then
        [ -r "$file" ] || fail "$file exists but uid $(id -u) cannot read it: make the host file readable (e.g. chmod 0444) or give the secret uid $(id -u)"
        value=$(cat "$file")
        [ -n "$value" ] || fail "$file is empty"
        export "$variable=$value"
    elif [ "$3" = required ]; then
        fail "$variable is not set and $file does not exist: mount the secret (see docker-compose.yml)"
    fi
}

read_secret SPIN_VARIABLE_JWT_SIGNING_KEY "${JWT_SIGNING_KEY_FILE:-/run/secrets/jwt_signing_key}" optional
read_secret SPIN_VARIABLE_JWT_VERIFYING_KEY "${JWT_VERIFYING_KEY_FILE:-/run/secrets/jwt_verifying_key}" optional
if [ -z "${SPIN_VARIABLE_JWT_SIGNING_KEY:-}" ] && [ -z "${SPIN_VARIABLE_JWT_VERIFYING_KEY:-}" ] && [ -z "${SPIN_VARIABLE_JWT_JWKS_URL:-}" ]; then
    fail "SPIN_VARIABLE_JWT_SIGNING_KEY is not set and ${JWT_SIGNING_KEY_FILE:-/run/secrets/jwt_signing_key} does not exist: mount the secret (see docker-compose.yml), or the Auth Service's public key as jwt_verifying_key (or its JWKS as SPIN_VARIABLE_JWT_JWKS_URL) with an asymmetric SPIN_VARIABLE_JWT_ALGORITHM"
fi
read_secret SPIN_VARIABLE_CATALOG_SERVICE_TOKEN "${CATALOG_SERVICE_TOKEN_FILE:-/run/secrets/catalog_service_token}" optional
read_secret SPIN_VARIABLE_ADMIN_TOKEN "${ADMIN_TOKEN_FILE:-/run/secrets/admin_token}" optional
read_secret SPIN_VARIABLE_DATABASE_URL "${DATABASE_URL_FILE:-/run/secrets/database_url}" optional
read_secret SPIN_VARIABLE_EVENTS_REDIS_URL "${EVENTS_REDIS_URL_FILE:-/run/secrets/events_redis_url}" optional
read_secret SPIN_VARIABLE_PAYMENT_WEBHOOK_SECRET "${PAYMENT_WEBHOOK_SECRET_FILE:-/run/secrets/payment_webhook_secret}" optional
read_secret SPIN_VARIABLE_FULFILMENT_WEBHOOK_SECRET "${FULFILMENT_WEBHOOK_SECRET_FILE:-/run/secrets/fulfilment_webhook_secret}" optional

data_dir="${DATA_DIR:-/app/data}"
[ -w "$data_dir" ] || fail "$data_dir is not writable by uid $(id -u): the database lives there (mount a volume owned by that uid)"

# Spin unpacks the app into a temporary directory: on the data volume, so
# the root file system can stay read-only with no tmpfs. One per container
# (its hostname), emptied of what a killed predecessor left.
if [ -z "${TMPDIR:-}" ]; then
    TMPDIR="$data_dir/.tmp/$(hostname)"
    rm -rf "$TMPDIR"
    mkdir -p "$TMPDIR"
    export TMPDIR
fi

exec "$@"
