"""Episodes: one fire and one resolve per episode, snooze and mute (Hypothesis)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.watch.alerts.episodes import Episode, Post, State, snooze, step
from bot.watch.alerts.rules import Verdict

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
BREACH = Verdict("breaching", 900, T0, T0 - 5 * MIN)
CLEAR = Verdict("clear", 100, T0)
PENDING = Verdict("pending", 900, T0, T0)
UNKNOWN = Verdict("unknown")


def run(
    verdicts: list[Verdict], episode: Episode | None = None, **kw: bool
) -> tuple[Episode, list[Post]]:
    episode = episode or Episode()
    posts = []
    for i, verdict in enumerate(verdicts):
        episode, post = step(episode, verdict, T0 + i * MIN, **kw)
        posts.append(post)
    return episode, posts


def test_fire_once_then_resolve_once() -> None:
    episode, posts = run([CLEAR, PENDING, BREACH, BREACH, UNKNOWN, BREACH, CLEAR, CLEAR])
    assert posts == [Post.NOTHING, Post.NOTHING, Post.FIRE] + [Post.NOTHING] * 3 + [
        Post.RESOLVE,
        Post.NOTHING,
    ]
    assert episode.state is State.RESOLVED and episode.number == 1
    assert episode.resolved_at == T0 + 6 * MIN
    again, posts = run([BREACH, CLEAR], episode)
    assert posts == [Post.FIRE, Post.RESOLVE] and again.number == 2


def test_firing_episode_remembers_since_and_value() -> None:
    episode, _ = run([BREACH])
    assert episode.state is State.FIRING and episode.since == T0 - 5 * MIN
    assert episode.value == 900


def test_snoozed_fire_waits_for_the_end_of_the_snooze() -> None:
    snoozed = snooze(Episode(), T0 + 3 * MIN)
    episode, posts = run([BREACH, BREACH, BREACH, BREACH, BREACH], snoozed)
    assert posts == [Post.NOTHING] * 3 + [Post.FIRE, Post.NOTHING]
    assert episode.announced


def test_an_unannounced_episode_resolves_silently() -> None:
    snoozed = snooze(Episode(), T0 + 60 * MIN)
    episode, posts = run([BREACH, CLEAR], snoozed)
    assert posts == [Post.NOTHING, Post.NOTHING]
    assert episode.state is State.RESOLVED


def test_snoozing_a_fired_alert_still_tells_it_resolved() -> None:
    fired, _ = run([BREACH])
    _, posts = run([BREACH, CLEAR], snooze(fired, T0 + 60 * MIN))
    assert posts == [Post.NOTHING, Post.RESOLVE]


def test_muted_watch_posts_nothing_and_fires_after_unmute() -> None:
    episode, posts = run([BREACH, BREACH], muted=True)
    assert posts == [Post.NOTHING, Post.NOTHING]
    episode, posts = run([BREACH], episode)
    assert posts == [Post.FIRE] and episode.number == 1
    fired, _ = run([BREACH])
    _, posts = run([CLEAR], fired, muted=True)
    assert posts == [Post.NOTHING]


verdicts = st.lists(st.sampled_from([BREACH, CLEAR, PENDING, UNKNOWN]), max_size=40)


@given(verdicts, st.lists(st.booleans(), max_size=40))
def test_each_episode_fires_at_most_once_and_resolves_only_after_a_fire(
    seq: list[Verdict], mutes: list[bool]
) -> None:
    episode = Episode()
    fired: dict[int, int] = {}
    resolved: dict[int, int] = {}
    for i, verdict in enumerate(seq):
        muted = mutes[i] if i < len(mutes) else False
        before = episode
        episode, post = step(episode, verdict, T0 + i * MIN, muted=muted)
        # serialisable: the stored form gives back the same episode
        assert Episode.from_json(json.loads(json.dumps(episode.to_json()))) == episode
        if post is Post.FIRE:
            fired[episode.number] = fired.get(episode.number, 0) + 1
            assert not muted and episode.state is State.FIRING
        if post is Post.RESOLVE:
            resolved[before.number] = resolved.get(before.number, 0) + 1
            assert fired.get(before.number) == 1
        assert episode.number >= before.number
    assert all(n == 1 for n in fired.values())
    assert all(n == 1 for n in resolved.values())
