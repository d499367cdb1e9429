#!/bin/sh
# The Catalog's key is the Auth Service's (the JWT signing key secret); its
# products are seeded on the first start of an empty volume.
set -eu
if [ -z "${CATALOG_SIGNING_KEY:-}" ]; then
    CATALOG_SIGNING_KEY="$(cat /run/secrets/jwt_signing_key)"
    export CATALOG_SIGNING_KEY
fi
fresh=""
[ -e "$CATALOG_DB" ] || fresh=1
python manage.py migrate -v 0
[ -z "$fresh" ] || python manage.py seed_products /catalog/seed.json
exec "$@"
