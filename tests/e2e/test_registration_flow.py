"""A customer registers through the gateway, gets the three emails, activates and logs in."""

from __future__ import annotations

import base64

import pytest

from shared.logs import configure_logging
from tests.support.flows import (
    NEW_PASSWORD,
    activation_token,
    credentials,
    known_customer,
    login,
    new_captcha,
    new_captcha_out,
    register,
    registered_account,
    registration_body,
    solved_proof,
    wait_for_mail,
)
from tests.support.platform import wait_until
from tests.support.stack import Stack


async def test_customer_registers_activates_and_logs_in(stack: Stack) -> None:
    customer = await known_customer(stack)

    status, body = await register(stack, customer)
    assert status == 202, body

    first = await wait_for_mail(stack, customer.email, "registration")
    assert first.subject == "Registration"
    assert first.message.get_content_type() == "multipart/alternative"
    token = activation_token(first)
    assert f"https://ebok.test/activate#token={token}" in first.body("plain")
    assert f"https://ebok.test/activate#token={token}" in first.body("html")

    status, body = await stack.api.request(
        "POST", "/api/v1/registrations/activate", json={"token": token}
    )
    assert status == 200, body

    confirmation = await wait_for_mail(stack, customer.email, "registration-confirmation")
    assert confirmation.subject == "Registration — confirmation"
    login_name, password = credentials(confirmation)
    assert password in confirmation.body("html")
    activation = await wait_for_mail(stack, customer.email, "account-activation")
    assert activation.subject == "Account activation"
    assert [m.template for m in stack.mailbox.to_address(customer.email)] == [
        "registration",
        "registration-confirmation",
        "account-activation",
    ]

    async def logged_in() -> dict | None:
        status, body = await login(stack, login_name, password)
        return body if status == 200 else None

    tokens = await wait_until(logged_in, what="login to be enabled")
    assert tokens["must_change_password"] is True
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0

    # Until the one-time password is replaced, only the password change is allowed.
    status, body = await stack.api.request("GET", "/api/v1/me", token=tokens["access_token"])
    assert status == 403 and body["type"].endswith("/password-change-required")

    status, tokens = await stack.api.request(
        "POST",
        "/api/v1/me/password",
        token=tokens["access_token"],
        json={"current_password": password, "new_password": NEW_PASSWORD},
    )
    assert status == 200, tokens
    assert tokens["must_change_password"] is False

    status, me = await stack.api.request("GET", "/api/v1/me", token=tokens["access_token"])
    assert status == 200, me
    assert me["customer_id"] == customer.customer_id
    assert me["login"] == login_name
    assert me["email"] == customer.email
    assert me["status"] == "active"
    assert me["must_change_password"] is False

    status, _ = await login(stack, login_name, password)
    assert status == 401, "the one-time password must stop working"
    status, _ = await login(stack, login_name, NEW_PASSWORD)
    assert status == 200


async def test_captcha_is_a_real_image_and_sound(stack: Stack) -> None:
    captcha = await new_captcha_out(stack)
    png = base64.b64decode(captcha["image"].removeprefix("data:image/png;base64,"))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    assert captcha["audio_url"] == f"/api/v1/captcha/{captcha['captcha_id']}/audio"
    for _ in range(3):  # a person may play it again
        async with stack.api.session.get(stack.api.base_url + captcha["audio_url"]) as resp:
            wav = await resp.read()
            assert resp.status == 200 and resp.content_type == "audio/wav"
        assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE" and len(wav) > 10_000
    # ...but not made on end: each recording costs a worker process ~180 ms.
    async with stack.api.session.get(stack.api.base_url + captcha["audio_url"]) as resp:
        assert resp.status == 404


async def test_a_captcha_needs_a_solved_challenge_once(stack: Stack) -> None:
    status, problem = await stack.api.request("POST", "/api/v1/captcha")
    assert status == 415 or status == 422, problem
    proof = await solved_proof(stack)
    for wrong, reason in (
        ({"number": proof["number"] + 1}, "the number does not solve the challenge"),
        ({"signature": "0" * 64}, "the challenge was not issued here"),
        ({"algorithm": "MD5"}, "the algorithm must be SHA-256"),
        (
            {"salt": proof["salt"].replace("expires=", "expires=1")},
            "the number does not solve the challenge",
        ),
    ):
        status, problem = await stack.api.request(
            "POST", "/api/v1/captcha", json={"proof": {**proof, **wrong}}
        )
        assert status == 400 and problem["type"].endswith("/proof-of-work-refused"), problem
        assert problem["detail"].endswith(reason), problem
    status, _ = await stack.api.request("POST", "/api/v1/captcha", json={"proof": proof})
    assert status == 201
    status, problem = await stack.api.request("POST", "/api/v1/captcha", json={"proof": proof})
    assert status == 400 and "made a CAPTCHA already" in problem["detail"]


async def test_terms_are_served(stack: Stack) -> None:
    status, terms = await stack.api.request("GET", "/api/v1/terms")
    assert status == 200
    assert (terms["version"], terms["language"], terms["title"]) == (
        "2026-01",
        "pl",
        "Regulamin e-BOK",
    )
    assert "przedsiębiorstwa wodociągowo-kanalizacyjnego" in terms["text"]


async def test_terms_are_served_in_each_language_as_one_version(stack: Stack) -> None:
    texts = {}
    for language in ("pl", "en", "uk", "ru"):
        status, terms = await stack.api.request("GET", f"/api/v1/terms?language={language}")
        assert status == 200
        assert (terms["version"], terms["language"]) == ("2026-01", language)
        texts[language] = terms["text"]
    assert "water and sewage utility" in texts["en"]
    assert "водопостачання" in texts["uk"] and "водоснабжения" in texts["ru"]
    assert len(set(texts.values())) == 4


async def test_terms_in_an_unknown_language_are_refused(stack: Stack) -> None:
    status, problem = await stack.api.request("GET", "/api/v1/terms?language=de")
    assert status == 422
    assert problem["errors"][0]["field"] == "language"


async def test_emails_follow_the_chosen_language(stack: Stack) -> None:
    customer = await known_customer(stack)
    status, _ = await register(stack, customer, language="pl")
    assert status == 202
    mail = await wait_for_mail(stack, customer.email, "registration")
    assert mail.subject == "Rejestracja"
    assert mail.message["Content-Language"] == "pl"


async def test_no_secret_reaches_the_logs(stack: Stack, capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging("tests", "DEBUG", "json")
    try:
        account = await registered_account(stack, change_password=False)
        _, tokens = await login(stack, account.login, account.password)
        await stack.api.request(
            "POST",
            "/api/v1/me/password",
            token=tokens["access_token"],
            json={"current_password": account.password, "new_password": NEW_PASSWORD},
        )
        logged = capfd.readouterr()
    finally:
        configure_logging("tests", "WARNING", "console")
    token = activation_token(stack.mailbox.to_address(account.customer.email)[0])
    output = logged.out + logged.err
    assert '"event": "login"' in output, "the test must see the services' logs"
    for secret in (
        account.password,
        token,
        tokens["access_token"],
        tokens["refresh_token"],
        NEW_PASSWORD,
    ):
        assert secret not in output


async def test_the_correlation_id_travels_from_http_through_every_service(stack: Stack) -> None:
    customer = await known_customer(stack)
    captcha = await new_captcha(stack)
    async with stack.api.session.post(
        stack.api.base_url + "/api/v1/registrations",
        json=registration_body(customer, captcha),
        headers={"X-Correlation-ID": "trace-me-1234"},
    ) as resp:
        assert resp.status == 202
        assert resp.headers["X-Correlation-ID"] == "trace-me-1234"
    await wait_for_mail(stack, customer.email, "registration")

    async def correlation_ids(service: str, event_type: str) -> list[str]:
        conn = await stack.platform.db(service)
        try:
            rows = await conn.fetch(
                "SELECT body::jsonb ->> 'correlation_id' AS c FROM outbox WHERE routing_key = $1",
                event_type,
            )
        finally:
            await conn.close()
        return [r["c"] for r in rows]

    # identity's event, and notifications' event about the email it caused, carry it on.
    assert "trace-me-1234" in await correlation_ids("identity", "identity.registration.requested")
    await wait_until(
        lambda: _contains(
            correlation_ids("notifications", "notifications.email.sent"), "trace-me-1234"
        ),
        what="notifications to carry the correlation id",
    )


async def _contains(values: object, wanted: str) -> bool:
    return wanted in await values  # type: ignore[operator]


async def test_no_secret_is_kept_readable_in_the_outbox(stack: Stack) -> None:
    """The activation link and the one-time password leave identity sealed: its outbox (and so
    the broker's queues) hold ciphertext only, while the emails carry the secrets."""
    account = await registered_account(stack, change_password=False)
    mails = stack.mailbox.to_address(account.customer.email)
    token = activation_token(next(m for m in mails if m.template == "registration"))
    conn = await stack.platform.db("identity")
    try:
        bodies = [
            r["body"]
            for r in await conn.fetch(
                "SELECT body FROM outbox WHERE routing_key IN ($1, $2)",
                "identity.registration.requested",
                "identity.credentials.issued",
            )
        ]
    finally:
        await conn.close()
    mine = [b for b in bodies if account.customer.email in b]
    assert len(mine) == 2, mine
    for body in mine:
        assert token not in body and account.password not in body
        assert '"sealed:v1:' in body
