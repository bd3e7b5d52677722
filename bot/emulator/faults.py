"""Fault injection: the next N matching API calls fail with a status or slow down."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.emulator.errors import bad_request

FAULT_MESSAGES = {
    500: "Something went wrong.",
    502: "Bad gateway.",
    503: "Please try again in few minutes.",
    504: "Gateway timeout.",
    429: "Too many requests.",
}


@dataclass(slots=True)
class Fault:
    """One armed fault; `status` None (or 0) means delay only."""

    status: int | None
    remaining: int
    latency_ms: int
    path_prefix: str
    method: str | None

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a call."""
        if self.remaining <= 0 or not path.startswith(self.path_prefix):
            return False
        return self.method is None or self.method == method

    def describe(self) -> dict[str, Any]:
        """The fault as the control endpoint reports it."""
        return {
            "status": self.status,
            "count": self.remaining,
            "latencyMs": self.latency_ms,
            "pathPrefix": self.path_prefix,
            "method": self.method,
        }


def parse_fault(body: Any) -> Fault:
    """Read `{"status","count","latencyMs","pathPrefix","method"?}`; 400 on nonsense."""
    if not isinstance(body, Mapping):
        raise bad_request("Bad request - the body must be a JSON object")
    status = body.get("status")
    if status in (None, 0):
        status = None
    elif not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise bad_request("Bad request - status must be an HTTP status code 100..599")
    count = body.get("count", 1)
    latency = body.get("latencyMs", 0)
    for name, number in (("count", count), ("latencyMs", latency)):
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            raise bad_request(f"Bad request - {name} must be an integer >= 0")
    if status is None and latency == 0:
        raise bad_request("Bad request - a fault needs a status, a latencyMs, or both")
    prefix = body.get("pathPrefix", "/api")
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise bad_request("Bad request - pathPrefix must be a path starting with '/'")
    method = body.get("method")
    if method is not None and not isinstance(method, str):
        raise bad_request("Bad request - method must be a string")
    return Fault(status, count, latency, prefix, method.upper() if method else None)


class FaultInjector:
    """Armed faults, consumed in the order they were added."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Arm a fault."""
        self.faults.append(fault)

    def clear(self) -> None:
        """Disarm all faults."""
        self.faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first armed fault matching this call, with one use consumed."""
        for fault in self.faults:
            if fault.matches(method, path):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                return fault
        return None
