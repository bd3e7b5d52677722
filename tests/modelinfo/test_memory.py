"""The minimum-GPU-memory rule shared by the emulator and the Hub path."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bot.modelinfo.memory import MIB, min_memory_mb


@pytest.mark.parametrize(
    ("parameters", "mb"),
    [
        (1, 1),  # any model needs at least one MiB
        (1_000_000_000, 2289),  # ceil(1e9 * 2 * 1.2 / 2**20) = ceil(2288.8)
        (7_615_616_512, 17431),  # Qwen/Qwen2.5-7B-Instruct
        (70_553_706_496, 161485),  # a Llama 70B
    ],
)
def test_known_sizes(parameters: int, mb: int) -> None:
    assert min_memory_mb(parameters) == mb


def test_exact_boundary_is_not_rounded_up() -> None:
    # 5 * 2**19 parameters * 2 B * 1.2 is exactly 6 MiB: no extra MiB.
    assert min_memory_mb(5 * 2**19) == 6
    assert min_memory_mb(5 * 2**19 + 1) == 7


def test_huge_counts_stay_exact() -> None:
    # Past 2**53 a float product would drift; the rule must not.
    parameters = 5 * MIB * 10**12
    assert min_memory_mb(parameters) == 12 * 10**12
    assert min_memory_mb(parameters + 1) == 12 * 10**12 + 1


@pytest.mark.parametrize("parameters", [None, 0, -5, True, 1.5, "7000000000"])
def test_unknown_or_nonsense_counts_give_none(parameters: Any) -> None:
    assert min_memory_mb(parameters) is None


def test_agrees_with_the_float_formula_on_ordinary_sizes() -> None:
    for parameters in (22_713_216, 494_032_768, 3_821_079_552, 46_702_792_704):
        assert min_memory_mb(parameters) == math.ceil(parameters * 2 * 1.2 / 2**20)
