"""How values look on screen: prices as $–$$$$, distances, opening, match scores."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from html import escape
from typing import Any

import pandas as pd

from recsys.config import TIMEZONE

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


# Beyond HTML's own: characters that would end or interpolate a JavaScript template
# literal (`...${...}...`), as HTML character references. The map component receives
# its labels as JSON data, where they are inert; this keeps them inert anywhere a label
# is pasted into script too.
_JS_TEMPLATE = str.maketrans({"`": "&#96;", "$": "&#36;", "\\": "&#92;"})


def map_text(value: Any) -> str:
    """`value` as HTML text that shows literally on the map: the one escape for every
    tooltip, popup and label handed to the map (Leaflet renders them as HTML).

    `<`, `>`, `&` and quotes become entities, so no tag or attribute can be opened; the
    backtick, `$` and backslash become entities too, so that a label pasted into a
    JavaScript template literal can neither end it nor run `${...}`.
    """
    return escape(str(value), quote=True).translate(_JS_TEMPLATE)


def price(level: Any) -> str:
    """1-4 as "$".."$$$$"; anything else as an em dash."""
    try:
        return "$" * int(level) if 1 <= int(level) <= 4 else "—"
    except (TypeError, ValueError):
        return "—"


def distance(metres: Any) -> str:
    """ "350 m" below a kilometre, "1.2 km" above."""
    if metres is None or pd.isna(metres):
        return "—"
    return f"{metres:.0f} m" if metres < 1000 else f"{metres / 1000:.1f} km"


def opening(result: Mapping[str, Any], timed: bool = True) -> str:
    """ "open until 22:00", "closed then", "open" or "hours unknown" for one result.

    Args:
        timed: whether an "open at" time was asked for; without one there is nothing
            to say ("—"), whatever the hours.
    """
    if not timed:
        return "—"
    state = result.get("open_at")
    if state is None:
        return "hours unknown"
    if not state:
        return "closed then"
    until = result.get("closes_at")
    return f"open until {until}" if until else "open"


def cuisines(values: Iterable[str] | None) -> str:
    return ", ".join(values or []) or "—"


def location(lat: float, lon: float) -> str:
    """The location line shown under the map, e.g. "📍 37.7790, -122.4390"."""
    return f"📍 {lat:.4f}, {lon:.4f}"


def sf_now_label(now: datetime | None = None) -> str:
    """ "Now in San Francisco: Sat 09:12"."""
    now = (now or datetime.now(TIMEZONE)).astimezone(TIMEZONE)
    return f"Now in San Francisco: {DAY_NAMES[now.weekday()]} {now:%H:%M}"


def results_table(results: list[Mapping[str, Any]], timed: bool = True) -> pd.DataFrame:
    """Ranked results as the table under the map (same fields as the popups)."""
    rows = [
        {
            "#": r["rank"],
            "name": r["name"],
            "cuisines": cuisines(r.get("cuisine")),
            "price": price(r.get("price")),
            "rating": r.get("rating"),
            "distance_m": _metres(r.get("distance_m")),
            "open": opening(r, timed),
            "match": r.get("score"),
            "why": r.get("why"),
            "address": r.get("address"),
        }
        for r in results
    ]
    columns = ["#", "name", "cuisines", "price", "rating", "distance_m", "open", "match"]
    if any(r.get("why") for r in results):  # explained (the "Why these places" toggle)
        columns.append("why")
    return pd.DataFrame(rows, columns=[*columns, "address"])


def _metres(value: Any) -> int | None:
    return None if value is None else round(float(value))


def popup_html(result: Mapping[str, Any], timed: bool = True) -> str:
    """The popup of a numbered result marker (every value through `map_text`)."""
    score = result.get("score")
    return (
        f"<b>{map_text(result['rank'])}. {map_text(result['name'])}</b><br>"
        f"{map_text(cuisines(result.get('cuisine')))}<br>"
        f"{map_text(price(result.get('price')))} · ★ {map_text(result.get('rating', '—'))} · "
        f"{map_text(distance(result.get('distance_m')))}"
        + (f"<br>{map_text(opening(result))}" if timed else "")
        + (f"<br>match {score:.2f}" if isinstance(score, (int, float)) else "")
        + (f"<br><i>why:</i> {map_text(result['why'])}" if result.get("why") else "")
    )


def filters_summary(filters: Any, found: int) -> str:
    """One line saying what the results were filtered by, e.g. "7 results · Pizza · …"."""
    parts = [f"{found} result{'s' if found != 1 else ''}"]
    if filters.cuisines:
        parts.append(", ".join(filters.cuisines))
    low, high = filters.min_price or 1, filters.max_price or 4
    if (low, high) != (1, 4):
        parts.append(price(low) if low == high else f"{price(low)}–{price(high)}")
    if filters.min_rating:
        parts.append(f"★ ≥ {filters.min_rating:g}")
    at = filters.at
    if isinstance(at, datetime):
        at = at.astimezone(TIMEZONE)
        parts.append(f"open {DAY_NAMES[at.weekday()]} {at:%H:%M}")
    if filters.radius_m:
        parts.append(f"within {distance(filters.radius_m)}")
    return " · ".join(parts)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&:])")


def md_text(value: Any) -> str:
    """`value` as literal text inside st.markdown: Markdown and HTML characters escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def feedback_line(went: list[str], not_for_me: list[str]) -> str:
    """ "✓ went: A, B · ✗ not for me: C" with the names escaped for st.markdown."""
    parts = []
    if went:
        parts.append("✓ went: " + ", ".join(md_text(n) for n in went))
    if not_for_me:
        parts.append("✗ not for me: " + ", ".join(md_text(n) for n in not_for_me))
    return " · ".join(parts)
