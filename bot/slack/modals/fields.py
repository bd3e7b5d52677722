"""What the forms share: reading Slack's view state, field parsers, resources, metadata.

Pure: submitted text → typed values or `{block_id: error}`; no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.runai import models
from bot.slack.ids import Field

Values = dict[Field, str]
Errors = dict[str, str]

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,252}$")
_QUANTITY_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|KiB|MiB|GiB|TiB|K|M|G|T|KB|MB|GB|TB)?$")
MAX_ENV_VARS = 100


class Frozen(BaseModel):
    """Base of the typed submissions: immutable."""

    model_config = ConfigDict(frozen=True)


class Resources(Frozen):
    """GPU and CPU requests, as the user set them (None = not set)."""

    gpu_devices: int | None = None
    gpu_portion: float | None = None
    gpu_memory: str | None = None
    cpu_cores: float | None = None
    cpu_memory: str | None = None


class ModalContext(Frozen):
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


class Invalid(ValueError):
    """A field's text is not acceptable; the message is shown under the field."""


def whole(text: str, low: int, high: int, what: str) -> int:
    """A whole number within `low..high`."""
    if not re.fullmatch(r"\d{1,9}", text):
        raise Invalid(f"{what} must be a whole number.")
    value = int(text)
    if not low <= value <= high:
        raise Invalid(f"{what} must be between {low} and {high}.")
    return value


def number(text: str, what: str) -> float:
    """A finite number."""
    try:
        value = float(text)
    except ValueError:
        raise Invalid(f"{what} must be a number.") from None
    if not math.isfinite(value):
        raise Invalid(f"{what} must be a number.")
    return value


def quantity(text: str, what: str) -> str:
    """`20Gi`, `20GiB`, `16000 MB` → the API's quantity form (`20Gi`, `16000M`)."""
    match = _QUANTITY_RE.match(text.strip())
    if not match:
        raise Invalid(f"{what} must be an amount like 20Gi or 16000Mi.")
    amount, unit = match.group(1), match.group(2) or ""
    if float(amount) <= 0:
        raise Invalid(f"{what} must be more than 0.")
    unit = unit.removesuffix("B") if unit.endswith(("iB", "KB", "MB", "GB", "TB")) else unit
    return f"{amount}{unit}"


def parse_env(text: str) -> tuple[tuple[str, str], ...]:
    """`KEY=value` lines → pairs; blank lines and `#` comments are skipped."""
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for line_number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.partition("=")
        key = key.strip()
        if not eq:
            raise Invalid(f"Line {line_number}: write KEY=value.")
        if not ENV_NAME_RE.match(key):
            raise Invalid(f"Line {line_number}: “{key[:40]}” is not a valid variable name.")
        if key in seen:
            raise Invalid(f"Line {line_number}: {key[:40]} is set twice.")
        seen.add(key)
        pairs.append((key, value.strip()))
    if len(pairs) > MAX_ENV_VARS:
        raise Invalid(f"At most {MAX_ENV_VARS} variables, not {len(pairs)}.")
    return tuple(pairs)


def format_env(pairs: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> str:
    """Pairs → the text area's `KEY=value` lines."""
    return "\n".join(f"{k}={v}" for k, v in pairs)


class Collector:
    """Runs field parsers and gathers errors keyed by block id."""

    def __init__(self, values: Values) -> None:
        self.values = values
        self.errors: Errors = {}

    def text(self, field: Field) -> str:
        """The field's text ('' when unset)."""
        return self.values.get(field, "")

    def get(self, field: Field, parse: Any, *args: Any) -> Any:
        """The parsed field, or None when empty or invalid (the error is kept)."""
        raw = self.text(field)
        if not raw:
            return None
        try:
            return parse(raw, *args)
        except Invalid as exc:
            self.errors.setdefault(field, str(exc))
            return None

    def required(self, field: Field, what: str) -> str | None:
        """The field's text, or None with a "required" error."""
        raw = self.text(field)
        if not raw:
            self.errors.setdefault(field, f"{what} is required.")
            return None
        return raw

    def fail(self, field: Field, message: str) -> None:
        """Put `message` under `field` (the first error of a field wins)."""
        self.errors.setdefault(field, message)


# --- fields the create and update forms share ----------------------------------------------


def image(c: Collector) -> str | None:
    """The image field: required, no spaces."""
    value = c.required(Field.IMAGE, "Image")
    if value is not None and (any(ch.isspace() for ch in value) or len(value) > 500):
        c.fail(Field.IMAGE, "An image name has no spaces, like vllm/vllm-openai:v0.6.3.")
        return None
    return value


def resources(c: Collector) -> Resources:
    """The GPU and CPU fields, checked against each other."""
    devices = c.get(Field.GPU_DEVICES, whole, 0, 64, "GPU devices")
    portion = c.get(Field.GPU_PORTION, number, "GPU portion")
    memory = c.get(Field.GPU_MEMORY, quantity, "GPU memory")
    cores = c.get(Field.CPU_CORES, number, "CPU cores")
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


def compute(res: Resources, base: models.Compute | None = None) -> models.Compute | None:
    """User resources → the API's compute (over `base` when updating)."""
    out = base.model_copy() if base is not None else models.Compute()
    gpu_type = "portion" if res.gpu_portion is not None else "memory" if res.gpu_memory else None
    out.gpu_devices_request = res.gpu_devices
    out.gpu_request_type = gpu_type
    out.gpu_portion_request = res.gpu_portion
    out.gpu_memory_request = res.gpu_memory
    out.cpu_core_request = res.cpu_cores
    out.cpu_memory_request = res.cpu_memory
    if base is None and not out.model_dump(exclude_none=True):
        return None
    return out


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


def num(value: float | int | None) -> str:
    """A number as a form shows it ('' for unset, no `.0`)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def resources_values(res: Resources) -> Values:
    """User resources → initial values of the GPU and CPU fields."""
    return {
        Field.GPU_DEVICES: num(res.gpu_devices),
        Field.GPU_PORTION: num(res.gpu_portion),
        Field.GPU_MEMORY: res.gpu_memory or "",
        Field.CPU_CORES: num(res.cpu_cores),
        Field.CPU_MEMORY: res.cpu_memory or "",
    }
