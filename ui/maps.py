"""Folium maps: a stable base map (restaurants as light dots) plus a dynamic layer.

The base map is rendered once and kept by the browser; the location, radius and
numbered results go in a feature group that st_folium swaps in place, so a click
refreshes the markers without reloading Leaflet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import folium
import pandas as pd
from branca.element import MacroElement
from jinja2 import Template

from ui import fmt

ZOOM = 13
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


def base_map(restaurants: pd.DataFrame, center: tuple[float, float]) -> folium.Map:
    """San Francisco with every restaurant as a small grey dot (canvas-rendered)."""
    m = folium.Map(location=center, zoom_start=ZOOM, prefer_canvas=True, control_scale=True)
    background = folium.FeatureGroup(name="all restaurants")
    for row in restaurants.itertuples(index=False):
        folium.CircleMarker(
            location=(row.lat, row.lon),
            radius=3,
            weight=0,
            fill=True,
            fill_color="#5470c6",
            fill_opacity=0.45,
            tooltip=str(row.name),
        ).add_to(background)
    background.add_to(m)
    return m


def result_layer(
    location: tuple[float, float], radius_m: float | None, results: Sequence[Mapping[str, Any]]
) -> folium.FeatureGroup:
    """The chosen point, its search radius and the numbered recommendations."""
    layer = folium.FeatureGroup(name="recommendations")
    if radius_m:
        folium.Circle(
            location=location,
            radius=radius_m,
            color="#2ca02c",
            weight=2,
            fill=True,
            fill_opacity=0.06,
        ).add_to(layer)
    pin = folium.DivIcon(
        html=f'<div style="{_PIN_STYLE}"></div>', icon_size=(18, 18), icon_anchor=(9, 9)
    )
    folium.Marker(location=location, tooltip=fmt.location(*location), icon=pin).add_to(layer)
    for result in results:
        numbered(result).add_to(layer)
    return layer


def numbered(result: Mapping[str, Any]) -> folium.Marker:
    """A red marker showing the result's rank, with the popup of its details."""
    icon = folium.DivIcon(
        html=f'<div style="{_NUMBER_STYLE}">{result["rank"]}</div>',
        icon_size=(26, 26),
        icon_anchor=(13, 13),
    )
    return folium.Marker(
        location=(result["lat"], result["lon"]),
        icon=icon,
        tooltip=f"{result['rank']}. {result['name']}",
    ).add_child(StringPopup(fmt.popup_html(result)))


class StringPopup(MacroElement):
    """A popup bound from an HTML string: folium.Popup needs jQuery, this needs nothing."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "{{ this._parent.get_name() }}.bindPopup({{ this.html|tojson }}, {maxWidth: 260});"
        "{% endmacro %}"
    )

    def __init__(self, html: str) -> None:
        super().__init__()
        self._name = "StringPopup"
        self.html = html
