#!/bin/sh
# Reads secret variables from Docker/Compose secret files when mounted, so
# they never sit in the image or in `docker inspect` environment output:
# the JWT key (required) and the operator token of /orders/admin/ (optional).
set -eu
secret_file="${JWT_SIGNING_KEY_FILE:-/run/secrets/jwt_signing_key}"
if [ -z "${SPIN_VARIABLE_JWT_SIGNING_KEY:-}" ] && [ -r "$secret_file" ]; then
    SPIN_VARIABLE_JWT_SIGNING_KEY="$(cat "$secret_file")"
    export SPIN_VARIABLE_JWT_SIGNING_KEY
fi
admin_file="${ADMIN_TOKEN_FILE:-/run/secrets/admin_token}"
if [ -z "${SPIN_VARIABLE_ADMIN_TOKEN:-}" ] && [ -r "$admin_file" ]; then
    SPIN_VARIABLE_ADMIN_TOKEN="$(cat "$admin_file")"
    export SPIN_VARIABLE_ADMIN_TOKEN
fi
exec "$@"
