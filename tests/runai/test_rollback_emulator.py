"""History and rollback against the emulator: two updates give three revisions, and the
rollback PATCH brings the first image back (only the fields that differ)."""

from __future__ import annotations

from bot.runai import RunaiClient, models
from bot.slack.revisions import history_card, rollback_plan
from tests.runai.conftest import Emulator
from tests.runai.test_client_emulator import creation, poll, unique


async def test_two_updates_three_revisions_and_a_rollback(
    client: RunaiClient, emulator: Emulator
) -> None:
    created = await client.create_inference(creation(unique("hist")))
    wid = created.workload_id
    for image, low in (("vllm/vllm-openai:v0.7.0", 2), ("vllm/vllm-openai:v0.8.0", 2)):
        await client.update_inference(
            wid,
            models.InferenceUpdateRequest(
                spec=models.InferenceUpdateSpec(
                    image=image, autoscaling=models.AutoScaling(min_replicas=low, max_replicas=2)
                )
            ),
        )
    revisions = await client.inference_revisions(wid)
    card = history_card(created.name, wid, revisions, lambda r: None)
    assert [r.number for r in card.revisions] == [3, 2, 1]
    assert card.revisions[0].changes[0] == (
        "image `vllm/vllm-openai:v0.7.0` → `vllm/vllm-openai:v0.8.0`"
    )
    first = next(r for r in revisions if r.images == ["vllm/vllm-openai:v0.6.4"])
    current = await client.get_inference(wid)
    plan = rollback_plan(first, current.spec)
    assert plan.request is not None
    assert set(plan.request.to_api()["spec"]) == {"image", "autoscaling"}
    await client.update_inference(wid, plan.request)
    back = await client.get_inference(wid)
    assert back.spec is not None and back.spec.image == "vllm/vllm-openai:v0.6.4"
    assert back.spec.autoscaling is not None and back.spec.autoscaling.max_replicas == 1
    assert len(await client.inference_revisions(wid)) == 4
    # nothing left to roll back to that revision
    again = rollback_plan(first, (await client.get_inference(wid)).spec)
    assert again.request is None
    await poll(lambda: client.get_workload(wid), lambda w: w.phase is not None)
