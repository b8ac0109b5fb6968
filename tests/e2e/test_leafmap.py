"""The map component on its own in the browser: the background of a large catalogue.

The component's page (`ui/leafmap/`, assembled by `ui.maps.assemble`) is served by a
plain HTTP server and opened top-level, so the test itself plays Streamlit's part: it
posts the render message the app would send (a top-level page is its own parent).
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ui import maps


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def component_url(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(URL of the component's page, its folder), served from 127.0.0.1."""
    folder = maps.assemble(tmp_path / "web")
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html", folder
    finally:
        server.shutdown()
        server.server_close()


def _render(page, base: dict) -> None:
    page.evaluate(
        """(base) => window.postMessage({type: 'streamlit:render', args: {
             height: 400, center: [37.77, -122.42], zoom: 11, clickable: true,
             tiles: {url: 'http://127.0.0.1:9/{z}/{x}/{y}.png', attribution: ''},
             base: base, layer: null}}, '*')""",
        base,
    )


@pytest.mark.parametrize("dense", [True, False], ids=["density", "places"])
def test_the_background_draws_each_place_or_the_density_of_many(browser, component_url, dense):
    url, folder = component_url
    rng = np.random.default_rng(0)
    n = 30_000 if dense else 300
    frame = pd.DataFrame(
        {
            "lat": 37.2 + rng.random(n) * 0.8,
            "lon": -122.6 + rng.random(n) * 0.9,
            "name": [f"Place <i>{i}</i>" for i in range(n)],
        }
    )
    rows = maps.density_rows(frame) if dense else maps.base_rows(frame)
    name = "rows/test.json"
    (folder / "rows").mkdir(exist_ok=True)
    (folder / name).write_text(pd.io.json.ujson_dumps(rows), encoding="utf-8")
    context = browser.new_context(viewport={"width": 800, "height": 500})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        kind = "density" if dense else "places"
        _render(page, {"url": name, "kind": kind, "uncluster_zoom": 15, "cluster_radius": 45})
        page.wait_for_function(
            "(n) => window.leafmap && window.leafmap.base"
            " && window.leafmap.base.getLayers().length === n",
            arg=len(rows),
            timeout=60_000,
        )
        clustered = page.evaluate("() => window.leafmap.base instanceof L.MarkerClusterGroup")
        assert clustered is not dense  # many places: one dot per cell, no clustering
        tooltips = page.evaluate(
            "() => window.leafmap.base.getLayers().map((m) => m.getTooltip().getContent())"
        )
        assert sorted(tooltips) == sorted(r[2] for r in rows)  # as Python escaped them
        if dense:
            assert len(rows) <= maps.DENSITY_CELLS and sum(r[3] for r in rows) == n
        assert errors == []
    finally:
        context.close()
