"""Add restaurant: a form and a map click → validated, embedded, live in the index at once."""

import streamlit as st

from recsys import coldstart, limits
from recsys.data.hours import DAYS
from ui import fmt, maps, state


def hours_inputs() -> dict[str, list[list[str]]]:
    """Per day "11:00-14:00, 17:00-22:00" (empty = closed) in the source schema."""
    out = {}
    for day, col in zip(DAYS, st.columns(7), strict=True):
        text = col.text_input(
            day[:3].title(),
            "11:30-22:00",
            key=f"hours_{day}",
            max_chars=limits.MAX_CHARS["hours_text"],
        )
        spans = [part.strip() for part in text.split(",") if part.strip()]
        out[day] = [[p.strip() for p in span.split("-", 1)] for span in spans]
    return {day: spans for day, spans in out.items() if spans}


def take_place(value: dict | None) -> bool:
    """Make a new map click the restaurant's place; True if it moved."""
    point = maps.clicked(value)
    if not point or point == st.session_state.get("new_place"):
        return False
    st.session_state["new_place"] = point
    return True


st.title("➕ Add a restaurant")
with state.guard():
    live = state.live()
    trained = state.require_model()

st.markdown("**1. Click the map where the restaurant is.**")

place = st.session_state.get("new_place")
out = maps.show(
    maps.live_base(live),
    maps.result_layer(place, None, []) if place else None,  # the pin
    key="add_map",
    height=360,
    on_change=lambda: take_place(st.session_state.get("add_map")),  # before the rerun
)
if take_place(out):
    st.rerun()  # no on_change (e.g. in tests): redraw once with the pin
st.markdown(fmt.location(*place) if place else "_no location yet_")

with st.form("add_restaurant"):
    st.markdown("**2. Describe it.**")
    name = st.text_input("Name", max_chars=limits.MAX_CHARS["name"])
    address = st.text_input("Address", max_chars=limits.MAX_CHARS["address"])
    cuisines = st.multiselect(
        "Cuisines",
        live["cuisines"],
        accept_new_options=True,
        max_selections=limits.MAX_CUISINES,
        help=f"New cuisines: at most {limits.MAX_CHARS['cuisine']} characters, no comma",
    )
    price = st.select_slider("Price", [1, 2, 3, 4], value=2, format_func=fmt.price)
    rating = st.slider("Rating", 0.0, 5.0, 4.0, 0.5)
    st.caption("Hours per day, e.g. `11:30-14:30, 17:00-23:00`; leave empty when closed.")
    hours = hours_inputs()
    submitted = st.form_submit_button("Add restaurant", type="primary")

if submitted:
    with state.guard():
        if place is None:
            st.error("Click the map first to place the restaurant.")
            st.stop()
        record = {"name": name, "address": address, "latitude": place[0], "longitude": place[1],
                  "cuisine": cuisines, "price": price, "rating": rating, "hours": hours,
                  "locality": "San Francisco"}  # fmt: skip
        doc = coldstart.add_restaurant(state.settings(), record, trained)
    st.success(f"{doc['name']} is live (id `{doc['id']}`); it now appears wherever it matches.")
