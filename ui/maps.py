"""The map: every restaurant as a light clustered background (past `BASE_MAX_PLACES`, the
density of places on a grid), plus the click's own layer.

Drawn by the app's own Leaflet component (`ui/leafmap/`: one HTML page and one script,
with Leaflet and Leaflet.markercluster copied from their xstatic packages), so the map
needs no CDN and works offline, and a click reaches Python at once (streamlit-folium
waited a fixed 250 ms after every click, and loaded four libraries from CDNs one after
another before the map could draw). Python sends plain data: the background rows as a
JSON file beside the component, fetched by the browser once per live load, and on every
rerun the pin, radius, numbered results and dots.
Every text in it goes through `fmt.map_text` (or `fmt.popup_html`) here, and nowhere else.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.components import v1 as components

from recsys import fileutil, limits
from recsys.config import DEFAULT_LAT, DEFAULT_LON
from recsys.errors import RecsysError
from recsys.serving.filters import Filters
from ui import fmt

ZOOM = 13
# From this zoom on (street level) every restaurant is its own dot: no cluster to miss.
UNCLUSTER_ZOOM = 15
CLUSTER_RADIUS = 45
# Background-row files kept beside the component (one per live load's contents).
ROWS_KEPT = 8
# Up to this many places the background draws each one (clustered by the browser: 20,000
# took 1.9 s to draw in headless Chromium here, 100,000 took 13 s with the page frozen
# for most of it, a million never finished). Past it, the background is the density of
# places on a grid (at most DENSITY_CELLS cells), drawn at once whatever the catalogue.
BASE_MAX_PLACES = 20_000
DENSITY_CELLS = 4_000
TILES = {
    "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    "attribution": '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>'
    " contributors",
}
# The component's own files, and the libraries it loads from beside them.
_FRONTEND = ("index.html", "leafmap.js")
_LIBRARIES = {
    "xstatic.pkg.leaflet": ("leaflet.js", "leaflet.css", "images"),
    "xstatic.pkg.leaflet_markercluster": ("leaflet.markercluster.js", "MarkerCluster.css"),
}


def _sources() -> dict[str, Path]:
    """Served file name -> where it comes from (found through the import system)."""
    own = resources.files("ui") / "leafmap"
    found = {name: Path(str(own / name)) for name in _FRONTEND}
    for module, names in _LIBRARIES.items():
        folder = Path(importlib.import_module(module).BASE_DIR)
        found.update({name: folder / name for name in names})
    return found


def _digest(sources: Mapping[str, Path]) -> str:
    h = hashlib.sha256()
    for name, path in sorted(sources.items()):
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for f in (f for f in files if f.is_file()):
            h.update(f"{name}/{f.relative_to(path) if path.is_dir() else ''}".encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def assemble(web: Path) -> Path:
    """The component's directory under `web`: our two files and the libraries, copied once.

    Named by the hash of its contents and built beside it, then renamed into place, so a
    crash leaves a temporary directory (removed by a later call, once ten minutes old)
    and never a half-copied one in use; directories of other contents are removed.
    """
    sources = _sources()
    target = web / f"leafmap-{_digest(sources)}"
    if not target.is_dir():
        web.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=web, prefix=".leafmap-"))
        for name, path in sources.items():
            if path.is_dir():
                shutil.copytree(path, tmp / name)
            else:
                shutil.copyfile(path, tmp / name)
        os.chmod(tmp, 0o755)
        try:
            os.rename(tmp, target)
        except OSError:  # another process put the same contents there first
            shutil.rmtree(tmp, ignore_errors=True)
    for old in web.glob("*leafmap-*"):
        # Another version's files; a temporary directory only once it is clearly dead
        # (another process may be copying into it right now).
        with contextlib.suppress(OSError):  # gone already: another process cleaned up
            stale = old.name.startswith("leafmap-") or time.time() - old.stat().st_mtime > 600
            if old != target and old.is_dir() and stale:
                shutil.rmtree(old, ignore_errors=True)
    return target


@functools.cache
def _served() -> tuple[Path, Callable[..., Any]]:
    """The component's directory and the declared component (once per process)."""
    from ui import state

    folder = assemble(state.settings().path("web"))
    return folder, components.declare_component("leafmap", path=str(folder))


def _publish_rows(rows: list[list[Any]]) -> str:
    """`rows` as a JSON file served beside the component, named by its contents; returns
    its URL relative to the component's page. The browser fetches it once per live load
    (and keeps it in its cache), so a click sends only the click's layer, whatever the
    size of the catalogue. The newest ROWS_KEPT files are kept, for other app processes."""
    folder, _ = _served()
    data = json.dumps(rows, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    name = f"rows-{hashlib.sha256(data).hexdigest()[:16]}.json"
    path = folder / "rows" / name
    if not path.exists():
        fileutil.atomic_write(path, lambda out: out.write(data), binary=True)
        path.chmod(0o644)
    with contextlib.suppress(OSError):  # os.utime: the newest files are the ones in use
        os.utime(path)
        older = sorted(path.parent.glob("rows-*.json"), key=lambda p: p.stat().st_mtime)
        for stale in older[:-ROWS_KEPT]:
            stale.unlink(missing_ok=True)
    return f"rows/{name}"


def base_rows(restaurants: pd.DataFrame) -> list[list[Any]]:
    """Every restaurant as [lat, lon, tooltip] for the background layer."""
    return [
        [float(r.lat), float(r.lon), fmt.map_text(r.name)]
        for r in restaurants[["lat", "lon", "name"]].itertuples(index=False)
    ]


def density_rows(restaurants: pd.DataFrame, cells: int = DENSITY_CELLS) -> list[list[Any]]:
    """The restaurants as a grid of at most `cells` cells, each [lat, lon, tooltip, count]
    at the mean position of its places: the finest grid (from ~500 m, doubling) that
    has no more cells than that."""
    points = restaurants[["lat", "lon"]].astype(float)
    size = 0.005  # degrees: ~550 m of latitude
    while True:
        grouped = points.groupby(
            [(points["lat"] // size).to_numpy(), (points["lon"] // size).to_numpy()]
        ).agg(lat=("lat", "mean"), lon=("lon", "mean"), count=("lat", "size"))
        if len(grouped) <= cells:
            break
        size *= 2
    return [
        [round(lat, 6), round(lon, 6), fmt.map_text(f"{count:,} places"), int(count)]
        for lat, lon, count in grouped[["lat", "lon", "count"]].itertuples(index=False)
    ]


def live_base(info: Mapping[str, Any]) -> dict[str, Any]:
    """The background layer of the live load `info` (from `state.live()`), built once per
    load (the browser fetches and draws it again only when its URL changes)."""
    return _cached_base(int(info["version"]), int(info["restaurants"]))


@st.cache_resource(max_entries=4, show_spinner=False)
def _cached_base(version: int, count: int) -> dict[str, Any]:
    # Keyed like the live tables: a retrain or an added restaurant builds a new one.
    from ui import state

    frame = state.restaurants({"version": version, "restaurants": count})
    dense = len(frame) > BASE_MAX_PLACES
    url = _publish_rows(density_rows(frame) if dense else base_rows(frame))
    return {
        "url": url,  # named by its contents: the browser redraws only when it changes
        "kind": "density" if dense else "places",
        "uncluster_zoom": UNCLUSTER_ZOOM,
        "cluster_radius": CLUSTER_RADIUS,
    }


def show(
    base: Mapping[str, Any],
    layer: Mapping[str, Any] | None,
    *,
    key: str,
    height: int,
    center: Sequence[float] = (DEFAULT_LAT, DEFAULT_LON),
    clickable: bool = True,
    on_change: Callable[[], None] | None = None,
) -> dict[str, Any] | None:
    """The map; returns `{"last_clicked": {"lat", "lng"}}` after a click (else None).
    With `clickable=False` a click only pans and zooms: it reruns nothing."""
    _, component = _served()
    return component(
        height=int(height),
        center=[float(center[0]), float(center[1])],
        zoom=ZOOM,
        tiles=TILES,
        base=dict(base),
        layer=dict(layer) if layer else None,
        clickable=bool(clickable),
        key=key,
        default=None,
        on_change=on_change,
    )


def clicked(value: Any) -> tuple[float, float] | None:
    """The point of the last click in what `show` returned, rounded to 6 decimals
    (~0.1 m), or None. The value comes from the browser, so it is checked like any
    input (the search centre's own rules, `Filters.validate`): a malformed click is
    named in one warning and ignored."""
    click = value.get("last_clicked") if isinstance(value, Mapping) else None
    if click is None:
        return None
    try:
        if not isinstance(click, Mapping) or click.get("lat") is None or click.get("lng") is None:
            raise RecsysError(f"{limits.echo(click)} is not a point with lat and lng.")
        point = Filters(lat=click["lat"], lon=click["lng"]).validate()
    except RecsysError as exc:
        st.warning(f"A map click was ignored: {exc}")
        return None
    return round(float(point.lat), 6), round(float(point.lon), 6)


def result_layer(
    location: tuple[float, float],
    radius_m: float | None,
    results: Sequence[Mapping[str, Any]],
    timed: bool = True,
) -> dict[str, Any]:
    """The chosen point (green dot), its search radius (green circle) and the numbered
    red recommendations with their tooltips and popups; `taste_layer` and
    `visits_layer` add dots to it."""
    return {
        "centre": [float(location[0]), float(location[1])],
        "radius": float(radius_m) if radius_m else None,
        "pin_tooltip": fmt.map_text(fmt.location(*location)),
        "results": [
            [
                float(result["lat"]),
                float(result["lon"]),
                fmt.map_text(result["rank"]),
                fmt.map_text(f"{result['rank']}. {result['name']}"),
                fmt.popup_html(result, timed),
            ]
            for result in results
        ],
        "points": [],
    }


# --- whose taste: the user's match score for every place, and where they have been ------

# Low -> high match: pale grey-blue to deep orange (readable on the light tiles).
_TASTE_RAMP = ("#c6d3e6", "#f3d9a4", "#f5a25d", "#e4572e", "#a4161a")


def taste_colour(score: float, low: float, high: float) -> str:
    """The ramp colour of `score` within [low, high] (the user's own range of scores)."""
    if high <= low:
        return _TASTE_RAMP[-1]
    step = (score - low) / (high - low) * (len(_TASTE_RAMP) - 1)
    return _TASTE_RAMP[int(min(max(step, 0), len(_TASTE_RAMP) - 1))]


def taste_layer(places: Sequence[Any], layer: dict[str, Any]) -> None:
    """Every place as a dot coloured by this user's match score (a taste map of the city)."""
    if not places:
        return
    values = [p.score for p in places]
    low, high = min(values), max(values)
    layer["points"].extend(
        [
            float(p.lat),
            float(p.lon),
            taste_colour(p.score, low, high),
            f"{fmt.map_text(p.name)} · match {p.score:.2f}",
            5,
            False,
        ]
        for p in reversed(places)  # best drawn last, on top
    )


def visits_layer(places: Sequence[Any], layer: dict[str, Any]) -> None:
    """The user's past visits as dark rings (drawn over the taste dots)."""
    layer["points"].extend(
        [float(p.lat), float(p.lon), "#1f2933", f"visited: {fmt.map_text(p.name)}", 7, True]
        for p in places
    )
