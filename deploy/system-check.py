#!/usr/bin/env python3
"""What a user and the peer services do to a deployed Order Service, checked
(issue 36): run inside the deployment's network by deploy/compose-check,
against the compose shape (through the NGINX gateway) and the hosted shape
(the cloud manifest under a 128 MiB cap). Standard library only, so it runs
in the Django Catalog's image as it is.

  system-check.py lifecycle   create -> pay -> ship -> deliver, create -> pay
                              -> cancel (refund owed) -> refund; events on the
                              Redis stream, stock exact at the Catalog
  system-check.py load        creates for --seconds from --workers clients;
                              prints what was acknowledged, as JSON
  system-check.py stock       the Catalog's stock of the product `load` orders
  system-check.py settle      every acknowledged order (`load`'s JSON in
                              LOAD_RESULT) is listed, and the Catalog's stock of the
                              product moved by exactly the orders that exist

Settings come from the environment: GATEWAY (what users call), SERVICE (one
Order Service instance: the peer endpoints are kept off the gateway),
CATALOG, REDIS_URL, EVENTS_STREAM, TOKEN (a SimpleJWT access token), and the
secrets PAYMENT_SECRET, FULFILMENT_SECRET, ADMIN_TOKEN.
"""
import hashlib
import hmac
import json
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ENV = os.environ


def fail(message):
    print(f"system-check: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def call(method, url, body=None, headers=None, timeout=20):
    """(status, parsed JSON or text) of one HTTP exchange; never raises on
    an HTTP status."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def user(method, path, body=None):
    return call(method, ENV["GATEWAY"] + path, body, {"Authorization": "Bearer " + ENV["TOKEN"]})


def signed(path, secret_name, header, body):
    """A peer service's report, signed as webhook_signature.rs checks it."""
    raw = json.dumps(body)
    stamp = str(int(time.time()))
    mac = hmac.new(ENV[secret_name].encode(), f"{stamp}.{raw}".encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(ENV["SERVICE"] + path, data=raw.encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header(header, f"t={stamp},v1={mac}")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def expect(what, got, status):
    if got[0] != status:
        fail(f"{what}: answered {got[0]} {got[1]}, expected {status}")
    return got[1]


def stock(product):
    status, body = call("GET", f"{ENV['CATALOG']}/products/{product}/")
    if status != 200:
        fail(f"the Catalog's product {product}: {status} {body}")
    return body["in_stock"]


def redis_stream(url, key):
    """Every entry of stream `key` as (id, {field: value}), over RESP."""
    parsed = urllib.parse.urlparse(url)
    with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=10) as sock:
        reader = sock.makefile("rb")

        def command(*words):
            out = f"*{len(words)}\r\n"
            for word in words:
                out += f"${len(word.encode())}\r\n{word}\r\n"
            sock.sendall(out.encode())
            return read()

        def read():
            line = reader.readline().rstrip(b"\r\n")
            kind, rest = line[:1], line[1:]
            if kind == b"+":
                return rest.decode()
            if kind == b"-":
                fail(f"Redis: {rest.decode()}")
            if kind == b":":
                return int(rest)
            if kind == b"$":
                size = int(rest)
                if size < 0:
                    return None
                value = reader.read(size + 2)[:-2]
                return value.decode()
            if kind == b"*":
                size = int(rest)
                return None if size < 0 else [read() for _ in range(size)]
            fail(f"Redis: unexpected answer {line!r}")

        if parsed.password:
            command("AUTH", urllib.parse.unquote(parsed.password))
        entries = command("XRANGE", key, "-", "+") or []
    return [(entry_id, dict(zip(fields[::2], fields[1::2]))) for entry_id, fields in entries]


def lifecycle():
    laptops, keyboards = stock(1), stock(3)

    shipped = expect("create (2 laptops)", user("POST", "/orders/orders/", {"items": [{"product_id": 1, "quantity": 2}]}), 201)
    paid = {"payment_id": f"pay-{shipped['id']}", "order_id": shipped["id"], "amount": shipped["total_amount"], "currency": "EUR"}
    expect("payment", signed("/orders/payments/", "PAYMENT_SECRET", "Payment-Signature", paid), 200)
    expect("shipment", signed("/orders/fulfilments/", "FULFILMENT_SECRET", "Fulfilment-Signature",
                              {"event_id": f"ship-{shipped['id']}", "order_id": shipped["id"], "status": "SHIPPED",
                               "carrier": "DHL", "tracking_reference": "JD014600003SE"}), 200)
    expect("delivery", signed("/orders/fulfilments/", "FULFILMENT_SECRET", "Fulfilment-Signature",
                              {"event_id": f"deliver-{shipped['id']}", "order_id": shipped["id"], "status": "DELIVERED"}), 200)

    refunded = expect("create (3 keyboards)", user("POST", "/orders/orders/", {"items": [{"product_id": 3, "quantity": 3}]}), 201)
    payment = {"payment_id": f"pay-{refunded['id']}", "order_id": refunded["id"], "amount": refunded["total_amount"], "currency": "EUR"}
    expect("payment", signed("/orders/payments/", "PAYMENT_SECRET", "Payment-Signature", payment), 200)
    cancelled = expect("cancel of a paid order", user("POST", f"/orders/orders/{refunded['id']}/cancel/"), 200)
    if cancelled.get("stock_release") != "released":
        fail(f"cancel: stock not released: {cancelled}")
    owed = expect("read", user("GET", f"/orders/orders/{refunded['id']}/"), 200)
    if owed.get("refund") != "owed":
        fail(f"a cancelled paid order shows no refund owed: {owed}")
    expect("refund", signed("/orders/refunds/", "PAYMENT_SECRET", "Payment-Signature",
                            {"refund_id": f"re-{refunded['id']}", "payment_id": payment["payment_id"],
                             "order_id": refunded["id"], "amount": refunded["total_amount"], "currency": "EUR"}), 200)
    refused = user("POST", f"/orders/orders/{shipped['id']}/cancel/")
    expect("cancel of a delivered order", refused, 409)
    # The peers' and the operator's endpoints are kept off a gateway.
    for path in ("/orders/payments/", "/orders/fulfilments/", "/orders/admin/reconcile/"):
        status, _ = call("POST", ENV["GATEWAY"] + path, {})
        if ENV["GATEWAY"] != ENV["SERVICE"] and status != 404:
            fail(f"the gateway lets {path} through ({status})")

    delivered = expect("read", user("GET", f"/orders/orders/{shipped['id']}/"), 200)
    timeline = [entry["status"] for entry in delivered["timeline"]]
    if timeline != ["CREATED", "PAID", "SHIPPED", "DELIVERED"]:
        fail(f"timeline {timeline}")
    if expect("read", user("GET", f"/orders/orders/{refunded['id']}/"), 200).get("refund") != "refunded":
        fail("the refund is not shown")
    if (stock(1), stock(3)) != (laptops - 2, keyboards):
        fail(f"stock: laptops {laptops} -> {stock(1)} (2 delivered), keyboards {keyboards} -> {stock(3)} (all back)")

    expected = {
        shipped["id"]: ["order.created", "order.paid", "order.shipped", "order.delivered"],
        refunded["id"]: ["order.created", "order.paid", "order.cancelled", "payment.refund_required", "payment.refunded"],
    }
    deadline = time.monotonic() + 20
    while True:
        seen = {order: [] for order in expected}
        for _, fields in redis_stream(ENV["REDIS_URL"], ENV.get("EVENTS_STREAM", "orders.events")):
            payload = json.loads(fields["payload"])
            order = payload.get("order_id", payload.get("id"))
            if order in seen:
                seen[order].append(fields["type"])
        if seen == expected:
            break
        if time.monotonic() > deadline:
            fail(f"events on the stream {seen}, expected {expected}")
        time.sleep(0.5)
    print(f"system-check: lifecycle ok: order {shipped['id']} paid, shipped, delivered; "
          f"order {refunded['id']} paid, cancelled, refunded; 9 events on the stream in order; stock exact")


LOAD_PRODUCT = 5


def load():
    """Creates of one unit of product 5 from several clients, each at a
    pace under the gateway's per-client limit (10 creates/s, burst 20)."""
    seconds = float(ENV.get("LOAD_SECONDS", "20"))
    workers = int(ENV.get("LOAD_WORKERS", "4"))
    pause = workers / 8.0
    results, lock = [], threading.Lock()
    end = time.monotonic() + seconds

    def client():
        while time.monotonic() < end:
            started = time.monotonic()
            try:
                status, body = user("POST", "/orders/orders/", {"items": [{"product_id": LOAD_PRODUCT, "quantity": 1}]})
            except OSError as error:
                status, body = 0, str(error)
            with lock:
                results.append((status, body["id"] if status == 201 else None))
            time.sleep(max(0.0, pause - (time.monotonic() - started)))

    threads = [threading.Thread(target=client) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = {}
    for status, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    json.dump({"acknowledged": [order for status, order in results if status == 201], "statuses": statuses}, sys.stdout)


def settle():
    """No acknowledged order lost; the Catalog's stock moved by exactly the
    units of the orders that exist (a create cut off by the kill is either
    an order or, once its intent's lease runs out, stock given back).
    `load`'s JSON comes in LOAD_RESULT, the stock before in STOCK_BEFORE."""
    ran = json.loads(ENV["LOAD_RESULT"])
    before = int(ENV["STOCK_BEFORE"])
    acknowledged = set(ran["acknowledged"])
    deadline = time.monotonic() + float(ENV.get("SETTLE_SECONDS", "90"))
    while True:
        orders, path = {}, "/orders/orders/?limit=100"
        while path:
            page = expect("list", user("GET", path), 200)
            for order in page["results"]:
                orders[order["id"]] = order
            path = page.get("next")
        missing = acknowledged - set(orders)
        if missing:
            fail(f"acknowledged orders not listed: {sorted(missing)}")
        held = sum(item["quantity"] for order in orders.values() if order["status"] != "CANCELLED"
                   for item in order["items"] if item["product_id"] == LOAD_PRODUCT)
        taken = before - stock(LOAD_PRODUCT)
        if taken == held:
            break
        if time.monotonic() > deadline:
            fail(f"the Catalog gave {taken} units of product {LOAD_PRODUCT} for orders holding {held}")
        # Ask for the overdue work (dead intents) now rather than on the
        # next write's follow-up.
        call("POST", ENV["SERVICE"] + "/orders/admin/reconcile/", {}, {"Authorization": "Bearer " + ENV["ADMIN_TOKEN"]})
        time.sleep(2)
    print(f"system-check: settled: {len(acknowledged)} acknowledged orders all listed ({ran['statuses']}); "
          f"{len(orders)} orders hold {held} units, the Catalog gave exactly {taken}")


if __name__ == "__main__":
    actions = {"lifecycle": lifecycle, "load": load, "settle": settle, "stock": lambda: print(stock(LOAD_PRODUCT))}
    actions[sys.argv[1]]()
