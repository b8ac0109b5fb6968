"""Progress reporting shared by the CLI (a text bar on stderr) and the UI.

Long work (download, training, indexing) takes an optional `progress` callback
and calls it with a `Progress` event; it never prints by itself.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass(frozen=True)
class Progress:
    """One step of long work: `done` of `total` units of `stage`."""

    stage: str
    done: float
    total: float
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else max(0.0, min(1.0, self.done / self.total))


ProgressFn = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    """The default callback: report nothing."""


class TextProgress:
    """Render progress events as a bar on stderr.

    On a terminal the bar is redrawn in place; elsewhere (logs, CI) a line is written
    only when a stage starts, crosses another 10 %, or ends with a new message (one
    stage may end several parts, e.g. each candidate model of `train --epochs 1`).
    """

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._stage: str | None = None
        self._decile = -1
        self._message: str | None = None

    def __call__(self, event: Progress) -> None:
        new_stage = event.stage != self._stage
        decile = int(event.fraction * 10)
        ends_anew = event.fraction >= 1 and event.message != self._message
        if not self.tty and not new_stage and decile == self._decile and not ends_anew:
            return
        if self.tty and new_stage and self._stage is not None:
            self.stream.write("\n")
        self._stage, self._decile, self._message = event.stage, decile, event.message
        filled = round(event.fraction * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"{event.stage:<10} [{bar}] {event.fraction:6.1%} {event.message}"[:160]
        if self.tty:
            self.stream.write("\r" + line.ljust(80))
            _OPEN_LINES.add(self.stream)
        else:
            self.stream.write(line + "\n")
        if self.tty and event.fraction >= 1.0:
            self.stream.write("\n")
            _OPEN_LINES.discard(self.stream)
            self._stage = None
        self.stream.flush()


_OPEN_LINES: set[TextIO] = set()


def close_lines() -> None:
    """End any bar left mid-line, so that an error message starts on a line of its own."""
    for stream in list(_OPEN_LINES):
        stream.write("\n")
        stream.flush()
    _OPEN_LINES.clear()
