"""Test controls under /emulator: phases, traffic, faults, stats, reset, clock, seeding.

They need no token and are never counted, delayed or failed by faults.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.emulator.clock import iso
from bot.emulator.errors import bad_request
from bot.emulator.faults import parse_fault
from bot.emulator.requests import json_body
from bot.emulator.state import EmulatorState
from bot.emulator.usage import TRAFFIC_FIELDS
from bot.emulator.views import workload_body


def control_routes(state: EmulatorState) -> list[Route]:
    """Routes of the test controls, bound to one state."""

    async def force_phase(request: Request) -> Response:
        body = await json_body(request)
        if not isinstance(body, Mapping) or not isinstance(body.get("phase"), str):
            raise bad_request('Bad request - body must be {"phase": str, "message"?: str}')
        message = body.get("message")
        if message is not None and not isinstance(message, str):
            raise bad_request("Bad request - message must be a string")
        record = state.force_phase(request.path_params["workloadId"], body["phase"], message)
        return JSONResponse(workload_body(record, state.now(), detailed=True))

    async def set_traffic(request: Request) -> Response:
        body = await json_body(request)
        workload_id = request.path_params["workloadId"]
        values = state.set_traffic(workload_id, body)
        return JSONResponse(
            {
                "workloadId": workload_id,
                "since": iso(state.get(workload_id).traffic[-1].since),
                **{name: values.get(name) for name in TRAFFIC_FIELDS},
            }
        )

    async def add_fault(request: Request) -> Response:
        state.faults.add(parse_fault(await json_body(request)))
        return JSONResponse(
            {"faults": [f.describe() for f in state.faults.faults]}, status_code=201
        )

    async def list_faults(request: Request) -> Response:
        return JSONResponse({"faults": [f.describe() for f in state.faults.faults]})

    async def clear_faults(request: Request) -> Response:
        state.faults.clear()
        return JSONResponse({"faults": []})

    async def stats(request: Request) -> Response:
        return JSONResponse(state.stats.snapshot())

    async def clear_stats(request: Request) -> Response:
        state.stats.clear()
        return JSONResponse(state.stats.snapshot())

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"reset": True})

    async def clock(request: Request) -> Response:
        body = await json_body(request)
        seconds = body.get("advanceSeconds") if isinstance(body, Mapping) else None
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise bad_request('Bad request - body must be {"advanceSeconds": number >= 0}')
        state.clock.advance(float(seconds))
        return JSONResponse({"now": state.now(), "offsetSeconds": state.clock.offset})

    async def seed(request: Request) -> Response:
        body = await json_body(request)
        if not isinstance(body, Mapping):
            raise bad_request("Bad request - the body must be a JSON object")
        count = body.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 100_000:
            raise bad_request("Bad request - count must be an integer in 0..100000")
        project_id = str(body.get("projectId", "1"))
        if project_id not in state.projects:
            raise bad_request(f"Bad request - project {project_id} does not exist")
        phase = body.get("phase", "Running")
        ids = state.seed_workloads(
            count,
            project_id=project_id,
            name_prefix=str(body.get("namePrefix", "seeded")),
            phase=phase if isinstance(phase, str) else None,
        )
        return JSONResponse({"ids": ids}, status_code=201)

    return [
        Route("/emulator/workloads/{workloadId}/phase", force_phase, methods=["POST"]),
        Route("/emulator/workloads/{workloadId}/traffic", set_traffic, methods=["POST"]),
        Route("/emulator/faults", add_fault, methods=["POST"]),
        Route("/emulator/faults", list_faults, methods=["GET"]),
        Route("/emulator/faults", clear_faults, methods=["DELETE"]),
        Route("/emulator/stats", stats, methods=["GET"]),
        Route("/emulator/stats", clear_stats, methods=["DELETE"]),
        Route("/emulator/reset", reset, methods=["POST"]),
        Route("/emulator/clock", clock, methods=["POST"]),
        Route("/emulator/seed", seed, methods=["POST"]),
    ]
