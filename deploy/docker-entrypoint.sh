#!/bin/sh
# Reads the JWT key from a Docker/Compose secret file when one is mounted, so
# the key never sits in the image or in `docker inspect` environment output.
set -eu
secret_file="${JWT_SIGNING_KEY_FILE:-/run/secrets/jwt_signing_key}"
if [ -z "${SPIN_VARIABLE_JWT_SIGNING_KEY:-}" ] && [ -r "$secret_file" ]; then
    SPIN_VARIABLE_JWT_SIGNING_KEY="$(cat "$secret_file")"
    export SPIN_VARIABLE_JWT_SIGNING_KEY
fi
exec "$@"
