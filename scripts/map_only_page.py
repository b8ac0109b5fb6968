"""The floor of the Recommend page's first visit (`scripts/first_visit.py --map-only`).

A Streamlit page with only what the first screen cannot do without: the sidebar and the
map with the default user's recommendations around the default point (2 km, no other
filter), drawn by the same code as the app. No filters, toggles or results table, so
the time to "map usable" is what Streamlit, the sidebar and the map component cost
alone. Not part of the app.
"""

import streamlit as st

from recsys.config import DEFAULT_LAT, DEFAULT_LON
from recsys.serving.filters import Filters
from recsys.serving.recommend import recommend
from ui import maps, sidebar, state, widgets

st.set_page_config(page_title="SF restaurant recommender", page_icon="🍽️", layout="wide")
with state.guard():
    settings, live = state.settings(), state.live()
    users = state.users(live)
    filters = Filters(lat=DEFAULT_LAT, lon=DEFAULT_LON, radius_m=2000)
    user_id = str(users["user_id"].iloc[widgets.default_user(users)])  # the app's first user
    rec = recommend(settings, filters, user_id=user_id)
layer = maps.result_layer((DEFAULT_LAT, DEFAULT_LON), filters.radius_m, rec.results, False)
sidebar.render()
maps.show(maps.live_base(live), layer, key="map", height=520)
