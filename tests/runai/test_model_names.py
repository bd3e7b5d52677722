"""Every wire name of our models is a property of the schema object it stands for.

The schema allows unknown properties, so a misspelt alias would pass body validation and
be ignored by the server; this catches it.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from bot.runai import models
from tests.contract import resolve


def properties(node: dict[str, Any]) -> dict[str, Any]:
    """Properties of a schema object, through $ref and allOf."""
    node = resolve(node)
    found: dict[str, Any] = {}
    for part in node.get("allOf", []):
        found.update(properties(part))
    found.update(node.get("properties", {}))
    return found


def schema(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def inline(parent: str, field: str) -> dict[str, Any]:
    return properties(schema(parent))[field]


def update_spec() -> dict[str, Any]:
    return properties(schema("InferenceUpdateSpec"))["spec"]


CASES: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (models.InferenceCreationRequest, schema("InferenceCreationRequest")),
    (models.InferenceSpecSpec, schema("InferenceSpecSpec")),
    (models.Compute, inline("InferenceSpecSpec", "compute")),
    (models.ServingPort, schema("ServingPort")),
    (models.AutoScaling, schema("AutoScaling")),
    (models.ServingConfiguration, schema("ServingConfiguration")),
    (models.EnvironmentVariable, schema("EnvironmentVariable")),
    (models.EnvironmentVariableSecret, schema("EnvironmentVariableSecret")),
    (models.NameValue, schema("Label")),
    (models.Toleration, schema("Toleration")),
    (models.InferenceUpdateRequest, schema("InferenceUpdateRequest")),
    (models.InferenceUpdateSpec, update_spec()),
    (models.Inference, schema("Inference1")),
    (models.Workload, schema("Workload")),
    (models.WorkloadDetailed, schema("WorkloadDetailed")),
    (models.Condition, schema("Condition1")),
    (models.RequestedPods, schema("RequestedPods")),
    (models.MetricsResponse, schema("MetricsResponse")),
    (models.Measurement, schema("MeasurementResponse")),
    (models.Project, schema("Project")),
    (models.Cluster, schema("DisplayedCluster")),
    (models.TokenRequest, schema("TokenRequest")),
    (models.TokenResponse, schema("TokenResponse")),
    (models.ErrorBody, schema("Error")),
]


@pytest.mark.parametrize(("model", "node"), CASES, ids=[m.__name__ for m, _ in CASES])
def test_every_alias_is_a_schema_property(model: type[BaseModel], node: dict[str, Any]) -> None:
    wire_names = {field.alias or name for name, field in model.model_fields.items()}
    unknown = wire_names - set(properties(node))
    assert not unknown, f"{model.__name__}: {sorted(unknown)} not in the schema"
