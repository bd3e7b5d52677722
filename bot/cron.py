"""Five-field cron expressions in a time zone: read, said in words, and their fire times.

One home for the rule, shared by the `/inference schedule` grammar (which refuses a bad
expression before anything is stored) and the schedule loop on the lease holder (which
asks when a rule fires). Pure: no I/O beyond the time-zone database.

Crontab meaning, not APScheduler 3.x's: in a crontab 0 and 7 are Sunday and `1-5` is
Monday to Friday, but APScheduler 3.x counts weekdays from Monday (its `from_crontab`
warns about it). So the day-of-week field is translated into weekday names before
APScheduler sees it, and a rule that restricts both the day of the month and the day of
the week fires on either, as cron does, not on both. A wall-clock time that happens twice
when clocks go back fires once; one that does not exist when clocks go forward fires at the
same instant an hour later on the clock.
"""

from __future__ import annotations

import re
import warnings
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache, cached_property, lru_cache
from typing import Any

from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

EXAMPLE = "0 19 * * 1-5"
FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
MAX_FIRES = 1000
"""The most fire times one call enumerates (a `* * * * *` rule fires 1,440 times a day)."""

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_BOUNDS = {"minute": (0, 59), "hour": (0, 23), "day-of-month": (1, 31), "month": (1, 12)}
_BOUNDS["day-of-week"] = (0, 7)
_NAMES: dict[str, dict[str, int]] = {
    "month": {name: i + 1 for i, name in enumerate(_MONTHS)},
    "day-of-week": {name: i for i, name in enumerate(_CRON_DAYS)},
}
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 29: leap years come
_ITEM_RE = re.compile(r"^(?:(\*)|([a-z0-9]+)(?:-([a-z0-9]+))?)(?:/(\d{1,3}))?$")


class CronError(ValueError):
    """A cron expression or time zone that can't be used; `message` is for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _value(field: str, word: str, expr: str) -> int:
    low, high = _BOUNDS[field]
    names = _NAMES.get(field, {})
    if word in names:
        return names[word]
    if word.isdigit() and low <= int(word) <= high:
        return int(word)
    extra = " or names like mon" if field == "day-of-week" else ""
    extra = " or names like jan" if field == "month" else extra
    raise CronError(
        f"In “{_short(expr)}” the {field} field takes {low} to {high}{extra}, not “{_short(word)}”."
    )


def _values(field: str, text: str, expr: str) -> set[int]:
    """The values one field matches (cron numbering), or `CronError`."""
    low, high = _BOUNDS[field]
    found: set[int] = set()
    items = text.split(",")
    if len(items) > 1 and any(item.startswith("*") for item in items):
        raise CronError(
            f"In “{_short(expr)}” the {field} field “{_short(text)}” mixes * into a list; "
            "use * alone or a list of values."
        )
    for item in items:
        match = _ITEM_RE.match(item)
        if not match:
            raise CronError(
                f"In “{_short(expr)}” the {field} field “{_short(text)}” is not a number, "
                "a range like 1-5, a list like 1,15 or a step like */15."
            )
        star, first, last, step = match.groups()
        if step is not None and int(step) < 1:
            raise CronError(f"In “{_short(expr)}” a step must be at least 1, not “/{step}”.")
        if star:
            start, end = low, high
        else:
            start = _value(field, first, expr)
            # `5/15` is cron for `5-59/15`: from 5 to the end of the field.
            end = _value(field, last, expr) if last else (high if step else start)
            if start > end:
                raise CronError(
                    f"In “{_short(expr)}” the {field} range “{_short(item)}” runs backwards."
                )
        if field == "day-of-week" and star:
            end = 6  # `*` spans the week once; 7 is Sunday's second name
        found.update(range(start, end + 1, int(step or 1)))
    if field == "day-of-week" and 7 in found:
        found = (found - {7}) | {0}
    return found


def parse_cron(text: str) -> str:
    """A five-field crontab expression → its normal form (lower case, single spaces), or
    `CronError` with a sentence saying what is wrong."""
    parts = text.strip().lower().split()
    expr = " ".join(parts)
    if len(parts) != 5:
        raise CronError(
            f"A cron expression has five fields ({' '.join(FIELDS)}), like “{EXAMPLE}”; "
            f"“{_short(text.strip())}” has {len(parts)}."
        )
    values = [_values(field, part, expr) for field, part in zip(FIELDS, parts, strict=True)]
    days, months = values[2], values[3]
    # Only when the weekday does not widen the rule (cron ORs a restricted weekday in).
    if parts[4].startswith("*") and not any(
        day <= _MONTH_DAYS[m - 1] for m in months for day in days
    ):
        raise CronError(f"“{_short(expr)}” never fires: none of its months has those days.")
    return expr


@cache
def _zones_by_lower_name() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def parse_zone(name: str) -> str:
    """An IANA time zone (`Europe/Berlin`, `UTC`; any case) → its canonical name, or
    `CronError`."""
    text = name.strip()
    try:
        zoneinfo.ZoneInfo(text)
        return text
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    canonical = _zones_by_lower_name().get(text.lower())
    if canonical is None:
        raise CronError(
            f"“{_short(text)}” is not a time zone I know; use Area/City, like Europe/Berlin, "
            "or UTC."
        )
    return canonical


def zone_or_utc(name: str | None) -> str:
    """A Slack user's `tz` (from `users.info`) as a zone for their rules; UTC when Slack
    gave none or one this machine does not know."""
    if not name:
        return "UTC"
    try:
        return parse_zone(name)
    except CronError:
        return "UTC"


def _aware(when: datetime, what: str) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime")
    return when


@dataclass(frozen=True)
class CronRule:
    """A validated crontab expression and the time zone it is read in."""

    expr: str
    zone: str = "UTC"

    @classmethod
    def of(cls, expr: str, zone: str = "UTC") -> CronRule:
        """Validate both parts (`CronError` otherwise) and normalise them."""
        rule = cls(parse_cron(expr), parse_zone(zone))
        try:
            rule._trigger  # noqa: B018 - built now so that APScheduler's refusal comes here
        except ValueError as exc:
            raise CronError(f"“{_short(rule.expr)}” is not a rule I can run: {exc}.") from None
        return rule

    @classmethod
    def daily(cls, at: time, zone: str = "UTC") -> CronRule:
        """Every day at `at` (minutes) in `zone`: the digest's rule."""
        return cls.of(f"{at.minute} {at.hour} * * *", zone)

    @cached_property
    def tz(self) -> zoneinfo.ZoneInfo:
        """The rule's time zone."""
        return zoneinfo.ZoneInfo(self.zone)

    @cached_property
    def _trigger(self) -> Any:
        minute, hour, dom, month, dow = self.expr.split()
        # APScheduler 3.x reads weekday names as cron does; its numbers start on Monday.
        days = (
            "*"
            if dow == "*"
            else ",".join(_CRON_DAYS[d] for d in sorted(_values("day-of-week", dow, self.expr)))
        )
        make: Callable[..., Any] = CronTrigger
        common = {"minute": minute, "hour": hour, "month": month, "timezone": self.tz}
        if dom.startswith("*") or dow.startswith("*"):
            # Either field left open: the other alone decides (cron's AND case).
            return make(day=dom, day_of_week=days, **common)
        # Both restricted: cron fires when EITHER matches.
        return OrTrigger([make(day=dom, **common), make(day_of_week=days, **common)])

    def describe(self) -> str:
        """The rule in words: `At 07:00 PM, Monday through Friday (Europe/Berlin)`."""
        return f"{_describe_expr(self.expr)} ({self.zone})"

    def _first_at_or_after(self, start: datetime) -> datetime | None:
        when: datetime | None = self._trigger.get_next_fire_time(None, start)
        return when

    def next_fire(self, after: datetime) -> datetime | None:
        """The first fire time strictly after `after` (UTC), or None if it never fires."""
        # Arithmetic in UTC: adding to a local time drops `fold` and can step backwards.
        probe = _aware(after, "after").astimezone(UTC) + timedelta(microseconds=1)
        while True:
            when = self._first_at_or_after(probe)
            if when is None:
                return None
            if not self._repeated_wall_time(when):
                return when.astimezone(UTC)
            probe = when.astimezone(UTC) + timedelta(seconds=1)

    def _repeated_wall_time(self, when: datetime) -> bool:
        # The second 02:30 of a night when clocks go back: the same wall time as the first.
        first = when.replace(tzinfo=None).replace(tzinfo=self.tz, fold=0)
        return first.astimezone(UTC) != when.astimezone(UTC)

    def next_fires(self, after: datetime, count: int) -> list[datetime]:
        """The next `count` (at most `MAX_FIRES`) fire times strictly after `after`, in UTC."""
        found: list[datetime] = []
        when: datetime | None = after
        while when is not None and len(found) < min(count, MAX_FIRES):
            when = self.next_fire(when)
            if when is not None:
                found.append(when)
        return found

    def fires_between(
        self, start: datetime, end: datetime, limit: int = MAX_FIRES
    ) -> list[datetime]:
        """Fire times in (`start`, `end`], oldest first, the first `limit` of them (UTC)."""
        _aware(end, "end")
        found: list[datetime] = []
        when: datetime | None = start
        while len(found) < limit:
            when = self.next_fire(when)  # type: ignore[arg-type]
            if when is None or when > end:
                break
            found.append(when)
        return found


@lru_cache(maxsize=512)
def _describe_expr(expr: str) -> str:
    # Imported here: only a schedule reply needs it, and start-up time matters.
    from cron_descriptor import ExpressionDescriptor, Options

    # Fixed locale and 12-hour clock: the words must not depend on the server's locale.
    # (Attributes rather than constructor arguments: cron-descriptor 1.x takes none.)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 2.x warns when the process has no locale
        options = Options()
    options.locale_code = "en_US"
    options.use_24hour_time_format = False
    try:
        return str(ExpressionDescriptor(expr, options).get_description())
    except Exception:  # a quirk of the wording library must not lose the rule
        return f"Cron “{expr}”"


def say_fire_time(when: datetime, zone: str) -> str:
    """A fire time in the rule's zone: `Mon 7 Dec 2026, 07:00 PM CET`."""
    local = _aware(when, "when").astimezone(zoneinfo.ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b %Y, %I:%M %p %Z}"
