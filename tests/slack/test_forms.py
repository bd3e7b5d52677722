"""Modal validation and the translation to Run:ai requests (pure)."""

from __future__ import annotations

import pytest

from bot.runai import models
from bot.slack import forms
from bot.slack.ids import Field

VALID: forms.Values = {
    Field.NAME: "llama-chat",
    Field.PROJECT: "1",
    Field.CLUSTER: "71f69d83-ba66-4822-adf5-55ce55efd210",
    Field.IMAGE: "vllm/vllm-openai:v0.6.3",
    Field.PORT: "8000",
    Field.MIN_REPLICAS: "1",
    Field.MAX_REPLICAS: "1",
}


def _errors(values: forms.Values) -> forms.Errors:
    result = forms.validate_create({**VALID, **values})
    assert isinstance(result, dict), result
    return result


def test_minimal_create_is_valid() -> None:
    sub = forms.validate_create(VALID)
    assert isinstance(sub, forms.CreateSubmission)
    body = forms.creation_request(sub).to_api()
    assert body["name"] == "llama-chat" and body["projectId"] == "1"
    assert body["spec"]["servingPort"] == {"container": 8000, "protocol": "http"}
    assert body["spec"]["autoscaling"] == {"minReplicas": 1, "maxReplicas": 1}
    assert "compute" not in body["spec"]


def test_full_create_translates_every_field() -> None:
    sub = forms.validate_create(
        {
            **VALID,
            Field.COMMAND: "python -m vllm.entrypoints.openai.api_server",
            Field.ARGS: "--model x",
            Field.GPU_PORTION: "0.5",
            Field.CPU_CORES: "2",
            Field.CPU_MEMORY: "16 GB",
            Field.ENV: "A=1\n\n# comment\nB = two words ",
            Field.MIN_REPLICAS: "0",
            Field.MAX_REPLICAS: "3",
            Field.METRIC: "throughput",
            Field.THRESHOLD: "10",
            Field.RETENTION: "300",
        }
    )
    assert isinstance(sub, forms.CreateSubmission)
    spec = forms.creation_request(sub).to_api()["spec"]
    assert spec["compute"] == {
        "gpuDevicesRequest": 1,
        "gpuRequestType": "portion",
        "gpuPortionRequest": 0.5,
        "cpuCoreRequest": 2.0,
        "cpuMemoryRequest": "16G",
    }
    assert spec["environmentVariables"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "two words"},
    ]
    assert spec["autoscaling"] == {
        "minReplicas": 0,
        "maxReplicas": 3,
        "metric": "throughput",
        "metricThreshold": 10,
        "scaleToZeroRetentionSeconds": 300,
    }


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({Field.NAME: ""}, Field.NAME, "required"),
        ({Field.NAME: "Llama"}, Field.NAME, "lower-case"),
        ({Field.NAME: "a" * 64}, Field.NAME, "up to 63"),
        ({Field.NAME: "-x"}, Field.NAME, "start with a letter"),
        ({Field.PROJECT: ""}, Field.PROJECT, "required"),
        ({Field.IMAGE: ""}, Field.IMAGE, "required"),
        ({Field.IMAGE: "a b"}, Field.IMAGE, "no spaces"),
        ({Field.PORT: "http"}, Field.PORT, "whole number"),
        ({Field.PORT: "70000"}, Field.PORT, "between 1 and 65535"),
        ({Field.PORT: ""}, Field.PORT, "required"),
        ({Field.GPU_DEVICES: "two"}, Field.GPU_DEVICES, "whole number"),
        ({Field.GPU_PORTION: "1.5"}, Field.GPU_PORTION, "at most 1"),
        ({Field.GPU_PORTION: "nan"}, Field.GPU_PORTION, "number"),
        ({Field.GPU_PORTION: "0.5", Field.GPU_MEMORY: "10Gi"}, Field.GPU_MEMORY, "not both"),
        ({Field.GPU_PORTION: "0.5", Field.GPU_DEVICES: "2"}, Field.GPU_DEVICES, "exactly 1"),
        ({Field.GPU_MEMORY: "lots"}, Field.GPU_MEMORY, "amount like 20Gi"),
        ({Field.CPU_CORES: "0"}, Field.CPU_CORES, "above 0"),
        ({Field.CPU_MEMORY: "0Gi"}, Field.CPU_MEMORY, "more than 0"),
        ({Field.ENV: "NOEQUALS"}, Field.ENV, "KEY=value"),
        ({Field.ENV: "1BAD=x"}, Field.ENV, "not a valid variable name"),
        ({Field.ENV: "A=1\nA=2"}, Field.ENV, "set twice"),
        ({Field.ENV: "\n".join(f"V{i}=1" for i in range(101))}, Field.ENV, "At most 100"),
        ({Field.MIN_REPLICAS: "x"}, Field.MIN_REPLICAS, "whole number"),
        ({Field.MIN_REPLICAS: ""}, Field.MIN_REPLICAS, "required"),
        ({Field.MAX_REPLICAS: "0"}, Field.MAX_REPLICAS, "between 1 and 1000"),
        ({Field.MIN_REPLICAS: "3", Field.MAX_REPLICAS: "2"}, Field.MAX_REPLICAS, "at least min"),
        ({Field.MAX_REPLICAS: "3"}, Field.METRIC, "Pick a metric"),
        ({Field.METRIC: "latency"}, Field.THRESHOLD, "Set a threshold"),
        ({Field.THRESHOLD: "5"}, Field.THRESHOLD, "needs a metric"),
        ({Field.METRIC: "bogus", Field.THRESHOLD: "5"}, Field.METRIC, "listed metrics"),
        (
            {Field.MIN_REPLICAS: "0", Field.METRIC: "latency", Field.THRESHOLD: "5"},
            Field.METRIC,
            "scale to zero",
        ),
        ({Field.RETENTION: "60"}, Field.RETENTION, "min replicas is 0"),
        ({Field.MIN_REPLICAS: "0", Field.RETENTION: "4000"}, Field.RETENTION, "between 0 and 3600"),
    ],
)
def test_create_errors_land_on_the_right_field(
    values: forms.Values, field: Field, words: str
) -> None:
    errors = _errors(values)
    assert field in errors, errors
    assert words in errors[field]


def test_scale_zero_to_one_needs_no_metric() -> None:
    scaling = forms.validate_scale({Field.MIN_REPLICAS: "0", Field.MAX_REPLICAS: "1"})
    assert isinstance(scaling, forms.Scaling)
    assert forms.check_scale_command(scaling) is None
    assert forms.check_scale_command(forms.Scaling(min_replicas=1, max_replicas=3)) is not None


@pytest.mark.parametrize(
    ("given", "expected"),
    [("20Gi", "20Gi"), ("20GiB", "20Gi"), ("16000 MB", "16000M"), ("1.5G", "1.5G"), ("8", "8")],
)
def test_quantities(given: str, expected: str) -> None:
    assert forms.quantity(given, "x") == expected


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
    values = forms.update_values(spec)
    assert values[Field.ENV] == "A=1"
    assert forms.hidden_env_count(spec) == 1
    unchanged = forms.validate_update(values)
    assert isinstance(unchanged, forms.UpdateSubmission)
    assert forms.update_request(spec, unchanged) == {
        Field.IMAGE: forms.update_request(spec, unchanged)[Field.IMAGE]
    }  # type: ignore[index]

    changed = forms.validate_update({**values, Field.IMAGE: "img:2"})
    assert isinstance(changed, forms.UpdateSubmission)
    request = forms.update_request(spec, changed)
    assert isinstance(request, models.InferenceUpdateRequest)
    assert request.to_api() == {"spec": {"image": "img:2"}}

    env = forms.validate_update({**values, Field.ENV: "A=2"})
    assert isinstance(env, forms.UpdateSubmission)
    request = forms.update_request(spec, env)
    assert isinstance(request, models.InferenceUpdateRequest)
    names = [e["name"] for e in request.to_api()["spec"]["environmentVariables"]]
    assert names == ["A", "TOKEN"]  # the secret-backed variable is kept

    cleared = forms.validate_update({**values, Field.ARGS: ""})
    assert isinstance(cleared, forms.UpdateSubmission)
    assert Field.ARGS in forms.update_request(spec, cleared)  # type: ignore[operator]

    gpu = forms.validate_update({**values, Field.GPU_DEVICES: "2"})
    assert isinstance(gpu, forms.UpdateSubmission)
    request = forms.update_request(spec, gpu)
    assert isinstance(request, models.InferenceUpdateRequest)
    assert request.to_api()["spec"]["compute"] == {"gpuDevicesRequest": 2, "cpuCoreRequest": 2.0}


def test_scale_values_prefill() -> None:
    values = forms.scale_values(
        models.AutoScaling(
            min_replicas=0,
            max_replicas=2,
            metric="concurrency",
            metric_threshold=5,
            scale_to_zero_retention_seconds=120,
        )
    )
    assert values == {
        Field.MIN_REPLICAS: "0",
        Field.MAX_REPLICAS: "2",
        Field.METRIC: "concurrency",
        Field.THRESHOLD: "5",
        Field.RETENTION: "120",
    }
    assert forms.scale_values(None)[Field.MAX_REPLICAS] == "1"


def test_model_prefill_and_deploy_value() -> None:
    info = models.ModelInfo(
        model_name="Qwen/Qwen2.5-7B-Instruct",
        pipeline_tag="text-generation",
        vllm_supporting_versions=["0.5.4", "0.10.1", "0.6.3"],
        min_memory_requirements_mb=15_000,
    )
    values = forms.model_values(info)
    assert values[Field.IMAGE] == "vllm/vllm-openai:v0.10.1"
    assert values[Field.ARGS] == "--model Qwen/Qwen2.5-7B-Instruct"
    assert values[Field.GPU_MEMORY] == "15Gi"
    assert values[Field.NAME] == "qwen2-5-7b-instruct"
    back = forms.model_from_deploy_value(forms.deploy_value(info))
    assert back is not None and back.model_name == info.model_name
    assert back.min_memory_requirements_mb == 15_000
    assert forms.model_from_deploy_value("<!channel>") is None


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("Bad request - invalid workload name 'X': must be lower case", Field.NAME),
        ("Bad request - The image name is mandatory for creating a workload", Field.IMAGE),
        ("Bad request - spec.servingPort.container must be an integer in 1..65535", Field.PORT),
        (
            "Bad request - spec.compute.gpuMemoryRequest must be a quantity like '20G'",
            Field.GPU_MEMORY,
        ),
        (
            "Bad request - spec.autoscaling.maxReplicas (1) must be >= minReplicas (2)",
            Field.MAX_REPLICAS,
        ),
        ("Bad request - spec.autoscaling.metricThreshold is mandatory", Field.THRESHOLD),
        ("Bad request - spec.environmentVariables[0] must be an object", Field.ENV),
        ("Bad request - project 9 does not exist", Field.PROJECT),
        ("Something unrelated", None),
    ],
)
def test_api_messages_map_to_fields(message: str, field: Field | None) -> None:
    assert forms.field_for_api_message(message, forms.CREATE_FIELDS) == field


def test_api_message_field_must_be_on_the_form() -> None:
    assert forms.field_for_api_message("invalid workload name", forms.SCALE_FIELDS) is None


def test_modal_context_round_trip_and_garbage() -> None:
    ctx = forms.ModalContext(channel_id="C1", workload_id="w", name="n")
    assert forms.ModalContext.load(ctx.dump()) == ctx
    assert forms.ModalContext.load("not json") == forms.ModalContext()
    assert forms.ModalContext.load(None) == forms.ModalContext()


def test_field_values_reads_inputs_and_selects() -> None:
    values = forms.field_values(
        {
            "f_name": {"f_name": {"type": "plain_text_input", "value": "  x  "}},
            "f_project": {
                "f_project": {"type": "static_select", "selected_option": {"value": "2"}}
            },
            "f_metric": {"f_metric": {"type": "static_select", "selected_option": None}},
            "unknown": {"a": {"value": "ignored"}},
        }
    )
    assert values == {Field.NAME: "x", Field.PROJECT: "2", Field.METRIC: ""}


def test_hf_token_validation() -> None:
    assert forms.validate_hf_token({Field.HF_TOKEN: "hf_abcdefgh"}) == "hf_abcdefgh"
    assert Field.HF_TOKEN in forms.validate_hf_token({})  # type: ignore[operator]
    assert Field.HF_TOKEN in forms.validate_hf_token({Field.HF_TOKEN: "a b c d e"})  # type: ignore[operator]


def test_values_too_long_for_slack_are_locked_not_cut() -> None:
    spec = models.InferenceSpecSpec(image="img:1", args="--x " * 1000)
    values, locked = forms.lock_long_values(forms.update_values(spec))
    assert locked == (Field.ARGS,) and values[Field.ARGS] == ""
    sub = forms.validate_update({**values, Field.IMAGE: "img:2"}, locked)
    assert isinstance(sub, forms.UpdateSubmission)
    request = forms.update_request(spec, forms.fill_locked(sub, spec, locked))
    assert isinstance(request, models.InferenceUpdateRequest)
    assert request.to_api() == {"spec": {"image": "img:2"}}


def test_project_must_live_on_the_chosen_cluster() -> None:
    sub = forms.validate_create(VALID)
    assert isinstance(sub, forms.CreateSubmission)
    projects = [models.Project(id="1", name="team-a", cluster_id="other")]
    clusters = [models.Cluster(uuid="other", name="west")]
    assert forms.check_project_cluster(sub, projects, clusters) == {
        Field.CLUSTER: "Project team-a is on cluster west."
    }
    home = [models.Project(id="1", name="team-a", cluster_id=VALID[Field.CLUSTER])]
    assert forms.check_project_cluster(sub, home, clusters) == {}
    assert forms.check_project_cluster(sub, [], clusters) == {}
