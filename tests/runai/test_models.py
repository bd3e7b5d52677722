"""models.py: wire names, lenient parsing, extras kept, secrets hidden."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.runai import models


def test_creation_request_dumps_camel_case_without_nones() -> None:
    req = models.InferenceCreationRequest(
        name="llama",
        project_id="1",
        cluster_id="71f69d83-ba66-4822-adf5-55ce55efd210",
        spec=models.InferenceSpecSpec(
            image="vllm/vllm-openai:v0.6.4",
            serving_port=models.ServingPort(container=8000, protocol="http"),
            compute=models.Compute(gpu_devices_request=1),
            autoscaling=models.AutoScaling(
                min_replicas=1, max_replicas=3, metric="throughput", metric_threshold=10
            ),
        ),
    )
    assert req.to_api() == {
        "name": "llama",
        "projectId": "1",
        "clusterId": "71f69d83-ba66-4822-adf5-55ce55efd210",
        "spec": {
            "image": "vllm/vllm-openai:v0.6.4",
            "servingPort": {"container": 8000, "protocol": "http"},
            "compute": {"gpuDevicesRequest": 1},
            "autoscaling": {
                "minReplicas": 1,
                "maxReplicas": 3,
                "metric": "throughput",
                "metricThreshold": 10,
            },
        },
    }


def test_k8s_names_keep_the_schema_spelling() -> None:
    workload = models.Workload.model_validate(
        {"id": "a", "name": "n", "type": "inference", "k8sPhase": "Running"}
    )
    assert workload.k8s_phase == "Running"
    assert "k8sPhase" in workload.to_api()


def test_unknown_fields_are_kept_and_sent_back() -> None:
    workload = models.Workload.model_validate(
        {"id": "a", "name": "n", "type": "inference", "aiApplicationId": "x", "newThing": 1}
    )
    dumped = workload.to_api()
    assert dumped["aiApplicationId"] == "x"
    assert dumped["newThing"] == 1


def test_known_phase_is_the_enum_and_unknown_phase_is_kept() -> None:
    known = models.Workload.model_validate(
        {"id": "a", "name": "n", "type": "t", "phase": "Running"}
    )
    assert known.phase is models.Phase.RUNNING
    new = models.Workload.model_validate(
        {"id": "a", "name": "n", "type": "t", "phase": "Hibernating"}
    )
    assert new.phase == "Hibernating"


def test_numeric_project_id_is_read_as_string() -> None:
    workload = models.Workload.model_validate({"id": "a", "name": "n", "type": "t", "projectId": 1})
    assert workload.project_id == "1"


def test_metric_values_are_floats_and_odd_timestamps_parse() -> None:
    metrics = models.MetricsResponse.model_validate_json(
        b'{"measurements": [{"type": "THROUGHPUT", "labels": {"pod": "p"}, "values": ['
        b'{"value": "85", "timestamp": "2023-06-06 12:09:18.211"},'
        b'{"value": "0.5", "timestamp": "2023-06-06T12:09:38.211Z"},'
        b'{"value": "", "timestamp": null}]},'
        b'{"type": "LATENCY", "values": null}]}'
    )
    throughput, latency = metrics.measurements
    assert [v.value for v in throughput.values] == [85.0, 0.5, None]
    assert throughput.values[0].timestamp == datetime(2023, 6, 6, 12, 9, 18, 211000, tzinfo=UTC)
    assert throughput.values[1].timestamp == datetime(2023, 6, 6, 12, 9, 38, 211000, tzinfo=UTC)
    assert throughput.values[2].timestamp is None
    assert latency.values == []


def test_inference_accepts_the_schema_example() -> None:
    inference = models.Inference.model_validate(
        {
            "name": "n",
            "requestedName": "n",
            "workloadId": "0b5c4b8e-3a9a-4c42-9b1a-0f35a0c5a0a1",
            "projectId": "1",
            "clusterId": "71f69d83-ba66-4822-adf5-55ce55efd210",
            "createdBy": "test@lab.com",
            "createdAt": "2022-01-01T03:49:52.531Z",
            "desiredPhase": "Running",
            "actualPhase": "Creating",
            "spec": {"image": "i", "servingPort": {"container": 8000}},
        }
    )
    assert inference.actual_phase is models.Phase.CREATING
    assert inference.desired_phase is models.DesiredPhase.RUNNING
    assert inference.spec is not None and inference.spec.serving_port is not None
    assert inference.spec.serving_port.container == 8000


def test_model_info_reads_the_seed_names() -> None:
    info = models.ModelInfo.model_validate(
        {
            "modelName": "Qwen/Qwen2.5-0.5B-Instruct",
            "pipelineTag": "text-generation",
            "architectures": ["Qwen2ForCausalLM"],
            "vllmSupportingVersions": ["0.6.4"],
            "minMemoryRequirementsMb": 1187.5,
        }
    )
    assert info.pipeline_tag == "text-generation"
    assert info.min_memory_requirements_mb == 1188


def test_secrets_stay_out_of_reprs_but_reach_the_body() -> None:
    token_req = models.TokenRequest(client_id="bot", client_secret="hunter2")  # type: ignore[arg-type]
    info_req = models.ModelInfoRequest(model_name="m", hf_token="hf_abc")  # type: ignore[arg-type]
    env = models.EnvironmentVariable(name="HF_TOKEN", value="hf_abc")
    for obj in (token_req, info_req, env):
        assert "hunter2" not in repr(obj) and "hf_abc" not in repr(obj)
        assert "hunter2" not in str(obj) and "hf_abc" not in str(obj)
    assert token_req.to_api() == {
        "grantType": "client_credentials",
        "clientID": "bot",
        "clientSecret": "hunter2",
    }
    assert info_req.to_api()["hfToken"] == "hf_abc"
    assert env.to_api() == {"name": "HF_TOKEN", "value": "hf_abc"}
    token = models.TokenResponse.model_validate({"accessToken": "eyJ.secret.x"})
    assert "eyJ.secret.x" not in repr(token)
