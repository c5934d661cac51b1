"""Przelewy24's `sign` values, computed here independently: SHA-384 over a JSON string written
by hand as P24's documentation writes it (no spaces, slashes and Polish letters unescaped)."""

from __future__ import annotations

import hashlib

import pytest
from pydantic import SecretStr

from services.payments.providers import p24
from services.payments.providers.base import BadNotification

CRC = "a1b2c3d4e5f6a7b8"
SESSION = "6b0f7c1e-6f3a-4c55-9d0e-2f7c1b4a9e10"


def sha384(text: str) -> str:
    return hashlib.sha384(text.encode("utf-8")).hexdigest()


def adapter() -> p24.P24:
    return p24.P24(None, "https://sandbox.example/", 100001, 100001, SecretStr(CRC), SecretStr("k"))  # type: ignore[arg-type]


def test_register_sign() -> None:
    text = (
        '{"sessionId":"6b0f7c1e-6f3a-4c55-9d0e-2f7c1b4a9e10","merchantId":100001,'
        '"amount":12345,"currency":"PLN","crc":"a1b2c3d4e5f6a7b8"}'
    )
    fields = {"sessionId": SESSION, "merchantId": 100001, "amount": 12345, "currency": "PLN"}
    assert p24.sign(fields, p24.REGISTER_FIELDS, CRC) == sha384(text)


def test_verify_sign() -> None:
    text = (
        '{"sessionId":"6b0f7c1e-6f3a-4c55-9d0e-2f7c1b4a9e10","orderId":307123456,'
        '"amount":100,"currency":"PLN","crc":"a1b2c3d4e5f6a7b8"}'
    )
    fields = {"sessionId": SESSION, "orderId": 307123456, "amount": 100, "currency": "PLN"}
    assert p24.sign(fields, p24.VERIFY_FIELDS, CRC) == sha384(text)


def notification_text(statement: str, sign: str) -> bytes:
    return (
        '{"merchantId":100001,"posId":100001,"sessionId":"' + SESSION + '","amount":12345,'
        '"originAmount":12345,"currency":"PLN","orderId":307123456,"methodId":154,'
        '"statement":"' + statement + '","sign":"' + sign + '"}'
    ).encode()


def test_notification_sign_keeps_slashes_and_polish_letters() -> None:
    statement = "p24-FV/2026/10/łódź"
    signed = (
        '{"merchantId":100001,"posId":100001,"sessionId":"' + SESSION + '","amount":12345,'
        '"originAmount":12345,"currency":"PLN","orderId":307123456,"methodId":154,'
        '"statement":"p24-FV/2026/10/łódź","crc":"a1b2c3d4e5f6a7b8"}'
    )
    found = adapter().read_notification(notification_text(statement, sha384(signed)))
    assert found.payment_id == SESSION
    assert (found.order_id, found.amount_grosze, found.currency) == ("307123456", 12345, "PLN")


def test_notification_with_a_bad_sign_is_refused() -> None:
    with pytest.raises(BadNotification) as refused:
        adapter().read_notification(notification_text("x", "0" * 96))
    assert refused.value.verdict == "bad-sign"


def test_notification_of_another_merchant_is_refused() -> None:
    body = {
        "merchantId": 999,
        "posId": 999,
        "sessionId": SESSION,
        "amount": 1,
        "originAmount": 1,
        "currency": "PLN",
        "orderId": 1,
        "methodId": 1,
        "statement": "s",
    }
    sign = p24.sign(body, p24.NOTIFICATION_FIELDS, CRC)
    raw = p24.canonical_json({**body, "sign": sign}).encode()
    with pytest.raises(BadNotification) as refused:
        adapter().read_notification(raw)
    assert refused.value.verdict == "other-merchant"


def test_malformed_notification_is_refused() -> None:
    with pytest.raises(BadNotification) as refused:
        adapter().read_notification(b'{"sessionId": 1}')
    assert refused.value.verdict == "malformed"


def test_the_adapter_never_shows_its_keys() -> None:
    shown = repr(adapter()) + repr(adapter().__dict__)
    assert CRC not in shown
    assert "'k'" not in shown
