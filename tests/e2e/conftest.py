"""Browser-test harness: the real app in a subprocess, driven by headless Chromium.

The app runs against the test Redis (session fixture `redis_server` from
tests/conftest.py) under its own data directory and namespace, after one
`python -m recsys prepare`. The browser is Debian's Chromium, with no internet:
map tiles get a blank image and any other request that leaves localhost is aborted
and noted (the app serves its map's libraries itself; docs/browser-testing.md).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("RECSYS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
APP_START_TIMEOUT_S = 90.0
# Generous on purpose: 2 cores shared with training runs can make one rerun take many
# seconds. Every wait is for a state (never a sleep), so a quiet machine is not slowed.
EXPECT_TIMEOUT_MS = 90_000
# Every URL that is not the app itself: CDNs (Leaflet, jQuery, Bootstrap) and tiles.
EXTERNAL = re.compile(r"^https?://(?!127\.0\.0\.1[:/]|localhost[:/])")
# 1x1 transparent PNG for map tiles.
BLANK_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000005000100"
    "0d0a2db40000000049454e44ae426082"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test here `e2e`; skip them only off CI when Chromium is missing."""
    here = Path(__file__).parent
    missing = not Path(CHROMIUM).exists() and not os.environ.get("CI")
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (install Debian's chromium)")
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
            if missing:
                item.add_marker(skip)


def _redis_url(server: object) -> str:
    """The URL of the test Redis, whatever shape the shared fixture yields."""
    if isinstance(server, str):
        return server
    for attr in ("url", "redis_url"):
        value = getattr(server, attr, None)
        if isinstance(value, str):
            return value
    raise TypeError(f"cannot find a Redis URL on {server!r}")


@pytest.fixture(scope="session")
def app_env(redis_server: object, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for the app and the CLI: test Redis, own data dir and namespace."""
    home = tmp_path_factory.mktemp("e2e")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECSYS_")}
    env.update(
        REDIS_URL=_redis_url(redis_server),
        RECSYS_DATA_DIR=str(home / "data"),
        RECSYS_NAMESPACE=f"e2e-{uuid.uuid4().hex[:8]}",
        RECSYS_DATA_URL="none",  # the deterministic generated San Francisco data set
        # A small, quick model: the browser tests check the UI, not the model.
        RECSYS_E2E_EPOCHS=os.environ.get("RECSYS_E2E_EPOCHS", "3"),
        XDG_CONFIG_HOME=str(home / "xdg-config"),
        XDG_CACHE_HOME=str(home / "xdg-cache"),
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture(scope="session")
def prepared(app_env: dict[str, str]) -> dict[str, str]:
    """Run `python -m recsys train --epochs N` once: data, users, a small model, index."""
    proc = subprocess.run(
        [sys.executable, "-m", "recsys", "train", "--epochs", app_env["RECSYS_E2E_EPOCHS"]],
        cwd=ROOT,
        env=app_env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if proc.returncode != 0:
        pytest.fail(f"recsys prepare failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return app_env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + APP_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.2)  # polling a server that is starting; not a test wait
    pytest.fail(f"streamlit did not become healthy in {APP_START_TIMEOUT_S:.0f} s")


@pytest.fixture(scope="session")
def app_url(prepared: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The running app's base URL; the whole process group is killed at the end."""
    with running_app(prepared, tmp_path_factory) as url:
        yield url


@pytest.fixture
def second_app_url(prepared: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    """A second app process on the same Redis, namespace and data (like a second replica)."""
    with running_app(prepared, tmp_path_factory) as url:
        yield url


@contextlib.contextmanager
def running_app(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start the app as `make run` does (`python -m ui.serve`: `streamlit run app.py` with
    its imports warmed up) on a free loopback port; stop its process group after."""
    port = _free_port()
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    cmd = [sys.executable, "-m", "ui.serve", "--server.headless", "true"]
    cmd += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    cmd += ["--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        with_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with_group(proc, signal.SIGKILL)
            proc.wait(timeout=15)


def with_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Send `sig` to the process group the app leads (it was started in its own session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


# External requests the app made other than map tiles: the map must need none (its
# libraries are served by the app), so a test can check this stays empty.
EXTERNAL_ASKED: list[str] = []


def _route_offline(route, request) -> None:
    """No internet here: map tiles get a blank image, anything else is aborted (and noted)."""
    if request.resource_type == "image":
        route.fulfill(status=200, content_type="image/png", body=BLANK_PNG)
    else:
        EXTERNAL_ASKED.append(f"{request.resource_type} {request.url}")
        route.abort()


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Debian's headless Chromium through Playwright (no `playwright install`)."""
    from playwright.sync_api import sync_playwright

    home = tmp_path_factory.mktemp("chromium")
    os.environ.setdefault("XDG_CONFIG_HOME", str(home / "config"))
    os.environ.setdefault("XDG_CACHE_HOME", str(home / "cache"))
    if not shutil.which(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's chromium package")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, app_url: str) -> Iterator[object]:
    """`open_page(width=1280, height=800, url=app_url)`: a fresh page (own context, offline
    routing) with the app loaded; every context is closed at the end of the test."""
    contexts = []

    def _open(width: int = 1280, height: int = 800, url: str = app_url):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        context.route(EXTERNAL, _route_offline)
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        expect.set_options(timeout=EXPECT_TIMEOUT_MS)
        page = context.new_page()
        # Script errors (also those inside the map iframe) explain a map that never shows.
        page.on("pageerror", lambda error: print(f"page error: {error}"))
        page.goto(url)
        return page

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture
def external_asked() -> list[str]:
    """The external requests (other than map tiles) every page made so far, in order."""
    return EXTERNAL_ASKED


@pytest.fixture
def page(open_page) -> object:
    """A fresh 1280x800 browser page with the app loaded."""
    return open_page()
