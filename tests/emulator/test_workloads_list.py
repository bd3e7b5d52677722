"""GET /api/v1/workloads: filterBy, paging, sorting, deleted, and 10,000 workloads."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_asyncio

from tests.emulator.conftest import INFERENCE, MODULE_LOOP, WORKLOADS, Api, eventually

pytestmark = MODULE_LOOP


async def names(api: Api, **params: Any) -> list[str]:
    response = await api.call("GET", WORKLOADS, params=params)
    assert response.status_code == 200, response.text
    return [w["name"] for w in response.json()["workloads"]]


@pytest_asyncio.fixture(loop_scope="module")
async def fleet(api: Api) -> dict[str, str]:
    """Five workloads across both projects, one failed, one still creating."""
    ids = {}
    for name in ("alpha", "beta", "gamma-fail"):
        image = "bad-fail:1" if "fail" in name else "vllm/vllm-openai:latest"
        ids[name] = (await api.create(name, image=image))["workloadId"]
    body = {
        "name": "delta",
        "projectId": "2",
        "clusterId": api.emulator.state.projects["2"].cluster_id,
    }
    body["spec"] = {"image": "tgi:2", "servingPort": {"container": 80}}
    ids["delta"] = (await api.call("POST", "/api/v1/workloads/inferences", json=body)).json()[
        "workloadId"
    ]
    await eventually(
        lambda: names(api, filterBy="phase==Creating,phase==Initializing"), lambda found: True
    )
    await eventually(lambda: names(api, filterBy="phase==Running"), lambda found: len(found) == 3)
    api.emulator.state.phase_seconds = 600
    ids["epsilon"] = (await api.create("epsilon"))["workloadId"]
    return ids


async def test_default_lists_live_workloads_in_creation_order(
    api: Api, fleet: dict[str, str]
) -> None:
    assert await names(api) == ["alpha", "beta", "gamma-fail", "delta", "epsilon"]


@pytest.mark.parametrize(
    ("filter_by", "expected"),
    [
        ("name==beta", ["beta"]),
        ("name!=beta", ["alpha", "gamma-fail", "delta", "epsilon"]),
        ("name=@ta", ["beta", "delta"]),
        ("name!@a", ["epsilon"]),
        ("name=^gam", ["gamma-fail"]),
        ("name=$on", ["epsilon"]),
        ("type==inference", ["alpha", "beta", "gamma-fail", "delta", "epsilon"]),
        ("type!=inference", []),
        ("projectId==2", ["delta"]),
        ("projectName==team-a,phase==Running", ["alpha", "beta"]),
        ("phase==Failed", ["gamma-fail"]),
        ("phase==Creating", ["epsilon"]),
        ("phase!=Running", ["gamma-fail", "epsilon"]),
        ("name>=delta", ["gamma-fail", "delta", "epsilon"]),
        ("name<=beta", ["alpha", "beta"]),
        ("createdAt>=2000-01-01T00:00:00Z", ["alpha", "beta", "gamma-fail", "delta", "epsilon"]),
        ("createdAt<=2000-01-01T00:00:00Z", []),
        ("phaseUpdatedAt>=2000-01-01T00:00:00.000Z,name==alpha", ["alpha"]),
        ("deletedAt==2000-01-01T00:00:00Z", []),
    ],
)
async def test_filter_operators(
    api: Api, fleet: dict[str, str], filter_by: str, expected: list[str]
) -> None:
    assert await names(api, filterBy=filter_by) == expected


async def test_repeated_filter_params_are_anded(api: Api, fleet: dict[str, str]) -> None:
    params = [("filterBy", "projectId==1"), ("filterBy", "name=^a")]
    response = await api.call("GET", WORKLOADS, params=params)
    assert [w["name"] for w in response.json()["workloads"]] == ["alpha"]


async def test_dates_compare_as_dates(api: Api, fleet: dict[str, str]) -> None:
    epsilon = (await api.workload(fleet["epsilon"])).json()
    stamp = epsilon["createdAt"]
    assert await names(api, filterBy=f"createdAt>={stamp}") == ["epsilon"]
    assert await names(api, filterBy=f"createdAt=={stamp}") == ["epsilon"]
    earlier = (await api.workload(fleet["alpha"])).json()["createdAt"]
    assert "epsilon" not in await names(api, filterBy=f"createdAt<={earlier}")
    assert await names(api, filterBy=f"createdAt<={earlier}") == ["alpha"]


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"filterBy": "colour==red"}, "invalid filterBy 'colour==red'"),
        ({"filterBy": "name~=x"}, "invalid filterBy 'name~=x'"),
        ({"filterBy": "name=="}, "invalid filterBy 'name=='"),
        ({"filterBy": "createdAt=@2024"}, "dates support only == != <= >="),
        ({"filterBy": "createdAt>=yesterday"}, "'yesterday' is not an ISO 8601 date"),
        ({"filterBy": ",".join(["name!=x"] * 11)}, "at most 10 filterBy terms"),
        ({"limit": "0"}, "limit must be between 1 and 500, got 0"),
        ({"limit": "501"}, "limit must be between 1 and 500, got 501"),
        ({"limit": "many"}, "limit must be an integer, got 'many'"),
        ({"offset": "-1"}, "offset must be >= 0, got -1"),
        ({"sortBy": "colour"}, "sortBy 'colour' is not supported"),
        ({"sortOrder": "up"}, "sortOrder must be asc or desc, got 'up'"),
        ({"deleted": "maybe"}, "deleted must be true or false, got 'maybe'"),
    ],
)
async def test_bad_list_queries_are_400(api: Api, params: dict[str, str], needle: str) -> None:
    response = await api.call("GET", WORKLOADS, params=params)
    assert response.status_code == 400
    assert needle in response.json()["message"]


async def test_sorting(api: Api, fleet: dict[str, str]) -> None:
    assert await names(api, sortBy="name") == ["alpha", "beta", "delta", "epsilon", "gamma-fail"]
    assert await names(api, sortBy="name", sortOrder="desc") == [
        "gamma-fail",
        "epsilon",
        "delta",
        "beta",
        "alpha",
    ]
    assert (await names(api, sortBy="projectId"))[-1] == "delta"
    assert await names(api, sortOrder="desc") == ["epsilon", "delta", "gamma-fail", "beta", "alpha"]


async def test_paging_with_next(api: Api) -> None:
    api.emulator.state.seed_workloads(23, name_prefix="page")
    collected: list[str] = []
    offset: int | None = 0
    pages = 0
    while offset is not None:
        response = await api.call("GET", WORKLOADS, params={"limit": 10, "offset": offset})
        body = response.json()
        collected += [w["name"] for w in body["workloads"]]
        offset = body.get("next")
        pages += 1
    assert pages == 3
    assert collected == [f"page-{index}" for index in range(23)]
    assert len(await names(api)) == 23
    assert await names(api, offset=30) == []


async def test_default_limit_is_50(api: Api) -> None:
    api.emulator.state.seed_workloads(60)
    response = await api.call("GET", WORKLOADS)
    assert len(response.json()["workloads"]) == 50
    assert response.json()["next"] == 50


async def test_deleted_true_lists_only_deleted(api: Api, fleet: dict[str, str]) -> None:
    api.emulator.state.phase_seconds = 0
    await api.call("DELETE", INFERENCE, path={"workloadId": fleet["beta"]})
    assert "beta" not in await names(api)
    assert await names(api, deleted="false") == ["alpha", "gamma-fail", "delta", "epsilon"]
    assert await names(api, deleted="true") == ["beta"]


async def test_search_matches_names(api: Api, fleet: dict[str, str]) -> None:
    assert await names(api, search="ELTA") == ["delta"]


async def test_ten_thousand_workloads(api: Api) -> None:
    state = api.emulator.state
    ids = state.seed_workloads(10_000, name_prefix="bench", phase=None)
    state.set_phases(ids[::10], "Failed", "bulk failure")
    failed = await api.call(
        "GET", WORKLOADS, params={"filterBy": "phase==Failed,name=^bench-", "limit": 500}
    )
    body = failed.json()
    assert len(body["workloads"]) == 500
    assert body["next"] == 500
    rest = await api.call(
        "GET",
        WORKLOADS,
        params={"filterBy": "phase==Failed,name=^bench-", "limit": 500, "offset": 500},
    )
    assert len(rest.json()["workloads"]) == 500
    assert "next" not in rest.json()
    wanted = ",".join(f"name=={name}" for name in ("bench-5", "bench-10"))
    assert await names(api, filterBy=wanted) == []
