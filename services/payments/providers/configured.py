"""The provider the settings name (EBOK_PAYMENTS_PROVIDER), built on an HTTP session."""

from __future__ import annotations

import aiohttp

from services.payments.providers.base import Provider
from services.payments.providers.p24 import P24
from shared.settings import Settings


def configured_provider(settings: Settings, session: aiohttp.ClientSession) -> Provider:
    if settings.payments_provider == "p24":
        return P24(
            session,
            settings.p24_base_url,
            settings.p24_merchant_id,
            settings.p24_pos_id,
            settings.p24_crc,
            settings.p24_api_key,
        )
    raise ValueError(f"unknown payment provider {settings.payments_provider!r}")
