"""Rules Run:ai applies that the bot needs in several places, each written once in
`models.py`: what a workload name may be, and the max replicas Run:ai applies."""

from __future__ import annotations

import pytest

from bot.emulator.errors import ApiError
from bot.emulator.validation import check_name
from bot.runai import models
from bot.slack import parsing
from bot.slack.ids import Field
from bot.slack.modals import create

NAMES = [
    ("a", True),
    ("7b-chat", True),  # a DNS-1123 label may start with a digit
    ("0", True),
    ("llama-3", True),
    ("a" * 63, True),
    ("a" * 64, False),
    ("-llama", False),
    ("llama-", False),
    ("Llama", False),
    ("lla_ma", False),
    ("", False),
]


def _emulator_accepts(name: str) -> bool:
    try:
        check_name(name)
    except ApiError:
        return False
    return True


def _parser_accepts(name: str) -> bool:
    try:
        parsing.parse(f"status {name}")
    except parsing.ParseError:
        return False
    return True


def _form_accepts(name: str) -> bool:
    values = {
        Field.NAME: name,
        Field.PROJECT: "1",
        Field.CLUSTER: "c",
        Field.IMAGE: "vllm/vllm-openai:v0.6.3",
        Field.PORT: "8000",
        Field.MIN_REPLICAS: "1",
        Field.MAX_REPLICAS: "1",
    }
    return isinstance(create.validate_create(values), create.CreateSubmission)


@pytest.mark.parametrize(("name", "valid"), NAMES)
def test_one_workload_name_rule_for_the_parser_the_form_and_run_ai(name: str, valid: bool) -> None:
    assert models.is_workload_name(name) is valid
    assert _form_accepts(name) is valid
    assert _emulator_accepts(name) is valid
    if name:  # an empty ref is "no ref", a usage error of its own
        assert _parser_accepts(name) is valid


def test_a_model_whose_name_starts_with_a_digit_prefills_the_name() -> None:
    info = models.ModelInfo(model_name="org/7B-Chat")
    assert create.model_values(info)[Field.NAME] == "7b-chat"


@pytest.mark.parametrize(
    ("low", "high", "effective"),
    [
        (None, None, 1),  # both unset: min defaults to 1, max to min
        (3, None, 3),  # max defaults to min
        (0, None, 1),  # … or 1 when min is 0
        (0, 1, 1),
        (2, 5, 5),  # a set max is what applies
        (None, 4, 4),
    ],
)
def test_effective_max_replicas(low: int | None, high: int | None, effective: int) -> None:
    assert models.effective_max_replicas(low, high) == effective
    auto = models.AutoScaling(min_replicas=low, max_replicas=high)
    assert auto.effective_max == effective
    assert auto.effective_min == (1 if low is None else low)
    typed = parsing.Scale("x", low, high).effective_max
    assert typed == (None if low is None and high is None else effective)  # no numbers: modal
