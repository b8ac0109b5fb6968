"""Where trained models live on disk: one directory per model version (no PyTorch).

`<data dir>/model/<version>/checkpoint.pt` and `.../evaluation.json`. A checkpoint is
written under its own version before its index goes live, and the live pointer in
Redis names the version it serves, so "the saved model that serves the live index"
is always `checkpoint_path(settings, live["model_version"])`, whatever moment a
retrain was killed at. Versions that are not live are removed by `remove_all_but`
once a load has finished (under the load lock).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from recsys.config import Settings
from recsys.errors import CheckpointError

# m-<UTC creation time>-<8 hex of data, config and seed> (train._version)
VERSION_RE = re.compile(r"^m-\d{8}T\d{6}Z-[0-9a-f]{8}$")
CHECKPOINT = "checkpoint.pt"
EVALUATION = "evaluation.json"
# Files of the one-checkpoint layout used before versioned directories.
_LEGACY = ("checkpoint.pt", "evaluation.json")


def root(settings: Settings) -> Path:
    return settings.path("model")


def model_dir(settings: Settings, version: str) -> Path:
    """The directory of one model version (not created).

    Raises:
        CheckpointError: `version` is not a model version name (it becomes a path).
    """
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise CheckpointError(f"model version {str(version)[:80]!r} is not a model version name.")
    return root(settings) / version


def checkpoint_path(settings: Settings, version: str) -> Path:
    return model_dir(settings, version) / CHECKPOINT


def evaluation_path(settings: Settings, version: str) -> Path:
    return model_dir(settings, version) / EVALUATION


def versions(settings: Settings) -> list[str]:
    """Versions with a checkpoint on disk, newest first (names sort by creation time)."""
    base = root(settings)
    if not base.is_dir():
        return []
    found = (p.name for p in base.iterdir() if VERSION_RE.match(p.name))
    return sorted((v for v in found if (base / v / CHECKPOINT).is_file()), reverse=True)


def remove(settings: Settings, version: str) -> None:
    """Delete one version's directory (a no-op if it is gone)."""
    shutil.rmtree(model_dir(settings, version), ignore_errors=True)


def remove_all_but(settings: Settings, keep: str | None) -> list[str]:
    """Delete every version directory but `keep`, and what dead writers left behind.

    Call with the load lock held (no other writer is running). Returns what was removed.
    """
    base = root(settings)
    if not base.is_dir():
        return []
    removed = []
    for path in base.iterdir():
        leftover = path.name.startswith(".") and path.name.endswith(".part")  # atomic writes
        stale = VERSION_RE.match(path.name) and path.name != keep
        legacy = path.name in _LEGACY and path.is_file()
        if leftover or stale or legacy:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path.name)
    for path in base.glob("*/.*.part"):  # temporary files inside version directories
        path.unlink(missing_ok=True)
        removed.append(f"{path.parent.name}/{path.name}")
    return sorted(removed)
