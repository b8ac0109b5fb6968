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
    """Render progress events as a one-line bar on a terminal (stderr by default)."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self._stage: str | None = None

    def __call__(self, event: Progress) -> None:
        if self._stage is not None and event.stage != self._stage:
            self.stream.write("\n")
        self._stage = event.stage
        filled = int(round(event.fraction * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"\r{event.stage:<10} [{bar}] {event.fraction:6.1%} {event.message}"
        self.stream.write(line[:160].ljust(80))
        if event.fraction >= 1.0:
            self.stream.write("\n")
            self._stage = None
        self.stream.flush()
