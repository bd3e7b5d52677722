"""The demo's terminal: type `/inference …`, see replies, modals as forms, threads live."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from bot.demo.forms import (
    HIDDEN,
    AnswerError,
    Choice,
    FormField,
    form_fields,
    parse_answer,
    submission,
)
from bot.demo.text import Button, render_blocks, render_message, text_of
from bot.fakeslack import (
    FakeEvent,
    FakeSlack,
    FileRecord,
    MessageRecord,
    SlackDriver,
    SlackDriverError,
    ViewRecord,
)

HELP = """\
Type what you would type in Slack, e.g.
  /inference help
  /inference model Qwen/Qwen2.5-7B-Instruct
  /inference create
Buttons are numbered: `click 3` (or just `3`) presses button [3]; `click Delete` the newest
button whose label starts with Delete.
In a form: Enter keeps the value in [brackets], `-` clears it, `cancel` closes the modal.
Scripts: `wait 5` pauses; `wait-for <text> [seconds]` waits until <text> is shown
(since the last command).
`exit` or Ctrl-D leaves."""

SETTLE_SECONDS = 0.4
SETTLE_MAX_SECONDS = 6.0


class LineReader:
    """Reads lines from a terminal (with prompts) or a pipe (echoing what it read).

    A secret is read as getpass does: with the terminal's echo off; from a pipe (no
    terminal to silence) it is read as a line and shown as dots in the transcript.
    """

    def __init__(self, stream: TextIO, out: TextIO) -> None:
        self._stream = stream
        self._out = out
        self._tty = stream.isatty()

    async def read(self, prompt: str, *, secret: bool = False) -> str | None:
        """One line without its newline, or None at end of input; a secret is not echoed."""
        loop = asyncio.get_running_loop()
        if self._tty and self._stream is sys.stdin:
            ask = getpass.getpass if secret else input
            try:
                return await loop.run_in_executor(None, ask, prompt)
            except EOFError:
                return None
        self._out.write(prompt)
        self._out.flush()
        line = await loop.run_in_executor(None, self._stream.readline)
        if not line:
            self._out.write("\n")
            return None
        line = line.rstrip("\n")
        self._out.write((HIDDEN if secret and line else line) + "\n")
        return line


@dataclass
class _Choice:
    button: Button
    target: MessageRecord


class Console:
    """Shows what the fake Slack workspace receives and plays the user through the driver."""

    def __init__(
        self,
        fake: FakeSlack,
        driver: SlackDriver,
        reader: LineReader,
        out: TextIO,
        charts_dir: Path,
        *,
        command: str = "/inference",
    ) -> None:
        self.fake = fake
        self.driver = driver
        self.reader = reader
        self.out = out
        self.charts_dir = charts_dir
        self.command = command
        self._buttons: dict[int, _Choice] = {}
        self._next_button = 1
        self._transcript: list[str] = []
        self._printed = asyncio.Event()
        self._last_event = 0.0
        self._handled_views: set[tuple[str, str]] = set()
        self._mark = 0

    # ---------------------------------------------------------------- output
    def say(self, *lines: str) -> None:
        """Print lines and remember them for `wait-for`."""
        for line in lines:
            self.out.write(line + "\n")
            self._transcript.append(line)
        self.out.flush()
        self._printed.set()
        self._printed = asyncio.Event()

    def on_event(self, event: FakeEvent) -> None:
        """Listener for the fake workspace: render what a user would notice."""
        self._last_event = asyncio.get_running_loop().time()
        if event.kind == "message" and event.message is not None:
            self._show_message(event.message)
        elif event.kind == "message_changed" and event.message is not None:
            self._show_message(event.message, edited=True)
        elif event.kind == "message_deleted" and event.message is not None:
            self.say(f"  (message {event.message.ts} deleted)")
        elif event.kind == "file_shared" and event.file is not None:
            self._save_file(event.file)

    def _names(self) -> dict[str, str]:
        """Channel and user ids → names, to show mentions as Slack's client does."""
        names = {user.id: user.name for user in self.fake.users.values()}
        names.update((channel.id, channel.name) for channel in self.fake.channels.values())
        return names

    def _show_message(self, message: MessageRecord, *, edited: bool = False) -> None:
        names = self._names()
        rendered = (
            render_blocks(message.blocks, first_button=self._next_button, names=names)
            if message.blocks
            else render_message(message.text, None, names)
        )
        if message.ephemeral:
            head = "(only you) "
        elif message.is_reply:
            head = f"  ↳ thread of '{self._parent_label(message)}': " + (
                "[also sent to the channel] " if message.reply_broadcast else ""
            )
        else:
            head = f"#{self._channel_name(message.channel)} "
        if edited:
            head = f"{head}(updated) "
        for button in rendered.buttons:
            self._buttons[button.number] = _Choice(button, message)
        self._next_button += len(rendered.buttons)
        body = rendered.lines or [""]
        indent = " " * min(len(head), 6)
        self.say(head + body[0], *[indent + line for line in body[1:]])

    def _parent_label(self, reply: MessageRecord) -> str:
        parent = self.fake.find_message(reply.channel, reply.thread_ts or "")
        if parent is None:
            return reply.thread_ts or ""
        if not parent.text:
            return parent.ts
        return _short(render_message(parent.text, None, self._names()).lines[0])

    def _channel_name(self, channel: str) -> str:
        found = self.fake.channel(channel)
        return found.name if found else channel

    def _save_file(self, record: FileRecord) -> None:
        if record.content is None:
            return
        self.charts_dir.mkdir(parents=True, exist_ok=True)
        path = self.charts_dir / f"{record.id}-{Path(record.filename).name}"
        path.write_bytes(record.content)
        title = record.title or record.filename
        self.say(f"  [file] {title} saved to {path}")

    # ---------------------------------------------------------------- input
    async def run(self) -> int:
        """Read and act on lines until `exit` or end of input; returns an exit code."""
        self.fake.add_listener(self.on_event)
        self.say("inference-bot demo: Slack and Run:ai are simulated on this machine.", HELP)
        try:
            while True:
                line = await self.reader.read("> ")
                if line is None:
                    return 0
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if line in {"exit", "quit"}:
                    return 0
                try:
                    await self._dispatch(line)
                except (SlackDriverError, AnswerError) as exc:
                    self.say(f"  ! {exc}")
        finally:
            self.fake.remove_listener(self.on_event)

    async def _dispatch(self, line: str) -> None:
        word, _, rest = line.partition(" ")
        if word not in {"wait", "wait-for"}:
            self._mark = len(self._transcript)
        if word == "help":
            self.say(HELP)
        elif word == "wait":
            await asyncio.sleep(float(rest or "1"))
        elif word == "wait-for":
            await self._wait_for(rest)
        elif word.startswith("/"):
            if word != self.command:
                self.say(f"  ! only {self.command} is installed in this workspace")
                return
            response = await self.driver.command(self.command, rest)
            if response.status_code != 200:
                self.say(f"  ! the bot answered HTTP {response.status_code}")
            await self._settle()
        elif word == "click" or word.isdigit():
            await self._click(rest.strip() if word == "click" else word)
        else:
            self.say(f"  ! not a command: {line!r} (type `help`)")

    async def _wait_for(self, args: str) -> None:
        text, _, seconds = args.rpartition(" ")
        timeout = 60.0
        if text and _is_number(seconds):
            timeout = float(seconds)
        else:
            text = args
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        start = self._mark
        while True:
            if any(text in line for line in self._transcript[start:]):
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                self.say(f"  ! gave up waiting for {text!r} after {timeout:g}s")
                return
            waiter = self._printed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), timeout=min(remaining, 0.5))

    async def _settle(self) -> None:
        """Wait until the bot has gone quiet (replies, modals), then handle an open modal."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        self._last_event = max(self._last_event, start)
        while loop.time() - start < SETTLE_MAX_SECONDS:
            await asyncio.sleep(0.05)
            if loop.time() - self._last_event >= SETTLE_SECONDS and not self._loading():
                break
        await self._forms()

    def _loading(self) -> bool:
        stack = self.driver.open_views
        return (
            bool(stack) and not form_fields(stack[-1].blocks) and not stack[-1].view.get("submit")
        )

    def _find_button(self, which: str) -> _Choice | None:
        if which.isdigit():
            return self._buttons.get(int(which))
        wanted = which.lower()
        for number in sorted(self._buttons, reverse=True):
            if self._buttons[number].button.text.lower().startswith(wanted):
                return self._buttons[number]
        return None

    async def _click(self, which: str) -> None:
        """Press a button by its number, or the newest one whose label starts with `which`."""
        choice = self._find_button(which)
        if choice is None:
            self.say(f"  ! no button {which!r}")
            return
        confirm = True
        if choice.button.confirm:
            dialog = choice.button.confirm
            title = text_of(dialog.get("title"), self._names())
            text = text_of(dialog.get("text"), self._names())
            answer = await self.reader.read(f"{title}: {text} [y/N] ")
            confirm = (answer or "").strip().lower() in {"y", "yes"}
            if not confirm:
                self.say("  cancelled")
        value = choice.button.value
        if choice.button.element.get("type") != "button":
            options = [o.get("value") for o in choice.button.element.get("options") or []]
            value = await self._pick_option(options)
        response = await self.driver.click(
            choice.target,
            choice.button.action_id,
            value,
            block_id=choice.button.block_id,
            confirm=confirm,
        )
        if response is not None:
            await self._settle()

    async def _pick_option(self, options: list[object]) -> str | None:
        for i, option in enumerate(options, 1):
            self.say(f"  {i}) {option}")
        answer = (await self.reader.read("choose: ")) or ""
        if answer.isdigit() and 1 <= int(answer) <= len(options):
            return str(options[int(answer) - 1])
        return answer or None

    # ---------------------------------------------------------------- modals
    async def _forms(self) -> None:
        """Fill every modal the bot opened, until none is open."""
        while self.driver.open_views:
            view = self.driver.open_views[-1]
            fields = form_fields(view.blocks)
            if not fields:
                self._show_view(view)
                await self.driver.close_view(view)
                continue
            if not await self._fill(view, fields):
                return

    def _show_view(self, view: ViewRecord) -> None:
        shown = render_blocks(
            [b for b in view.blocks if b.get("type") != "input"], names=self._names()
        )
        self.say(f"┌ {view.title}", *[f"│ {line}" for line in shown.lines], "└")

    async def _fill(self, view: ViewRecord, fields: list[FormField]) -> bool:
        self._show_view(view)
        answers: dict[str, str | list[str] | None] = {}
        asking = fields
        while True:
            for f in asking:
                value = await self._ask(view, f, answers.get(f.block_id, f.initial))
                if value is _CANCEL:
                    await self.driver.close_view(view)
                    self.say("  form cancelled")
                    return True
                if value is _EOF:
                    return False
                answers[f.block_id] = value  # type: ignore[assignment]
            await self.driver.submit_view(view, submission(fields, answers))
            if view.closed or self.driver.open_views[-1:] != [view] or view.errors == {}:
                await self._settle_after_submit(view)
                return True
            for block_id, error in view.errors.items():
                label = next((f.label for f in fields if f.block_id == block_id), block_id)
                self.say(f"  ! {label}: {error}")
            asking = [f for f in fields if f.block_id in view.errors] or fields

    async def _settle_after_submit(self, view: ViewRecord) -> None:
        if not view.closed and view.errors == {}:
            self._handled_views.add((view.id, view.hash))
        loop = asyncio.get_running_loop()
        start = loop.time()
        self._last_event = max(self._last_event, start)
        while loop.time() - start < SETTLE_MAX_SECONDS:
            await asyncio.sleep(0.05)
            if loop.time() - self._last_event >= SETTLE_SECONDS:
                break

    async def _ask(self, view: ViewRecord, f: FormField, current: str | list[str] | None) -> object:
        if f.kind == "external_select":
            return await self._search(view, f, current)
        if f.choices:
            self.say(
                f"  {f.label}: " + ", ".join(f"{i}) {c.text}" for i, c in enumerate(f.choices, 1))
            )
        if f.hint:
            self.say(f"  ({f.hint})")
        shown = FormField(**{**f.__dict__, "initial": current})
        while True:
            line = await self.reader.read(shown.prompt(), secret=f.secret)
            if line is None:
                return _EOF
            if line.strip() == "cancel":
                return _CANCEL
            try:
                return parse_answer(shown, line)
            except AnswerError as exc:
                self.say(f"  ! {exc}")

    async def _search(
        self, view: ViewRecord, f: FormField, current: str | list[str] | None
    ) -> object:
        """An external select: what the user types is searched as Slack would (a
        block_suggestion to the bot); one match is taken, several are numbered."""
        self.say(f"  ({f.hint or 'Type part of a name to search.'})")
        shown = replace(f, initial=current)
        listed: tuple[Choice, ...] = ()
        while True:
            line = await self.reader.read(shown.prompt())
            if line is None:
                return _EOF
            typed = line.strip()
            if typed == "cancel":
                return _CANCEL
            if typed in ("", "-"):
                return parse_answer(shown, typed)
            if listed and typed.isdigit() and 1 <= int(typed) <= len(listed):
                return listed[int(typed) - 1].value
            ack = await self.driver.suggest(view, f.action_id, typed)
            found = tuple(
                Choice(text_of(o.get("text")), str(o.get("value")))
                for o in (ack.json().get("options") or [])
            )
            exact = [c for c in found if typed.lower() in (c.text.lower(), c.value)]
            if exact or len(found) == 1:
                return (exact or list(found))[0].value
            if not found:
                self.say(f"  ! nothing matches {typed!r}")
                continue
            listed = found[:SEARCH_SHOWN]
            more = f" … ({len(found)} match; type more)" if len(found) > SEARCH_SHOWN else ""
            names = ", ".join(f"{i}) {c.text}" for i, c in enumerate(listed, 1))
            self.say(f"  {f.label}: {names}{more}")


SEARCH_SHOWN = 20  # matches listed for an external select; more means "type more"
_CANCEL = object()
_EOF = object()


def _short(text: str, limit: int = 40) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
