"""The payments service's app state besides shared/runtime.py's."""

from __future__ import annotations

from aiohttp import web

from services.payments.providers.base import Provider

PROVIDER = web.AppKey("payment_provider", Provider)
