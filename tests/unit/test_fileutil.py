"""Atomic writes and the one reading of yes/no text."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recsys.fileutil import atomic_path, atomic_write_json, parse_bool


def test_atomic_write_replaces_whole_files_and_leaves_no_temporary(tmp_path) -> None:
    dest = tmp_path / "deep" / "out.json"
    atomic_write_json(dest, {"a": "é"})
    atomic_write_json(dest, {"b": 2}, indent=2)
    assert json.loads(dest.read_text(encoding="utf-8")) == {"b": 2}
    assert [p.name for p in dest.parent.iterdir()] == ["out.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path) -> None:
    dest = tmp_path / "out.txt"
    dest.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert dest.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_two_writers_never_share_a_temporary_file(tmp_path) -> None:
    dest = tmp_path / "out.txt"
    with atomic_path(dest) as first, atomic_path(dest) as second:
        assert first != second


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), (None, False), (1, True), (0, False), (1.0, True),
     (np.bool_(True), True), ("yes", True), (" T ", True), ("y", True), ("1", True),
     ("No", False), ("f", False), ("", False), ("0", False),
     ("maybe", None), (2, None), (0.5, None), ([], None), ("nan", None)],
)  # fmt: skip
def test_parse_bool(value, expected) -> None:
    assert parse_bool(value) is expected
