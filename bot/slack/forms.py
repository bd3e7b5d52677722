"""Modal forms, pure: submitted values → typed submissions or `{block_id: error}`.

Also the other direction (a spec → initial values of a form) and the translation of a
valid submission into the Run:ai request. No I/O here; `views.py` does the Slack side.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.runai import models
from bot.slack.ids import Field
from bot.slack.parsing import MAX_REPLICAS

Values = dict[Field, str]
Errors = dict[str, str]

NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,252}$")
_QUANTITY_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|KiB|MiB|GiB|TiB|K|M|G|T|KB|MB|GB|TB)?$")
MAX_ENV_VARS = 100
SCALE_TO_ZERO_METRICS = ("throughput", "concurrency")
METRIC_OPTIONS = (
    ("throughput", "Throughput (requests/s)"),
    ("concurrency", "Concurrency (requests)"),
    ("latency", "Latency (ms)"),
)
DEFAULT_PORT = 8000
VLLM_IMAGE = "vllm/vllm-openai"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Scaling(_Frozen):
    """Replicas and autoscaling, as the user set them."""

    min_replicas: int
    max_replicas: int
    metric: str | None = None
    threshold: int | None = None
    retention_seconds: int | None = None


class Resources(_Frozen):
    """GPU and CPU requests, as the user set them (None = not set)."""

    gpu_devices: int | None = None
    gpu_portion: float | None = None
    gpu_memory: str | None = None
    cpu_cores: float | None = None
    cpu_memory: str | None = None


class CreateSubmission(_Frozen):
    """A valid create form."""

    name: str
    project_id: str
    cluster_id: str
    image: str
    command: str | None = None
    args: str | None = None
    port: int = DEFAULT_PORT
    resources: Resources = Resources()
    env: tuple[tuple[str, str], ...] = ()
    scaling: Scaling


class UpdateSubmission(_Frozen):
    """A valid update form (every field, changed or not)."""

    image: str
    command: str | None = None
    args: str | None = None
    resources: Resources = Resources()
    env: tuple[tuple[str, str], ...] = ()


class ModalContext(_Frozen):
    """What a modal remembers in `private_metadata` (no secrets: Slack stores it)."""

    channel_id: str | None = None
    workload_id: str | None = None
    name: str | None = None
    model: str | None = None
    locked: tuple[Field, ...] = ()  # fields too long for a Slack input: shown empty, kept

    def dump(self) -> str:
        """The `private_metadata` string."""
        return self.model_dump_json(exclude_none=True, exclude_defaults=True)

    @classmethod
    def load(cls, raw: str | None) -> ModalContext:
        """Read `private_metadata`; anything unreadable gives an empty context."""
        if not raw:
            return cls()
        try:
            return cls.model_validate_json(raw)
        except ValidationError:
            return cls()


# --- reading Slack's view state ----------------------------------------------------------


def field_values(state_values: Mapping[str, Any]) -> Values:
    """`view.state.values` → `{Field: text}` (stripped; empty string when unset)."""
    out: Values = {}
    for block_id, actions in state_values.items():
        try:
            field = Field(block_id)
        except ValueError:
            continue
        if not isinstance(actions, Mapping):
            continue
        element = actions.get(block_id) or next(iter(actions.values()), None)
        if not isinstance(element, Mapping):
            continue
        if element.get("selected_option"):
            value = element["selected_option"].get("value")
        else:
            value = element.get("value")
        out[field] = (value or "").strip() if isinstance(value, str) else ""
    return out


# --- field parsers (value or error text) -------------------------------------------------


class _Invalid(ValueError):
    pass


def _int(text: str, low: int, high: int, what: str) -> int:
    if not re.fullmatch(r"\d{1,9}", text):
        raise _Invalid(f"{what} must be a whole number.")
    value = int(text)
    if not low <= value <= high:
        raise _Invalid(f"{what} must be between {low} and {high}.")
    return value


def _float(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _Invalid(f"{what} must be a number.") from None
    if not math.isfinite(value):
        raise _Invalid(f"{what} must be a number.")
    return value


def quantity(text: str, what: str) -> str:
    """`20Gi`, `20GiB`, `16000 MB` → the API's quantity form (`20Gi`, `16000M`)."""
    match = _QUANTITY_RE.match(text.strip())
    if not match:
        raise _Invalid(f"{what} must be an amount like 20Gi or 16000Mi.")
    number, unit = match.group(1), match.group(2) or ""
    if float(number) <= 0:
        raise _Invalid(f"{what} must be more than 0.")
    unit = unit.removesuffix("B") if unit.endswith(("iB", "KB", "MB", "GB", "TB")) else unit
    return f"{number}{unit}"


def parse_env(text: str) -> tuple[tuple[str, str], ...]:
    """`KEY=value` lines → pairs; blank lines and `#` comments are skipped."""
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.partition("=")
        key = key.strip()
        if not eq:
            raise _Invalid(f"Line {number}: write KEY=value.")
        if not ENV_NAME_RE.match(key):
            raise _Invalid(f"Line {number}: “{key[:40]}” is not a valid variable name.")
        if key in seen:
            raise _Invalid(f"Line {number}: {key[:40]} is set twice.")
        seen.add(key)
        pairs.append((key, value.strip()))
    if len(pairs) > MAX_ENV_VARS:
        raise _Invalid(f"At most {MAX_ENV_VARS} variables, not {len(pairs)}.")
    return tuple(pairs)


def format_env(pairs: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> str:
    """Pairs → the text area's `KEY=value` lines."""
    return "\n".join(f"{k}={v}" for k, v in pairs)


class _Collector:
    """Runs field parsers and gathers errors keyed by block id."""

    def __init__(self, values: Values) -> None:
        self.values = values
        self.errors: Errors = {}

    def text(self, field: Field) -> str:
        return self.values.get(field, "")

    def get(self, field: Field, parse: Any, *args: Any) -> Any:
        raw = self.text(field)
        if not raw:
            return None
        try:
            return parse(raw, *args)
        except _Invalid as exc:
            self.errors.setdefault(field, str(exc))
            return None

    def required(self, field: Field, what: str) -> str | None:
        raw = self.text(field)
        if not raw:
            self.errors.setdefault(field, f"{what} is required.")
            return None
        return raw

    def fail(self, field: Field, message: str) -> None:
        self.errors.setdefault(field, message)


def _scaling(c: _Collector) -> Scaling | None:
    low = c.get(Field.MIN_REPLICAS, _int, 0, MAX_REPLICAS, "Min replicas")
    high = c.get(Field.MAX_REPLICAS, _int, 1, MAX_REPLICAS, "Max replicas")
    if low is None and Field.MIN_REPLICAS not in c.errors:
        c.fail(Field.MIN_REPLICAS, "Min replicas is required.")
    if high is None and Field.MAX_REPLICAS not in c.errors:
        c.fail(Field.MAX_REPLICAS, "Max replicas is required.")
    metric = c.text(Field.METRIC) or None
    if metric is not None and metric not in dict(METRIC_OPTIONS):
        c.fail(Field.METRIC, "Pick one of the listed metrics.")
    threshold = c.get(Field.THRESHOLD, _int, 1, 1_000_000_000, "Threshold")
    retention = c.get(Field.RETENTION, _int, 0, 3600, "Retention")
    if low is not None and high is not None:
        if low > high:
            c.fail(Field.MAX_REPLICAS, f"Max replicas must be at least min replicas ({low}).")
        elif low < high and metric is None and (low, high) != (0, 1):
            c.fail(Field.METRIC, "Pick a metric: it decides when to add replicas.")
    if metric is not None and threshold is None and Field.THRESHOLD not in c.errors:
        c.fail(Field.THRESHOLD, f"Set a threshold for {metric}.")
    if metric is None and threshold is not None:
        c.fail(Field.THRESHOLD, "A threshold needs a metric.")
    if low == 0 and metric is not None and metric not in SCALE_TO_ZERO_METRICS:
        c.fail(Field.METRIC, "Only throughput or concurrency can scale to zero.")
    if retention is not None and low is not None and low != 0:
        c.fail(Field.RETENTION, "Retention only applies when min replicas is 0.")
    if low is None or high is None or c.errors:
        return None
    return Scaling(
        min_replicas=low,
        max_replicas=high,
        metric=metric,
        threshold=threshold,
        retention_seconds=retention,
    )


def _resources(c: _Collector) -> Resources:
    devices = c.get(Field.GPU_DEVICES, _int, 0, 64, "GPU devices")
    portion = c.get(Field.GPU_PORTION, _float, "GPU portion")
    memory = c.get(Field.GPU_MEMORY, quantity, "GPU memory")
    cores = c.get(Field.CPU_CORES, _float, "CPU cores")
    cpu_memory = c.get(Field.CPU_MEMORY, quantity, "CPU memory")
    if portion is not None and not 0 < portion <= 1:
        c.fail(Field.GPU_PORTION, "GPU portion must be above 0 and at most 1.")
    if portion is not None and memory is not None:
        c.fail(Field.GPU_MEMORY, "Set either a GPU portion or GPU memory, not both.")
    if (portion is not None or memory is not None) and devices is not None and devices != 1:
        c.fail(Field.GPU_DEVICES, "A GPU portion or memory applies to exactly 1 device.")
    if cores is not None and not 0 < cores <= 1024:
        c.fail(Field.CPU_CORES, "CPU cores must be above 0 and at most 1024.")
    if (portion is not None or memory is not None) and devices is None:
        devices = 1
    return Resources(
        gpu_devices=devices,
        gpu_portion=portion,
        gpu_memory=memory,
        cpu_cores=cores,
        cpu_memory=cpu_memory,
    )


def _image(c: _Collector) -> str | None:
    image = c.required(Field.IMAGE, "Image")
    if image is not None and (any(ch.isspace() for ch in image) or len(image) > 500):
        c.fail(Field.IMAGE, "An image name has no spaces, like vllm/vllm-openai:v0.6.3.")
        return None
    return image


def validate_create(values: Values) -> CreateSubmission | Errors:
    """The create form → a submission, or inline errors by block id."""
    c = _Collector(values)
    name = c.required(Field.NAME, "Name")
    if name is not None and not NAME_RE.match(name):
        c.fail(
            Field.NAME,
            "Use lower-case letters, digits and dashes, start with a letter, up to 63.",
        )
    project = c.required(Field.PROJECT, "Project")
    cluster = c.required(Field.CLUSTER, "Cluster")
    image = _image(c)
    port = c.get(Field.PORT, _int, 1, 65535, "Port")
    if port is None and Field.PORT not in c.errors:
        c.fail(Field.PORT, "Port is required.")
    resources = _resources(c)
    env = c.get(Field.ENV, parse_env) or ()
    scaling = _scaling(c)
    if c.errors or name is None or project is None or cluster is None or image is None:
        return c.errors
    assert scaling is not None and port is not None
    return CreateSubmission(
        name=name,
        project_id=project,
        cluster_id=cluster,
        image=image,
        command=c.text(Field.COMMAND) or None,
        args=c.text(Field.ARGS) or None,
        port=port,
        resources=resources,
        env=env,
        scaling=scaling,
    )


def check_project_cluster(
    sub: CreateSubmission, projects: list[models.Project], clusters: list[models.Cluster]
) -> Errors:
    """A project lives on one cluster: catch a mismatch before Run:ai does."""
    project = next((p for p in projects if p.id == sub.project_id), None)
    if project is None or not project.cluster_id or project.cluster_id == sub.cluster_id:
        return {}
    home = next((c.name for c in clusters if c.uuid == project.cluster_id), project.cluster_id)
    return {Field.CLUSTER: f"Project {project.name} is on cluster {home}."}


def validate_scale(values: Values) -> Scaling | Errors:
    """The scale form → a scaling, or inline errors."""
    c = _Collector(values)
    scaling = _scaling(c)
    if scaling is None:
        return c.errors
    return scaling


def validate_update(values: Values, locked: tuple[Field, ...] = ()) -> UpdateSubmission | Errors:
    """The update form → a submission, or inline errors (locked fields: see `fill_locked`)."""
    c = _Collector(values)
    image = "" if Field.IMAGE in locked else _image(c)
    resources = _resources(c)
    env = c.get(Field.ENV, parse_env) or ()
    if c.errors or image is None:
        return c.errors
    return UpdateSubmission(
        image=image,
        command=c.text(Field.COMMAND) or None,
        args=c.text(Field.ARGS) or None,
        resources=resources,
        env=env,
    )


def validate_hf_token(values: Values) -> str | Errors:
    """The token modal → the token (never logged), or an inline error."""
    token = values.get(Field.HF_TOKEN, "")
    if not token:
        return {Field.HF_TOKEN: "Paste a token."}
    if any(ch.isspace() for ch in token) or len(token) < 8:
        return {Field.HF_TOKEN: "That doesn't look like a Hugging Face token."}
    return token


def check_scale_command(scaling: Scaling, name: str = "<name>") -> str | None:
    """The cross-field rule a `scale <min> <max>` command can break, as a sentence."""
    low, high = scaling.min_replicas, scaling.max_replicas
    if low < high and scaling.metric is None and (low, high) != (0, 1):
        return (
            "Different min and max replicas need an autoscaling metric; "
            f"run `/inference scale {name}` with no numbers to pick one."
        )
    if scaling.min_replicas == 0 and scaling.metric not in (None, *SCALE_TO_ZERO_METRICS):
        return "Only the throughput or concurrency metric can scale to zero."
    return None


# --- submissions → Run:ai requests -------------------------------------------------------


def _compute(res: Resources, base: models.Compute | None = None) -> models.Compute | None:
    compute = base.model_copy() if base is not None else models.Compute()
    gpu_type = "portion" if res.gpu_portion is not None else "memory" if res.gpu_memory else None
    compute.gpu_devices_request = res.gpu_devices
    compute.gpu_request_type = gpu_type
    compute.gpu_portion_request = res.gpu_portion
    compute.gpu_memory_request = res.gpu_memory
    compute.cpu_core_request = res.cpu_cores
    compute.cpu_memory_request = res.cpu_memory
    if base is None and not compute.model_dump(exclude_none=True):
        return None
    return compute


def autoscaling(scaling: Scaling) -> models.AutoScaling:
    """User scaling → the API's `AutoScaling`."""
    return models.AutoScaling(
        min_replicas=scaling.min_replicas,
        max_replicas=scaling.max_replicas,
        metric=scaling.metric,
        metric_threshold=scaling.threshold,
        scale_to_zero_retention_seconds=scaling.retention_seconds,
    )


def scale_request(scaling: Scaling) -> models.InferenceUpdateRequest:
    """User scaling → the PATCH that changes only `spec.autoscaling`."""
    return models.InferenceUpdateRequest(
        spec=models.InferenceUpdateSpec(autoscaling=autoscaling(scaling))
    )


def creation_request(sub: CreateSubmission) -> models.InferenceCreationRequest:
    """A valid create form → the API's creation request."""
    env = [models.EnvironmentVariable(name=k, value=v) for k, v in sub.env] or None
    return models.InferenceCreationRequest(
        name=sub.name,
        project_id=sub.project_id,
        cluster_id=sub.cluster_id,
        spec=models.InferenceSpecSpec(
            image=sub.image,
            command=sub.command,
            args=sub.args,
            environment_variables=env,
            serving_port=models.ServingPort(container=sub.port, protocol="http"),
            compute=_compute(sub.resources),
            autoscaling=autoscaling(sub.scaling),
        ),
    )


def _plain_env(spec: models.InferenceSpecSpec | None) -> tuple[tuple[str, str], ...]:
    if spec is None or not spec.environment_variables:
        return ()
    return tuple(
        (e.name, e.value or "")
        for e in spec.environment_variables
        if e.name
        and e.secret is None
        and e.config_map is None
        and e.pod_field_ref is None
        and e.user_credential is None
    )


def _other_env(spec: models.InferenceSpecSpec | None) -> list[models.EnvironmentVariable]:
    if spec is None or not spec.environment_variables:
        return []
    plain = {k for k, _ in _plain_env(spec)}
    return [e for e in spec.environment_variables if e.name not in plain]


def resources_of(compute: models.Compute | None) -> Resources:
    """The API's compute → user resources."""
    if compute is None:
        return Resources()
    return Resources(
        gpu_devices=compute.gpu_devices_request,
        gpu_portion=compute.gpu_portion_request,
        gpu_memory=compute.gpu_memory_request,
        cpu_cores=compute.cpu_core_request,
        cpu_memory=compute.cpu_memory_request,
    )


def update_request(
    current: models.InferenceSpecSpec | None, sub: UpdateSubmission
) -> models.InferenceUpdateRequest | Errors:
    """Only what changed → a PATCH body; an empty dict of errors never; `{}`-spec → errors."""
    spec = current or models.InferenceSpecSpec()
    patch = models.InferenceUpdateSpec()
    errors: Errors = {}
    if sub.image != spec.image:
        patch.image = sub.image
    for field, new, old, attr in (
        (Field.COMMAND, sub.command, spec.command, "command"),
        (Field.ARGS, sub.args, spec.args, "args"),
    ):
        if new == old:
            continue
        if new is None:
            errors[field] = f"Run:ai can't clear the {attr} in an update; set a new one."
        else:
            setattr(patch, attr, new)
    if sub.env != _plain_env(spec):
        kept = _other_env(spec)
        patch.environment_variables = [
            *(models.EnvironmentVariable(name=k, value=v) for k, v in sub.env),
            *kept,
        ]
    if sub.resources != resources_of(spec.compute):
        patch.compute = _compute(sub.resources, spec.compute)
    if errors:
        return errors
    if not patch.model_dump(exclude_none=True):
        return {Field.IMAGE: "Nothing changed: edit a field, or cancel."}
    return models.InferenceUpdateRequest(spec=patch)


# --- specs → initial form values ---------------------------------------------------------


def _num(value: float | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _resources_values(res: Resources) -> Values:
    return {
        Field.GPU_DEVICES: _num(res.gpu_devices),
        Field.GPU_PORTION: _num(res.gpu_portion),
        Field.GPU_MEMORY: res.gpu_memory or "",
        Field.CPU_CORES: _num(res.cpu_cores),
        Field.CPU_MEMORY: res.cpu_memory or "",
    }


def scale_values(auto: models.AutoScaling | None) -> Values:
    """Current autoscaling → initial values of the scale form."""
    auto = auto or models.AutoScaling()
    low = auto.min_replicas if auto.min_replicas is not None else 1
    high = auto.max_replicas if auto.max_replicas is not None else max(low, 1)
    return {
        Field.MIN_REPLICAS: str(low),
        Field.MAX_REPLICAS: str(high),
        Field.METRIC: auto.metric if auto.metric in dict(METRIC_OPTIONS) else "",
        Field.THRESHOLD: _num(auto.metric_threshold),
        Field.RETENTION: _num(auto.scale_to_zero_retention_seconds),
    }


def update_values(spec: models.InferenceSpecSpec | None) -> Values:
    """Current spec → initial values of the update form."""
    spec = spec or models.InferenceSpecSpec()
    return {
        Field.IMAGE: spec.image or "",
        Field.COMMAND: spec.command or "",
        Field.ARGS: spec.args or "",
        Field.ENV: format_env(_plain_env(spec)),
        **_resources_values(resources_of(spec.compute)),
    }


# What fits the update form's inputs (their max_length); longer values are never cut
# (a cut value would be sent back as a change): the field is locked instead.
UPDATE_LIMITS: dict[Field, int] = {
    Field.IMAGE: 500,
    Field.COMMAND: 1000,
    Field.ARGS: 3000,
    Field.ENV: 3000,
}


def lock_long_values(values: Values) -> tuple[Values, tuple[Field, ...]]:
    """Blank the values too long for their input; which fields were locked."""
    locked = tuple(f for f, limit in UPDATE_LIMITS.items() if len(values.get(f, "")) > limit)
    return {f: ("" if f in locked else v) for f, v in values.items()}, locked


def fill_locked(
    sub: UpdateSubmission, spec: models.InferenceSpecSpec | None, locked: tuple[Field, ...]
) -> UpdateSubmission:
    """Put the current values back into the locked fields (so they don't count as changes)."""
    spec = spec or models.InferenceSpecSpec()
    current = {
        Field.IMAGE: ("image", spec.image or ""),
        Field.COMMAND: ("command", spec.command),
        Field.ARGS: ("args", spec.args),
        Field.ENV: ("env", _plain_env(spec)),
    }
    return sub.model_copy(update=dict(current[f] for f in locked if f in current))


def hidden_env_count(spec: models.InferenceSpecSpec | None) -> int:
    """Variables from secrets/config maps: kept as they are, not shown in the form."""
    return len(_other_env(spec))


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:4])


def vllm_image(versions: list[str]) -> str:
    """The vLLM OpenAI-server image for the newest version that can serve the model."""
    if not versions:
        return f"{VLLM_IMAGE}:latest"
    newest = max(versions, key=_version_key)
    tag = newest if newest.startswith("v") else f"v{newest}"
    return f"{VLLM_IMAGE}:{tag}"


def gib(mb: int | None) -> int | None:
    """MB (as the model-info API reports) → whole GiB, rounded up."""
    if mb is None or mb <= 0:
        return None
    return math.ceil(mb / 1024)


def model_values(info: models.ModelInfo) -> Values:
    """Model info → create form values for deploying it with vLLM."""
    memory = gib(info.min_memory_requirements_mb)
    base = info.model_name.split("/")[-1].lower()
    name = re.sub(r"[^a-z0-9-]+", "-", base).strip("-")[:50].strip("-")
    return {
        Field.NAME: name if NAME_RE.match(name) else "",
        Field.IMAGE: vllm_image(info.vllm_supporting_versions),
        Field.ARGS: f"--model {info.model_name}",
        Field.PORT: str(DEFAULT_PORT),
        Field.GPU_DEVICES: "1",
        Field.GPU_MEMORY: f"{memory}Gi" if memory else "",
        Field.MIN_REPLICAS: "1",
        Field.MAX_REPLICAS: "1",
    }


def create_defaults() -> Values:
    """Initial values of an empty create form."""
    return {
        Field.PORT: str(DEFAULT_PORT),
        Field.GPU_DEVICES: "1",
        Field.MIN_REPLICAS: "1",
        Field.MAX_REPLICAS: "1",
    }


def deploy_value(info: models.ModelInfo) -> str:
    """The Deploy button's value: what the create form needs, as compact JSON."""
    return json.dumps(
        {
            "model": info.model_name,
            "versions": info.vllm_supporting_versions[-5:],
            "mb": info.min_memory_requirements_mb,
        },
        separators=(",", ":"),
    )


def model_from_deploy_value(value: str) -> models.ModelInfo | None:
    """Inverse of `deploy_value`; None when the value is not ours."""
    try:
        data = json.loads(value)
        return models.ModelInfo(
            model_name=data["model"],
            vllm_supporting_versions=list(data.get("versions") or []),
            min_memory_requirements_mb=data.get("mb"),
        )
    except (ValueError, KeyError, TypeError, ValidationError):
        return None


# --- API 400 → the field it is about -----------------------------------------------------

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
