"""The update form: prefill, only-what-changed PATCH, locked long values (pure)."""

from __future__ import annotations

from bot.runai import models
from bot.slack.ids import Field
from bot.slack.modals import update


def _spec() -> models.InferenceSpecSpec:
    return models.InferenceSpecSpec(
        image="img:1",
        args="--model a",
        environment_variables=[
            models.EnvironmentVariable(name="A", value="1"),
            models.EnvironmentVariable(
                name="TOKEN", secret=models.EnvironmentVariableSecret(name="s", key="k")
            ),
        ],
        compute=models.Compute(gpu_devices_request=1, cpu_core_request=2.0),
    )


def test_update_form_round_trip_and_diff() -> None:
    spec = _spec()
    values = update.update_values(spec)
    assert values[Field.ENV] == "A=1"
    assert update.hidden_env_count(spec) == 1
    unchanged = update.validate_update(values)
    assert isinstance(unchanged, update.UpdateSubmission)
    assert update.update_request(spec, unchanged) == {
        Field.IMAGE: update.update_request(spec, unchanged)[Field.IMAGE]
    }  # type: ignore[index]

    changed = update.validate_update({**values, Field.IMAGE: "img:2"})
    assert isinstance(changed, update.UpdateSubmission)
    request = update.update_request(spec, changed)
    assert isinstance(request, models.InferenceUpdateRequest)
    assert request.to_api() == {"spec": {"image": "img:2"}}

    env = update.validate_update({**values, Field.ENV: "A=2"})
    assert isinstance(env, update.UpdateSubmission)
    request = update.update_request(spec, env)
    assert isinstance(request, models.InferenceUpdateRequest)
    names = [e["name"] for e in request.to_api()["spec"]["environmentVariables"]]
    assert names == ["A", "TOKEN"]  # the secret-backed variable is kept

    cleared = update.validate_update({**values, Field.ARGS: ""})
    assert isinstance(cleared, update.UpdateSubmission)
    assert Field.ARGS in update.update_request(spec, cleared)  # type: ignore[operator]

    gpu = update.validate_update({**values, Field.GPU_DEVICES: "2"})
    assert isinstance(gpu, update.UpdateSubmission)
    request = update.update_request(spec, gpu)
    assert isinstance(request, models.InferenceUpdateRequest)
    assert request.to_api()["spec"]["compute"] == {"gpuDevicesRequest": 2, "cpuCoreRequest": 2.0}


def test_values_too_long_for_slack_are_locked_not_cut() -> None:
    spec = models.InferenceSpecSpec(image="img:1", args="--x " * 1000)
    values, locked = update.lock_long_values(update.update_values(spec))
    assert locked == (Field.ARGS,) and values[Field.ARGS] == ""
    sub = update.validate_update({**values, Field.IMAGE: "img:2"}, locked)
    assert isinstance(sub, update.UpdateSubmission)
    request = update.update_request(spec, update.fill_locked(sub, spec, locked))
    assert isinstance(request, models.InferenceUpdateRequest)
    assert request.to_api() == {"spec": {"image": "img:2"}}
