"""Recommend: click the map, pick a user and filters, see ranked restaurants nearby."""

import streamlit as st

from recsys.config import DEFAULT_LAT, DEFAULT_LON
from recsys.serving import feedback
from recsys.serving.filters import Filters
from recsys.serving.recommend import recommend
from ui import fmt, maps, share, state, widgets


def take_click(value: dict | None) -> bool:
    """Move the location to a new map click; True if it moved."""
    point = maps.clicked(value)
    if not point or point == st.session_state.get("last_click"):
        return False
    st.session_state["last_click"] = st.session_state["location"] = point
    return True


def filter_controls(cuisines: list[str], lat: float, lon: float) -> Filters:
    """The filters, two to a row so the map, the filters and the table fit one screen."""
    left, right = st.columns(2)
    with left:
        low, high = widgets.price_control()
    with right:
        radius_m = widgets.radius_control()
    at = widgets.open_at_control()
    left, right = st.columns(2)
    with left:
        min_rating = widgets.rating_control()
    with right:
        k = widgets.k_control()
    return Filters(
        lat=lat,
        lon=lon,
        radius_m=radius_m,
        at=at,
        min_price=low,
        max_price=high,
        min_rating=min_rating,
        cuisines=tuple(widgets.cuisine_control(cuisines)),
        k=k,
    )


def whose_taste_toggles() -> tuple[bool, bool, bool]:
    """Toggles above the map: the taste map, the user's past visits, why each place."""
    left, middle, right = st.columns(3)
    why = middle.toggle(
        "Why these places",
        key="explain",
        help="What each place has for this user, and its match score split by cause",
    )
    taste = left.toggle(
        "Taste map", key="taste_map", help="Colour every place by this user's match score"
    )
    visits = right.toggle(
        "Past visits", key="past_visits", help="Ring the places this user visited"
    )
    return taste, visits, why


@st.fragment
def recommend_view() -> None:
    """The whole page as one fragment: a map click, a filter or a feedback mark reruns
    the page, not the sidebar (a click is the app's hot path: the sidebar's model and
    Redis status need not be redrawn for it). A full rerun still draws both."""
    st.session_state.setdefault("location", (DEFAULT_LAT, DEFAULT_LON))
    with state.guard():
        settings, live = state.settings(), state.live()
        users = state.users(live)
    share.restore(users["user_id"].astype(str), live["cuisines"])

    map_col, side_col = st.columns([3, 2], gap="medium")
    with side_col:
        user_id = widgets.user_picker(users)
        with state.guard():
            profile = state.user_profile(user_id)
            marks = feedback.for_user(settings, user_id)
        names = state.restaurant_names(live)
        went = [m.restaurant_id for m in marks if m.label == feedback.WENT]
        rejected = [m.restaurant_id for m in marks if m.label == feedback.NOT_FOR_ME]
        visits = set(profile.get("visited") or ()) | set(went)
        widgets.profile_card(
            profile,
            len(visits),
            fmt.feedback_line([names.get(r, r) for r in went], [names.get(r, r) for r in rejected]),
        )
        with st.expander("Filters", expanded=True):
            filters = filter_controls(live["cuisines"], *st.session_state["location"])
    with state.guard():
        rec = recommend(settings, filters, user_id=user_id)

    with map_col:
        timed = filters.at is not None
        show_taste, show_visits, show_why = whose_taste_toggles()
        results = rec.results
        if show_why and results:
            with state.guard():
                results = state.explained(user_id, rec)  # each result with its "why"
        layer = maps.result_layer(st.session_state["location"], filters.radius_m, results, timed)
        with state.guard():
            seen = tuple((m.restaurant_id, m.label) for m in marks)  # feedback moves both
            if show_taste:  # drawn under the numbered results
                places = state.taste(user_id, live["version"], live["restaurants"], seen)
                maps.taste_layer(places, layer)
            if show_visits:
                maps.visits_layer(state.visits(user_id, live["version"], seen), layer)
        out = maps.show(
            maps.live_base(live),
            layer,
            key="map",
            height=520,
            center=st.session_state.get("map_center", (DEFAULT_LAT, DEFAULT_LON)),
            on_change=lambda: take_click(st.session_state.get("map")),
        )
        st.markdown(f"**{fmt.location(*st.session_state['location'])}** · click the map to move")
    if take_click(out):
        st.rerun()  # no on_change (e.g. in tests): redraw once with the new location
    share.publish(st.session_state["location"], user_id)  # the address bar can be shared as is

    # The summary line first: it keeps its place on the page whether or not a table follows.
    st.caption(fmt.filters_summary(filters, len(rec.results)))
    if rec.results:
        row = widgets.results_table(results, timed, selectable=True)
        place, label = widgets.feedback_controls(rec.results, row)
        if label is not None:
            with state.guard():
                if label == "reset":
                    feedback.reset(settings, user_id)
                else:
                    feedback.record(settings, user_id, place, label, source="app")
            st.rerun()  # the new ranking and the card, within the same click
    if rec.passing is not None:  # fewer than k: say which filter removed what
        widgets.empty_state(rec.passing, live["restaurants"], len(rec.results))


recommend_view()
