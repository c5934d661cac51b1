"""The one list of e-BOK's services. Settings, the gateway, the local runner, the compose file
and the test platform all derive from it, so a new service is one line here (then
`python -m deploy.compose` to regenerate deploy/compose.yaml)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    name: str  # the package under services/, and the EBOK_<NAME>_PORT / _URL settings
    port: int  # default of EBOK_<NAME>_PORT
    owns_database: bool = True
    upstream: bool = True  # the gateway forwards to it (and is ready only when it is)
    public: bool = False  # the one public entry: its port is the one published

    @property
    def module(self) -> str:
        return f"services.{self.name}"


# In start order (the runner starts them and waits for each in turn); the gateway last, as it
# is ready only once its upstreams are.
SERVICES: tuple[Service, ...] = (
    Service("billing", 8102),
    Service("identity", 8101),
    Service("notifications", 8103, upstream=False),
    Service("metering", 8104),
    Service("payments", 8105),
    Service("correspondence", 8106),
    Service("gateway", 8080, owns_database=False, upstream=False, public=True),
)

GATEWAY_UPSTREAMS: tuple[str, ...] = tuple(s.name for s in SERVICES if s.upstream)
