"""Cron rules in a time zone: crontab meaning, words, fire times, clear refusals."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cron import CronError, CronRule, parse_cron, parse_zone, say_fire_time, zone_or_utc

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # a Wednesday
BERLIN = ZoneInfo("Europe/Berlin")


def test_weekdays_one_to_five_are_monday_to_friday_as_in_a_crontab() -> None:
    rule = CronRule.of("0 19 * * 1-5", "Europe/Berlin")
    assert rule.describe() == "At 07:00 PM, Monday through Friday (Europe/Berlin)"
    fires = rule.next_fires(NOW, 5)
    local = [f.astimezone(BERLIN) for f in fires]
    assert [d.strftime("%a %H:%M") for d in local] == [
        "Wed 19:00",
        "Thu 19:00",
        "Fri 19:00",
        "Mon 19:00",
        "Tue 19:00",
    ]
    assert fires[0] == datetime(2026, 12, 2, 18, 0, tzinfo=UTC)  # CET is UTC+1


@pytest.mark.parametrize("sunday", ["0", "7", "sun", "SUN"])
def test_sunday_has_its_crontab_names(sunday: str) -> None:
    fire = CronRule.of(f"30 7 * * {sunday}").next_fire(NOW)
    assert fire is not None and fire.strftime("%a %H:%M") == "Sun 07:30"


def test_a_weekday_step_counts_from_sunday() -> None:
    fires = CronRule.of("0 0 * * */2").next_fires(NOW, 4)
    assert [f.strftime("%a") for f in fires] == ["Thu", "Sat", "Sun", "Tue"]


def test_day_of_month_and_weekday_both_given_fire_on_either() -> None:
    rule = CronRule.of("0 0 1 * 1")
    fires = rule.next_fires(NOW, 5)
    assert [f.date().isoformat() for f in fires] == [
        "2026-12-07",
        "2026-12-14",
        "2026-12-21",
        "2026-12-28",
        "2027-01-01",
    ]
    assert "or on Monday" in rule.describe()


def test_every_minute_and_its_fires_between_two_instants() -> None:
    rule = CronRule.of("* * * * *")
    assert rule.describe() == "Every minute (UTC)"
    start = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    fires = rule.fires_between(start, start + timedelta(minutes=3))
    assert fires == [start + timedelta(minutes=m) for m in (1, 2, 3)]  # (start, end]
    assert rule.fires_between(start, start + timedelta(hours=1), limit=5)[-1] == start + timedelta(
        minutes=5
    )
    assert rule.fires_between(start, start) == []


def test_clocks_going_back_fire_a_wall_time_once_and_forward_still_fire() -> None:
    rule = CronRule.of("30 2 * * *", "Europe/Berlin")
    autumn = rule.fires_between(
        datetime(2026, 10, 24, tzinfo=UTC), datetime(2026, 10, 27, tzinfo=UTC)
    )
    assert [f.astimezone(BERLIN).strftime("%d %H:%M") for f in autumn] == [
        "24 02:30",
        "25 02:30",
        "26 02:30",
    ]
    spring = rule.fires_between(
        datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)
    )
    assert len(spring) == 3  # 02:30 does not exist on the 29th; it fires an hour on instead
    assert spring[1] == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_leap_day_fires_in_leap_years() -> None:
    assert CronRule.of("0 0 29 2 *").next_fire(NOW) == datetime(2028, 2, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("* * * *", "has five fields"),
        ("* * * * * *", "has 6"),
        ("60 * * * *", "minute field takes 0 to 59, not “60”"),
        ("* 24 * * *", "hour field takes 0 to 23"),
        ("* * 0 * *", "day-of-month field takes 1 to 31"),
        ("* * * 13 *", "month field takes 1 to 12 or names like jan"),
        ("* * * * 8", "day-of-week field takes 0 to 7 or names like mon"),
        ("*/0 * * * *", "step must be at least 1"),
        ("5-1 * * * *", "runs backwards"),
        ("1,,2 * * * *", "is not a number, a range"),
        ("* * * * *,1", "mixes * into a list"),
        ("0 9 * * 1#2", "is not a number, a range"),
        ("0 9 L * *", "day-of-month field takes"),
        ("0 0 31 2,4 *", "never fires"),
        ("0 0 30 2 */2", "never fires"),
        ("<!channel> * * * *", "minute field"),
    ],
)
def test_bad_expressions_are_refused_with_a_sentence(expr: str, words: str) -> None:
    with pytest.raises(CronError) as info:
        parse_cron(expr)
    assert words in info.value.message


def test_normal_form() -> None:
    assert parse_cron("  0  19 * *   MON-FRI ") == "0 19 * * mon-fri"


@pytest.mark.parametrize(
    ("name", "canonical"),
    [("Europe/Berlin", "Europe/Berlin"), ("utc", "UTC"), ("america/new_york", "America/New_York")],
)
def test_zones(name: str, canonical: str) -> None:
    assert parse_zone(name) == canonical


@pytest.mark.parametrize("name", ["Mars/Base", "../etc/passwd", "/etc/localtime", "", "Berlin"])
def test_unknown_zones_are_refused(name: str) -> None:
    with pytest.raises(CronError, match="not a time zone I know; use Area/City"):
        parse_zone(name)


def test_fire_times_are_said_in_the_rule_zone() -> None:
    when = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)
    assert say_fire_time(when, "Europe/Berlin") == "Mon 7 Dec 2026, 07:00 PM CET"


def test_naive_instants_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CronRule.of("* * * * *").next_fire(datetime(2026, 1, 1))


_field = st.one_of(
    st.just("*"),
    # A step must fit the field from its start (APScheduler refuses `4/20` for hours, 4-23):
    # that refusal is tested on its own below.
    st.builds(lambda a, s: f"{a}/{s}", st.integers(0, 5), st.integers(1, 18)),
    st.builds(lambda a, b: f"{min(a, b)}-{max(a, b)}", st.integers(0, 23), st.integers(0, 23)),
    st.integers(0, 23).map(str),
)


def test_a_step_wider_than_its_field_is_refused_in_words() -> None:
    with pytest.raises(CronError, match=r"not a rule I can run.*step value"):
        CronRule.of("* 4/20 * * *")


@settings(max_examples=60, deadline=None)
@given(
    minute=_field,
    hour=_field,
    dow=st.sampled_from(["*", "1-5", "0", "6,0", "*/3", "mon,wed"]),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]),
    start_minutes=st.integers(0, 60 * 24 * 400),
)
def test_fires_match_every_field_and_strictly_increase(
    minute: str, hour: str, dow: str, zone: str, start_minutes: int
) -> None:
    rule = CronRule.of(f"{minute} {hour} * * {dow}", zone)
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=start_minutes)
    fires = rule.next_fires(start, 6)
    assert fires, "every such rule fires within a week"
    assert fires == sorted(set(fires)) and fires[0] > start
    tz = ZoneInfo(zone)
    for fire in fires:
        local = fire.astimezone(tz)
        assert local.second == 0
        assert _matches(minute, local.minute, 59) or _gap(local)
        assert _matches(hour, local.hour, 23) or _gap(local)
        assert _matches_dow(dow, (local.isoweekday() % 7))
    assert rule.fires_between(start, fires[-1]) == fires


def _gap(local: datetime) -> bool:
    # A wall time skipped when clocks go forward fires an hour later on the clock.
    return local.dst() is not None and local.dst() != timedelta(0)


def _matches(field: str, value: int, high: int) -> bool:
    if field == "*":
        return True
    if "/" in field:
        first, step = map(int, field.split("/"))
        return value >= first and (value - first) % step == 0
    if "-" in field:
        low, top = map(int, field.split("-"))
        return low <= value <= top
    return value == int(field)


def _matches_dow(field: str, day: int) -> bool:
    names = {"mon": 1, "wed": 3}
    if field == "*":
        return True
    if field == "*/3":
        return day % 3 == 0
    if field == "1-5":
        return 1 <= day <= 5
    return day in {int(p) if p.isdigit() else names[p] for p in field.split(",")}


def test_a_slack_zone_or_utc() -> None:
    assert zone_or_utc("Europe/Berlin") == "Europe/Berlin"
    assert zone_or_utc(None) == "UTC"
    assert zone_or_utc("") == "UTC"
    assert zone_or_utc("Mars/Base") == "UTC"


def test_a_daily_rule_for_the_digest() -> None:
    rule = CronRule.daily(time(9, 5), "Europe/Berlin")
    assert rule.expr == "5 9 * * *"
    assert rule.describe() == "At 09:05 AM (Europe/Berlin)"
    assert rule.next_fire(NOW) == datetime(2026, 12, 2, 8, 5, tzinfo=UTC)


_item = st.one_of(
    st.just("*"),
    st.integers(0, 61).map(str),
    st.tuples(st.integers(0, 61), st.integers(0, 61)).map(lambda p: f"{p[0]}-{p[1]}"),
    st.tuples(st.sampled_from(["*", "0", "1-5", "3"]), st.integers(0, 40)).map(
        lambda p: f"{p[0]}/{p[1]}"
    ),
    st.sampled_from(["mon", "sun-sat", "jan", "feb-dec", "fri", "l", "?", "#"]),
)
_cron_field = st.lists(_item, min_size=1, max_size=3).map(",".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(_cron_field, min_size=5, max_size=5).map(" ".join))
def test_what_the_grammar_accepts_apscheduler_can_run(expr: str) -> None:
    try:
        rule = CronRule.of(expr)
    except CronError as exc:
        assert exc.message
        return
    rule.next_fire(NOW)  # never raises; may be None only for impossible dates
    assert rule.describe()


def test_the_rule_is_still_said_if_the_wording_library_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import cron_descriptor

    def broken(*_args: object, **_kwargs: object) -> None:
        raise cron_descriptor.FormatError("quirk")

    monkeypatch.setattr(cron_descriptor, "ExpressionDescriptor", broken)
    assert CronRule.of("7 7 7 7 *").describe() == "Cron “7 7 7 7 *” (UTC)"
