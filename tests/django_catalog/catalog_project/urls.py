"""The Catalog's routes (SPEC §4). `release/` exists only when enabled, so a
disabled one answers Django's own HTML 404, like the reference Catalog."""
from django.conf import settings
from django.urls import path

from products import views

urlpatterns = [
    path("products/", views.ProductList.as_view()),
    path("products/<int:pk>/", views.ProductDetail.as_view()),
    path("products/<int:pk>/reserve/", views.reserve),
]
if settings.RELEASE_ENABLED:
    urlpatterns.append(path("products/<int:pk>/release/", views.release))
if settings.TEST_HOOKS:
    urlpatterns.append(path("_test/token/", views.mint_token))
