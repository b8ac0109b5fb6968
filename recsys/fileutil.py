"""Small helpers every layer shares: atomic file writes and one reading of yes/no text.

Atomic writes go through a temporary file with a unique name in the destination's
directory, then `os.replace`: a reader sees the old file or the new one, never half
of one, and two writers never share a temporary file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

TRUE_WORDS = frozenset({"true", "yes", "1", "t", "y"})
FALSE_WORDS = frozenset({"false", "no", "0", "f", "n", ""})


@contextmanager
def atomic_path(dest: Path | str) -> Iterator[Path]:
    """A unique temporary path beside `dest`; renamed onto `dest` if the block succeeds.

    The directory is created if needed. On any error the temporary file is removed and
    `dest` is left as it was.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(
    dest: Path | str, write: Callable[[IO[Any]], None], *, binary: bool = False
) -> Path:
    """Call `write(file)` on a temporary file beside `dest`, then rename it onto `dest`."""
    with atomic_path(dest) as tmp:
        mode = "wb" if binary else "w"
        with open(tmp, mode, **({} if binary else {"encoding": "utf-8"})) as out:
            write(out)
    return Path(dest)


def atomic_write_json(dest: Path | str, document: Any, *, indent: int | None = None) -> Path:
    """`document` as JSON (UTF-8, not ASCII-escaped), written atomically."""
    return atomic_write(
        dest, lambda out: json.dump(document, out, ensure_ascii=False, indent=indent)
    )


def parse_bool(value: Any) -> bool | None:
    """True/False for a boolean, 0/1 or a yes/no word (case-insensitive); None otherwise.

    `None` and the empty string mean False (a missing flag is off). Callers turn a None
    result into an error that names their field.
    """
    if value is None or isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in TRUE_WORDS or text in FALSE_WORDS:
            return text in TRUE_WORDS
    return None
