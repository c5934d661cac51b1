"""The parts of tracing that need the OpenTelemetry SDK, imported only when tracing is on
(shared/tracing.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

from shared.logs import current_correlation_id

# The bits of a trace id a sampling decision looks at: a uuid4's last 56 bits are random, while
# bits 62-63 of its lower 64 are its variant (always 10).
_DECISION_BITS = 56
_DECISION_MASK = (1 << _DECISION_BITS) - 1
_PROBE_PATHS = ("/health/", "/metrics")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


class CorrelationTraceIds(RandomIdGenerator):
    """A trace started in e-BOK takes the correlation id of its task (a request's, a message's)
    as its trace id when that id is 32 hex digits, as e-BOK's own are; otherwise a random one."""

    def generate_trace_id(self) -> int:
        correlation_id = current_correlation_id()
        if correlation_id is not None and is_trace_id(correlation_id):
            return int(correlation_id, 16)
        return super().generate_trace_id()


def is_trace_id(value: str) -> bool:
    """Whether a correlation id can be a trace id as it is: 32 lowercase hex digits, not all
    zero."""
    return bool(_HEX32.match(value)) and int(value, 16) != 0


class RootRatio(Sampler):
    """Keeps `ratio` of the traces that start here, by their trace id's last 56 bits (the
    same decision in every service for one trace id); never the gateway's calls to its
    upstreams' health routes, which have no trace of their own to join."""

    def __init__(self, ratio: float) -> None:
        self.ratio = ratio
        self.bound = round(ratio * (1 << _DECISION_BITS))

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        keep = (trace_id & _DECISION_MASK) < self.bound
        if keep and kind is SpanKind.CLIENT and _is_probe(attributes):
            keep = False
        if not keep:
            return SamplingResult(Decision.DROP, None, trace_state)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, trace_state)

    def get_description(self) -> str:
        return f"EbokRootRatio{{{self.ratio}}}"


def _is_probe(attributes: Attributes) -> bool:
    url = str((attributes or {}).get("url.full") or (attributes or {}).get("http.url") or "")
    path = url.split("://", 1)[-1].partition("/")[2]
    return ("/" + path).startswith(_PROBE_PATHS)
