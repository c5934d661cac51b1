"""What `python -m deploy.dlq show` hides: fields named like secrets, in plain text (sealed
values stay as they are); a name that merely contains such letters ("company") is shown."""

from __future__ import annotations

from deploy.dlq import redacted


def test_secret_fields_are_hidden_and_others_shown() -> None:
    shown = redacted(
        {
            "password": "hunter2",
            "refresh_token": "abc",
            "card_number": "4111111111111111",
            "pan": "4111111111111111",
            "company": "Wodnik sp. z o.o.",
            "expand": "yes",
            "nested": [{"one_time_password": "X1"}],
        }
    )
    assert shown["password"] == "[redacted]"
    assert shown["refresh_token"] == "[redacted]"
    assert shown["card_number"] == "[redacted]"
    assert shown["pan"] == "[redacted]"
    assert shown["company"] == "Wodnik sp. z o.o."
    assert shown["expand"] == "yes"
    assert shown["nested"][0]["one_time_password"] == "[redacted]"
