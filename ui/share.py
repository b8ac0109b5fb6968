"""A view you can share: the Recommend page's place, radius, user and filters in the URL.

`restore` runs before the widgets are drawn, once per browser session: it reads
`st.query_params`, checks every value (a bad one is named in one warning and
ignored, never a traceback) and puts the rest into the widgets' session state.
`publish` writes the current view back into the URL after every run, so the address
bar can be bookmarked or sent at any moment.

URL parameters (all optional): `lat`, `lon` (the search centre), `r` (radius, km),
`user`, `price` ("1-3"), `rating`, `cuisine` (repeated), `k`, `open` ("now", "any",
or "<day>-HH:MM" with day mon..sun, e.g. "fri-20:00").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from datetime import time
from typing import Any

import streamlit as st

from recsys import limits
from recsys.serving.filters import MAX_LAT
from ui import widgets

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_PARAM_CHARS = 200  # a value longer than any legitimate one is refused unread
_OPEN_RE = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)-([01]\d|2[0-3]):(00|15|30|45)$")
_RESTORED = "share_restored"


def _number(text: str, low: float, high: float, step: float | None = None) -> float:
    value = float(text)
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError
    if step is not None and abs(value / step - round(value / step)) > 1e-9:
        raise ValueError
    return value


def _price(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    pair = int(low), int(high or low)
    if not 1 <= pair[0] <= pair[1] <= 4:
        raise ValueError
    return pair


def _open(text: str) -> tuple[str, int | None, time | None]:
    if text in ("now", "any"):
        return (widgets.NOW if text == "now" else widgets.ANY_TIME), None, None
    match = _OPEN_RE.match(text)
    if match is None:
        raise ValueError
    day, hour, minute = match.groups()
    return widgets.PICK, DAYS.index(day), time(int(hour), int(minute))


def restore(user_ids: Iterable[str], cuisines: Iterable[str]) -> None:
    """Put the URL's view into session state (first run of a browser session only)."""
    if st.session_state.get(_RESTORED):
        return
    st.session_state[_RESTORED] = True
    params = st.query_params
    known_users, known_cuisines = set(user_ids), {c.lower(): c for c in cuisines}
    bad: list[str] = []

    def take(name: str, parse: Callable[[str], Any]) -> Any:
        if name not in params:
            return None
        text = params[name]
        try:
            if len(text) > MAX_PARAM_CHARS:
                raise ValueError
            return parse(text.strip())
        except (ValueError, TypeError):
            bad.append(f"{name}={limits.echo(text)}")
            return None

    lat = take("lat", lambda t: _number(t, -MAX_LAT, MAX_LAT))
    lon = take("lon", lambda t: _number(t, -180, 180))
    if lat is not None and lon is not None:
        st.session_state["location"] = (round(lat, 6), round(lon, 6))
        st.session_state["map_center"] = st.session_state["location"]
    elif (lat is None) != (lon is None) and not bad:
        bad.append("lat and lon must be given together")
    radius = take("r", lambda t: _number(t, 0.25, 10.0, 0.25))
    if radius is not None:
        st.session_state["radius_km"] = radius
    user = take("user", lambda t: t if t in known_users else _fail())
    if user is not None:
        st.session_state["user"] = user
    price = take("price", _price)
    if price is not None:
        st.session_state["price"] = price
    rating = take("rating", lambda t: _number(t, 0.0, 5.0, 0.5))
    if rating is not None:
        st.session_state["min_rating"] = rating
    k = take("k", lambda t: int(_number(t, 1, 50, 1)))
    if k is not None:
        st.session_state["k"] = k
    opened = take("open", _open)
    if opened is not None:
        mode, day, clock = opened
        st.session_state["open_at_mode"] = mode
        if day is not None:
            st.session_state["open_at_day"], st.session_state["open_at_time"] = day, clock
    asked = params.get_all("cuisine")[:50] if "cuisine" in params else []
    chosen = [
        known_cuisines[c.strip().lower()] for c in asked if c.strip().lower() in known_cuisines
    ]
    bad += [f"cuisine={limits.echo(c)}" for c in asked if c.strip().lower() not in known_cuisines]
    if chosen:
        st.session_state["cuisines"] = list(dict.fromkeys(chosen))
    if bad:
        st.warning(f"Ignored from the link: {', '.join(bad)} (not a valid value).", icon="🔗")


def _fail() -> Any:
    raise ValueError


def publish(location: tuple[float, float], user_id: str) -> None:
    """Write the current view (from the widgets' state) into the URL."""
    state = st.session_state
    view: dict[str, Any] = {
        "lat": f"{location[0]:.6f}",
        "lon": f"{location[1]:.6f}",
        "r": f"{state.get('radius_km', 2.0):g}",
        "user": user_id,
        "k": str(state.get("k", 10)),
    }
    low, high = state.get("price", (1, 4))
    if (low, high) != (1, 4):
        view["price"] = f"{low}-{high}"
    if state.get("min_rating"):
        view["rating"] = f"{state['min_rating']:g}"
    mode = state.get("open_at_mode", widgets.NOW)
    if mode == widgets.ANY_TIME:
        view["open"] = "any"
    elif mode == widgets.PICK and state.get("open_at_time") is not None:
        clock = state["open_at_time"]
        view["open"] = f"{DAYS[state.get('open_at_day', 0)]}-{clock:%H:%M}"
    if state.get("cuisines"):
        view["cuisine"] = list(state["cuisines"])
    current = {k: st.query_params.get_all(k) for k in st.query_params}
    wanted = {k: v if isinstance(v, list) else [v] for k, v in view.items()}
    if current != wanted:  # writing only on change: no needless browser history entry
        st.query_params.from_dict(view)
