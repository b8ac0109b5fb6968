"""Streamlit entry point: navigation, the shared sidebar, nothing else.

Shared resources (Redis client, restaurants, users, model) are cached in
`ui.state`; the Retrain button and its background job live in `ui.sidebar` and
`ui.retrain`. Every page is listed here explicitly.
"""

import streamlit as st

from ui import sidebar

st.set_page_config(page_title="SF restaurant recommender", page_icon="🍽️", layout="wide")

page = st.navigation(
    [
        st.Page("pages/recommend.py", title="Recommend", icon="🗺️", default=True),
        st.Page("pages/compare.py", title="Compare users", icon="👥"),
        st.Page("pages/new_user.py", title="New user", icon="🙋"),
        st.Page("pages/add_restaurant.py", title="Add restaurant", icon="➕"),
        st.Page("pages/model.py", title="Model", icon="🧠"),
        st.Page("pages/data.py", title="Data", icon="📋"),
    ]
)
sidebar.render()
page.run()
