"""A user's flow through the Python client openapi-python-client generated
from the served document (tests/api/clients.rs generates it, then runs
this with the client's parent directory on PYTHONPATH).

BASE_URL: where the service is (the gateway); TOKEN, OTHER_TOKEN: access
tokens of two users. Answers are read as the generated models: a status
the document does not type, or a body its model cannot read, fails here.
"""

import os
from urllib.parse import parse_qs, urlsplit

from order_service_client import AuthenticatedClient, Client
from order_service_client.api.orders import (
    cancel_order,
    create_order,
    get_order,
    list_orders,
)
from order_service_client.models import (
    AuthenticationCode,
    AuthenticationError,
    CancelledOrder,
    ChangeSource,
    ConflictCode,
    ConflictError,
    NotFoundError,
    Order,
    OrderDetail,
    OrderLine,
    OrderPage,
    OrderRequest,
    OrderStatus,
    ProductCode,
    ProductError,
    StockRelease,
    ValidationCode,
    ValidationError,
)

BASE_URL = os.environ["BASE_URL"]
user = AuthenticatedClient(base_url=BASE_URL, token=os.environ["TOKEN"])
other = AuthenticatedClient(base_url=BASE_URL, token=os.environ["OTHER_TOKEN"])


def order_of(*lines):
    return OrderRequest(items=[OrderLine(product_id=p, quantity=q) for p, q in lines])


# Create with an Idempotency-Key; the same request again is the same order.
first = create_order.sync_detailed(client=user, body=order_of((1, 2)), idempotency_key="py-1")
assert first.status_code == 201, first
placed = first.parsed
assert isinstance(placed, Order), placed
assert placed.total_amount == "1999.98" and placed.status == OrderStatus.CREATED
assert placed.items[0].price == "999.99" and placed.items[0].quantity == 2
assert first.headers["Location"] == f"/orders/orders/{placed.id}/"
again = create_order.sync_detailed(client=user, body=order_of((1, 2)), idempotency_key="py-1")
assert again.status_code == 201 and again.parsed.id == placed.id
assert again.headers["Idempotent-Replayed"] == "true"

# The same key with another body: 422, read as a ConflictError.
reused = create_order.sync(client=user, body=order_of((1, 1)), idempotency_key="py-1")
assert isinstance(reused, ConflictError), reused
assert reused.code == ConflictCode.IDEMPOTENCY_KEY_REUSED

# Two more orders, one of them cancelled: three in all, two CREATED.
second = create_order.sync(client=user, body=order_of((2, 1)))
third = create_order.sync(client=user, body=order_of((3, 1), (2, 2)))
assert isinstance(second, Order) and isinstance(third, Order)
cancelled = cancel_order.sync(id=second.id, client=user)
assert isinstance(cancelled, CancelledOrder), cancelled
assert cancelled.status == OrderStatus.CANCELLED and cancelled.id == second.id
assert cancelled.stock_release == StockRelease.RELEASED

# A status-filtered list, one order a page, and its next page.
page = list_orders.sync(client=user, status=[OrderStatus.CREATED], limit=1)
assert isinstance(page, OrderPage), page
assert [o.id for o in page.results] == [third.id]
assert isinstance(page.next_, str), page.next_
query = parse_qs(urlsplit(page.next_).query)
assert query["status"] == ["CREATED"], query
rest = list_orders.sync(client=user, status=[OrderStatus.CREATED], limit=1, cursor=query["cursor"][0])
assert isinstance(rest, OrderPage), rest
assert [o.id for o in rest.results] == [placed.id]
assert rest.next_ is None

# One order with its timeline.
shown = get_order.sync(id=second.id, client=user)
assert isinstance(shown, OrderDetail), shown
assert [c.status for c in shown.timeline] == [OrderStatus.CREATED, OrderStatus.CANCELLED]
assert shown.timeline[1].source == ChangeSource.CUSTOMER
assert shown.refund is None

# Errors, each read as its family's model with its typed code.
invalid = create_order.sync(client=user, body=order_of((1, 0)))
assert isinstance(invalid, ValidationError), invalid
assert invalid.code == ValidationCode.INVALID
assert invalid.errors["items[0].quantity"], invalid.errors.additional_properties

short = create_order.sync(client=user, body=order_of((4, 1000)))
assert isinstance(short, ProductError), short
assert short.code == ProductCode.INSUFFICIENT_STOCK and short.product_id == 4

unknown = create_order.sync(client=user, body=order_of((999, 1)))
assert isinstance(unknown, ProductError), unknown
assert unknown.code == ProductCode.PRODUCT_NOT_FOUND and unknown.product_id == 999

hidden = get_order.sync(id=placed.id, client=other)
assert isinstance(hidden, NotFoundError), hidden

anonymous = list_orders.sync(client=Client(base_url=BASE_URL))
assert isinstance(anonymous, AuthenticationError), anonymous
assert anonymous.code == AuthenticationCode.NOT_AUTHENTICATED

print(f"flow.py: orders {placed.id}, {second.id}, {third.id} as the generated client read them")
