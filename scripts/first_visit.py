"""Where a first visit's time goes (docs/browser-testing.md, "Timings seen").

Usage: .venv/bin/python -m scripts.first_visit [VISITS] [--map-only]   (from the repository root)

Starts the app as `make run` does (`python -m ui.serve`, warm-up included) on a free
loopback port, on the data directory and Redis of the environment (`RECSYS_DATA_DIR`,
`REDIS_URL`; run `python -m recsys prepare` first), waits for its warm-up, then opens
the default page VISITS times (default 4), each in a new browser context (an empty
cache, as for a first visit), in headless Chromium with the internet cut off as in the
browser tests. For each visit it prints, in ms from the start of navigation: the
page's JavaScript parsed (DOMContentLoaded), the websocket's first and last message of
the script run, the widget code fetched on demand (first request, last response, file
count), the moment the map's iframe, the first selectbox and the results table enter
the page, and the map usable (as `tests/e2e/test_browser.py` measures it). With `--map-only` the
server runs `scripts/map_only_page.py` instead of the app: the sidebar and the map alone,
the floor of the first screen.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from recsys import cli

CHROMIUM = os.environ.get("RECSYS_CHROMIUM", "/usr/bin/chromium")
MAP_IFRAME = 'iframe[title="ui.maps.leafmap"]'
WARM_UP_S = 8.0  # `ui.serve` runs the page once as soon as it listens

# Recorded in the page from its first script on: when each kind of element first
# appears, and the websocket's first and last messages.
MARKS_JS = """
window.__marks = {};
const mark = (k) => { if (!(k in window.__marks)) window.__marks[k] = performance.now(); };
const seen = {
  'map iframe': 'MAP_IFRAME', 'selectbox': '[data-testid="stSelectbox"]',
  'results table': '[data-testid="stDataFrame"]', 'sidebar': '[data-testid="stSidebar"]',
};
// Cheap, so as not to slow the page it times: only the elements not yet seen are looked
// for, once per animation frame at most, and the observer stops when all are found.
let queued = false;
const look = (observer) => {
  queued = false;
  for (const [k, sel] of Object.entries(seen)) {
    if (document.querySelector(sel)) { mark(k); delete seen[k]; }
  }
  if (!Object.keys(seen).length) observer.disconnect();
};
document.addEventListener('DOMContentLoaded', () => {
  const observer = new MutationObserver(() => {
    if (!queued) { queued = true; requestAnimationFrame(() => look(observer)); }
  });
  observer.observe(document.body, {subtree: true, childList: true});
});
const Socket = window.WebSocket;
window.WebSocket = function (...args) {
  const ws = new Socket(...args);
  ws.addEventListener('message', () => {
    mark('first message');
    window.__marks['last message'] = performance.now();
  });
  return ws;
};
window.WebSocket.prototype = Socket.prototype;
""".replace("MAP_IFRAME", MAP_IFRAME.replace("'", "\\'"))

MAP_USABLE_JS = """(sel) => { const f = document.querySelector(sel);
  const map = f && f.contentDocument && f.contentDocument.querySelector('.leaflet-pane');
  return map && f.getBoundingClientRect().height > 0 && performance.now(); }"""

TIMELINE_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const lazy = performance.getEntriesByType('resource')
    .filter((e) => e.name.includes('/static/js/') && e.startTime > nav.domContentLoadedEventEnd);
  return Object.assign({}, window.__marks, {
    'JavaScript parsed': nav.domContentLoadedEventEnd,
    'widget code: first request': Math.min(...lazy.map((e) => e.startTime)),
    'widget code: last response': Math.max(...lazy.map((e) => e.responseEnd)),
    'widget code files': lazy.length,
  });
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


MAP_ONLY = Path(__file__).with_name("map_only_page.py")


def start_app(port: int, page: Path | None = None) -> subprocess.Popen[bytes]:
    """`python -m ui.serve` on `port` (with `page`: the same launcher, that page)."""
    cmd = [sys.executable, "-m", "ui.serve", "--server.headless", "true"]
    if page is not None:
        launch = f"import sys; from ui import serve; sys.exit(serve.main(app={str(page)!r}))"
        cmd = [sys.executable, "-c", launch, "--server.headless", "true"]
    cmd += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    cmd += ["--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                time.sleep(WARM_UP_S)
                return proc
        except OSError:
            time.sleep(0.2)  # a server that is starting
    os.killpg(proc.pid, signal.SIGTERM)
    raise SystemExit("the app did not answer within 90 s")


def offline(route, request) -> None:
    if request.url.startswith("http://127.0.0.1"):
        route.continue_()
    else:
        route.abort()


def parse(argv: list[str]) -> argparse.Namespace:
    """The command line, checked before anything starts (one sentence on a bad value)."""
    parser = argparse.ArgumentParser(prog="python -m scripts.first_visit", description=__doc__)
    parser.add_argument(
        "visits", nargs="?", default=4, type=cli._whole_number("visits", 1, 50),
        help="first visits to time, 1-50 (default 4)",
    )  # fmt: skip
    parser.add_argument("--map-only", action="store_true", help="the sidebar and the map alone")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    page, visits = (MAP_ONLY if args.map_only else None), args.visits
    port = free_port()
    proc = start_app(port, page)
    usable: list[float] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            for visit in range(visits):
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                context.add_init_script(MARKS_JS)
                context.route("**/*", offline)
                page = context.new_page()
                page.goto(f"http://127.0.0.1:{port}")
                handle = page.wait_for_function(MAP_USABLE_JS, arg=MAP_IFRAME, timeout=60_000)
                usable.append(handle.json_value())
                page.wait_for_timeout(1500)  # the rest of the page, for its marks
                marks = page.evaluate(TIMELINE_JS)
                files = marks.pop("widget code files")
                marks["map usable"] = usable[-1]
                print(f"visit {visit + 1}:")
                for name, at in sorted(marks.items(), key=lambda kv: kv[1]):
                    extra = f" ({files} files)" if name.startswith("widget code: last") else ""
                    print(f"  {at:7.0f} ms  {name}{extra}")
                context.close()
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
    print(f"map usable: median {statistics.median(usable) / 1000:.2f} s over {visits} visits")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
