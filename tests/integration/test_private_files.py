"""The embedded Redis keeps its files private, and a port that never answers fails
with one clear sentence (loopback only)."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest

from recsys.config import Settings
from recsys.errors import RecsysError
from recsys.serving import server


def _modes(directory: Path) -> dict[str, int]:
    paths = [directory, *directory.rglob("*")]
    return {str(p.relative_to(directory)): stat.S_IMODE(p.stat().st_mode) for p in paths}


def _assert_private(directory: Path) -> None:
    modes = _modes(directory)
    for name, mode in modes.items():
        is_dir = (directory / name).is_dir()
        assert mode == (0o700 if is_dir else 0o600), (name, oct(mode))
    names = set(modes)
    assert {"redis.log", "redis.pid", "password", "redis.conf", "port"} <= names, names
    assert any(name.startswith("appendonlydir/") for name in names), names


def test_the_session_server_files_are_private(redis_server) -> None:
    _assert_private(redis_server.settings.data_dir / "redis")


def test_files_of_an_older_run_are_made_private_on_start(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    directory = tmp_path / "data" / "redis"
    (directory / "appendonlydir").mkdir(parents=True, mode=0o755)
    directory.chmod(0o755)
    (directory / "redis.log").write_text("an older run's log\n")
    (directory / "redis.log").chmod(0o644)
    try:
        server.connect(settings, start=True)
        _assert_private(directory)
    finally:
        server.stop_embedded(settings)


def test_a_new_data_directory_is_private(tmp_path: Path) -> None:
    Settings(data_dir=tmp_path / "fresh").path("model")
    assert stat.S_IMODE((tmp_path / "fresh").stat().st_mode) == 0o700


def test_a_port_that_never_answers_fails_with_one_sentence(tmp_path: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # never accepts, never answers
        port = silent.getsockname()[1]
        settings = Settings(data_dir=tmp_path, redis_url=f"redis://:secret@127.0.0.1:{port}")
        with pytest.raises(RecsysError) as caught:
            server.connect(settings)
        assert server.status(settings)["error"] == str(caught.value)
    message = str(caught.value)
    assert f"127.0.0.1:{port} did not answer within" in message, message
    assert "secret" not in message and "\n" not in message
