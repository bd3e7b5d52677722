"""A modal as a prompted form in the terminal: read its inputs, build the submission."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.demo.text import text_of
from bot.slack.ids import Field

# Inputs whose answer is a secret: read without echo, never shown back.
SECRET_FIELDS = frozenset({Field.HF_TOKEN.value})
HIDDEN = "••••••••"


@dataclass(frozen=True)
class Choice:
    """One option of a select, radio group or checkbox group."""

    text: str
    value: str


@dataclass(frozen=True)
class FormField:
    """One input of a modal, as the console asks for it."""

    block_id: str
    action_id: str
    label: str
    kind: str
    optional: bool
    hint: str = ""
    initial: str | list[str] | None = None
    choices: tuple[Choice, ...] = field(default_factory=tuple)
    multiline: bool = False
    secret: bool = False

    @property
    def multiple(self) -> bool:
        """Whether several choices may be picked (checkboxes, multi selects)."""
        return self.kind == "checkboxes" or self.kind.startswith("multi_")

    def prompt(self) -> str:
        """The question shown to the user, with the current value in brackets."""
        text = self.label + ("" if not self.optional else " (optional)")
        shown = self.initial_text()
        return f"{text} [{shown}]: " if shown else f"{text}: "

    def initial_text(self) -> str:
        """The current value as the user would type it."""
        if self.initial is None:
            return ""
        if self.secret:
            return HIDDEN
        if isinstance(self.initial, list):
            return ",".join(self._choice_text(v) for v in self.initial)
        return self._choice_text(self.initial) if self.choices else self.initial

    def _choice_text(self, value: str) -> str:
        for choice in self.choices:
            if choice.value == value:
                return choice.text
        return value


def _choices(element: Mapping[str, Any]) -> tuple[Choice, ...]:
    if element.get("type") == "external_select":
        # Searched as the user types; only the preselected option is known (to show its name).
        chosen = element.get("initial_option")
        return (Choice(text_of(chosen.get("text")), str(chosen.get("value"))),) if chosen else ()
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return tuple(Choice(text_of(o.get("text")), str(o.get("value"))) for o in options)


def _initial(element: Mapping[str, Any]) -> str | list[str] | None:
    if "initial_value" in element:
        return str(element["initial_value"])
    if element.get("initial_option"):
        return str(element["initial_option"].get("value"))
    if element.get("initial_options"):
        return [str(o.get("value")) for o in element["initial_options"]]
    return None


def form_fields(blocks: Sequence[Mapping[str, Any]]) -> list[FormField]:
    """The input blocks of a modal, in order."""
    fields: list[FormField] = []
    for block in blocks:
        if block.get("type") != "input":
            continue
        element = block.get("element") or {}
        fields.append(
            FormField(
                block_id=str(block.get("block_id") or ""),
                action_id=str(element.get("action_id") or ""),
                label=text_of(block.get("label")),
                kind=str(element.get("type")),
                optional=bool(block.get("optional")),
                hint=text_of(block.get("hint")) if block.get("hint") else "",
                initial=_initial(element),
                choices=_choices(element),
                multiline=bool(element.get("multiline")),
                secret=str(element.get("action_id")) in SECRET_FIELDS,
            )
        )
    return fields


class AnswerError(ValueError):
    """The typed answer does not fit the field (e.g. an unknown choice)."""


def parse_answer(f: FormField, answer: str) -> str | list[str] | None:
    """Turn what the user typed into the field's value; '' keeps the current one, '-' clears."""
    answer = answer.strip()
    if answer == "":
        return f.initial
    if answer == "-":
        return [] if f.multiple else None
    if not f.choices:
        return answer
    picked = [part.strip() for part in answer.split(",")] if f.multiple else [answer]
    values = [_pick(f, part) for part in picked if part]
    return values if f.multiple else values[0]


def _pick(f: FormField, typed: str) -> str:
    if typed.isdigit() and 1 <= int(typed) <= len(f.choices):
        return f.choices[int(typed) - 1].value
    for choice in f.choices:
        if typed in (choice.value, choice.text):
            return choice.value
    lowered = typed.lower()
    matches = [c for c in f.choices if c.text.lower().startswith(lowered)]
    if len(matches) == 1:
        return matches[0].value
    names = ", ".join(f"{i}) {c.text}" for i, c in enumerate(f.choices, 1))
    raise AnswerError(f"choose one of: {names}")


def submission(
    fields: Sequence[FormField], answers: Mapping[str, str | list[str] | None]
) -> dict[str, dict[str, Any]]:
    """`values[block_id][action_id]` for the fake Slack driver's submit_view."""
    values: dict[str, dict[str, Any]] = {}
    for f in fields:
        value = answers.get(f.block_id, f.initial)
        if value is None and f.kind in {"plain_text_input", "number_input"}:
            value = ""
        values[f.block_id] = {f.action_id: value}
    return values
