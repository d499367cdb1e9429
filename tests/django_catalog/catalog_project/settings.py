"""Settings of the test Catalog: the reference Catalog's stack (Django, DRF,
SimpleJWT) configured from the environment by the Rust test harness.

CATALOG_SIGNING_KEY      the key shared with the Auth Service (any length)
CATALOG_DB               the SQLite file holding products
CATALOG_RELEASE_ENABLED  "1": serve POST /products/<id>/release/ (our SPEC §4
                         extension); "0": no such URL, as the reference Catalog
CATALOG_TEST_HOOKS       "1": serve POST /_test/token/ (SimpleJWT mints a token)
CATALOG_JWT_ALGORITHM    SimpleJWT's ALGORITHM (HS256 unless set); with a key
                         pair, CATALOG_JWT_VERIFYING_KEY_FILE holds the Auth
                         Service's public key (SimpleJWT's VERIFYING_KEY)
"""
import os
from datetime import timedelta

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SECRET_KEY = os.environ["CATALOG_SIGNING_KEY"]
# Production behaviour: HTML 404 pages, APPEND_SLASH redirects for POST too.
DEBUG = False
ALLOWED_HOSTS = ["*"]
APPEND_SLASH = True

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "products",
]

MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "catalog_project.urls"
WSGI_APPLICATION = "catalog_project.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("CATALOG_DB", os.path.join(BASE_DIR, "catalog.sqlite3")),
        # Several gunicorn workers write at once: wait for the lock, take it
        # at the start of each transaction.
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
    }
}

USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    # Users live in the Auth Service: trust the signed token, look nothing up.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticatedOrReadOnly",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

JWT_ALGORITHM = os.environ.get("CATALOG_JWT_ALGORITHM", "HS256")
if JWT_ALGORITHM.startswith("HS"):
    SIMPLE_JWT = {
        "ALGORITHM": JWT_ALGORITHM,
        "SIGNING_KEY": SECRET_KEY,
        "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
    }
else:
    # The Catalog only checks tokens: the Auth Service's public key.
    with open(os.environ["CATALOG_JWT_VERIFYING_KEY_FILE"]) as public_key:
        SIMPLE_JWT = {
            "ALGORITHM": JWT_ALGORITHM,
            "SIGNING_KEY": None,
            "VERIFYING_KEY": public_key.read(),
            "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
        }

RELEASE_ENABLED = os.environ.get("CATALOG_RELEASE_ENABLED", "1") == "1"
TEST_HOOKS = os.environ.get("CATALOG_TEST_HOOKS", "0") == "1"

LOGGING = {
    "version": 1,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
