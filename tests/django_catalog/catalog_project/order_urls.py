"""Routes of the comparison Order Service (order_settings.py)."""
from django.urls import path

from orders import views

urlpatterns = [path("orders/orders/", views.create_order)]
