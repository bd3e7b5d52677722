"""The create form: validation, the Run:ai request, the prefill for a model (pure)."""

from __future__ import annotations

import pytest

from bot.runai import models
from bot.slack.ids import Field
from bot.slack.modals import create, fields

VALID: fields.Values = {
    Field.NAME: "llama-chat",
    Field.PROJECT: "1",
    Field.CLUSTER: "71f69d83-ba66-4822-adf5-55ce55efd210",
    Field.IMAGE: "vllm/vllm-openai:v0.6.3",
    Field.PORT: "8000",
    Field.MIN_REPLICAS: "1",
    Field.MAX_REPLICAS: "1",
}


def _errors(values: fields.Values) -> fields.Errors:
    result = create.validate_create({**VALID, **values})
    assert isinstance(result, dict), result
    return result


def test_minimal_create_is_valid() -> None:
    sub = create.validate_create(VALID)
    assert isinstance(sub, create.CreateSubmission)
    body = create.creation_request(sub).to_api()
    assert body["name"] == "llama-chat" and body["projectId"] == "1"
    assert body["spec"]["servingPort"] == {"container": 8000, "protocol": "http"}
    assert body["spec"]["autoscaling"] == {"minReplicas": 1, "maxReplicas": 1}
    assert "compute" not in body["spec"]


def test_full_create_translates_every_field() -> None:
    sub = create.validate_create(
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
    assert isinstance(sub, create.CreateSubmission)
    spec = create.creation_request(sub).to_api()["spec"]
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
    values: fields.Values, field: Field, words: str
) -> None:
    errors = _errors(values)
    assert field in errors, errors
    assert words in errors[field]


def test_model_prefill_and_deploy_value() -> None:
    info = models.ModelInfo(
        model_name="Qwen/Qwen2.5-7B-Instruct",
        pipeline_tag="text-generation",
        vllm_supporting_versions=["0.5.4", "0.10.1", "0.6.3"],
        min_memory_requirements_mb=15_000,
    )
    values = create.model_values(info)
    assert values[Field.IMAGE] == "vllm/vllm-openai:v0.10.1"
    assert values[Field.ARGS] == "--model Qwen/Qwen2.5-7B-Instruct"
    assert values[Field.GPU_MEMORY] == "15Gi"
    assert values[Field.NAME] == "qwen2-5-7b-instruct"
    back = create.model_from_deploy_value(create.deploy_value(info))
    assert back is not None and back.model_name == info.model_name
    assert back.min_memory_requirements_mb == 15_000
    assert create.model_from_deploy_value("<!channel>") is None


def test_project_must_live_on_the_chosen_cluster() -> None:
    sub = create.validate_create(VALID)
    assert isinstance(sub, create.CreateSubmission)
    projects = [models.Project(id="1", name="team-a", cluster_id="other")]
    clusters = [models.Cluster(uuid="other", name="west")]
    assert create.check_project_cluster(sub, projects, clusters) == {
        Field.CLUSTER: "Project team-a is on cluster west."
    }
    home = [models.Project(id="1", name="team-a", cluster_id=VALID[Field.CLUSTER])]
    assert create.check_project_cluster(sub, home, clusters) == {}
    assert create.check_project_cluster(sub, [], clusters) == {}
