"""The Hugging Face token form's validation (pure)."""

from __future__ import annotations

from bot.slack.ids import Field
from bot.slack.modals import hf_token


def test_hf_token_validation() -> None:
    assert hf_token.validate_hf_token({Field.HF_TOKEN: "hf_abcdefgh"}) == "hf_abcdefgh"
    assert Field.HF_TOKEN in hf_token.validate_hf_token({})  # type: ignore[operator]
    assert Field.HF_TOKEN in hf_token.validate_hf_token({Field.HF_TOKEN: "a b c d e"})  # type: ignore[operator]
