"""The map component's files: what the browser loads, all served by the app."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from ui import maps


def test_the_component_directory_holds_the_page_its_script_and_leaflet(tmp_path: Path) -> None:
    web = tmp_path / "web"
    folder = maps.assemble(web)
    assert folder.parent == web and folder.name.startswith("leafmap-")
    html = (folder / "index.html").read_text(encoding="utf-8")
    # Every file the page asks for is there, and nothing is asked of another host.
    wanted = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sorted(wanted) == sorted(
        ["leaflet.css", "MarkerCluster.css", "leaflet.js", "leaflet.markercluster.js", "leafmap.js"]
    )
    for name in wanted:
        assert (folder / name).is_file(), name
    assert (folder / "images" / "marker-icon.png").is_file()  # leaflet.css refers to it
    assert "http" not in html.replace("<!doctype html>", "")
    assert "L.map(" in (folder / "leafmap.js").read_text(encoding="utf-8")


def test_assembling_again_reuses_the_directory_and_removes_leftovers(tmp_path: Path) -> None:
    web = tmp_path / "web"
    folder = maps.assemble(web)
    stamp = (folder / "leaflet.js").stat().st_mtime_ns
    stale = web / "leafmap-000000000000"  # files of an older version of the component
    stale.mkdir()
    dead = web / ".leafmap-abc123"  # the temporary directory of a process killed mid-copy
    dead.mkdir()
    (dead / "leaflet.js").write_text("half", encoding="utf-8")
    busy = web / ".leafmap-def456"  # another process copying right now
    busy.mkdir()
    old = time.time() - 3600
    os.utime(dead, (old, old))
    assert maps.assemble(web) == folder
    assert (folder / "leaflet.js").stat().st_mtime_ns == stamp  # not copied again
    assert sorted(p.name for p in web.iterdir()) == sorted([folder.name, busy.name])


def test_the_component_changes_directory_when_its_files_change(tmp_path, monkeypatch) -> None:
    first = maps.assemble(tmp_path)
    own = tmp_path / "own.js"
    own.write_text("// another version", encoding="utf-8")
    sources = {**maps._sources(), "leafmap.js": own}
    monkeypatch.setattr(maps, "_sources", lambda: sources)
    second = maps.assemble(tmp_path)
    assert second != first and not first.exists()
    assert (second / "leafmap.js").read_text(encoding="utf-8") == "// another version"


def test_background_rows_are_a_file_named_by_their_contents(tmp_path, monkeypatch) -> None:
    folder = maps.assemble(tmp_path)
    monkeypatch.setattr(maps, "_served", lambda: (folder, None))
    rows = [[37.7, -122.4, "A &amp; B"], [37.8, -122.5, "&lt;b&gt;"]]
    url = maps._publish_rows(rows)
    assert url.startswith("rows/rows-") and url.endswith(".json")
    assert json.loads((folder / url).read_text(encoding="utf-8")) == rows
    assert maps._publish_rows([list(r) for r in rows]) == url  # same contents, same file
    others = [maps._publish_rows([[37.0, -122.0, f"place {i}"]]) for i in range(maps.ROWS_KEPT)]
    assert len(set(others)) == maps.ROWS_KEPT and url not in others
    kept = sorted(f"rows/{p.name}" for p in (folder / "rows").iterdir())
    assert kept == sorted(others)  # the oldest file went once ROWS_KEPT newer ones came


@pytest.mark.parametrize(
    "value",
    [
        {"last_clicked": {"lat": "37.7", "lng": -122.4}},  # text, not a number
        {"last_clicked": {"lat": float("nan"), "lng": -122.4}},
        {"last_clicked": {"lat": 1e308, "lng": -122.4}},
        {"last_clicked": {"lat": 37.7, "lng": 500}},
        {"last_clicked": {"lat": 37.7}},
        {"last_clicked": [37.7, -122.4]},
        {"last_clicked": {"lat": True, "lng": -122.4}},
    ],
)
def test_a_malformed_map_click_is_named_and_ignored(value, monkeypatch) -> None:
    # A click comes from the browser: whatever a client sends is input to check.
    said = []
    monkeypatch.setattr(maps.st, "warning", said.append)
    assert maps.clicked(value) is None
    assert len(said) == 1 and said[0].startswith("A map click was ignored: ")


def test_a_click_is_a_rounded_point_and_no_click_is_none(monkeypatch) -> None:
    monkeypatch.setattr(maps.st, "warning", lambda text: pytest.fail(text))
    assert maps.clicked({"last_clicked": {"lat": 37.7749123456, "lng": -122.4194}}) == (
        37.774912,
        -122.4194,
    )
    for value in (None, {}, {"last_clicked": None}, "text"):
        assert maps.clicked(value) is None


def test_a_large_catalogue_is_drawn_as_the_density_of_its_places() -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 30_000
    frame = pd.DataFrame(
        {
            "lat": 37.2 + rng.random(n) * 0.8,
            "lon": -122.6 + rng.random(n) * 0.9,
            "name": [f"<b>{i}</b>" for i in range(n)],
        }
    )
    rows = maps.density_rows(frame, cells=500)
    assert 100 < len(rows) <= 500  # the finest grid within the limit, not one big cell
    assert sum(r[3] for r in rows) == n  # every place is in one cell
    for lat, lon, tooltip, count in rows:
        assert 37.2 <= lat <= 38.0 and -122.6 <= lon <= -121.7
        assert tooltip == f"{count:,} places"
    # A dense spot keeps its count: 2,000 places within ~100 m are one heavy cell.
    spot = pd.DataFrame(
        {"lat": 37.7749 + rng.random(2000) * 1e-3, "lon": -122.4194 + 0 * rng.random(2000)}
    )
    heavy = maps.density_rows(pd.concat([frame[["lat", "lon"]], spot]), cells=500)
    assert max(r[3] for r in heavy) >= 2000
