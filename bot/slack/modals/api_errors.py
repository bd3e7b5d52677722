"""Run:ai's 400 messages → the form field they are about, and which fields each form has."""

from __future__ import annotations

import re

from bot.slack.ids import Field

# "image name" is about the image: the workload name hints are specific phrases.
_FIELD_HINTS: tuple[tuple[str, Field], ...] = (
    ("project", Field.PROJECT),
    ("cluster", Field.CLUSTER),
    ("image", Field.IMAGE),
    ("command", Field.COMMAND),
    ("args", Field.ARGS),
    ("servingport", Field.PORT),
    ("port", Field.PORT),
    ("gpudevices", Field.GPU_DEVICES),
    ("gpuportion", Field.GPU_PORTION),
    ("gpumemory", Field.GPU_MEMORY),
    ("cpucore", Field.CPU_CORES),
    ("cpumemory", Field.CPU_MEMORY),
    ("environment", Field.ENV),
    ("minreplicas", Field.MIN_REPLICAS),
    ("maxreplicas", Field.MAX_REPLICAS),
    ("metricthreshold", Field.THRESHOLD),
    ("threshold", Field.THRESHOLD),
    ("metric", Field.METRIC),
    ("scaletozero", Field.RETENTION),
    ("retention", Field.RETENTION),
    ("workloadname", Field.NAME),
    ("havename", Field.NAME),
    ("fieldname", Field.NAME),
    ("nameis", Field.NAME),
)


def field_for_api_message(message: str, fields: tuple[Field, ...]) -> Field | None:
    """The form field an API error message is about, if it names one the form has."""
    squashed = re.sub(r"[^a-z]", "", message.lower())
    found = [
        (index, -len(hint), field)
        for hint, field in _FIELD_HINTS
        if field in fields and (index := squashed.find(hint)) != -1
    ]
    # The field the message names first is the one it is about.
    return min(found)[2] if found else None


CREATE_FIELDS = (
    Field.NAME,
    Field.PROJECT,
    Field.CLUSTER,
    Field.IMAGE,
    Field.COMMAND,
    Field.ARGS,
    Field.PORT,
    Field.GPU_DEVICES,
    Field.GPU_PORTION,
    Field.GPU_MEMORY,
    Field.CPU_CORES,
    Field.CPU_MEMORY,
    Field.ENV,
    Field.MIN_REPLICAS,
    Field.MAX_REPLICAS,
    Field.METRIC,
    Field.THRESHOLD,
    Field.RETENTION,
)
SCALE_FIELDS = (
    Field.MIN_REPLICAS,
    Field.MAX_REPLICAS,
    Field.METRIC,
    Field.THRESHOLD,
    Field.RETENTION,
)
UPDATE_FIELDS = (
    Field.IMAGE,
    Field.COMMAND,
    Field.ARGS,
    Field.ENV,
    Field.GPU_DEVICES,
    Field.GPU_PORTION,
    Field.GPU_MEMORY,
    Field.CPU_CORES,
    Field.CPU_MEMORY,
)
HF_TOKEN_FIELDS = (Field.HF_TOKEN,)
