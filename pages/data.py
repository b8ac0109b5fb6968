"""Data: the restaurants and users being served, searchable, and where they came from."""

import pandas as pd
import streamlit as st

from recsys import limits
from ui import fmt, state

RESTAURANT_COLUMNS = ["name", "cuisines", "price", "rating", "address", "locality", "id"]
USER_COLUMNS = ["name", "user_id", "likes", "price_bracket", "birthdate", "address", "visited"]


def search(frame: pd.DataFrame, text: str) -> pd.DataFrame:
    """Rows where any column contains `text` (case-insensitive)."""
    if not text:
        return frame
    mask = frame.astype(str).apply(lambda col: col.str.contains(text, case=False, regex=False))
    return frame[mask.any(axis=1)]


def show(frame: pd.DataFrame, columns: list[str], key: str) -> None:
    text = st.text_input(
        "Search",
        key=key,
        placeholder="name, cuisine, address…",
        max_chars=limits.MAX_CHARS["search"],
    )
    found = search(frame[[c for c in columns if c in frame.columns]], text.strip())
    st.caption(f"{len(found)} of {len(frame)} rows")
    st.dataframe(found, hide_index=True, width="stretch", height=480)


st.title("📋 Data")
with state.guard():
    kind, description = state.source()
    live = state.live()
    restaurants, users = state.restaurants(live), state.users(live)

labels = {"file": "your file", "download": "the article's file", "generated": "generated"}
st.info(f"Restaurants source: **{labels.get(kind, kind)}**. {description}", icon="🗂️")
st.caption(
    f"Live index version {live['version']} · model `{live['model_version']}` · "
    f"{live['restaurants']} restaurants · {live['users']} users · loaded {live.get('loaded_at')}"
)

rest_tab, user_tab = st.tabs([f"Restaurants ({len(restaurants)})", f"Users ({len(users)})"])
with rest_tab:
    price, cuisines = restaurants["price"].map(fmt.price), restaurants["cuisines"].map(fmt.cuisines)
    table = restaurants.assign(price=price, cuisines=cuisines)
    show(table, RESTAURANT_COLUMNS, "search_restaurants")
with user_tab:
    show(users.assign(visited=users["visited"].map(len)), USER_COLUMNS, "search_users")
