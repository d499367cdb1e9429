"""A minimal Django/DRF Order Service on the reference stack: the
benchmark's comparison point (issue 21, point 4; bench/run DJANGO=1).
Same settings as the Catalog, plus:

ORDERS_DB    the SQLite file holding its orders
CATALOG_URL  the Catalog it reads and reserves at
"""
import os

from .settings import *  # noqa: F401,F403
from .settings import DATABASES, INSTALLED_APPS

INSTALLED_APPS = INSTALLED_APPS + ["orders"]
ROOT_URLCONF = "catalog_project.order_urls"
DATABASES = {"default": {**DATABASES["default"], "NAME": os.environ["ORDERS_DB"]}}
CATALOG_URL = os.environ["CATALOG_URL"].rstrip("/")
