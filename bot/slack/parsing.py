"""The `/inference` grammar: command text in, a typed command or a `ParseError` out.

Pure: no I/O, no Slack, no Run:ai. Each subcommand has one parser in `SUBCOMMANDS`;
new subcommands (e.g. `policy`, `audit`) are added by adding a parser there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Literal

from bot import cron
from bot.durations import DurationError, format_duration, parse_duration
from bot.runai import models
from bot.watch.alerts import phases as watch_phases
from bot.watch.alerts import rules as alert_rules

MAX_REPLICAS = 1000
MIN_SINCE = timedelta(minutes=1)
MAX_SINCE = timedelta(days=30)
DEFAULT_SINCE = timedelta(hours=1)
# Workload names follow `models.WORKLOAD_NAME_RE` (Run:ai's rule); ids are UUIDs.
NAME_PART_RE = re.compile(r"^[-a-z0-9]{1,63}$")  # what `list <name>` looks for inside names
MAX_LIST_PAGE = 99_999
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
POD_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")
MODEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")


class ParseError(ValueError):
    """The command text is not valid; `message` is a sentence for the user."""

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage


@dataclass(frozen=True)
class Help:
    """`help`, or an empty command."""


@dataclass(frozen=True)
class ModelInfo:
    """`model <hf-model>`."""

    model: str


@dataclass(frozen=True)
class Create:
    """`create`: opens the create modal."""


@dataclass(frozen=True)
class Status:
    """`status <name|id>`."""

    ref: str


@dataclass(frozen=True)
class Scale:
    """`scale <name|id> [<min> [max]]`; no numbers opens the scale modal."""

    ref: str
    min_replicas: int | None = None
    max_replicas: int | None = None

    @property
    def effective_max(self) -> int | None:
        """Max replicas as Run:ai defaults it: min, or 1 when min is 0."""
        if self.min_replicas is None and self.max_replicas is None:
            return None
        return models.effective_max_replicas(self.min_replicas, self.max_replicas)


@dataclass(frozen=True)
class Update:
    """`update <name|id>`: opens the update modal."""

    ref: str


@dataclass(frozen=True)
class Delete:
    """`delete <name|id>`: asks for confirmation first."""

    ref: str


@dataclass(frozen=True)
class Metrics:
    """`metrics <name|id> [--since 1h] [--pod <podId>]`."""

    ref: str
    since: timedelta = DEFAULT_SINCE
    pod: str | None = None


@dataclass(frozen=True)
class Watch:
    """`watch <name|id> [--only failed,degraded,running,deleted]`; empty `only`: every phase."""

    ref: str
    only: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Unwatch:
    """`unwatch <name|id>`."""

    ref: str


@dataclass(frozen=True)
class Policy:
    """`policy`: what the caller may do in this channel (answered by bot.access)."""


@dataclass(frozen=True)
class Audit:
    """`audit <name|id>`: who did what to a workload (answered by bot.access)."""

    ref: str


@dataclass(frozen=True)
class ListInferences:
    """`list [name] [--phase P] [--project X] [page]`: names containing `name`, in that
    phase and project."""

    page: int = 1
    name: str | None = None
    phase: str | None = None
    project: str | None = None

    @property
    def filtered(self) -> bool:
        """Whether any filter narrows the list."""
        return bool(self.name or self.phase or self.project)

    def words(self, page: int | None = None) -> str:
        """The arguments that give this list again (at `page`): a page button's value."""
        parts = [self.name or ""]
        if self.phase:
            parts += ["--phase", self.phase]
        if self.project:
            parts += ["--project", self.project]
        parts.append(str(page if page is not None else self.page))
        return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class Schedule:
    """`schedule <name|id> "<cron>" <min> [max] [--tz Area/City]`: a scale on a cron rule.

    `zone` None: the caller's Slack time zone (else UTC), looked up when the rule is stored.
    """

    ref: str
    cron: str
    min_replicas: int
    max_replicas: int | None = None
    zone: str | None = None

    @property
    def effective_max(self) -> int:
        """Max replicas as Run:ai defaults it: min, or 1 when min is 0."""
        return models.effective_max_replicas(self.min_replicas, self.max_replicas)


@dataclass(frozen=True)
class Schedules:
    """`schedules [name|id]`: the schedules of this channel (of one workload)."""

    ref: str | None = None


@dataclass(frozen=True)
class Alert:
    """`alert <name|id> <metric> <op> <value> [for <duration>]`."""

    ref: str
    rule: alert_rules.Rule


@dataclass(frozen=True)
class Alerts:
    """`alerts [name|id]`: the alert rules of this channel (of one workload when given)."""

    ref: str | None = None


@dataclass(frozen=True)
class Unschedule:
    """`unschedule <schedule-id>`."""

    schedule_id: int


@dataclass(frozen=True)
class Digest:
    """`digest <HH:MM> [--tz Area/City] | off | now`: this channel's daily digest.

    `mode` "at": daily at `at` in `zone` (None: the caller's Slack time zone, else UTC).
    """

    mode: Literal["at", "off", "now"]
    at: time | None = None
    zone: str | None = None


@dataclass(frozen=True)
class Unalert:
    """`unalert <alert-id>`."""

    alert_id: str


@dataclass(frozen=True)
class Mute:
    """`mute <name|id> [for <duration>]`; no duration mutes until `unmute`."""

    ref: str
    for_: timedelta | None = None


@dataclass(frozen=True)
class Unmute:
    """`unmute <name|id>`."""

    ref: str


@dataclass(frozen=True)
class Why:
    """`why <name|id>`: phase, events, pods and phase changes in one message."""

    ref: str


@dataclass(frozen=True)
class History:
    """`history <name|id>`: the revisions, newest first, with what changed."""

    ref: str


Command = (
    Help
    | ModelInfo
    | Create
    | Status
    | Scale
    | Update
    | Delete
    | Metrics
    | Watch
    | Unwatch
    | ListInferences
    | Policy
    | Audit
    | Schedule
    | Schedules
    | Unschedule
    | Digest
    | Alert
    | Alerts
    | Unalert
    | Mute
    | Unmute
    | Why
    | History
)


@dataclass(frozen=True)
class Usage:
    """One line of help: the syntax and an example."""

    name: str
    syntax: str
    example: str
    summary: str


USAGES: tuple[Usage, ...] = (
    Usage("help", "help", "/inference help", "this list"),
    Usage(
        "model",
        "model <hf-model>",
        "/inference model Qwen/Qwen2.5-0.5B-Instruct",
        "what it takes to serve a Hugging Face model, with a Deploy button",
    ),
    Usage("create", "create", "/inference create", "deploy an inference workload (opens a form)"),
    Usage(
        "status",
        "status <name|id>",
        "/inference status llama-chat",
        "phase, replicas, URLs, image and resources",
    ),
    Usage(
        "scale",
        "scale <name|id> [<min> [max]]",
        "/inference scale llama-chat 1 4",
        "set min and max replicas (no numbers opens a form)",
    ),
    Usage(
        "update",
        "update <name|id>",
        "/inference update llama-chat",
        "change image, command, args, env or resources (opens a form)",
    ),
    Usage(
        "delete",
        "delete <name|id>",
        "/inference delete llama-chat",
        "delete a workload, after you confirm",
    ),
    Usage(
        "metrics",
        "metrics <name|id> [--since 1h] [--pod <podId>]",
        "/inference metrics llama-chat --since 6h",
        "throughput and latency chart",
    ),
    Usage(
        "watch",
        "watch <name|id> [--only failed,degraded,running,deleted]",
        "/inference watch llama-chat --only failed,degraded",
        "follow its phase changes in a thread here (only those phases with --only)",
    ),
    Usage(
        "unwatch", "unwatch <name|id>", "/inference unwatch llama-chat", "stop following it here"
    ),
    Usage(
        "list",
        "list [name] [--phase P] [--project X] [page]",
        "/inference list llama --phase failed",
        "inference workloads and their phases; narrowed by name, phase or project",
    ),
    Usage("policy", "policy", "/inference policy", "what you may do in this channel"),
    Usage(
        "audit",
        "audit <name|id>",
        "/inference audit llama-chat",
        "who created, scaled, updated, deleted or watched it, and who was refused",
    ),
    Usage(
        "schedule",
        'schedule <name|id> "<cron>" <min> [max] [--tz Area/City]',
        '/inference schedule llama-chat "0 19 * * 1-5" 0 --tz Europe/Berlin',
        "scale it on a cron rule (five fields; your Slack time zone unless --tz)",
    ),
    Usage(
        "schedules",
        "schedules [name|id]",
        "/inference schedules llama-chat",
        "the schedules of this channel, their next run, and Remove buttons",
    ),
    Usage(
        "unschedule",
        "unschedule <schedule-id>",
        "/inference unschedule 12",
        "remove a schedule (its id is in `/inference schedules`)",
    ),
    Usage(
        "digest",
        "digest <HH:MM> [--tz Area/City] | off | now",
        "/inference digest 09:00 --tz Europe/Berlin",
        "a daily summary of the workloads followed here: GPUs, requests, idle ones, cost",
    ),
    Usage(
        "alert",
        "alert <name|id> <latency|throughput|gpu|replicas> <op> <value> [for <duration>]",
        "/inference alert llama-chat latency > 500 for 5m",
        "reply in its thread when a metric crosses a line for that long "
        "(ops > >= < <=; latency ms, throughput req/s, gpu %, replicas running pods; for 5m)",
    ),
    Usage(
        "alerts",
        "alerts [name|id]",
        "/inference alerts llama-chat",
        "the alert rules of this channel and their state",
    ),
    Usage("unalert", "unalert <alert-id>", "/inference unalert a7k2q", "remove an alert rule"),
    Usage(
        "mute",
        "mute <name|id> [for <duration>]",
        "/inference mute llama-chat for 2h",
        "pause its thread replies here, alerts included (until unmute without a duration)",
    ),
    Usage("unmute", "unmute <name|id>", "/inference unmute llama-chat", "resume its replies"),
    Usage(
        "why",
        "why <name|id>",
        "/inference why llama-chat",
        "its phase and message, latest events, pods and phase changes",
    ),
    Usage(
        "history",
        "history <name|id>",
        "/inference history llama-chat",
        "its revisions: who changed what, with Roll back buttons",
    ),
)
_USAGE_BY_NAME = {u.name: u for u in USAGES}


def usage_of(name: str) -> str:
    """`/inference <syntax>` of a subcommand."""
    return f"/inference {_USAGE_BY_NAME[name].syntax}"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_workload_id(ref: str) -> bool:
    """Whether `ref` looks like a Run:ai workload id (a UUID) rather than a name."""
    return bool(UUID_RE.match(ref))


def _ref(name: str, args: Sequence[str], index: int = 0) -> str:
    if len(args) <= index:
        raise ParseError(f"`{name}` needs a workload name or id.", usage_of(name))
    ref = args[index]
    if not (models.is_workload_name(ref) or UUID_RE.match(ref)):
        raise ParseError(
            f"“{_short(ref)}” is not a workload name or id "
            "(names are lower-case letters, digits and dashes).",
            usage_of(name),
        )
    return ref


def _no_more(name: str, args: Sequence[str], allowed: int) -> None:
    if len(args) > allowed:
        raise ParseError(
            f"`{name}` got unexpected “{_short(' '.join(args[allowed:]))}”.", usage_of(name)
        )


def _one_ref(name: str, args: Sequence[str]) -> str:
    ref = _ref(name, args)
    _no_more(name, args, 1)
    return ref


def _replicas(word: str, which: str, sub: str = "scale") -> int:
    if not re.fullmatch(r"\d{1,9}", word):
        raise ParseError(
            f"{which} replicas must be a whole number, not “{_short(word)}”.", usage_of(sub)
        )
    value = int(word)
    if value > MAX_REPLICAS:
        raise ParseError(f"{which} replicas must be at most {MAX_REPLICAS}.", usage_of(sub))
    return value


def _replica_range(sub: str, low_word: str, high_word: str | None) -> tuple[int, int | None]:
    """`<min> [max]` of `scale` and `schedule`: one rule for both."""
    low = _replicas(low_word, "Min", sub)
    high = _replicas(high_word, "Max", sub) if high_word is not None else None
    if high is not None and low > high:
        raise ParseError(
            f"Min replicas ({low}) can't be more than max replicas ({high}).", usage_of(sub)
        )
    if high == 0:
        raise ParseError("Max replicas must be at least 1.", usage_of(sub))
    return low, high


def parse_since(word: str) -> timedelta:
    """`30m`, `1h`, `2d`, `90s` → a window between 1 minute and 30 days."""
    try:
        since = parse_duration(word)
    except DurationError:
        raise ParseError(
            f"--since takes a duration like 30m, 6h or 2d, not “{_short(word)}”.",
            usage_of("metrics"),
        ) from None
    if not MIN_SINCE <= since <= MAX_SINCE:
        raise ParseError("--since must be between 1m and 30d.", usage_of("metrics"))
    return since


def _parse_help(args: Sequence[str]) -> Command:
    return Help()


def _parse_model(args: Sequence[str]) -> Command:
    if not args:
        raise ParseError("`model` needs a Hugging Face model name.", usage_of("model"))
    _no_more("model", args, 1)
    if not MODEL_RE.match(args[0]):
        raise ParseError(
            f"“{_short(args[0])}” is not a Hugging Face model name (like `org/model`).",
            usage_of("model"),
        )
    return ModelInfo(args[0])


def _parse_create(args: Sequence[str]) -> Command:
    _no_more("create", args, 0)
    return Create()


def _parse_status(args: Sequence[str]) -> Command:
    return Status(_one_ref("status", args))


def _parse_scale(args: Sequence[str]) -> Command:
    ref = _ref("scale", args)
    _no_more("scale", args, 3)
    if len(args) == 1:
        return Scale(ref)
    low, high = _replica_range("scale", args[1], args[2] if len(args) > 2 else None)
    return Scale(ref, low, high)


def _parse_update(args: Sequence[str]) -> Command:
    return Update(_one_ref("update", args))


def _parse_delete(args: Sequence[str]) -> Command:
    return Delete(_one_ref("delete", args))


def _flags(
    name: str, args: Sequence[str], known: Sequence[str], *, positionals: int
) -> tuple[list[str], dict[str, str]]:
    """Split `args` into words and `--flag value` / `--flag=value` pairs; a flag `name`
    does not know, or more than `positionals` words, is refused."""
    words: list[str] = []
    flags: dict[str, str] = {}
    rest = list(args)
    while rest:
        word = rest.pop(0)
        if not word.startswith("--"):
            if len(words) == positionals:
                raise ParseError(f"`{name}` doesn't know “{_short(word)}”.", usage_of(name))
            words.append(word)
            continue
        key, eq, inline = word.partition("=")
        if key not in known:
            raise ParseError(f"`{name}` doesn't know “{_short(word)}”.", usage_of(name))
        if eq:
            value = inline
        elif rest:
            value = rest.pop(0)
        else:
            raise ParseError(f"{key} needs a value.", usage_of(name))
        flags[key] = value
    return words, flags


def _parse_metrics(args: Sequence[str]) -> Command:
    ref = _ref("metrics", args)
    _words, flags = _flags("metrics", args[1:], ("--since", "--pod"), positionals=0)
    since = parse_since(flags["--since"]) if "--since" in flags else DEFAULT_SINCE
    pod = flags.get("--pod")
    if pod is not None and not POD_RE.match(pod):
        raise ParseError(f"“{_short(pod)}” is not a pod id.", usage_of("metrics"))
    return Metrics(ref, since, pod)


def _parse_watch(args: Sequence[str]) -> Command:
    ref = _ref("watch", args)
    _words, flags = _flags("watch", args[1:], ("--only",), positionals=0)
    if "--only" not in flags:
        return Watch(ref)
    chosen = [w.strip().lower() for w in flags["--only"].split(",")]
    unknown = [w for w in chosen if w not in watch_phases.ONLY_CHOICES]
    if not chosen or unknown:
        shown = ", ".join(f"“{_short(w, 30)}”" for w in unknown) or "nothing"
        raise ParseError(
            f"--only takes a comma-separated list of {_ONLY_WORDS}, not {shown}.",
            usage_of("watch"),
        )
    return Watch(ref, frozenset(chosen))


_ONLY_WORDS = ", ".join(watch_phases.ONLY_CHOICES)


def _parse_unwatch(args: Sequence[str]) -> Command:
    return Unwatch(_one_ref("unwatch", args))


_PHASES = {phase.lower(): phase for phase in models.Phase}
_PROJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _parse_list(args: Sequence[str]) -> Command:
    words, flags = _flags("list", args, ("--phase", "--project"), positionals=2)
    pages = [w for w in words if w.isdigit()]
    names = [w for w in words if not w.isdigit()]
    if len(pages) > 1 or len(names) > 1:
        raise ParseError(
            f"`list` takes one name and one page number, not “{_short(' '.join(words))}”.",
            usage_of("list"),
        )
    page = 1
    if pages:
        page = int(pages[0])
        if not 1 <= page <= MAX_LIST_PAGE:
            raise ParseError(
                f"The page number must be between 1 and {MAX_LIST_PAGE}.", usage_of("list")
            )
    name = names[0].lower() if names else None
    if name is not None and not NAME_PART_RE.match(name):
        raise ParseError(
            f"“{_short(name)}” can't be part of a workload name "
            "(lower-case letters, digits and dashes).",
            usage_of("list"),
        )
    phase = None
    if "--phase" in flags:
        phase = _PHASES.get(flags["--phase"].lower())
        if phase is None:
            raise ParseError(
                f"“{_short(flags['--phase'])}” is not a phase; one of "
                + ", ".join(str(p) for p in models.Phase)
                + ".",
                usage_of("list"),
            )
    project = flags.get("--project")
    if project is not None and not _PROJECT_RE.match(project):
        raise ParseError(f"“{_short(project)}” is not a project name.", usage_of("list"))
    return ListInferences(page, name, phase, project)


def _parse_policy(args: Sequence[str]) -> Command:
    _no_more("policy", args, 0)
    return Policy()


def _parse_audit(args: Sequence[str]) -> Command:
    return Audit(_one_ref("audit", args))


# Slack's clients turn straight quotes into curly ones (and some keyboards type „…“).
_QUOTES = "\"'\u201c\u201d\u201e\u201f\u00ab\u00bb\u2018\u2019\u201a\u201b"
SCHEDULE_ID_RE = re.compile(r"^#?(\d{1,12})$")
_HH_MM_RE = re.compile(r"^(\d{1,2}):(\d{2})$")


def _zone(sub: str, name: str) -> str:
    try:
        return cron.parse_zone(name)
    except cron.CronError as exc:
        raise ParseError(exc.message, usage_of(sub)) from None


def _parse_schedule(args: Sequence[str]) -> Command:
    ref = _ref("schedule", args)
    text = " ".join(args[1:])
    opening = next((i for i, ch in enumerate(text) if ch in _QUOTES), None)
    if opening is None or text[:opening].strip():
        raise ParseError(
            f"Put the cron expression in quotes after the workload, like “{cron.EXAMPLE}”.",
            usage_of("schedule"),
        )
    closing = next((i for i, ch in enumerate(text) if ch in _QUOTES and i > opening), None)
    if closing is None:
        raise ParseError("The cron expression has no closing quote.", usage_of("schedule"))
    try:
        expr = cron.parse_cron(text[opening + 1 : closing])
    except cron.CronError as exc:
        raise ParseError(exc.message, usage_of("schedule")) from None
    words, flags = _flags("schedule", text[closing + 1 :].split(), ("--tz",), positionals=2)
    if not words:
        raise ParseError(
            "`schedule` needs the min replicas to scale to (and optionally the max).",
            usage_of("schedule"),
        )
    low, high = _replica_range("schedule", words[0], words[1] if len(words) > 1 else None)
    zone = _zone("schedule", flags["--tz"]) if "--tz" in flags else None
    return Schedule(ref, expr, low, high, zone)


def _parse_schedules(args: Sequence[str]) -> Command:
    if not args:
        return Schedules()
    return Schedules(_one_ref("schedules", args))


def _parse_unschedule(args: Sequence[str]) -> Command:
    if not args:
        raise ParseError(
            "`unschedule` needs a schedule id (see `/inference schedules`).",
            usage_of("unschedule"),
        )
    _no_more("unschedule", args, 1)
    match = SCHEDULE_ID_RE.match(args[0])
    if not match or int(match.group(1)) == 0:
        raise ParseError(
            f"“{_short(args[0])}” is not a schedule id; `/inference schedules` lists them "
            "with their ids.",
            usage_of("unschedule"),
        )
    return Unschedule(int(match.group(1)))


def parse_hh_mm(word: str) -> time:
    """`09:00`, `9:30`, `23:59` → a time of day; `ParseError` otherwise."""
    match = _HH_MM_RE.match(word.strip())
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ParseError(
            f"The digest time is a 24-hour HH:MM like 09:00 or 17:30, not “{_short(word)}”.",
            usage_of("digest"),
        )
    return time(int(match.group(1)), int(match.group(2)))


def _parse_digest(args: Sequence[str]) -> Command:
    if not args:
        raise ParseError("`digest` needs a time (HH:MM), `off` or `now`.", usage_of("digest"))
    word = args[0].lower()
    if word in ("off", "now"):
        _no_more("digest", args, 1)
        return Digest("off" if word == "off" else "now")
    at = parse_hh_mm(args[0])
    _words, flags = _flags("digest", args[1:], ("--tz",), positionals=0)
    zone = _zone("digest", flags["--tz"]) if "--tz" in flags else None
    return Digest("at", at, zone)


# --- alerts and quieter threads ------------------------------------------------------------

# Comparisons first (longest first), then any run of other characters: `latency>500`
# and `latency > 500` read the same.
_ALERT_TOKENS = re.compile(r">=|<=|=>|=<|==|!=|[<>=]|[^\s<>=!]+|!")
_NUMBER_RE = re.compile(r"^\d{1,9}(\.\d{1,6})?$")
_UNIT_SUFFIXES: dict[alert_rules.Metric, tuple[str, ...]] = {
    alert_rules.Metric.LATENCY: ("ms",),
    alert_rules.Metric.THROUGHPUT: ("req/s", "rps"),
    alert_rules.Metric.GPU: ("%",),
    alert_rules.Metric.REPLICAS: (),
}
_METRIC_WORDS = "latency, throughput, gpu or replicas"
_OP_WORDS = "`>`, `>=`, `<` or `<=`"
ALERT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MIN_MUTE = timedelta(minutes=1)
MAX_MUTE = timedelta(days=30)


def _duration(name: str, word: str | None, low: timedelta, high: timedelta) -> timedelta:
    if word is None:
        raise ParseError("`for` needs a duration like 5m, 1h or 2d.", usage_of(name))
    try:
        value = parse_duration(word)
    except DurationError as exc:
        raise ParseError(exc.message, usage_of(name)) from None
    if not low <= value <= high:
        raise ParseError(
            f"The duration must be between {format_duration(low)} and {format_duration(high)}.",
            usage_of(name),
        )
    return value


def _threshold(metric: alert_rules.Metric, word: str | None) -> float:
    usage = usage_of("alert")
    if word is None:
        raise ParseError(f"`alert` needs a value to compare {metric} with.", usage)
    text = word.lower()
    for suffix in _UNIT_SUFFIXES[metric]:
        if text.endswith(suffix) and text != suffix:
            text = text[: -len(suffix)]
            break
    if not _NUMBER_RE.match(text):
        raise ParseError(f"“{_short(word)}” is not a number.", usage)
    value = float(text)
    info = alert_rules.METRICS[metric]
    if info.whole and value != int(value):
        raise ParseError(f"{info.label.capitalize()} is a whole number, not {text}.", usage)
    if value > info.maximum:
        raise ParseError(
            f"A {metric} value must be at most {alert_rules.number_text(info.maximum)}"
            + (f" {info.unit}" if info.unit else "")
            + ".",
            usage,
        )
    return value


def _parse_alert(args: Sequence[str]) -> Command:
    usage = usage_of("alert")
    ref = _ref("alert", args)
    tokens = _ALERT_TOKENS.findall(" ".join(args[1:]))
    if not tokens:
        raise ParseError(f"`alert` needs a metric: {_METRIC_WORDS}.", usage)
    try:
        metric = alert_rules.Metric(tokens[0].lower())
    except ValueError:
        raise ParseError(
            f"“{_short(tokens[0])}” is not a metric I can alert on: {_METRIC_WORDS}.", usage
        ) from None
    if len(tokens) < 2:
        raise ParseError(f"`alert` needs a comparison after {metric}: {_OP_WORDS}.", usage)
    try:
        op = alert_rules.Op(tokens[1])
    except ValueError:
        raise ParseError(
            f"“{_short(tokens[1])}” is not a comparison; use {_OP_WORDS}.", usage
        ) from None
    threshold = _threshold(metric, tokens[2] if len(tokens) > 2 else None)
    rest = tokens[3:]
    if rest and rest[0].lower() in _UNIT_SUFFIXES[metric]:
        rest = rest[1:]  # `500 ms`: the unit, apart
    for_ = alert_rules.DEFAULT_FOR
    if rest:
        if rest[0].lower() != "for":
            raise ParseError(
                f"`alert` got unexpected “{_short(' '.join(rest))}”; "
                "a duration comes after `for`, like `for 5m`.",
                usage,
            )
        for_ = _duration(
            "alert", rest[1] if len(rest) > 1 else None, alert_rules.MIN_FOR, alert_rules.MAX_FOR
        )
        if len(rest) > 2:
            raise ParseError(f"`alert` got unexpected “{_short(' '.join(rest[2:]))}”.", usage)
    return Alert(ref, alert_rules.Rule(metric, op, threshold, for_))


def _parse_alerts(args: Sequence[str]) -> Command:
    if not args:
        return Alerts()
    return Alerts(_one_ref("alerts", args))


def _parse_unalert(args: Sequence[str]) -> Command:
    if not args:
        raise ParseError(
            "`unalert` needs the id of an alert (see `/inference alerts`).", usage_of("unalert")
        )
    _no_more("unalert", args, 1)
    if not ALERT_ID_RE.match(args[0]):
        raise ParseError(
            f"“{_short(args[0])}” is not an alert id (see `/inference alerts`).",
            usage_of("unalert"),
        )
    return Unalert(args[0])


def _parse_mute(args: Sequence[str]) -> Command:
    ref = _ref("mute", args)
    rest = list(args[1:])
    if not rest:
        return Mute(ref)
    if rest[0].lower() == "for":
        rest.pop(0)
        if not rest:
            raise ParseError("`for` needs a duration like 30m, 2h or 1d.", usage_of("mute"))
    _no_more("mute", rest, 1)
    return Mute(ref, _duration("mute", rest[0], MIN_MUTE, MAX_MUTE))


def _parse_unmute(args: Sequence[str]) -> Command:
    return Unmute(_one_ref("unmute", args))


def _parse_why(args: Sequence[str]) -> Command:
    return Why(_one_ref("why", args))


def _parse_history(args: Sequence[str]) -> Command:
    return History(_one_ref("history", args))


Parser = Callable[[Sequence[str]], Command]

SUBCOMMANDS: dict[str, Parser] = {
    "help": _parse_help,
    "model": _parse_model,
    "create": _parse_create,
    "status": _parse_status,
    "scale": _parse_scale,
    "update": _parse_update,
    "delete": _parse_delete,
    "metrics": _parse_metrics,
    "watch": _parse_watch,
    "unwatch": _parse_unwatch,
    "list": _parse_list,
    "policy": _parse_policy,
    "audit": _parse_audit,
    "schedule": _parse_schedule,
    "schedules": _parse_schedules,
    "unschedule": _parse_unschedule,
    "digest": _parse_digest,
    "alert": _parse_alert,
    "alerts": _parse_alerts,
    "unalert": _parse_unalert,
    "mute": _parse_mute,
    "unmute": _parse_unmute,
    "why": _parse_why,
    "history": _parse_history,
}

MAX_COMMAND_CHARS = 2000

# Slack sends `&`, `<` and `>` typed in a command as entities. Decoded once, here, for
# every subcommand, in one pass so that a typed `&amp;lt;` stays `&lt;`.
_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}


def decode_entities(text: str) -> str:
    """The text as typed: Slack's `&amp;`, `&lt;`, `&gt;` back to `&`, `<`, `>`."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)


def parse(text: str | None) -> Command:
    """Parse the text after `/inference`; raise `ParseError` with a user sentence."""
    text = decode_entities(text or "").strip()
    if len(text) > MAX_COMMAND_CHARS:
        raise ParseError(f"That command is too long ({len(text)} characters).")
    words = text.split()
    if not words:
        return Help()
    sub, args = words[0].lower(), words[1:]
    parser = SUBCOMMANDS.get(sub)
    if parser is None:
        raise ParseError(f"I don't know “{_short(words[0])}”.")
    return parser(args)
