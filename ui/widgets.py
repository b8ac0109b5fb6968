"""Groups of widgets as small functions returning plain values (see docs/style.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from recsys.config import TIMEZONE
from ui import fmt

ANY_TIME, NOW, PICK = "any time", "now", "pick a day and time"
_TIMES = [time(h, m) for h in range(24) for m in (0, 15, 30, 45)]


WARM_VISITS = 5  # the first screen should show personalisation: a user with a history


def default_user(users: pd.DataFrame) -> int:
    """Row of the first user (in the table's order) with several past visits, else the
    one with the most; 0 for an empty table or one without visits."""
    if users.empty or "visited" not in users:
        return 0
    visits = users["visited"].map(lambda v: len(v) if isinstance(v, list) else 0).to_numpy()
    warm = (visits >= WARM_VISITS).nonzero()[0]
    return int(warm[0]) if len(warm) else int(visits.argmax())


def user_picker(users: pd.DataFrame, key: str = "user") -> str:
    """A selectbox searchable by name, shown as "Name (user_id)"; returns the user_id.

    It starts on a user with past visits (`default_user`), so the first screen shows
    what personalisation does."""
    ids = users["user_id"].astype(str).tolist()
    names = dict(zip(ids, users["name"].astype(str), strict=True))
    if ids and st.session_state.get(key) not in names:  # first run, or the user is gone
        st.session_state[key] = ids[default_user(users)]
    return st.selectbox(
        "Who is eating?", ids, key=key, format_func=lambda uid: f"{names[uid]} ({uid})"
    )


def profile_card(profile: dict[str, Any], visits: int | None, feedback: str | None = None) -> None:
    """Likes, price bracket, age and number of past visits of one user.

    Args:
        visits: training visits plus places marked "I went here" in the app.
        feedback: the app feedback as one Markdown line (names escaped), if any.
    """
    with st.container(border=True):
        name = profile.get("name") or profile.get("user_id")
        st.markdown(f"**{name}** · {profile.get('address', '')}")
        likes = profile.get("likes") or []
        st.markdown(" ".join(f"`{like}`" for like in likes) or "_no likes given_")
        st.markdown(
            f"price bracket **{profile.get('price_bracket', '—')}** · "
            f"age **{_age(profile.get('birthdate'))}** · "
            f"past visits **{'—' if visits is None else visits}**"
        )
        if feedback:
            st.caption(f"Feedback in the app: {feedback}")


def _age(birthdate: Any) -> str:
    born = pd.to_datetime(birthdate, errors="coerce")
    if pd.isna(born):
        return "—"
    today = datetime.now(TIMEZONE).date()
    return str(today.year - born.year - ((today.month, today.day) < (born.month, born.day)))


def radius_control(key: str = "radius_km") -> float:
    """Search radius in metres."""
    st.session_state.setdefault(key, 2.0)  # default here, so a shared link may preset it
    km = st.slider("Radius (km)", 0.25, 10.0, step=0.25, key=key)
    return km * 1000.0


def price_control(key: str = "price") -> tuple[int, int]:
    """(min, max) price level 1-4, shown as $–$$$$."""
    # `value` makes it a range slider; a shared link may have preset the state (ui/share.py).
    low, high = st.select_slider(
        "Price", options=[1, 2, 3, 4], value=(1, 4), format_func=fmt.price, key=key
    )
    return int(low), int(high)


def rating_control(key: str = "min_rating") -> float:
    st.session_state.setdefault(key, 0.0)
    return float(st.slider("Minimum rating", 0.0, 5.0, step=0.5, key=key))


def cuisine_control(options: list[str], key: str = "cuisines") -> list[str]:
    return st.multiselect("Cuisines (any of)", options, key=key, placeholder="all cuisines")


def open_at_control(key: str = "open_at") -> datetime | None:
    """The "open at" time in San Francisco: now (default), a chosen day and time, or None."""
    now = datetime.now(TIMEZONE)
    mode = st.radio("Open at", [NOW, PICK, ANY_TIME], horizontal=True, key=f"{key}_mode")
    if mode == ANY_TIME:
        return None
    if mode == NOW:
        st.caption(fmt.sf_now_label(now))
        return now
    day_col, time_col = st.columns(2)
    st.session_state.setdefault(f"{key}_day", now.weekday())
    st.session_state.setdefault(f"{key}_time", time(20, 0))
    day = day_col.selectbox(
        "Day", range(7), key=f"{key}_day", format_func=lambda d: fmt.DAY_NAMES[d]
    )
    clock = time_col.selectbox(
        "Time", _TIMES, key=f"{key}_time", format_func=lambda t: t.strftime("%H:%M")
    )
    date = now.date() + timedelta(days=(day - now.weekday()) % 7)
    return datetime.combine(date, clock, tzinfo=TIMEZONE)


def k_control(key: str = "k") -> int:
    st.session_state.setdefault(key, 10)
    return int(st.slider("Number of results", 1, 50, key=key))


# How each filter is named to a person, and the relaxation that would let more through.
_FILTER_TEXT = {
    "location": ("within the radius", "widen the radius or click elsewhere on the map"),
    "open_at": ("open at that time", "choose another time, or 'any time'"),
    "price": ("in the price range", "widen the price range"),
    "rating": ("at or above the minimum rating", "lower the minimum rating"),
    "cuisines": ("of the chosen cuisines", "add cuisines or clear the cuisine filter"),
    "not_visited": ("not visited before", "include places already visited"),
}


def empty_state(passing: dict[str, int] | None, total: int, found: int) -> None:
    """Say which filter removed what and suggest the relaxation that helps most."""
    passing = dict(passing or {})
    passing.pop("all", None)
    if found == 0:
        st.warning("No restaurant matches all the filters together.", icon="🔎")
    else:
        st.caption(f"Only {found} restaurants match all the filters together.")
    if not passing:
        return
    lines = [
        f"- {_FILTER_TEXT.get(name, (name, ''))[0]}: **{count}** of {total}"
        for name, count in sorted(passing.items(), key=lambda item: item[1])
    ]
    st.markdown("Each filter alone lets through:\n" + "\n".join(lines))
    tightest = min(passing, key=passing.__getitem__)
    hint = _FILTER_TEXT.get(tightest, (tightest, f"relax the {tightest} filter"))[1]
    st.info(f"The tightest filter is **{_FILTER_TEXT.get(tightest, (tightest,))[0]}**: {hint}.")
    relax = _RELAX.get(tightest)
    if relax is not None:
        label, change = relax
        st.button(label, key=f"relax_{tightest}", on_click=change, type="primary")


def _set(**values: Any) -> Callable[[], None]:
    def change() -> None:
        for key, value in values.items():
            st.session_state[key] = value(st.session_state.get(key)) if callable(value) else value

    return change


# One click that relaxes the tightest filter (widget keys of the Recommend page).
_RELAX: dict[str, tuple[str, Callable[[], None]]] = {
    "open_at": ("Show places at any time", _set(open_at_mode=ANY_TIME)),
    "location": (
        "Widen the radius",
        _set(radius_km=lambda km: min(10.0, max(0.5, 2 * float(km or 2.0)))),
    ),
    "price": ("Any price", _set(price=(1, 4))),
    "rating": ("Any rating", _set(min_rating=0.0)),
    "cuisines": ("All cuisines", _set(cuisines=[])),
}


def results_table(
    results: list[dict[str, Any]], timed: bool = True, *, selectable: bool = False
) -> int | None:
    """The ranked results as a compact table (same fields as the map popups).

    With `selectable`, a row can be selected (the feedback controls then act on that
    place); returns its position, or None. No key: new results start unselected.
    """
    selection = {"on_select": "rerun", "selection_mode": "single-row"} if selectable else {}
    event = st.dataframe(
        fmt.results_table(results, timed),
        hide_index=True,
        width="stretch",
        column_config={
            "#": st.column_config.NumberColumn(width=36),
            "name": st.column_config.TextColumn(width=170),
            "cuisines": st.column_config.TextColumn(width=170),
            "price": st.column_config.TextColumn(width=50),
            "rating": st.column_config.NumberColumn(format="%.1f ★", width=64),
            "distance_m": st.column_config.NumberColumn("distance", format="%d m", width=76),
            "open": st.column_config.TextColumn(width=116),
            "match": st.column_config.NumberColumn(format="%.2f", width=56),
            "why": st.column_config.TextColumn(
                width=260,
                help="What this place has for the user, and the main parts of its match score",
            ),
            "address": st.column_config.TextColumn(width=160),
        },
        **selection,
    )
    rows = event.selection.rows if selectable else []
    return int(rows[0]) if rows and 0 <= rows[0] < len(results) else None


def feedback_controls(
    results: list[dict[str, Any]], selected: int | None = None
) -> tuple[str, str | None]:
    """Pick a recommended place and mark it; (restaurant id, "went" / "not_for_me" / None).

    The picker starts at the row selected in the table (`selected`), else the first
    result. Without a key it starts again there whenever the results change.
    """
    names = {r["id"]: f"{r['rank']}. {r['name']}" for r in results}
    with st.container(border=True):
        place = st.selectbox(
            "Your feedback on",
            list(names),
            index=selected or 0,
            format_func=names.__getitem__,
            help="Or select a row of the table above",
        )
        went_col, not_col, reset_col = st.columns(3)
        label = None
        if went_col.button("✓ I went here", key="feedback_went", width="stretch"):
            label = "went"
        if not_col.button("✗ Not for me", key="feedback_not_for_me", width="stretch"):
            label = "not_for_me"
        if reset_col.button("Forget my feedback", key="feedback_reset", width="stretch"):
            label = "reset"
    return place, label
