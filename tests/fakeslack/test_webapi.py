"""The fake's Web API answers, driven by slack_sdk's AsyncWebClient and raw httpx."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakeslack import FakeSlack, RunningFakeSlack, WaitTimeout
from bot.slack import render


def section(text: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id:
        block["block_id"] = block_id
    return block


def modal(blocks: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Title"},
        "blocks": blocks if blocks is not None else [section("hi")],
        **extra,
    }


@pytest.fixture
def client(fake_slack: RunningFakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=fake_slack.api_url)


async def test_auth_required(fake_slack: RunningFakeSlack) -> None:
    async with httpx.AsyncClient(base_url=fake_slack.api_url) as http:
        none = await http.post("auth.test")
        assert none.json() == {"ok": False, "error": "not_authed"}
        bad = await http.post("auth.test", headers={"Authorization": "Bearer xoxp-user"})
        assert bad.json()["error"] == "invalid_auth"
        good = await http.post("auth.test", headers={"Authorization": "Bearer xoxb-1"})
        assert good.json()["ok"] and good.json()["user_id"] == "UBOT0001"
        as_param = await http.post("auth.test", data={"token": "xoxb-2"})
        assert as_param.json()["ok"]
    assert [c.ok for c in fake_slack.fake.calls_to("auth.test")] == [False, False, True, True]
    assert "token" not in fake_slack.fake.calls[-1].args


async def test_valid_tokens_can_be_pinned(fake_slack: RunningFakeSlack) -> None:
    fake_slack.fake.valid_tokens = {"xoxb-right"}
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=fake_slack.api_url)
    with pytest.raises(SlackApiError, match="invalid_auth"):
        await wrong.auth_test()


async def test_form_and_json_bodies_record_the_same_args(fake_slack: RunningFakeSlack) -> None:
    blocks = [section("*bold*")]
    headers = {"Authorization": "Bearer xoxb-1"}
    async with httpx.AsyncClient(base_url=fake_slack.api_url, headers=headers) as http:
        form = await http.post(
            "chat.postMessage",
            data={
                "channel": "C0001",
                "text": "t",
                "blocks": json.dumps(blocks),
                "unfurl_links": "false",
            },
        )
        js = await http.post(
            "chat.postMessage",
            json={"channel": "C0001", "text": "t", "blocks": blocks, "unfurl_links": False},
        )
    assert form.json()["ok"] and js.json()["ok"]
    first, second = fake_slack.fake.calls_to("chat.postMessage")
    assert (
        first.args
        == second.args
        == {"channel": "C0001", "text": "t", "blocks": blocks, "unfurl_links": False}
    )


async def test_post_message_shape_and_increasing_ts(client: AsyncWebClient) -> None:
    one = await client.chat_postMessage(channel="C0001", text="one", blocks=[section("one")])
    two = await client.chat_postMessage(channel="#general", text="two")
    assert one["channel"] == two["channel"] == "C0001"
    assert float(one["ts"]) < float(two["ts"])
    assert len(one["ts"].split(".")[1]) == 6
    message = one["message"]
    assert message["text"] == "one" and message["blocks"] == [section("one")]
    assert message["bot_id"] == "B0001" and message["type"] == "message"


async def test_thread_replies_history_and_broadcast(
    client: AsyncWebClient, fake_slack: RunningFakeSlack
) -> None:
    parent = await client.chat_postMessage(channel="C0001", text="parent")
    ts = parent["ts"]
    await client.chat_postMessage(channel="C0001", text="r1", thread_ts=ts)
    reply_to_reply = await client.chat_postMessage(channel="C0001", text="r2", thread_ts=ts)
    await client.chat_postMessage(channel="C0001", text="loud", thread_ts=ts, reply_broadcast=True)
    assert reply_to_reply["message"]["thread_ts"] == ts

    replies = await client.conversations_replies(channel="C0001", ts=ts)
    assert [m["text"] for m in replies["messages"]] == ["parent", "r1", "r2", "loud"]
    assert replies["messages"][0]["reply_count"] == 3
    assert replies["messages"][3]["subtype"] == "thread_broadcast"

    history = await client.conversations_history(channel="C0001")
    assert [m["text"] for m in history["messages"]] == ["loud", "parent"]

    paged = await client.conversations_replies(channel="C0001", ts=ts, limit=2)
    assert paged["has_more"] and len(paged["messages"]) == 2
    rest = await client.conversations_replies(
        channel="C0001", ts=ts, limit=2, cursor=paged["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in rest["messages"]] == ["r2", "loud"] and not rest["has_more"]

    with pytest.raises(SlackApiError, match="thread_not_found"):
        await client.conversations_replies(channel="C0001", ts="1.000000")
    fake = fake_slack.fake
    assert [m.text for m in fake.thread_replies("C0001", ts)] == ["r1", "r2", "loud"]
    assert fake.find_message("C0001", ts) is not None


async def test_update_delete_permalink(
    client: AsyncWebClient, fake_slack: RunningFakeSlack
) -> None:
    posted = await client.chat_postMessage(channel="C0001", text="v1")
    updated = await client.chat_update(
        channel="C0001", ts=posted["ts"], text="v2", blocks=[section("v2")]
    )
    assert updated["ts"] == posted["ts"] and updated["message"]["text"] == "v2"
    record = fake_slack.fake.find_message("C0001", posted["ts"])
    assert record is not None and record.text == "v2" and record.edits[0]["text"] == "v1"

    with pytest.raises(SlackApiError, match="message_not_found"):
        await client.chat_update(channel="C0001", ts="1700000000.000001", text="x")

    link = await client.chat_getPermalink(channel="C0001", message_ts=posted["ts"])
    assert link["permalink"].endswith("/archives/C0001/p" + posted["ts"].replace(".", ""))

    deleted = await client.chat_delete(channel="C0001", ts=posted["ts"])
    assert deleted["ok"]
    assert fake_slack.fake.find_message("C0001", posted["ts"]) is None
    with pytest.raises(SlackApiError, match="message_not_found"):
        await client.chat_delete(channel="C0001", ts=posted["ts"])


async def test_post_ephemeral(client: AsyncWebClient, fake_slack: RunningFakeSlack) -> None:
    result = await client.chat_postEphemeral(channel="C0001", user="U0002", text="psst")
    assert result["message_ts"]
    assert [m.text for m in fake_slack.fake.ephemerals("U0002")] == ["psst"]
    assert fake_slack.fake.channel_messages("C0001") == []
    with pytest.raises(SlackApiError, match="user_not_found"):
        await client.chat_postEphemeral(channel="C0001", user="nobody", text="x")


async def test_channel_errors(client: AsyncWebClient, fake_slack: RunningFakeSlack) -> None:
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await client.chat_postMessage(channel="#nowhere", text="x")
    fake_slack.fake.add_channel("C0PRIV", "secret", is_member=False, is_private=True)
    with pytest.raises(SlackApiError, match="not_in_channel"):
        await client.chat_postMessage(channel="C0PRIV", text="x")
    with pytest.raises(SlackApiError, match="no_text"), pytest.warns(UserWarning, match="text"):
        await client.chat_postMessage(channel="C0001")
    info = await client.conversations_info(channel="C0001")
    assert info["channel"]["name"] == "general" and info["channel"]["is_member"]
    auto = await client.conversations_info(channel="C0NEW")
    assert auto["channel"]["id"] == "C0NEW"


async def test_users_and_usergroups(client: AsyncWebClient, fake_slack: RunningFakeSlack) -> None:
    alice = await client.users_info(user="U0001")
    assert (
        alice["user"]["name"] == "alice"
        and alice["user"]["profile"]["email"] == "alice@example.com"
    )
    with pytest.raises(SlackApiError, match="user_not_found"):
        await client.users_info(user="nope")
    fake_slack.fake.add_usergroup("S0001", ["U0001", "U0002"])
    group = await client.usergroups_users_list(usergroup="S0001")
    assert group["users"] == ["U0001", "U0002"]
    with pytest.raises(SlackApiError, match="no_such_subteam"):
        await client.usergroups_users_list(usergroup="S404")


@pytest.mark.parametrize(
    ("blocks", "why"),
    [
        ([section(f"{i}") for i in range(51)], "no more than 50"),
        ([section("x" * 3001)], "text"),
        ([{"type": "sectoin", "text": {"type": "mrkdwn", "text": "x"}}], "unknown block type"),
        ([section("a", "same"), section("b", "same")], "duplicate block_id"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}], "150"),
        (
            [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
            "fields",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "a",
                            "text": {"type": "plain_text", "text": "A"},
                        },
                        {
                            "type": "button",
                            "action_id": "a",
                            "text": {"type": "plain_text", "text": "B"},
                        },
                    ],
                }
            ],
            "duplicate action_id",
        ),
    ],
)
async def test_invalid_blocks_refused(
    client: AsyncWebClient, blocks: list[dict[str, Any]], why: str
) -> None:
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel="C0001", text="x", blocks=blocks)
    assert info.value.response["error"] == "invalid_blocks"
    assert why in " ".join(info.value.response["response_metadata"]["messages"])


async def test_fifty_blocks_accepted(client: AsyncWebClient) -> None:
    assert (await client.chat_postMessage(channel="C0001", text="x", blocks=[section("s")] * 50))[
        "ok"
    ]


async def test_message_text_limits_are_slacks(client: AsyncWebClient) -> None:
    # chat.update refuses text above 4,000 characters; chat.postMessage truncates above 40,000.
    posted = await client.chat_postMessage(channel="C0001", text="y" * 40_001)
    assert len(posted["message"]["text"]) == 40_000
    await client.chat_update(channel="C0001", ts=posted["ts"], text="z" * 4000)
    with pytest.raises(SlackApiError, match="msg_too_long"):
        await client.chat_update(channel="C0001", ts=posted["ts"], text="z" * 4001)
    # The renderer holds every message to the same 4,000: it may be updated later.
    assert render.message_problems({"text": "z" * 4000}) == []
    assert render.message_problems({"text": "z" * 4001})


async def test_views_open_update_push(client: AsyncWebClient, fake_slack: RunningFakeSlack) -> None:
    fake = fake_slack.fake
    opened = await client.views_open(
        trigger_id=fake.issue_trigger("U0001"), view=modal(external_id="ext-1")
    )
    view = opened["view"]
    assert view["id"].startswith("V") and view["hash"] and view["state"] == {"values": {}}
    assert view["blocks"][0]["block_id"]  # Slack fills in missing block ids

    with pytest.raises(SlackApiError, match="hash_conflict"):
        await client.views_update(view_id=view["id"], hash="stale", view=modal([section("v2")]))
    updated = await client.views_update(
        view_id=view["id"], hash=view["hash"], view=modal([section("v2")])
    )
    assert updated["view"]["hash"] != view["hash"]
    by_external = await client.views_update(external_id="ext-1", view=modal([section("v3")]))
    assert by_external["view"]["id"] == view["id"]
    with pytest.raises(SlackApiError, match="not_found"):
        await client.views_update(view_id="V404", view=modal())

    for _ in range(2):
        await client.views_push(trigger_id=fake.issue_trigger("U0001"), view=modal())
    assert len(fake.view_stack("U0001")) == 3
    with pytest.raises(SlackApiError, match="push_limit_reached"):
        await client.views_push(trigger_id=fake.issue_trigger("U0001"), view=modal())
    assert [c.response.get("error") for c in fake.calls_to("views.push")] == [
        None,
        None,
        "push_limit_reached",
    ]


@pytest.mark.parametrize(
    ("view", "why"),
    [
        (modal([section(str(i)) for i in range(101)]), "100"),
        (modal(title={"type": "plain_text", "text": "t" * 25}), "title"),
        (
            modal(
                [
                    {
                        "type": "input",
                        "block_id": "b",
                        "label": {"type": "plain_text", "text": "L"},
                        "element": {"type": "plain_text_input", "action_id": "a"},
                    }
                ]
            ),
            "submit is required",
        ),
        (
            modal(
                [
                    {
                        "type": "section",
                        "text": {"type": "mrkdwn", "text": "pick"},
                        "accessory": {
                            "type": "static_select",
                            "action_id": "s",
                            "options": [
                                {"text": {"type": "plain_text", "text": "A"}, "value": "a"}
                            ],
                            "initial_option": {
                                "text": {"type": "plain_text", "text": "B"},
                                "value": "b",
                            },
                        },
                    }
                ]
            ),
            "initial_option",
        ),
        (modal(private_metadata="m" * 3001), "private_metadata"),
    ],
)
async def test_invalid_views_refused(
    client: AsyncWebClient, fake_slack: RunningFakeSlack, view: dict[str, Any], why: str
) -> None:
    with pytest.raises(SlackApiError) as info:
        await client.views_open(trigger_id=fake_slack.fake.issue_trigger("U0001"), view=view)
    assert info.value.response["error"] == "invalid_arguments"
    assert why in " ".join(info.value.response["response_metadata"]["messages"])


async def test_faults_5xx_and_ok_false(
    client: AsyncWebClient, fake_slack: RunningFakeSlack
) -> None:
    fake = fake_slack.fake
    fake.fail_next("chat.postMessage", status=503, count=2)
    fake.fail_next("chat.update", error="channel_not_found")
    for _ in range(2):
        with pytest.raises(SlackApiError) as info:
            await client.chat_postMessage(channel="C0001", text="x")
        assert info.value.response.status_code == 503
    assert (await client.chat_postMessage(channel="C0001", text="x"))["ok"]
    with pytest.raises(SlackApiError) as upd:
        await client.chat_update(channel="C0001", ts="1.1", text="x")
    assert (
        upd.value.response.status_code == 200 and upd.value.response["error"] == "channel_not_found"
    )
    fake.fail_next("*", error="ratelimited", count=1)
    with pytest.raises(SlackApiError, match="ratelimited"):
        await client.users_info(user="U0001")
    assert fake.faults == []


async def test_channel_rate_limit_mode(
    client: AsyncWebClient, fake_slack: RunningFakeSlack
) -> None:
    now = [0.0]
    fake = fake_slack.fake
    fake.clock = lambda: now[0]
    fake.channel_rate_limit = 1.0
    assert (await client.chat_postMessage(channel="C0001", text="1"))["ok"]
    assert (await client.chat_postMessage(channel="C0002", text="other channel"))["ok"]
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel="C0001", text="2")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "1"
    now[0] = 1.0
    assert (await client.chat_postMessage(channel="C0001", text="2"))["ok"]


async def test_http_control_endpoints(fake_slack: RunningFakeSlack, client: AsyncWebClient) -> None:
    async with httpx.AsyncClient(base_url=fake_slack.url) as http:
        set_fault = await http.post(
            "/fake/faults",
            json={"method": "chat.postMessage", "status": 429, "retryAfter": 2, "count": 1},
        )
        assert set_fault.json()["error"] == "ratelimited"
        with pytest.raises(SlackApiError):
            await client.chat_postMessage(channel="C0001", text="x")
        await client.chat_postMessage(channel="C0001", text="y")
        calls = (await http.get("/fake/calls", params={"method": "chat.postMessage"})).json()
        assert [c["status"] for c in calls] == [429, 200]
        assert calls[1]["args"]["text"] == "y"
        messages = (await http.get("/fake/messages", params={"channel": "C0001"})).json()
        assert [m["text"] for m in messages] == ["y"]
        await http.post("/fake/faults", json={"method": "*", "error": "fatal_error", "count": 5})
        await http.delete("/fake/faults")
        assert (await client.auth_test())["ok"]
        await http.post("/fake/rate-limit", json={"seconds": 1.0})
        assert fake_slack.fake.channel_rate_limit == 1.0
        await http.post("/fake/reset")
        assert (await http.get("/fake/calls")).json() == []


async def test_unknown_method(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError, match="unknown_method"):
        await client.api_call("chat.nonsense")


async def test_wait_for_times_out_with_summary(
    fake_slack: RunningFakeSlack, client: AsyncWebClient
) -> None:
    await client.chat_postMessage(channel="C0001", text="only this")
    with pytest.raises(WaitTimeout, match="only this"):
        await fake_slack.fake.wait_for(lambda: fake_slack.fake.calls_to("views.open"), timeout=0.2)


async def test_wait_for_wakes_on_calls(
    fake_slack: RunningFakeSlack, client: AsyncWebClient
) -> None:
    import asyncio

    fake = fake_slack.fake
    waiter = asyncio.create_task(
        fake.wait_for_call("chat.postMessage", lambda c: c.args.get("text") == "b")
    )
    await client.chat_postMessage(channel="C0001", text="a")
    assert not waiter.done()
    await client.chat_postMessage(channel="C0001", text="b")
    call = await waiter
    assert call.args["text"] == "b"


def test_clear_forgets_everything() -> None:
    fake = FakeSlack()
    fake.fail_next("x")
    fake.issue_trigger("U0001")
    fake.clear()
    assert fake.calls == [] and fake.faults == [] and fake.triggers == {}
    assert "C0001" in fake.channels  # seeded workspace survives


async def test_posting_to_a_user_id_goes_to_the_dm(
    client: AsyncWebClient, fake_slack: RunningFakeSlack
) -> None:
    result = await client.chat_postMessage(channel="U0002", text="just you")
    assert result["channel"] == "D0002"
    info = await client.conversations_info(channel="D0002")
    assert info["channel"]["is_im"]
    assert fake_slack.fake.last_message("D0002").text == "just you"


async def test_conversations_open_gives_the_dm_a_post_to_the_user_lands_in(
    client: AsyncWebClient, fake_slack: RunningFakeSlack
) -> None:
    opened = await client.conversations_open(users="U0002")
    assert opened["channel"]["id"] == "D0002" and "already_open" not in opened
    again = await client.conversations_open(users="U0002", return_im=True)
    assert again["channel"]["id"] == "D0002" and again["already_open"] is True
    assert again["channel"]["is_im"] is True
    posted = await client.chat_postMessage(channel="U0002", text="same place")
    assert posted["channel"] == "D0002"
    for params, error in (
        ({}, "users_list_not_supplied"),  # slack_sdk refuses this before sending
        ({"users": "not-a-user"}, "user_not_found"),
        ({"channel": "C0001"}, "channel_not_found"),
    ):
        with pytest.raises(SlackApiError) as refused:
            await client.api_call("conversations.open", params=params)
        assert refused.value.response["error"] == error


async def test_an_upload_to_a_user_id_is_refused_as_slack_refuses_it(
    client: AsyncWebClient, fake_slack: RunningFakeSlack
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    with pytest.raises(SlackApiError) as refused:
        await client.files_upload_v2(content=png, filename="c.png", channel="U0002")
    assert refused.value.response["error"] == "invalid_arguments"
    assert "json-pointer:/channel_id" in str(refused.value.response["response_metadata"])
    assert not [m for m in fake_slack.fake.messages if m.files]
    dm = (await client.conversations_open(users="U0002"))["channel"]["id"]
    done = await client.files_upload_v2(content=png, filename="c.png", channel=dm)
    assert fake_slack.fake.files[done["file"]["id"]].channels == [dm]
