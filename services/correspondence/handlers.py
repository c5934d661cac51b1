"""Correspondence's message handlers, listed in SUBSCRIPTIONS."""

from __future__ import annotations

from shared.messaging.consumer import Subscription

SUBSCRIPTIONS: tuple[Subscription, ...] = ()
