"""Przelewy24's REST API (https://developers.przelewy24.pl): register a transaction, redirect
the payer to `{base}/trnRequest/{token}`, check the status notification's `sign`, confirm with
`PUT /api/v1/transaction/verify`, look a transaction up by our session id.

Every `sign` is the SHA-384 (hex) of a JSON object of named fields and the CRC key, written as
PHP's json_encode with JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES writes it: no spaces, no
escaped slashes or non-ASCII characters. Calls authenticate with HTTP Basic, the POS id and the
API key. The CRC and API keys never leave this module except in those two places.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from services.payments.providers.base import (
    BadNotification,
    Order,
    ProviderRefused,
    ProviderUnavailable,
    Registered,
    Transaction,
)
from shared.logs import get_logger

log = get_logger(__name__)

NAME = "p24"
REGISTER_FIELDS = ("sessionId", "merchantId", "amount", "currency", "crc")
NOTIFICATION_FIELDS = (
    "merchantId",
    "posId",
    "sessionId",
    "amount",
    "originAmount",
    "currency",
    "orderId",
    "methodId",
    "statement",
    "crc",
)
VERIFY_FIELDS = ("sessionId", "orderId", "amount", "currency", "crc")
# P24's channels (a bit field) for the methods we offer; pay-by-link names its bank's method id.
CHANNELS = {"card": 1, "pay-by-link": 2, "blik": 8192}
# P24's status of a transaction by session: 0 no payment, 1 advance payment, 2 paid, 3 returned.
PAID_STATUSES = (1, 2)


def canonical_json(fields: dict[str, Any]) -> str:
    """The JSON P24 signs: compact, slashes and non-ASCII characters as they are."""
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


def sign(fields: dict[str, Any], names: tuple[str, ...], crc: str) -> str:
    """SHA-384 hex of the named fields (in that order) with "crc" = the CRC key."""
    values = {name: crc if name == "crc" else fields[name] for name in names}
    return hashlib.sha384(canonical_json(values).encode()).hexdigest()


class Notification(BaseModel):
    """P24's status notification (POSTed as JSON to urlStatus)."""

    model_config = ConfigDict(extra="ignore")

    merchantId: int
    posId: int
    sessionId: str = Field(min_length=1, max_length=100)
    amount: int
    originAmount: int
    currency: str = Field(min_length=3, max_length=3)
    orderId: int
    methodId: int
    statement: str
    sign: str = Field(min_length=96, max_length=96)


class P24:
    """The Przelewy24 adapter (Provider)."""

    name = NAME

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        merchant_id: int,
        pos_id: int,
        crc: SecretStr,
        api_key: SecretStr,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.merchant_id = merchant_id
        self.pos_id = pos_id or merchant_id
        self._crc = crc
        self._api_key = api_key

    def __repr__(self) -> str:  # no keys in any log line that prints the adapter
        return f"P24(base_url={self.base_url!r}, merchant_id={self.merchant_id})"

    def _authorization(self) -> str:
        """HTTP Basic: the POS id and the API key (made per call, kept nowhere)."""
        pair = f"{self.pos_id}:{self._api_key.get_secret_value()}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    def _sign(self, fields: dict[str, Any], names: tuple[str, ...]) -> str:
        return sign(fields, names, self._crc.get_secret_value())

    async def _call(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        """P24's `data`; ProviderRefused for a 4xx answer, ProviderUnavailable otherwise."""
        try:
            async with self.session.request(
                method,
                self.base_url + path,
                json=body,
                headers={"Authorization": self._authorization()},
            ) as resp:
                text = await resp.text()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("p24 unreachable", path=path, error=type(exc).__name__)
            raise ProviderUnavailable(f"Przelewy24 did not answer ({type(exc).__name__})") from None
        if status == 404:
            raise LookupError(path)
        if 400 <= status < 500:
            log.warning("p24 refused", path=path, status=status, answer=text[:300])
            raise ProviderRefused(f"Przelewy24 refused the call ({status})")
        if status != 200:
            log.warning("p24 failed", path=path, status=status)
            raise ProviderUnavailable(f"Przelewy24 answered {status}")
        try:
            answer = json.loads(text)
            data = answer["data"]
        except (ValueError, KeyError, TypeError):
            raise ProviderUnavailable("Przelewy24 answered something unreadable") from None
        if not isinstance(data, dict):
            raise ProviderUnavailable("Przelewy24 answered something unreadable")
        return data

    async def register(self, order: Order) -> Registered:
        fields: dict[str, Any] = {
            "merchantId": self.merchant_id,
            "posId": self.pos_id,
            "sessionId": str(order.payment_id),
            "amount": order.amount_grosze,
            "currency": order.currency,
            "description": order.description,
            "email": order.email,
            "country": "PL",
            "language": order.language,
            "urlReturn": order.return_url,
            "urlStatus": order.notify_url,
            "channel": CHANNELS[order.method],
            "timeLimit": 15,
            "encoding": "UTF-8",
        }
        if order.method == "pay-by-link" and order.bank:
            fields["method"] = int(order.bank)
        fields["sign"] = self._sign(fields, REGISTER_FIELDS)
        try:
            data = await self._call("POST", "/api/v1/transaction/register", fields)
        except LookupError:
            raise ProviderUnavailable("Przelewy24's register address was not found") from None
        token = data.get("token")
        if not isinstance(token, str) or not token:
            raise ProviderUnavailable("Przelewy24 answered no token")
        return Registered(token, f"{self.base_url}/trnRequest/{token}")

    def read_notification(self, body: bytes) -> Transaction:
        try:
            notice = Notification.model_validate_json(body)
        except ValidationError as exc:
            fields = ", ".join(sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]}))
            raise BadNotification("malformed", f"not a P24 notification ({fields})") from None
        expected = self._sign(notice.model_dump(), NOTIFICATION_FIELDS)
        if not hmac.compare_digest(expected, notice.sign.lower()):
            raise BadNotification("bad-sign", "the sign does not match")
        if notice.merchantId != self.merchant_id or notice.posId != self.pos_id:
            raise BadNotification("other-merchant", "another merchant's or POS's notification")
        return Transaction(
            payment_id=notice.sessionId,
            order_id=str(notice.orderId),
            amount_grosze=notice.amount,
            currency=notice.currency,
            method_id=notice.methodId,
            statement=notice.statement,
        )

    async def confirm(self, transaction: Transaction) -> None:
        fields: dict[str, Any] = {
            "merchantId": self.merchant_id,
            "posId": self.pos_id,
            "sessionId": transaction.payment_id,
            "amount": transaction.amount_grosze,
            "currency": transaction.currency,
            "orderId": int(transaction.order_id),
        }
        fields["sign"] = self._sign(fields, VERIFY_FIELDS)
        try:
            data = await self._call("PUT", "/api/v1/transaction/verify", fields)
        except LookupError:
            raise ProviderRefused("Przelewy24 does not know the transaction") from None
        if data.get("status") != "success":
            raise ProviderRefused("Przelewy24 did not confirm the transaction")

    async def paid_transaction(self, payment_id: uuid.UUID) -> Transaction | None:
        try:
            data = await self._call("GET", f"/api/v1/transaction/by/sessionId/{payment_id}", None)
        except LookupError:
            return None  # no such transaction: nothing was paid
        except ProviderRefused as exc:
            # Not a "no payment": only a clear answer may expire a payment.
            raise ProviderUnavailable(str(exc)) from None
        if data.get("status") not in PAID_STATUSES or data.get("sessionId") != str(payment_id):
            return None
        try:
            return Transaction(
                payment_id=str(data["sessionId"]),
                order_id=str(int(data["orderId"])),
                amount_grosze=int(data["amount"]),
                currency=str(data["currency"]),
                method_id=int(data["paymentMethod"]) if data.get("paymentMethod") else None,
                statement=data.get("statement"),
            )
        except (KeyError, TypeError, ValueError):
            raise ProviderUnavailable("Przelewy24 answered an unreadable transaction") from None
