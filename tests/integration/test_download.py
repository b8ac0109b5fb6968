"""Downloading the article's file from a real local HTTP server: keep it only when valid."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from recsys.config import Settings
from recsys.data import sources, synth
from recsys.progress import Progress

QUIRKS = Path(__file__).resolve().parents[1] / "fixtures" / "restaurants_quirks.json"
GOOD = QUIRKS.read_bytes()
BAD_RECORD = json.dumps({"restaurants": [{"name": "Foo", "latitude": 1, "longitude": 2}]})

# path -> (status, body, Content-Length to announce); the body may be shorter (truncated).
ROUTES: dict[str, tuple[int, bytes, int]] = {
    "/ok.json": (200, GOOD, len(GOOD)),
    "/missing.json": (404, b"Not Found", 9),
    "/truncated.json": (200, GOOD[:2000], len(GOOD)),
    "/garbage.json": (200, b"<html>not json</html>", 21),
    "/no-list.json": (200, b'{"restaurant_count": 3}', 23),
    "/bad-record.json": (200, BAD_RECORD.encode(), len(BAD_RECORD)),
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        status, body, length = ROUTES.get(self.path, (404, b"", 0))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)  # HTTP/1.0: the connection closes after this

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.hits = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def generated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated data set for the module, copied into each test's data dir (it is slow)."""
    own = Settings(data_dir=tmp_path_factory.mktemp("generated"))
    document = synth.generate_restaurants()
    path = sources.generated_path(own)
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def data_settings(tmp_path: Path, generated_cache: Path) -> Settings:
    own = Settings(data_dir=tmp_path)
    shutil.copy(generated_cache, sources.generated_path(own))
    return own


def _url(server: ThreadingHTTPServer, path: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def _cached(settings: Settings) -> Path:
    return settings.data_dir / "restaurants" / sources.FILE_NAME


def test_download_is_cached_and_reused_without_the_server(
    data_settings: Settings, http_server: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(sources.DATA_URL_ENV, _url(http_server, "/ok.json"))
    events: list[Progress] = []
    first = sources.load_restaurants(data_settings, progress=events.append)
    assert first.source == "download"
    assert first.path == _cached(data_settings) and first.path.read_bytes() == GOOD
    assert first.description == (
        f"Downloaded article data set (7 restaurants), cached at {_cached(data_settings)}."
    )
    assert events and events[-1].stage == "download" and events[-1].fraction == 1.0
    assert http_server.hits == ["/ok.json"]

    http_server.shutdown()  # the second load needs no network at all
    second = sources.load_restaurants(data_settings)
    assert second.source == "download" and list(second.frame["id"]) == list(first.frame["id"])
    assert http_server.hits == ["/ok.json"]
    assert not list(_cached(data_settings).parent.glob("*.part"))


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/missing.json", "answered HTTP 404"),
        ("/truncated.json", "the download was cut short (2000 of"),
        ("/garbage.json", "is not valid JSON"),
        ("/no-list.json", "is not a JSON object with a 'restaurants' list"),
        ("/bad-record.json", "restaurant #1 ('Foo'): price None is not a number 1-4"),
    ],
)
def test_bad_download_is_never_cached(
    data_settings: Settings,
    http_server: ThreadingHTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    reason: str,
) -> None:
    monkeypatch.setenv(sources.DATA_URL_ENV, _url(http_server, path))
    loaded = sources.load_restaurants(data_settings)
    assert loaded.source == "generated"
    assert len(loaded.frame) == 220
    assert loaded.description.startswith(
        "Generated San Francisco data set (220 restaurants, seed 0)"
    )
    assert "the article's file could not be downloaded" in loaded.description
    assert reason in loaded.description
    assert not _cached(data_settings).exists()
    assert not list(_cached(data_settings).parent.glob("*.part"))  # no temporary file left behind
    assert http_server.hits == [path]


def test_truncated_body_with_short_read_is_detected(tmp_path: Path) -> None:
    """A server that closes the connection before its announced Content-Length."""

    class _Out:
        def __init__(self) -> None:
            self.size = 0

        def write(self, chunk: bytes) -> None:
            self.size += len(chunk)

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 100)
            conn.close()

        threading.Thread(target=serve, daemon=True).start()
        with pytest.raises(sources.DownloadError, match=r"cut short \(100 of 5000 bytes\)"):
            sources.download(f"http://127.0.0.1:{port}/f.json", tmp_path / "f.json")
    assert not (tmp_path / "f.json").exists()


def test_unreachable_server_falls_back_quickly(
    data_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(sources.DATA_URL_ENV, f"http://127.0.0.1:{port}/ok.json")
    loaded = sources.load_restaurants(data_settings)
    assert loaded.source == "generated" and "could not be reached" in loaded.description


def test_broken_cache_is_dropped_and_downloaded_again(
    data_settings: Settings, http_server: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cached(data_settings).write_text('{"restaurants": [')
    monkeypatch.setenv(sources.DATA_URL_ENV, _url(http_server, "/ok.json"))
    loaded = sources.load_restaurants(data_settings)
    assert loaded.source == "download" and _cached(data_settings).read_bytes() == GOOD

    _cached(data_settings).write_text('{"restaurants": [')
    monkeypatch.setenv(sources.DATA_URL_ENV, _url(http_server, "/missing.json"))
    fallback = sources.load_restaurants(data_settings)
    assert fallback.source == "generated"
    assert "the cached download was unusable and was removed" in fallback.description
    assert "HTTP 404" in fallback.description
    assert not _cached(data_settings).exists()


def test_user_file_beats_the_cache(
    data_settings: Settings, http_server: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(sources.DATA_URL_ENV, _url(http_server, "/ok.json"))
    sources.load_restaurants(data_settings)
    own = data_settings.data_dir / "mine.json"
    document = json.loads(GOOD)
    document["restaurants"] = document["restaurants"][:2]
    own.write_text(json.dumps(document))
    loaded = sources.load_restaurants(data_settings, path=own)
    assert loaded.source == "file" and len(loaded.frame) == 2
