"""Schemathesis 4 hooks for `scripts/fuzz`.

Loaded with SCHEMATHESIS_HOOKS=shop_fuzz_hooks (PYTHONPATH=Tests/Fuzz). They do three
things, none of which hides a failure: every check still sees every response.

1. Authentication: every case carries the run's bearer token (staff or admin) through
   an auth provider, so schemathesis knows it is explicit auth (its `ignored_auth`
   check then probes each operation without a token and with a broken one).
2. The fuzzing identity survives the run. Deleting a user, changing their password or
   their role ends their sessions, and the run's token would die with them; so a case
   that does one of these to the caller itself (`me` or its own id), carrying the run's
   token, is sent as a fresh disposable user of the same role, made by the admin for
   that case alone (with that user's real current password when the data is meant to
   be valid).
3. What no schema can make valid is made valid, in positive cases only (the ones
   generated to fit the document; negative ones go out as generated): unique fields
   (email, SKU, slugs, Idempotency-Key) get a fresh suffix; category ids that must exist name real
   ones, and a category's new parent keeps the tree acyclic and at most 8 deep; an
   image upload gets the bytes of a real (tiny) image; an opaque cursor is the first
   page's empty one, never sent together with `page`; a checkout pays with a payment
   method the test network takes (a generated token or card number is declined or
   refused); and even ids in paths name seeded users, products, categories and payments,
   and orders these hooks place at start, so the logic behind a found resource runs.

SHOP_FUZZ_DEBUG=<file> appends one line per case as it goes out (before these changes).
"""

from __future__ import annotations

import itertools
import json
import datetime
import os
import re
import struct
import threading
import urllib.error
import urllib.request

import schemathesis

BASE_URL = os.environ["SHOP_FUZZ_BASE_URL"].rstrip("/")
ROLE = os.environ["SHOP_FUZZ_ROLE"]
TOKEN = os.environ["SHOP_FUZZ_TOKEN"]
USER_ID = int(os.environ["SHOP_FUZZ_USER_ID"])
ADMIN_TOKEN = os.environ["SHOP_FUZZ_ADMIN_TOKEN"]
# Keeps the unique values of the two runs on one server apart: lower-case letters only.
RUN = re.sub(r"[^a-z]", "", ROLE) or "x"
PROTECTED_USERS = {int(x) for x in os.environ.get("SHOP_FUZZ_PROTECTED_USERS", "").split(",") if x}
PROTECTED_USERS.add(USER_ID)

_counter = itertools.count(1)
_lock = threading.Lock()


def _next() -> int:
    with _lock:
        return next(_counter)


def _api(
    method: str, path: str, body: object | None = None, token: str | None = ADMIN_TOKEN, headers: dict[str, str] | None = None
) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE_URL + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw)
        except ValueError:
            return error.code, {}


def _ids(path: str) -> list[dict]:
    status, body = _api("GET", path)
    if status != 200:
        raise RuntimeError(f"shop_fuzz_hooks: GET {path} answered {status}: {body}")
    return body.get("data", [])


CATEGORIES = _ids("/api/v1/categories?per_page=100")
CATEGORY_IDS = [c["id"] for c in CATEGORIES]
PRODUCT_IDS = [p["id"] for p in _ids("/api/v1/products?per_page=100")]
USER_IDS = [u["id"] for u in _ids("/api/v1/users?per_page=100") if u["id"] not in PROTECTED_USERS]
# `shop seed` makes demo payments in every state (paid, held, declined, refunded).
PAYMENT_IDS = [p["id"] for p in _ids("/api/v1/payments?per_page=100")]


def _place_orders(count: int) -> list[str]:
    """`count` confirmed orders of the admin's, each of one unit of a product of their own,
    for the cases on /api/v1/orders/{id} to cancel, ship, deliver and refund."""
    status, body = _api(
        "POST",
        "/api/v1/products",
        {"sku": f"fuzz-orders-{RUN}", "name": "Fuzz order product", "price": {"amount": 1500, "currency": "EUR"}, "status": "active"},
    )
    if status != 201:
        raise RuntimeError(f"shop_fuzz_hooks: could not create the orders' product: {status} {body}")
    product = body["data"]["id"]
    status, body = _api("POST", f"/api/v1/products/{product}/inventory/adjustments", {"change": 1000, "reason": "fuzz orders"})
    if status not in (200, 201):
        raise RuntimeError(f"shop_fuzz_hooks: could not stock the orders' product: {status} {body}")
    address = {"name": "Fuzz Buyer", "line1": "1 Test Street", "city": "Berlin", "postal_code": "10115", "country": "DE"}
    placed = []
    for n in range(count):
        status, body = _api("PUT", f"/api/v1/cart/lines/{product}", {"quantity": 1})
        if status != 200:
            raise RuntimeError(f"shop_fuzz_hooks: could not fill the admin's cart: {status} {body}")
        status, body = _api(
            "POST",
            "/api/v1/orders",
            {"shipping_address": address, "payment_method": {"token": "pm_card_visa"}},
            headers={"Idempotency-Key": f"fuzz-order-{RUN}-{n}"},
        )
        if status != 201:
            raise RuntimeError(f"shop_fuzz_hooks: could not place an order: {status} {body}")
        placed.append(body["data"]["id"])
    return placed


ORDER_IDS = _place_orders(8)


def _disposable() -> tuple[str, int, str]:
    """A new user of the run's role, made by the admin: its token, id and password."""
    n = _next()
    email = f"disposable-{RUN}-{n}@fuzz.example.com"
    password = f"disposable password {RUN} {n}"
    status, body = _api("POST", "/api/v1/users", {"email": email, "name": "Disposable", "password": password, "role": ROLE})
    if status != 201:
        raise RuntimeError(f"shop_fuzz_hooks: could not create a disposable {ROLE}: {status} {body}")
    user_id = body["data"]["id"]
    status, body = _api("POST", "/api/v1/auth/token", {"email": email, "password": password}, token=None)
    if status != 200:
        raise RuntimeError(f"shop_fuzz_hooks: could not log in a disposable {ROLE}: {status} {body}")
    return body["data"]["access_token"], user_id, password


@schemathesis.auth(refresh_interval=None)
class ShopBearerToken:
    """The run's access token (ACCESS_TOKEN_TTL_SECONDS outlasts the run)."""

    def get(self, case, context):
        return TOKEN

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


# --- a valid image --------------------------------------------------------------------
# The server reads the format and pixel size from the headers, whatever Content-Type
# says. A WebP (VP8X) header of a small image is all ASCII and NUL bytes, so it can stay a
# text body: schemathesis judges a binary body a hook puts in as schema-violating, but a
# string as the string the document asks for. At most 20 different images (4 x 5 sizes):
# a product holds at most 20, and the same bytes again are a 200, not a 21st image.

def _image(n: int) -> str:
    width, height = 1 + n % 4, 1 + (n // 4) % 5
    payload = b"VP8X" + struct.pack("<I", 10) + bytes(4) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return (b"RIFF" + struct.pack("<I", 4 + len(payload)) + b"WEBP" + payload).decode("ascii")


# --- unique values --------------------------------------------------------------------

_WS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def _unique_email(value: str, n: int) -> str:
    local, _, domain = value.strip(_WS).rpartition("@")
    candidate = f"{local[:40]}.{RUN}{n}@{domain}"
    return candidate if len(candidate) <= 254 else value


def _unique_slug(value: str, n: int) -> str:
    return f"{value[:85]}-{RUN}{n}"


def _unique_sku(value: str, n: int) -> str:
    return f"{value[:50]}-{RUN}{n}"


def _integer(value: object) -> int | None:
    """`value` as the server reads an integer: 7, 7.0 and (in a URL) "7" alike."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value):
        return int(value)
    return None


def _pick(ids: list[int], value: object, exclude: object = None) -> object:
    number = _integer(value)
    choices = [i for i in ids if str(i) != str(exclude)]
    if number is None or not choices:
        return value
    return choices[number % len(choices)]


def _path_id(case, name: str, ids: list[int]) -> None:
    params = case.path_parameters
    number = _integer(params.get(name)) if params else None
    if number is not None and ids and number % 2 == 0:
        params[name] = ids[(number // 2) % len(ids)]


def _categories() -> list[dict]:
    found, page = [], 1
    while True:
        status, body = _api("GET", f"/api/v1/categories?per_page=100&page={page}")
        if status != 200:
            raise RuntimeError(f"shop_fuzz_hooks: GET /api/v1/categories answered {status}: {body}")
        found += body["data"]
        if page >= body["meta"]["total_pages"]:
            return found
        page += 1


def _parent_for(category_id: object, value: object) -> object:
    """A parent for `category_id` (None: a new category) that is neither the category nor
    under it, and keeps the tree at most 8 deep, chosen by `value`: the tree as it is now."""
    number = _integer(value)
    if number is None:
        return value
    tree = {c["id"]: c.get("parent_id") for c in _categories()}
    moving = _integer(category_id)
    if moving is not None and moving not in tree:
        return value  # a 404 anyway

    def chain(node: int) -> list[int]:  # the node and its ancestors
        path = [node]
        while tree.get(path[-1]) is not None:
            path.append(tree[path[-1]])
        return path

    height = 1
    if moving is not None:
        height = 1 + max((len(chain(node)) - len(chain(moving)) for node in tree if moving in chain(node)), default=0)
    choices = sorted(node for node in tree if moving not in chain(node) and len(chain(node)) + height <= 8)
    return choices[number % len(choices)] if choices else None


def _is_self(value: object) -> bool:
    return value == "me" or str(value) == str(USER_ID)


# A case can pass through `before_call` more than once (a replay): it is changed once.
_seen: dict[int, object] = {}


@schemathesis.hook
def before_call(context, case, kwargs):
    with _lock:
        if id(case) in _seen:
            return
        _seen[id(case)] = case  # held, so the id is not reused
    if os.environ.get("SHOP_FUZZ_DEBUG"):
        with open(os.environ["SHOP_FUZZ_DEBUG"], "a") as log:
            log.write(f"{case.method} {case.operation.path} {case.id} {case.meta.generation.mode if case.meta else None} {case.meta.phase.name if case.meta else None} {case.path_parameters} {case.body!r:.200}\n")
    method, path = case.method.upper(), case.operation.path
    # Cases generated together may share their containers: change copies only.
    params = case.path_parameters = dict(case.path_parameters or {})
    body = None
    if isinstance(case.body, dict):
        body = case.body = dict(case.body)
    if case.query:
        case.query = dict(case.query)
    case.headers = dict(case.headers or {})
    positive = case.meta is not None and case.meta.generation.mode.is_positive

    # 2. The fuzzing identity survives the run.
    ends_sessions = (
        (method == "DELETE" and path == "/api/v1/users/{id}")
        or (method == "PUT" and path == "/api/v1/users/{id}/password")
        or (method == "PATCH" and path == "/api/v1/users/{id}" and body is not None and "role" in body)
    )
    carries_run_token = (case.headers or {}).get("Authorization") == f"Bearer {TOKEN}"
    stand_in = ends_sessions and carries_run_token and _is_self(params.get("id"))
    if stand_in:
        token, user_id, password = _disposable()
        case.headers["Authorization"] = f"Bearer {token}"
        if params.get("id") != "me":
            params["id"] = user_id
        if positive and body is not None and path.endswith("/password"):
            body["current_password"] = password

    if not positive:
        return

    # 3. Valid data the document cannot describe.
    n = _next()
    if path == "/api/v1/users/{id}" and params.get("id") != "me" and not stand_in:
        _path_id(case, "id", USER_IDS)
    if path.startswith("/api/v1/products/{id}"):
        _path_id(case, "id", PRODUCT_IDS)
    if path == "/api/v1/categories/{id}":
        _path_id(case, "id", CATEGORY_IDS)
    if path == "/api/v1/cart/lines/{product_id}":
        _path_id(case, "product_id", PRODUCT_IDS)
    if path.startswith("/api/v1/payments/{id}") and PAYMENT_IDS:
        # Payment ids are strings: half the generated ones become a real payment.
        value = str(params.get("id", ""))
        if len(value) % 2 == 0:
            params["id"] = PAYMENT_IDS[len(value) % len(PAYMENT_IDS)]
    if path.startswith("/api/v1/orders/{id}") and ORDER_IDS:
        # Order ids are strings too: half become an order placed at start.
        value = str(params.get("id", ""))
        if len(value) % 2 == 0:
            params["id"] = ORDER_IDS[len(value) % len(ORDER_IDS)]

    if body is not None:
        if path in ("/api/v1/users", "/api/v1/users/{id}") and isinstance(body.get("email"), str):
            body["email"] = _unique_email(body["email"], n)
        if path in ("/api/v1/products", "/api/v1/products/{id}", "/api/v1/categories", "/api/v1/categories/{id}"):
            if isinstance(body.get("slug"), str):
                body["slug"] = _unique_slug(body["slug"], n)
        if path == "/api/v1/products" and isinstance(body.get("sku"), str):
            body["sku"] = _unique_sku(body["sku"], n)
        if path in ("/api/v1/products", "/api/v1/products/{id}") and "category_id" in body:
            body["category_id"] = _pick(CATEGORY_IDS, body["category_id"])
        if path in ("/api/v1/categories", "/api/v1/categories/{id}") and "parent_id" in body:
            # Never under itself, never deeper than 8: a move the tree can take.
            body["parent_id"] = _parent_for(params.get("id"), body["parent_id"])
        if method == "POST" and path == "/api/v1/carts" and isinstance(body.get("lines"), list):
            # A new cart's lines name products that exist, as a storefront's would.
            for line in body["lines"]:
                if isinstance(line, dict) and "product_id" in line:
                    line["product_id"] = _pick(PRODUCT_IDS, line["product_id"])
        if method == "POST" and path == "/api/v1/orders" and isinstance(body.get("payment_method"), dict):
            # A payment method the test network takes, in the shape generated: any other
            # token or card number is declined or refused.
            payment = dict(body["payment_method"])
            if isinstance(payment.get("card"), dict):
                payment["card"] = {**payment["card"], "number": "4242 4242 4242 4242", "exp_year": 2034}
            else:
                payment["token"] = "pm_card_visa"
            body["payment_method"] = payment
        if method == "POST" and path == "/api/v1/webhook-endpoints" and isinstance(body.get("url"), str):
            # An endpoint must be on the public internet, which no schema can say, and this
            # machine resolves no names: a public address literal (deliveries to it fail and
            # are retried, which is fine here).
            body["url"] = f"https://93.184.216.34/hooks/{n}"
        if method == "POST" and path == "/api/v1/reports" and isinstance(body.get("from"), str) and isinstance(body.get("to"), str):
            # The two ends are one constraint no schema can say: from not after to, and at
            # most 366 days (more is 422 on `to`).
            try:
                first, last = sorted([datetime.date.fromisoformat(body["from"]), datetime.date.fromisoformat(body["to"])])
                if (last - first).days > 365:
                    last = first + datetime.timedelta(days=365)
                body["from"], body["to"] = first.isoformat(), last.isoformat()
            except (ValueError, OverflowError):
                pass
        if method == "POST" and path == "/api/v1/orders/{id}/refunds" and params.get("id") in ORDER_IDS:
            # What is left to refund is the order's state, which no schema can say: a
            # partial refund of a real order asks for at most that (more is 422 on `amount`).
            amount = _integer(body.get("amount"))
            status, found = _api("GET", f"/api/v1/orders/{params['id']}")
            if amount is not None and amount > 0 and status == 200:
                left = found["data"]["total"]["amount"] - found["data"]["amount_refunded"]["amount"]
                if left > 0:
                    body["amount"] = 1 + (amount - 1) % left

    key = case.headers.get("Idempotency-Key")
    if isinstance(key, str) and key:
        # A client's key is unique per request; the same key with another body is a 409.
        case.headers["Idempotency-Key"] = f"{key[:200]}-{RUN}{n}"

    if method == "POST" and path == "/api/v1/products/{id}/images" and isinstance(case.body, str):
        case.body = _image(n)

    query = case.query
    if query:
        if "cursor" in query and "page" in query:
            del query["cursor"]
        elif query.get("cursor"):
            query["cursor"] = ""
        if path == "/api/v1/products" and "category_id" in query:
            query["category_id"] = _pick(CATEGORY_IDS, query["category_id"])
