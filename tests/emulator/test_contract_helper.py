"""tests/contract.py must reject what the schema rejects (so contract tests can fail)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.emulator import CLUSTER_ID
from tests.contract import assert_error_body, assert_request_matches, assert_response_matches
from tests.emulator.conftest import INFERENCE, INFERENCES, MODEL_INFO, WORKLOADS, creation

GOOD_INFERENCE = {
    "name": "x",
    "requestedName": "x",
    "workloadId": "9d7e3b8d-a5b2-478c-bd00-5ac2cd950e71",
    "projectId": "1",
    "clusterId": CLUSTER_ID,
    "createdBy": "me",
    "createdAt": "2025-01-01T00:00:00.000Z",
    "desiredPhase": "Running",
    "actualPhase": "Running",
    "deletedAt": None,
}


def test_accepts_a_valid_inference() -> None:
    assert_response_matches("GET", INFERENCE, 200, GOOD_INFERENCE)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"workloadId": "not-a-uuid"}, "is not a 'uuid'"),
        ({"actualPhase": "Sleeping"}, "is not one of"),
        ({"createdAt": "yesterday"}, "is not a 'date-time'"),
        ({"createdBy": None}, "None for not nullable"),
    ],
)
def test_rejects_wrong_fields(change: dict[str, Any], needle: str) -> None:
    with pytest.raises(AssertionError, match=needle):
        assert_response_matches("GET", INFERENCE, 200, GOOD_INFERENCE | change)


def test_rejects_missing_required() -> None:
    body = dict(GOOD_INFERENCE)
    del body["desiredPhase"]
    with pytest.raises(AssertionError, match="'desiredPhase' is a required property"):
        assert_response_matches("GET", INFERENCE, 200, body)


def test_list_needs_workloads_with_every_required_field() -> None:
    with pytest.raises(AssertionError, match="required property"):
        assert_response_matches("GET", WORKLOADS, 200, {"workloads": [{"name": "x"}]})
    assert_response_matches("GET", WORKLOADS, 200, {"workloads": []})


def test_undocumented_success_status_fails() -> None:
    with pytest.raises(AssertionError, match="does not document status 200"):
        assert_response_matches("POST", INFERENCES, 200, GOOD_INFERENCE)


def test_undocumented_error_status_must_be_an_error_body() -> None:
    assert_response_matches("POST", INFERENCES, 409, {"code": 409, "message": "taken"})
    with pytest.raises(AssertionError):
        assert_response_matches("POST", INFERENCES, 409, {"error": "taken"})


def test_unknown_operation_fails() -> None:
    with pytest.raises(AssertionError, match="not in the schema subset"):
        assert_response_matches("PUT", INFERENCES, 200, {})


def test_requests() -> None:
    assert_request_matches("POST", INFERENCES, creation())
    with pytest.raises(AssertionError, match="'clusterId' is a required property"):
        body = creation()
        del body["clusterId"]
        assert_request_matches("POST", INFERENCES, body)
    with pytest.raises(AssertionError, match="less than the minimum of 0"):
        assert_request_matches("PATCH", INFERENCE, {"spec": {"autoscaling": {"minReplicas": -1}}})
    assert_request_matches("POST", MODEL_INFO, {"modelName": "a/b", "hfToken": "hf_x"})
    with pytest.raises(AssertionError):
        assert_request_matches("POST", MODEL_INFO, {"model": "a/b"})


def test_error_body_code_must_match_status() -> None:
    assert_error_body({"code": 404, "message": "gone"}, 404)
    with pytest.raises(AssertionError, match="!= HTTP status"):
        assert_error_body({"code": 400, "message": "gone"}, 404)
