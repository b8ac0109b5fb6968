"""Folium maps: a cached base map (restaurants as a light clustered layer) plus a dynamic layer.

The base map is built and cached once per live index load; the location, radius and
numbered results go in a feature group that st_folium swaps in place, so a click
refreshes the markers without reloading Leaflet or re-rendering thousands of dots.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import folium
import pandas as pd
import streamlit as st
import streamlit_folium
from branca.element import Element, MacroElement
from folium.plugins import FastMarkerCluster
from jinja2 import Template

from recsys.config import DEFAULT_LAT, DEFAULT_LON
from ui import fmt

ZOOM = 13
# From this zoom on (street level) every restaurant is its own dot: no cluster to miss.
UNCLUSTER_ZOOM = 15
# Plain CSS for the numbered result markers (no icon-font plugin needed).
_NUMBER_STYLE = (
    "background:#d62728;color:#fff;border:2px solid #fff;border-radius:50%;"
    "width:26px;height:26px;line-height:22px;text-align:center;font:bold 12px sans-serif;"
    "box-shadow:0 1px 4px rgba(0,0,0,.5);"
)
# The chosen location: a green dot with a white ring (no icon-font plugin needed either).
_PIN_STYLE = (
    "background:#2ca02c;border:3px solid #fff;border-radius:50%;width:18px;height:18px;"
    "box-shadow:0 0 0 2px #2ca02c,0 1px 4px rgba(0,0,0,.5);"
)
# Background clusters: pale translucent discs with a small count, so the numbered red
# results stay the only strong colour on the map.
_CLUSTER_CSS = """<style>
.bg-cluster{background:rgba(84,112,198,.18);border:1px solid rgba(84,112,198,.45);
border-radius:50%;color:#2f3f7a;font:600 11px/1 sans-serif;display:flex;
align-items:center;justify-content:center}
</style>"""
_CLUSTER_ICON = """function (cluster) {
    var n = cluster.getChildCount();
    var size = n < 10 ? 24 : (n < 50 ? 30 : 36);
    return L.divIcon({html: String(n), className: 'bg-cluster', iconSize: L.point(size, size)});
}"""
# One background dot; its name (escaped by `fmt.map_text`, passed as JSON data) as the tooltip.
_DOT = """function (row) {
    return L.circleMarker([row[0], row[1]], {radius: 3.5, weight: 0, fillColor: '#5470c6',
        fillOpacity: 0.5}).bindTooltip(row[2]);
}"""


def base_map(restaurants: pd.DataFrame, center: tuple[float, float]) -> folium.Map:
    """San Francisco with every restaurant in a light, clustered background layer."""
    m = folium.Map(location=center, zoom_start=ZOOM, prefer_canvas=True, control_scale=True)
    m.get_root().header.add_child(Element(_CLUSTER_CSS), name="bg_cluster_css")
    rows = [
        [float(r.lat), float(r.lon), fmt.map_text(r.name)]
        for r in restaurants[["lat", "lon", "name"]].itertuples(index=False)
    ]
    FastMarkerCluster(
        rows,
        callback=_DOT,
        name="all restaurants",
        icon_create_function=_CLUSTER_ICON,
        disableClusteringAtZoom=UNCLUSTER_ZOOM,
        maxClusterRadius=45,
        showCoverageOnHover=False,
        spiderfyOnMaxZoom=False,
    ).add_to(m)
    return m


def live_base_map(info: Mapping[str, Any]) -> folium.Map:
    """The base map of the live load `info` (from `state.live()`), built once per load.

    Treat it as read-only and pass it to `show`: it is shared by every session.
    """
    return _cached_base_map(int(info["version"]), int(info["restaurants"]))


@st.cache_resource(max_entries=4, show_spinner=False)
def _cached_base_map(version: int, count: int) -> folium.Map:
    # Keyed like the live tables: a retrain or an added restaurant builds a new one.
    from ui import state

    frame = state.restaurants({"version": version, "restaurants": count})
    return base_map(frame, (DEFAULT_LAT, DEFAULT_LON))


def show(base: folium.Map, *, key: str, height: int, **kwargs: Any) -> dict[str, Any]:
    """`st_folium` on a copy of the shared base map.

    st_folium renames elements and adds `feature_group_to_add` to the map it is given,
    so a second call on the same object produces broken JavaScript; a deep copy (a few
    ms) keeps the cached map pristine and its element ids, hence the map script and
    the component, identical from one rerun to the next.
    """
    return streamlit_folium.st_folium(
        copy.deepcopy(base), key=key, height=height, use_container_width=True, **kwargs
    )


def result_layer(
    location: tuple[float, float],
    radius_m: float | None,
    results: Sequence[Mapping[str, Any]],
    timed: bool = True,
) -> folium.FeatureGroup:
    """The chosen point, its search radius and the numbered recommendations.

    Drawn by one `ResultsLayer` (one data array, one JavaScript loop) rather than a
    folium Marker + DivIcon + Tooltip + Popup per result: folium compiles a Jinja
    template for many of those on every render, which was most of a click's
    server time.
    """
    layer = folium.FeatureGroup(name="recommendations")
    ResultsLayer(
        centre=[float(location[0]), float(location[1])],
        radius_m=float(radius_m) if radius_m else None,
        pin=f'<div style="{_PIN_STYLE}"></div>',
        pin_tooltip=fmt.map_text(fmt.location(*location)),
        results=[
            [
                float(result["lat"]),
                float(result["lon"]),
                f'<div style="{_NUMBER_STYLE}">{fmt.map_text(result["rank"])}</div>',
                fmt.map_text(f"{result['rank']}. {result['name']}"),
                fmt.popup_html(result, timed),
            ]
            for result in results
        ],
    ).add_to(layer)
    return layer


class ResultsLayer(MacroElement):
    """The search centre (green dot), its radius (green circle) and the numbered red
    result markers with their tooltips and popups, from one data array.

    Every text in it went through `fmt.map_text` (tooltips) or `fmt.popup_html`, and the
    array goes through `tojson`, which is safe inside a script; Leaflet renders tooltip
    and popup strings as HTML, which the escaping keeps inert."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "(function () { var g = {{ this._parent.get_name() }};"
        " var d = {{ this.data|tojson }};"
        " if (d.radius) { L.circle(d.centre, {radius: d.radius, color: '#2ca02c', weight: 2,"
        " fill: true, fillOpacity: 0.06}).addTo(g); }"
        " L.marker(d.centre, {icon: L.divIcon({html: d.pin, iconSize: [18, 18],"
        " iconAnchor: [9, 9], className: 'empty'})})"
        ".bindTooltip(d.pin_tooltip, {sticky: true}).addTo(g);"
        " d.results.forEach(function (r) {"
        " L.marker([r[0], r[1]], {icon: L.divIcon({html: r[2], iconSize: [26, 26],"
        " iconAnchor: [13, 13], className: 'empty'})})"
        ".bindTooltip(r[3], {sticky: true}).bindPopup(r[4], {maxWidth: 260}).addTo(g); });"
        " })();"
        "{% endmacro %}"
    )

    def __init__(
        self,
        *,
        centre: list[float],
        radius_m: float | None,
        pin: str,
        pin_tooltip: str,
        results: list[list[Any]],
    ) -> None:
        super().__init__()
        self._name = "ResultsLayer"
        self.data = {
            "centre": centre,
            "radius": radius_m,
            "pin": pin,
            "pin_tooltip": pin_tooltip,
            "results": results,
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


def taste_layer(places: Sequence[Any], layer: folium.FeatureGroup) -> None:
    """Every place as a dot coloured by this user's match score (a taste map of the city)."""
    if not places:
        return
    values = [p.score for p in places]
    low, high = min(values), max(values)
    points = [
        [
            p.lat,
            p.lon,
            taste_colour(p.score, low, high),
            f"{fmt.map_text(p.name)} · match {p.score:.2f}",
            5,
        ]
        for p in reversed(places)  # best drawn last, on top
    ]
    layer.add_child(PointsLayer(points))


def visits_layer(places: Sequence[Any], layer: folium.FeatureGroup) -> None:
    """The user's past visits as dark rings."""
    points = [[p.lat, p.lon, "#1f2933", f"visited: {fmt.map_text(p.name)}", 7] for p in places]
    if points:
        layer.add_child(PointsLayer(points, ring=True))


class PointsLayer(MacroElement):
    """Many small circle markers drawn from one data array (one JS loop, not one folium
    object each). Each point is [lat, lon, colour, tooltip HTML (already escaped), radius];
    the array goes through `tojson`, which is safe inside a script."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "(function () { var pts = {{ this.points|tojson }};"
        " for (var i = 0; i < pts.length; i++) { var p = pts[i];"
        " L.circleMarker([p[0], p[1]], {radius: p[4], weight: {{ this.weight }},"
        " color: {{ this.stroke|tojson }}, fillColor: p[2], fillOpacity: {{ this.fill }}})"
        ".bindTooltip(p[3]).addTo({{ this._parent.get_name() }}); } })();"
        "{% endmacro %}"
    )

    def __init__(self, points: list[list[Any]], *, ring: bool = False) -> None:
        super().__init__()
        self._name = "PointsLayer"
        self.points = points
        self.weight = 3 if ring else 1
        self.stroke = "#1f2933" if ring else "#ffffff"
        self.fill = 0.0 if ring else 0.85
