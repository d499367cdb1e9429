"""`POST /orders/orders/` as a plain Django/DRF service does it: the
benchmark's comparison point for this service's creates (issue 21, point
4; bench/README.md). Read each product from the Catalog, check it is
active and in stock, reserve each (the caller's token forwarded), then
write the order and its items in one transaction; a refused reservation
gives back the ones already taken. The token is checked statelessly by
SimpleJWT, as in the Catalog. One pooled HTTP session per worker.
"""
from decimal import Decimal

import requests
from django.conf import settings
from django.db import transaction
from rest_framework import status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from .models import Order, OrderItem

CATALOG = requests.Session()
TIMEOUT = 3


def catalog(method, path, authorization=None, body=None):
    headers = {"Authorization": authorization} if authorization else {}
    return CATALOG.request(method, f"{settings.CATALOG_URL}{path}", json=body,
                           headers=headers, timeout=TIMEOUT)


@api_view(["POST"])
@permission_classes([IsAuthenticated])
def create_order(request):
    items = request.data.get("items") if isinstance(request.data, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= 50:
        return Response({"items": ["Give 1 to 50 items."]}, status=400)
    lines = []
    for item in items:
        product_id, quantity = item.get("product_id"), item.get("quantity")
        if not isinstance(product_id, int) or not isinstance(quantity, int) or quantity < 1:
            return Response({"items": ["Invalid item."]}, status=400)
        lines.append((product_id, quantity))
    authorization = request.headers.get("Authorization")
    priced = []
    for product_id, quantity in lines:
        answer = catalog("GET", f"/products/{product_id}/")
        if answer.status_code == 404:
            return Response({"code": "product_not_found"}, status=400)
        product = answer.json()
        if not product.get("is_active", True) or product["in_stock"] < quantity:
            return Response({"code": "insufficient_stock"}, status=409)
        priced.append((product_id, quantity, Decimal(product["price"])))
    reserved = []
    for product_id, quantity, _ in priced:
        answer = catalog("POST", f"/products/{product_id}/reserve/", authorization,
                         {"quantity": quantity})
        if answer.status_code != 200:
            for taken, units in reserved:
                catalog("POST", f"/products/{taken}/release/", authorization, {"quantity": units})
            return Response({"code": "insufficient_stock"}, status=409)
        reserved.append((product_id, quantity))
    with transaction.atomic():
        order = Order.objects.create(
            user_id=int(request.user.id),
            total_amount=sum(price * quantity for _, quantity, price in priced))
        OrderItem.objects.bulk_create(
            OrderItem(order=order, product_id=p, quantity=q, price=price)
            for p, q, price in priced)
    return Response({
        "id": order.id,
        "user_id": order.user_id,
        "total_amount": str(order.total_amount),
        "status": order.status,
        "items": [{"product_id": p, "quantity": q, "price": str(price)}
                  for p, q, price in priced],
        "created_at": order.created_at.isoformat(),
    }, status=status.HTTP_201_CREATED)
