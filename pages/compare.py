"""Compare two users: the same place and filters, two rankings side by side.

Personalisation in one glance: what each user gets, what they share, and how the
two lists differ. Nothing here is computed for the page: both lists are the served
`recommend` for a known user, exactly as on the Recommend page.
"""

import pandas as pd
import streamlit as st

from recsys.config import DEFAULT_LAT, DEFAULT_LON
from recsys.serving.filters import Filters
from recsys.serving.recommend import recommend
from ui import fmt, state, widgets


def pick_two(users: pd.DataFrame) -> tuple[str, str]:
    """Two user pickers; the second starts on a warm user with other likes than the first."""
    ids = users["user_id"].astype(str).tolist()
    names = dict(zip(ids, users["name"].astype(str), strict=True))
    if st.session_state.get("compare_a") not in names:
        st.session_state["compare_a"] = ids[widgets.default_user(users)]
    first_likes = set(users.set_index("user_id").loc[st.session_state["compare_a"], "likes"] or ())
    if st.session_state.get("compare_b") not in names:
        others = users[users["likes"].map(lambda likes: not set(likes or ()) & first_likes)]
        pool = (
            others if not others.empty else users[users["user_id"] != st.session_state["compare_a"]]
        )
        st.session_state["compare_b"] = str(pool["user_id"].iloc[widgets.default_user(pool)])
    left, right = st.columns(2)
    label = lambda uid: f"{names[uid]} ({uid})"  # noqa: E731
    a = left.selectbox("First user", ids, key="compare_a", format_func=label)
    b = right.selectbox("Second user", ids, key="compare_b", format_func=label)
    return a, b


st.title("👥 Compare two users")
st.caption("Same place, same filters: the two-tower model ranks differently for different tastes.")
with state.guard():
    settings, live = state.settings(), state.live()
    users = state.users(live)
location = st.session_state.setdefault("location", (DEFAULT_LAT, DEFAULT_LON))
user_a, user_b = pick_two(users)
left, right = st.columns(2)
with left:
    radius_m = widgets.radius_control(key="compare_radius_km")
with right:
    k = int(st.slider("Number of results", 1, 30, 10, key="compare_k"))
filters = Filters(lat=location[0], lon=location[1], radius_m=radius_m, k=k)
st.markdown(f"**{fmt.location(*location)}** (set on the Recommend page) · any opening time")

with state.guard():
    recs = {uid: recommend(settings, filters, user_id=uid) for uid in (user_a, user_b)}
    profiles = {uid: state.user_profile(uid) for uid in (user_a, user_b)}
ids = {uid: [r["id"] for r in rec.results] for uid, rec in recs.items()}
shared = set(ids[user_a]) & set(ids[user_b])
union = set(ids[user_a]) | set(ids[user_b])
overlap = len(shared) / len(union) if union else 0.0
st.metric(
    "In both lists",
    f"{len(shared)} of {k}",
    help="Restaurants both users get; the rest is personalisation. "
    f"Overlap (Jaccard) {overlap:.0%}.",
)
for column, uid in zip(st.columns(2), (user_a, user_b), strict=True):
    with column:
        profile = profiles[uid]
        widgets.profile_card(profile, len(profile.get("visited") or []))
        table = fmt.results_table(recs[uid].results, timed=False)
        table.insert(2, "both", ["✓" if r["id"] in shared else "" for r in recs[uid].results])
        st.dataframe(
            table[["#", "name", "both", "cuisines", "price", "rating", "match"]],
            hide_index=True,
            width="stretch",
        )
if user_a == user_b:
    st.info("Pick two different users to see personalisation.")
