"""The policy enforced through the real app: bindings, rights, caps, groups, denials
audited and told, `/inference policy` and `/inference audit`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bot.fakeslack import MessageRecord, RunningFakeSlack
from tests.access.harness import (
    CHANNEL,
    FORM,
    FORM_TYPE,
    USER,
    error_text,
    guarded_bot,
    mutations,
    submission,
)
from tests.conftest import RunningEmulator

pytest_plugins = ["tests.fakes.fixtures"]


def _to(user: str, messages: list[MessageRecord]) -> MessageRecord | None:
    return next((m for m in messages if m.ephemeral_to == user and "Not allowed" in m.text), None)


# The driver's user is U0001 in channel C0001.
POLICY = f"""
admins: [UADMIN]
channels:
  {CHANNEL}: [team-a]
projects:
  team-a:
    create: [{USER}]
    scale: [{USER}]
    delete: [UBOSS]
    caps: {{max_replicas: 3, max_gpus: 4}}
  team-b:
    create: ["*"]
    scale: ["*"]
    delete: ["*"]
"""


async def test_binding_keeps_a_channel_to_its_projects(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with guarded_bot(emulator, fake_slack, tmp_path, POLICY) as g:
        await g.bot.create("in-b", project_id="2")
        await g.bot.create("in-a", project_id="1")
        before = mutations(emulator)

        await g.bot.driver.command("/inference", "status in-b")
        denied = await g.bot.reply_with("Not allowed")
        assert f"channels.{CHANNEL}" in error_text(denied) and "team-a" in error_text(denied)

        await g.bot.driver.command("/inference", "scale in-b 2 2")
        await g.bot.reply(lambda m: m is not denied and "Not allowed" in m.text)
        assert mutations(emulator) == before

        await g.bot.driver.command("/inference", "status in-a")
        await g.bot.reply_with("in-a")

        # The same bot in another (unbound) channel acts on team-b.
        await g.bot.driver.command("/inference", "scale in-b 2 2", channel="COTHER")
        await g.fake.wait_for(lambda: mutations(emulator) > before)

        # list shows only the channel's projects
        await g.bot.driver.command("/inference", "list")
        listing = await g.bot.reply_with("Inference workloads")
        assert "in-a" in error_text(listing) and "in-b" not in error_text(listing)

        entry = await g.wait_entry("denied", "read")
        assert entry.rule == f"channels.{CHANNEL}" and entry.user_id == USER
        assert entry.channel_id == CHANNEL


async def test_rights_and_caps_deny_without_touching_the_cluster(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with guarded_bot(emulator, fake_slack, tmp_path, POLICY) as g:
        created = await g.bot.create("llama", project_id="1")
        before = mutations(emulator)

        await g.bot.driver.command("/inference", "delete llama")
        denied = await g.bot.reply_with("Not allowed")
        assert "projects.team-a.delete" in error_text(denied)
        assert not any("inference_confirm_delete" in str(m.blocks) for m in g.fake.messages)

        await g.bot.driver.command("/inference", "scale llama 5 5")
        capped = await g.bot.reply_with("caps.max_replicas")
        assert "5 replicas" in error_text(capped)
        assert mutations(emulator) == before

        inference = await g.bot.runai.get_inference(created.workload_id)
        assert inference.spec is not None
        assert (inference.spec.autoscaling.max_replicas if inference.spec.autoscaling else 1) in (
            None,
            1,
        )

        await g.bot.driver.command("/inference", "scale llama 2 2")
        await g.bot.reply_with("2")
        await g.fake.wait_for(lambda: mutations(emulator) == before + 1)

        entries = await g.entries()
        outcomes = [(e.action, e.outcome, e.rule) for e in entries]
        assert ("delete", "denied", "projects.team-a.delete") in outcomes
        assert ("scale", "denied", "projects.team-a.caps.max_replicas") in outcomes
        ok = await g.wait_entry("ok", "scale")
        assert ok.workload_id == created.workload_id and "replicas 2-2" in ok.summary


async def test_create_modal_lists_bound_projects_and_checks_caps(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with guarded_bot(emulator, fake_slack, tmp_path, POLICY) as g:
        await g.bot.driver.command("/inference", "create")
        view = await g.bot.view("inference_create")
        project = next(b for b in view.blocks if b.get("block_id") == "f_project")
        options = {o["text"]["text"] for o in project["element"]["options"]}
        assert options == {"team-a"}

        # 3 replicas x 2 GPUs = 6 GPUs > 4
        await g.bot.driver.submit_view(
            view, {**FORM, "f_gpu_devices": "2", "f_min_replicas": "1", "f_max_replicas": "3"}
        )
        form = await g.bot.view("inference_create", lambda v: "caps.max_gpus" in v.all_text())
        assert "6 GPUs" in form.all_text()
        assert await g.bot.runai.find_inferences("qwen-guarded") == []

        await g.bot.driver.submit_view(form, FORM)
        await g.fake.wait_for(lambda: form.closed or None)
        assert len(await g.bot.runai.find_inferences("qwen-guarded")) == 1
        ok = await g.wait_entry("ok", "create")
        assert ok.workload_name == "qwen-guarded" and ok.project == "team-a"
        assert "replicas 1-2" in ok.summary and "2 GPUs at most" in ok.summary


async def test_listing_another_project_is_refused_naming_the_binding(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with guarded_bot(emulator, fake_slack, tmp_path, POLICY) as g:
        await g.bot.create("over-there", project_id="2")
        await g.bot.create("right-here", project_id="1")
        await g.bot.driver.command("/inference", "list --project team-b")
        denied = await g.bot.reply_with("Not allowed")
        assert f"channels.{CHANNEL}" in error_text(denied) and "team-a" in error_text(denied)
        assert "over-there" not in str(denied.blocks)
        await g.wait_entry("denied", "read")
        await g.bot.driver.command("/inference", "list --project team-a")
        listed = await g.bot.reply_with("right-here")
        assert "over-there" not in str(listed.blocks)


async def test_project_search_offers_only_the_projects_of_the_channel(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with guarded_bot(emulator, fake_slack, tmp_path, POLICY) as g:
        await g.bot.driver.command("/inference", "create")
        view = await g.bot.view("inference_create")
        ack = await g.bot.driver.suggest(view, "f_project", "team")
        assert [o["text"]["text"] for o in ack.json()["options"]] == ["team-a"]  # not team-b
        assert not g.fake.calls_to("chat.postEphemeral")  # typing is not a denied create


async def test_no_create_right_is_refused_before_any_form(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with guarded_bot(emulator, fake_slack, tmp_path, POLICY) as g:
        response = await g.bot.driver.command("/inference", "create", user="UNOBODY")
        assert response.status_code == 200
        denied = await g.fake.wait_for(lambda: _to("UNOBODY", g.fake.messages))
        assert "projects.team-a.create" in error_text(denied)
        assert g.fake.calls_to("views.open") == []
        entry = await g.wait_entry("denied", "create")
        assert entry.user_id == "UNOBODY"


async def test_user_groups_grant_rights(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    policy = """
projects:
  team-a: {create: [SMLTEAM], scale: [SMLTEAM]}
"""
    fake_slack.fake.add_usergroup("SMLTEAM", [USER])
    async with guarded_bot(emulator, fake_slack, tmp_path, policy) as g:
        await g.bot.create("grouped", project_id="1")
        await g.bot.driver.command("/inference", "scale grouped 2 2")
        await g.wait_entry("ok", "scale")
        await g.bot.driver.command("/inference", "scale grouped 1 1", user="UOUTSIDER")
        denied = await g.fake.wait_for(lambda: _to("UOUTSIDER", g.fake.messages))
        assert "projects.team-a.scale" in error_text(denied)
        calls = g.fake.calls_to("usergroups.users.list")
        assert calls and calls[0].args.get("usergroup") == "SMLTEAM"
        # cached: two commands, one lookup
        assert len(calls) == 1


async def test_policy_command_shows_what_the_caller_may_do(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with guarded_bot(emulator, fake_slack, tmp_path, POLICY) as g:
        await g.bot.driver.command("/inference", "policy")
        answer = await g.bot.reply_with("What you may do here")
        text = error_text(answer)
        assert "team-a" in text and "team-b" not in text
        assert "read, create, update, scale" in text and "at most 3 replicas" in text


async def test_open_policy_says_so(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with guarded_bot(emulator, fake_slack, tmp_path) as g:
        await g.bot.driver.command("/inference", "policy")
        answer = await g.bot.reply_with("What you may do here")
        assert "No access policy" in error_text(answer)


async def test_audit_trail_lists_actions_and_denials_and_outlives_the_workload(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with guarded_bot(emulator, fake_slack, tmp_path, POLICY) as g:
        created = await g.bot.create("traced", project_id="1")
        await g.bot.driver.command("/inference", "scale traced 2 2")
        await g.wait_entry("ok", "scale")
        await g.bot.driver.command("/inference", "delete traced")
        await g.wait_entry("denied", "delete")
        await g.bot.driver.command("/inference", "delete traced", user="UBOSS")
        confirm = await g.fake.wait_for(
            lambda: next(
                (m for m in g.fake.messages if "inference_confirm_delete" in str(m.blocks)), None
            )
        )
        await g.bot.driver.click(confirm, action_id="inference_confirm_delete", user="UBOSS")
        await g.wait_entry("ok", "delete")

        await g.bot.driver.command("/inference", f"audit {created.workload_id}")
        trail = await g.bot.reply_with("Audit trail")
        text = error_text(trail)
        for word in ("scale", "replicas 2-2", "denied", "projects.team-a.delete", "UBOSS"):
            assert word in text, word
        # newest first
        assert text.index("UBOSS") < text.index("denied")


async def test_reads_of_another_projects_workload_are_refused_in_a_bound_channel(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with guarded_bot(emulator, fake_slack, tmp_path, POLICY) as g:
        other = await g.bot.create("elsewhere", project_id="2")
        for text in (
            "metrics elsewhere",
            f"metrics {other.workload_id} --since 30m",
            "audit elsewhere",
            "watch elsewhere",
        ):
            seen = len(g.fake.messages)
            await g.bot.driver.command("/inference", text)
            denied = await g.fake.wait_for(
                lambda seen=seen: next(
                    (m for m in g.fake.messages[seen:] if "Not allowed" in m.text), None
                )
            )
            assert f"channels.{CHANNEL}" in error_text(denied), text
        assert g.fake.calls_to("files.getUploadURLExternal") == []
        # A form opened for an update says so in the modal, and never shows the form.
        await g.bot.driver.command("/inference", "update elsewhere")
        denial = await g.fake.wait_for(
            lambda: next(
                (c for c in g.fake.calls_to("views.update") if "Not allowed" in str(c.args)), None
            )
        )
        assert f"channels.{CHANNEL}" in str(denial.args)
        assert not [c for c in g.fake.calls_to("views.update") if "inference_update" in str(c.args)]


async def test_a_double_clicked_delete_sends_one_delete(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with guarded_bot(emulator, fake_slack, tmp_path, POLICY) as g:
        await g.bot.create("twice", project_id="1")
        await g.bot.driver.command("/inference", "delete twice", user="UBOSS")
        confirm = await g.fake.wait_for(
            lambda: next(
                (m for m in g.fake.messages if "inference_confirm_delete" in str(m.blocks)), None
            )
        )
        await asyncio.gather(
            g.bot.driver.click(confirm, action_id="inference_confirm_delete", user="UBOSS"),
            g.bot.driver.click(confirm, action_id="inference_confirm_delete", user="UBOSS"),
        )
        await g.fake.wait_for(lambda: len(g.bot.deps.tasks) == 0 or None)
        assert (
            emulator.state.stats.count("DELETE", "/api/v1/workloads/inferences/{workloadId}") == 1
        )
        deletes = [e for e in await g.entries() if e.action == "delete"]
        assert [e.outcome for e in deletes] == ["ok"]


async def test_project_select_offers_where_the_user_may_create(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with guarded_bot(emulator, fake_slack, tmp_path, POLICY) as g:

        async def options(user: str) -> set[str]:
            await g.bot.driver.command("/inference", "create", user=user, channel="COTHER")
            view = await g.fake.wait_for(
                lambda: next(
                    (
                        v
                        for v in g.fake.iter_open_views()
                        if v.user_id == user and v.callback_id == "inference_create"
                    ),
                    None,
                )
            )
            block = next(b for b in view.blocks if b.get("block_id") == "f_project")
            return {o["text"]["text"] for o in block["element"]["options"]}

        assert await options(USER) == {"team-a", "team-b"}
        assert await options("UCREW") == {"team-b"}


async def test_a_channel_bound_to_a_project_run_ai_lacks(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    policy = f"channels: {{{CHANNEL}: [team-zzz]}}\nprojects: {{team-zzz: {{create: ['*']}}}}"
    async with guarded_bot(emulator, fake_slack, tmp_path, policy) as g:
        for round_ in (1, 2):  # cold cache, then warm

            def said(n: int = round_) -> bool | None:
                calls = g.fake.calls_to("views.update")
                return len([c for c in calls if "no projects" in str(c.args)]) == n or None

            await g.bot.driver.command("/inference", "create")
            await g.fake.wait_for(said)


async def test_audit_in_a_channel_bound_by_project_id(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    policy = f'channels: {{{CHANNEL}: ["1"], COTHER: ["2"]}}\nprojects: {{"1": {{scale: ["*"]}}}}'
    async with guarded_bot(emulator, fake_slack, tmp_path, policy) as g:
        await g.bot.create("by-id", project_id="1")
        await g.bot.driver.command("/inference", "scale by-id 2 2")
        await g.wait_entry("ok", "scale")
        await g.bot.driver.command("/inference", "audit by-id")
        trail = await g.bot.reply_with("Audit trail")
        assert "replicas 2-2" in error_text(trail)
        await g.bot.driver.command("/inference", "audit by-id", channel="COTHER")
        refused = await g.fake.wait_for(
            lambda: next((m for m in g.fake.messages if "channels.COTHER" in m.text), None)
        )
        assert "Not allowed" in refused.text


async def test_a_modal_that_lacks_its_channel_is_refused(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    # Treated as unbound, it could act on any project; it is refused instead.
    async with guarded_bot(emulator, fake_slack, tmp_path, POLICY) as g:
        await g.bot.driver.command("/inference", "create")
        view = await g.bot.view("inference_create")
        metadata = json.loads(view.private_metadata or "{}")
        assert metadata.pop("channel_id") == CHANNEL
        before = mutations(emulator)
        body = submission(view, FORM, user=USER, private_metadata=json.dumps(metadata))
        response = await g.bot.driver.post(body, FORM_TYPE)
        assert response.status_code == 200
        assert "does not say which channel it was opened in" in response.text
        denied = await g.wait_entry("denied", "create")
        assert denied.rule == "channels" and denied.user_id == USER
        assert mutations(emulator) == before
        assert await g.bot.runai.find_inferences("qwen-guarded") == []
