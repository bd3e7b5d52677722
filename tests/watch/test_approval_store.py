"""Approvals and the App Home's bookkeeping through the store, on SQLite and PostgreSQL:
a request is decided once, an expired one cannot be approved, secret values never reach
the table, a Home is republished at most once per 10 s and only for recent visitors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.watch.approval_store import (
    ApprovalState,
    SecretInRequest,
    secret_paths,
    strip_secret_values,
)
from bot.watch.claims import ThreadPost
from bot.watch.db.schema import approvals
from bot.watch.store import Store

T0 = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
SECRET = "sk-live-EnvSecretValue-4f9a7b"

UPDATE: dict[str, Any] = {
    "spec": {
        "image": "vllm/vllm-openai:v0.6",
        "environmentVariables": [
            {"name": "API_KEY", "value": SECRET},
            {"name": "HF_HUB_OFFLINE", "value": "1"},
            {"name": "DB_PASSWORD", "secret": {"name": "db", "key": "password"}},
        ],
    },
    "hfToken": "hf_TopSecret",
}


async def request(store: Store, **kw: Any) -> str:
    values: dict[str, Any] = {
        "channel": "C1", "requester": "U1", "action": "scale", "workload_id": "w1",
        "workload_name": "my-qwen", "project": "team-a",
        "request": {"minReplicas": 6, "maxReplicas": 8}, "summary": "8 replicas > 4",
        "expires_at": T0 + timedelta(hours=24), "at": T0, **kw,
    }  # fmt: skip
    return (await store.create_approval(**values)).id


def test_secret_values_are_found_and_stripped_by_name() -> None:
    assert secret_paths(UPDATE) == [
        "$.spec.environmentVariables[0].value",
        "$.spec.environmentVariables[1].value",
        "$.hfToken",
    ]
    assert secret_paths({"env": {"API_KEY": SECRET}}) == ["$.env.API_KEY"]
    assert secret_paths({"client_secret": SECRET, "nested": [{"password": "x"}]}) == [
        "$.client_secret",
        "$.nested[0].password",
    ]
    # A Kubernetes secret reference and plain fields are no secret values.
    assert secret_paths({"minReplicas": 3, "env": [{"name": "A", "secret": {"name": "s"}}]}) == []
    stripped, withheld = strip_secret_values(UPDATE)
    assert withheld == ["API_KEY", "HF_HUB_OFFLINE", "hfToken"]
    assert stripped == {
        "spec": {
            "image": "vllm/vllm-openai:v0.6",
            "environmentVariables": [
                {"name": "DB_PASSWORD", "secret": {"name": "db", "key": "password"}}
            ],
        }
    }
    assert secret_paths(stripped) == [] and SECRET not in repr(stripped)


async def test_a_request_with_a_secret_value_is_refused_and_nothing_stored(store: Store) -> None:
    with pytest.raises(SecretInRequest) as refused:
        await request(store, action="update", request=UPDATE)
    assert SECRET not in str(refused.value) and "environmentVariables[0].value" in str(
        refused.value
    )
    async with store.engine.connect() as conn:
        assert (await conn.execute(select(approvals))).all() == []
    stripped, _ = strip_secret_values(UPDATE)
    rid = await request(store, action="update", request=stripped)
    got = await store.get_approval(rid)
    assert got is not None and got.request == stripped


async def test_a_request_is_decided_once(store: Store) -> None:
    rid = await request(store)
    got = await store.get_approval(rid)
    assert got is not None and rid.startswith("r") and got.state == ApprovalState.PENDING
    assert (got.requester, got.action, got.expires_at) == ("U1", "scale", T0 + timedelta(hours=24))
    assert await store.set_approval_message(rid, "C1", "1700000000.000100")
    assert [a.id for a in await store.pending_approvals(channel="C1")] == [rid]
    assert await store.pending_approvals(channel="C2") == []

    noted = ThreadPost("w1", "C1", "1.1", "approval", f"approved:{rid}", {"template": "x"})
    at = T0 + timedelta(minutes=5)
    assert await store.decide_approval(rid, ApprovalState.APPROVED, "U2", at=at, posts=[noted])
    assert not await store.decide_approval(rid, ApprovalState.APPROVED, "U3", at=at)
    assert not await store.decide_approval(rid, ApprovalState.DENIED, "U3", at=at)
    got = await store.get_approval(rid)
    assert got is not None and (got.state, got.decided_by, got.decided_at) == (
        ApprovalState.APPROVED, "U2", at,
    )  # fmt: skip
    assert (got.message_channel, got.message_ts) == ("C1", "1700000000.000100")
    assert await store.finish_approval(rid, "ok", at=at)
    assert not await store.finish_approval(rid, "failed", at=at)
    assert await store.pending_approvals() == []
    assert [i.dedupe_key for i in await store.all_items()] == [f"approved:{rid}"]

    denied = await request(store, requester="U4")
    assert await store.decide_approval(denied, ApprovalState.DENIED, "U2", reason="too big")
    got = await store.get_approval(denied)
    assert got is not None and got.reason == "too big"
    assert not await store.finish_approval(denied, "ok")  # a denied request is never performed


async def test_an_expired_request_cannot_be_approved_and_expires_once(store: Store) -> None:
    rid = await request(store)
    late = T0 + timedelta(hours=25)
    assert not await store.decide_approval(rid, ApprovalState.APPROVED, "U2", at=late)
    assert not await store.decide_approval(rid, ApprovalState.DENIED, "U2", at=late)
    assert await store.expire_approvals(T0 + timedelta(hours=1)) == []
    [expired] = await store.expire_approvals(late)
    assert expired.id == rid and expired.state == ApprovalState.EXPIRED
    assert await store.expire_approvals(late) == []


async def test_a_home_is_republished_at_most_every_10_s_for_recent_visitors(
    store: Store,
) -> None:
    assert not await store.claim_home_publish("U1", at=T0)  # never opened
    await store.home_opened("U1", at=T0)
    await store.home_opened("U2", at=T0 - timedelta(days=8))
    user = await store.get_home_user("U1")
    assert user is not None and (user.last_opened_at, user.last_published_at) == (T0, None)

    assert await store.want_home_publish(["U1", "U2", "U3"], at=T0) == {"U1"}
    assert await store.due_home_publishes(at=T0) == ["U1"]
    assert await store.claim_home_publish("U1", at=T0)
    assert await store.due_home_publishes(at=T0) == []
    assert await store.want_home_publish(["U1"], at=T0 + timedelta(seconds=3)) == {"U1"}
    assert not await store.claim_home_publish("U1", at=T0 + timedelta(seconds=3))
    assert await store.due_home_publishes(at=T0 + timedelta(seconds=5)) == []
    assert await store.due_home_publishes(at=T0 + timedelta(seconds=10)) == ["U1"]
    assert await store.claim_home_publish("U1", at=T0 + timedelta(seconds=10))
    assert not await store.claim_home_publish("U2", at=T0)  # opened 8 days ago
    await store.home_opened("U2", at=T0)
    assert await store.claim_home_publish("U2", at=T0)
    assert not await store.claim_home_publish("U1", at=T0 + timedelta(days=8))


async def test_an_approved_request_left_unperformed_is_found_for_recovery(store: Store) -> None:
    rid = await request(store)
    other = await request(store, requester="U5")
    at = T0 + timedelta(minutes=1)
    assert await store.decide_approval(rid, ApprovalState.APPROVED, "U2", at=at)
    assert await store.decide_approval(other, ApprovalState.APPROVED, "U2", at=at)
    assert await store.finish_approval(other, "ok", at=at)
    # Found only once it is older than the grace given to the replica performing it.
    assert await store.unfinished_approvals(at - timedelta(seconds=1)) == []
    assert [a.id for a in await store.unfinished_approvals(at + timedelta(seconds=30))] == [rid]
    assert await store.finish_approval(rid, "ok", at=at + timedelta(seconds=31))
    assert await store.unfinished_approvals(at + timedelta(minutes=5)) == []
