"""Metering's internal HTTP API: the customer's meters and readings. Every query is limited to
the account the caller's scope selects (shared/scopes.py): a customer's own, or a customer a
manager holds a grant over, for a partial grant only the meters of the granted service points
(decision 58); anything else is 404."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import TypeAdapter

from services.metering import domain, repository
from shared.api.metering import (
    ConsumptionOut,
    ConsumptionPointOut,
    ConsumptionQuery,
    MeterOut,
    MetersOut,
    ReadingOut,
    ReadingQuery,
    SelfReadingIn,
)
from shared.api.paging import Page, read_page
from shared.api.selector import CustomerSelector
from shared.events import metering
from shared.http.problems import Problem, json_response, parse_body, parse_query
from shared.runtime import DB, authenticate
from shared.scopes import Scope, account_scope

routes = web.RouteTableDef()
_METERS = TypeAdapter(list[MeterOut])
_POINTS = TypeAdapter(list[ConsumptionPointOut])


def _points(scope: Scope) -> list[str] | None:
    """The service points a partial grant limits the meters to (None: all of the customer's)."""
    return list(scope.service_point_ids) if scope.partial else None


def _not_found() -> Problem:
    return Problem(404, "Not found", "No such meter on your account", code="not-found")


def _refused(
    refusal: domain.Refusal, title: str = "Reading refused", code: str = "reading-refused"
) -> Problem:
    error = {"field": refusal.field, "message": refusal.message, "code": refusal.code}
    if refusal.params:
        error["params"] = refusal.params
    return Problem(422, title, f"{refusal.field}: {refusal.message}", code=code, errors=[error])


def _reading_out(
    read_at: object, value: object, source: object, consumption: object = None
) -> ReadingOut:
    return ReadingOut(read_at=read_at, value=value, source=source, consumption=consumption)


@routes.get("/meters")
async def meters(request: web.Request) -> web.Response:
    principal = authenticate(request)
    parse_query(request, CustomerSelector)
    async with request.app[DB].connection() as tx:
        scope = await account_scope(tx.conn, principal, request)
        rows = await repository.customer_meters(tx.conn, scope.customer_ids, _points(scope))
    items = [
        {
            **dict(r),
            "address": json.loads(r["address"]),
            "latest_reading": {
                "read_at": r["last_read_at"],
                "value": r["last_value"],
                "source": r["last_source"],
            }
            if r["last_read_at"]
            else None,
        }
        for r in rows
    ]
    return json_response(MetersOut(items=_METERS.validate_python(items)))


@routes.post("/meters/{meter_number}/readings")
async def submit_reading(request: web.Request) -> web.Response:
    principal = authenticate(request)
    body = await parse_body(request, SelfReadingIn)
    parse_query(request, CustomerSelector)
    new = domain.Reading(body.read_at, body.value)
    async with request.app[DB].transaction() as tx:
        scope = await account_scope(tx.conn, principal, request)
        meter = await repository.customer_meter(
            tx.conn,
            scope.customer_ids,
            request.match_info["meter_number"],
            lock=True,
            service_point_ids=_points(scope),
        )
        if meter is None:
            raise _not_found()
        row = await repository.last_reading(tx.conn, meter["meter_number"])
        last = domain.Reading(row["read_at"], row["value"]) if row else None
        refusal = domain.refuse_self_reading(
            new, datetime.now(UTC), meter["installed_on"], meter["removed_on"], last
        )
        if refusal is not None:
            raise _refused(refusal)
        inserted = await repository.insert_self_reading(
            tx.conn, meter["meter_number"], body.read_at, body.value, principal.login
        )
        if not inserted:
            raise Problem(
                409,
                "Reading exists",
                "A reading at that moment is already recorded",
                code="reading-exists",
            )
        await tx.publish(
            metering.SelfReadingSubmitted(
                reading_id=uuid.uuid4(),
                meter_number=meter["meter_number"],
                customer_id=meter["customer_id"],
                service_point_id=meter["service_point_id"],
                read_at=body.read_at,
                value=body.value,
                submitted_by=principal.login,
            )
        )
    out = _reading_out(
        body.read_at, body.value, "customer", body.value - last.value if last else None
    )
    return json_response(out, status=201)


@routes.get("/meters/{meter_number}/readings")
async def readings(request: web.Request) -> web.Response:
    principal = authenticate(request)
    query = parse_query(request, ReadingQuery)
    async with request.app[DB].connection() as tx:
        scope = await account_scope(tx.conn, principal, request)
        meter = await repository.customer_meter(
            tx.conn,
            scope.customer_ids,
            request.match_info["meter_number"],
            service_point_ids=_points(scope),
        )
        if meter is None:
            raise _not_found()
        period = domain.Period(meter["installed_on"], meter["removed_on"])
        period_start, _ = period.window(None, None)
        since, until = period.window(query.from_, query.to)
        rows, next_cursor, prev_cursor = await read_page(
            lambda position: repository.readings_page(
                tx.conn, meter["meter_number"], period_start, since, until, position, query.limit
            ),
            query.KEYSET,
            lambda row: (row["read_at"],),
            query.position,
        )
    page = Page[ReadingOut](
        items=[_reading_out(**r) for r in rows], next_cursor=next_cursor, prev_cursor=prev_cursor
    )
    return json_response(page)


@routes.get("/meters/{meter_number}/consumption")
async def consumption(request: web.Request) -> web.Response:
    """How much water went through the meter per hour, day or month of the utility's calendar,
    within the customer's period on it (docs/api.md)."""
    principal = authenticate(request)
    query = parse_query(request, ConsumptionQuery)
    async with request.app[DB].connection() as tx:
        scope = await account_scope(tx.conn, principal, request)
        meter = await repository.customer_meter(
            tx.conn,
            scope.customer_ids,
            request.match_info["meter_number"],
            service_point_ids=_points(scope),
        )
        if meter is None:
            raise _not_found()
        zone = ZoneInfo(tx.settings.timezone)
        period = domain.Period(meter["installed_on"], meter["removed_on"])
        series = domain.consumption_series(
            period, query.granularity, query.from_, query.to, tx.today(), zone
        )
        if isinstance(series, domain.Refusal):
            raise _refused(series, "Validation failed", "validation-failed")
        since, until = period.window(None, None)
        rows = await repository.consumption(
            tx.conn, meter["meter_number"], since, until, series.edges
        )
    points = _POINTS.validate_python(
        [
            {
                "start": r["start_at"].astimezone(zone),
                "consumption": r["consumption"],
                "estimated": r["estimated"],
            }
            for r in rows
        ]
    )
    measured = [p.consumption for p in points if p.consumption is not None]
    return json_response(
        ConsumptionOut(
            meter_number=meter["meter_number"],
            granularity=query.granularity,
            time_zone=tx.settings.timezone,
            first_day=series.first_day,
            last_day=series.last_day,
            total=sum(measured) if measured else None,
            points=points,
        )
    )
