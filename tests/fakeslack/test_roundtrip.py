"""Round trips between a real Bolt app and the fake Slack, over real sockets."""

from __future__ import annotations

import time

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakeslack import FakeSlack, RunningFakeSlack, SlackDriver, SlackDriverError, sign_request
from bot.slack.reply import RateLimitRetry
from tests.fakes.fixtures import MakeDriver
from tests.fakeslack.smoke_bot import MODAL_CALLBACK, SIGNING_SECRET, serve_smoke_bot
from tests.timing import RecordedSleep


async def test_command_modal_errors_then_submit_posts_message(
    fake_slack: RunningFakeSlack, make_slack_driver: MakeDriver
) -> None:
    fake = fake_slack.fake
    async with serve_smoke_bot(fake_slack.api_url) as bot:
        driver = make_slack_driver(bot.url, SIGNING_SECRET)

        ack = await driver.command("/inference", "create")
        assert ack.status_code == 200
        opened = await fake.wait_for_call("views.open")
        assert opened.ok
        assert opened.response["view"]["id"].startswith("V")
        assert opened.args["view"]["callback_id"] == MODAL_CALLBACK
        view = driver.last_view()
        assert view.callback_id == MODAL_CALLBACK
        assert driver.open_views == [view]

        bad = await driver.submit_view(view, {"name": {"value": "has space"}, "replicas": "2"})
        assert bad.json() == {
            "response_action": "errors",
            "errors": {"name": "No spaces in a name"},
        }
        assert view.errors == {"name": "No spaces in a name"}
        assert not view.closed
        assert fake.calls_to("chat.postMessage") == []

        good = await driver.submit_view(
            view, {"name": "llama", "size": "l", "replicas": "3", "flags": ["watch", "public"]}
        )
        assert good.status_code == 200
        assert view.closed and driver.open_views == []
        posted = await fake.wait_for_call("chat.postMessage")
        assert posted.args["channel"] == "C0001"
        assert posted.args["text"] == "created llama"
        assert bot.submissions == [
            {
                "name": "llama",
                "size": "l",
                "replicas": "3",
                "flags": ["watch", "public"],
                "user": "U0001",
            }
        ]
        assert fake.last_message("C0001").text == "created llama"
        # Bolt checks the token once with auth.test before the first listener runs.
        assert fake.calls_to("auth.test")[0].ok


async def test_defaults_come_from_initial_values(
    fake_slack: RunningFakeSlack, make_slack_driver: MakeDriver
) -> None:
    async with serve_smoke_bot(fake_slack.api_url) as bot:
        driver = make_slack_driver(bot.url, SIGNING_SECRET)
        await driver.command("/inference", "create")
        await fake_slack.fake.wait_for_call("views.open")
        await driver.submit_view(values={"name": "x", "replicas": "1"})
        await fake_slack.fake.wait_for(lambda: bot.submissions)
        assert bot.submissions[0]["size"] == "s"
        assert bot.submissions[0]["flags"] == []


async def test_driver_refuses_what_a_user_cannot_do(
    fake_slack: RunningFakeSlack, make_slack_driver: MakeDriver
) -> None:
    async with serve_smoke_bot(fake_slack.api_url) as bot:
        driver = make_slack_driver(bot.url, SIGNING_SECRET)
        await driver.command("/inference", "create")
        await fake_slack.fake.wait_for_call("views.open")
        with pytest.raises(SlackDriverError, match="offers no option"):
            await driver.submit_view(values={"name": "x", "size": "xxl"})
        with pytest.raises(SlackDriverError, match="no input block"):
            await driver.submit_view(values={"nmae": "x"})


async def test_ack_text_and_respond_reach_the_user(
    fake_slack: RunningFakeSlack, make_slack_driver: MakeDriver
) -> None:
    fake = fake_slack.fake
    async with serve_smoke_bot(fake_slack.api_url) as bot:
        driver = make_slack_driver(bot.url, SIGNING_SECRET)
        ack = await driver.command("/inference", "hello", user="U0002")
        assert ack.text == "working on it"
        await fake.wait_for(lambda: fake.responses)
        shown = [m.text for m in fake.ephemerals("U0002")]
        assert sorted(shown) == ["hello from respond", "working on it"]
        assert fake.responses[0].body["text"] == "hello from respond"
        assert fake.channel_messages("C0001") == []

        await driver.command("/inference", "public")
        await fake.wait_for(lambda: fake.channel_messages("C0001"))
        assert fake.channel_messages("C0001")[0].text == "everyone sees this"


async def test_button_with_confirm_and_replace_original(
    fake_slack: RunningFakeSlack, make_slack_driver: MakeDriver
) -> None:
    fake = fake_slack.fake
    async with serve_smoke_bot(fake_slack.api_url) as bot:
        driver = make_slack_driver(bot.url, SIGNING_SECRET)
        await driver.command("/inference", "confirm")
        await fake.wait_for_call("chat.postMessage")
        message = fake.last_message("C0001")
        assert await driver.click(message, "delete", confirm=False) is None
        response = await driver.click(message, "delete")
        assert response is not None and response.status_code == 200
        await fake.wait_for(lambda: message.text == "deleted w-1")
        assert message.blocks == []
        assert len(message.edits) == 1
        with pytest.raises(SlackDriverError, match="no element"):
            await driver.click(message, "delete")


async def test_rate_limited_post_retried_by_slack_sdk(fake_slack: RunningFakeSlack) -> None:
    fake = fake_slack.fake
    fake.fail_next("chat.postMessage", count=1, retry_after=1)
    # slack_sdk's rate-limit handler, waiting through a recorded sleep instead of for real.
    sleep = RecordedSleep()
    handler = RateLimitRetry(max_retry_count=2, sleep=sleep)
    assert isinstance(handler, AsyncRateLimitErrorRetryHandler)
    client = AsyncWebClient(
        token="xoxb-test", base_url=fake_slack.api_url, retry_handlers=[handler]
    )
    result = await client.chat_postMessage(channel="C0001", text="after the storm")
    assert result["ok"]
    calls = fake.calls_to("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[0].response == {"ok": False, "error": "ratelimited"}
    assert len(sleep.waits) == 1 and 1 <= sleep.waits[0] < 2  # the fake's Retry-After: 1


async def test_rate_limited_without_retry_handler_raises(fake_slack: RunningFakeSlack) -> None:
    fake_slack.fake.fail_next("chat.postMessage", retry_after=7)
    client = AsyncWebClient(token="xoxb-test", base_url=fake_slack.api_url)
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel="C0001", text="x")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"
    assert info.value.response["error"] == "ratelimited"


async def test_expired_trigger_id(fake_slack: RunningFakeSlack) -> None:
    fake = fake_slack.fake
    client = AsyncWebClient(token="xoxb-test", base_url=fake_slack.api_url)
    trigger = fake.issue_trigger("U0001", "C0001")
    fake.expire_triggers()
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "T"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
    }
    with pytest.raises(SlackApiError) as info:
        await client.views_open(trigger_id=trigger, view=view)
    assert info.value.response["error"] == "expired_trigger_id"
    with pytest.raises(SlackApiError) as unknown:
        await client.views_open(trigger_id="123.456.abc", view=view)
    assert unknown.value.response["error"] == "expired_trigger_id"

    fresh = fake.issue_trigger("U0001")
    assert (await client.views_open(trigger_id=fresh, view=view))["ok"]
    with pytest.raises(SlackApiError) as again:
        await client.views_open(trigger_id=fresh, view=view)
    assert again.value.response["error"] == "exchanged_trigger_id"


async def test_trigger_expires_after_its_ttl() -> None:
    now = [100.0]
    fake = FakeSlack(clock=lambda: now[0])
    trigger = fake.issue_trigger("U0001")
    now[0] += 3.01
    with pytest.raises(Exception, match="expired_trigger_id"):
        fake.exchange_trigger(trigger)


async def test_bot_sees_expired_trigger(
    fake_slack: RunningFakeSlack, make_slack_driver: MakeDriver
) -> None:
    fake_slack.fake.trigger_ttl = 0.0
    async with serve_smoke_bot(fake_slack.api_url) as bot:
        driver = make_slack_driver(bot.url, SIGNING_SECRET)
        await driver.command("/inference", "create")
        call = await fake_slack.fake.wait_for_call("views.open")
        assert call.response["error"] == "expired_trigger_id"
        await fake_slack.fake.wait_for(lambda: bot.errors)
        assert bot.errors == ["expired_trigger_id"]
        assert driver.open_views == []


async def test_files_upload_v2_stores_bytes(fake_slack: RunningFakeSlack) -> None:
    fake = fake_slack.fake
    client = AsyncWebClient(token="xoxb-test", base_url=fake_slack.api_url)
    parent = await client.chat_postMessage(channel="C0001", text="parent")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    result = await client.files_upload_v2(
        content=png,
        filename="chart.png",
        title="Throughput",
        channel="C0001",
        initial_comment="last hour",
        thread_ts=parent["ts"],
    )
    assert result["ok"]
    file_id = result["file"]["id"]
    stored = fake.files[file_id]
    assert stored.content == png
    assert stored.completed and stored.channels == ["C0001"]
    assert stored.initial_comment == "last hour" and stored.thread_ts == parent["ts"]
    assert stored.title == "Throughput" and stored.mimetype == "image/png"
    replies = fake.thread_replies("C0001", parent["ts"])
    assert [r.files[0].id for r in replies] == [file_id]
    assert replies[0].text == "last hour"


async def test_signature_and_retry_headers(
    fake_slack: RunningFakeSlack, make_slack_driver: MakeDriver
) -> None:
    body = b"token=x&text=hello"
    headers = sign_request(body, "secret", timestamp=int(time.time()))
    assert SignatureVerifier("secret").is_valid_request(body, headers)
    assert not SignatureVerifier("other").is_valid_request(body, headers)

    async with serve_smoke_bot(fake_slack.api_url) as bot:
        driver = make_slack_driver(bot.url, SIGNING_SECRET)
        forged = await driver.command("/inference", "hello", signing_secret="wrong")
        assert forged.status_code == 401
        stale = await driver.command("/inference", "hello", timestamp=int(time.time()) - 600)
        assert stale.status_code == 401
        retried = await driver.command(
            "/inference", "nothing", retry_num=1, retry_reason="http_timeout"
        )
        assert retried.status_code == 200
        assert bot.retry_nums[-1] == "1"


async def test_driver_without_served_fake_refuses_response_urls() -> None:
    driver = SlackDriver("http://127.0.0.1:9", "s", FakeSlack())
    with pytest.raises(RuntimeError, match="base_url"):
        await driver.command("/inference", "help")
    await driver.aclose()


async def test_response_actions_update_push_clear_and_close(
    fake_slack: RunningFakeSlack, make_slack_driver: MakeDriver
) -> None:
    fake = fake_slack.fake
    async with serve_smoke_bot(fake_slack.api_url) as bot:
        driver = make_slack_driver(bot.url, SIGNING_SECRET)
        await driver.command("/inference", "wizard")
        await fake.wait_for_call("views.open")
        root = driver.last_view()

        await driver.submit_view(root, {"choice": "update"})
        assert root.title == "Step 2" and not root.closed and len(root.history) == 1

        await driver.submit_view(root, {"choice": "push"})
        assert [v.title for v in driver.open_views] == ["Step 2", "Step 2"]
        pushed = driver.last_view()
        assert pushed.previous_view_id == root.id and pushed.root_view_id == root.id

        # A button inside a modal: block_actions with the view container and a fresh trigger.
        await driver.click(pushed, "more")
        await fake.wait_for_call("views.push")
        assert bot.seen_views == [pushed.id]
        assert len(driver.open_views) == 3
        assert driver.last_view().title == "Step 9"

        await driver.submit_view(values={"choice": "close"})
        assert len(driver.open_views) == 2
        await driver.submit_view(values={"choice": "clear"})
        assert driver.open_views == [] and root.closed

        with pytest.raises(SlackDriverError, match="closed"):
            await driver.submit_view(root, {"choice": "close"})


async def test_errors_must_name_input_blocks(
    fake_slack: RunningFakeSlack, make_slack_driver: MakeDriver
) -> None:
    async with serve_smoke_bot(fake_slack.api_url) as bot:
        driver = make_slack_driver(bot.url, SIGNING_SECRET)
        await driver.command("/inference", "wizard")
        await fake_slack.fake.wait_for_call("views.open")
        with pytest.raises(SlackDriverError, match="nonexistent"):
            await driver.submit_view(values={"choice": "bad-errors"})


async def test_close_view_notifies_when_asked(
    fake_slack: RunningFakeSlack, make_slack_driver: MakeDriver
) -> None:
    async with serve_smoke_bot(fake_slack.api_url) as bot:
        driver = make_slack_driver(bot.url, SIGNING_SECRET)
        await driver.command("/inference", "wizard")
        await fake_slack.fake.wait_for_call("views.open")
        view = driver.last_view()
        closed = await driver.close_view()
        assert closed is not None and closed.status_code == 200
        assert bot.closed == [view.id] and view.closed


async def test_delete_original_and_block_acks(
    fake_slack: RunningFakeSlack, make_slack_driver: MakeDriver
) -> None:
    fake = fake_slack.fake
    async with serve_smoke_bot(fake_slack.api_url) as bot:
        driver = make_slack_driver(bot.url, SIGNING_SECRET)
        await driver.command("/inference", "confirm")
        await fake.wait_for_call("chat.postMessage")
        message = fake.last_message("C0001")
        await driver.click(message, "dismiss")
        await fake.wait_for(lambda: message.deleted)
        assert fake.channel_messages("C0001") == []

        await driver.command("/inference", "blocks")
        shown = fake.ephemerals("U0001")[-1]
        assert shown.blocks[0]["text"]["text"] == "*block ack*" and shown.source == "ack"

        await driver.command("/inference", "respond-bad")
        await fake.wait_for(lambda: bot.errors)
        assert bot.errors == ["400 invalid_blocks"]


async def test_response_url_used_five_times_at_most(
    fake_slack: RunningFakeSlack, make_slack_driver: MakeDriver
) -> None:
    import httpx

    async with serve_smoke_bot(fake_slack.api_url) as bot:
        driver = make_slack_driver(bot.url, SIGNING_SECRET)
        await driver.command("/inference", "nothing")
        url = driver.last_response_url
        assert url is not None and url.startswith(fake_slack.url)
        async with httpx.AsyncClient() as http:
            codes = [(await http.post(url, json={"text": f"{i}"})).status_code for i in range(6)]
            unknown = await http.post(f"{fake_slack.url}/response/nope", json={"text": "x"})
        assert codes == [200] * 5 + [404]
        assert unknown.status_code == 404


async def test_app_mention_event(
    fake_slack: RunningFakeSlack, make_slack_driver: MakeDriver
) -> None:
    async with serve_smoke_bot(fake_slack.api_url) as bot:
        driver = make_slack_driver(bot.url, SIGNING_SECRET)
        response = await driver.event(
            {
                "type": "app_mention",
                "user": "U0001",
                "text": "<@UBOT0001> hi",
                "ts": "1.000100",
                "channel": "C0001",
            }
        )
        assert response.status_code == 200
        call = await fake_slack.fake.wait_for_call("chat.postMessage")
        assert (
            call.args["thread_ts"] == "1.000100" and call.args["text"] == "you said <@UBOT0001> hi"
        )


async def test_block_suggestion_and_all_text(
    fake_slack: RunningFakeSlack, make_slack_driver: MakeDriver
) -> None:
    async with serve_smoke_bot(fake_slack.api_url) as bot:
        driver = make_slack_driver(bot.url, SIGNING_SECRET)
        await driver.command("/inference", "wizard")
        await fake_slack.fake.wait_for_call("views.open")
        view = driver.last_view()
        assert "Step 1" in view.all_text() and "More" in view.all_text()
        response = await driver.suggest(view, "model", "qwen")
        assert [o["value"] for o in response.json()["options"]] == ["Qwen/Qwen2.5-7B"]
        # Picking from an external select: any value goes, Slack sends it back as the option.
        await driver.submit_view(values={"choice": "update", "model": "Qwen/Qwen2.5-7B"})
        assert view.title == "Step 2"
