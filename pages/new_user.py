"""New user: a profile nobody has trained on (cold start) → recommendations at once."""

import warnings
from datetime import date

import pandas as pd
import streamlit as st

from recsys import coldstart, limits
from recsys.config import DEFAULT_LAT, DEFAULT_LON
from recsys.data import users
from recsys.model.features import UnknownLikesWarning
from recsys.serving.filters import Filters
from recsys.serving.recommend import recommend
from ui import fmt, maps, state, widgets


def profile_form(vocabulary: list[str]) -> dict | None:
    """The new user's profile as entered (None until submitted); likes from `vocabulary`."""
    with st.form("new_user"):
        name = st.text_input("Name", "Alex Newcomer", max_chars=limits.MAX_CHARS["name"])
        default = [x for x in ("sushi", "cocktails") if x in vocabulary] or vocabulary[:2]
        likes = st.multiselect(
            "Likes",
            vocabulary,
            default=default,
            help="The likes the model learnt from its training users.",
        )
        left, right = st.columns(2)
        bracket = left.radio("Price bracket", users.PRICE_BRACKETS, index=1, horizontal=True)
        born = right.date_input("Birthdate", date(1992, 5, 17), min_value=date(1920, 1, 1))
        if not st.form_submit_button("Recommend for this profile", type="primary"):
            return None
    return {"name": name, "likes": likes, "price_bracket": bracket,
            "birthdate": born.isoformat()}  # fmt: skip


def embed(profile: dict) -> list[float]:
    """Validate and embed with the model that serves the live index (no retraining)."""
    trained = state.require_model()
    unknown = trained.encoders.unknown_likes(pd.DataFrame([users.validate_profile(profile)]))
    if unknown:
        st.warning(f"The model never saw these likes, so they are ignored: {', '.join(unknown)}.")
    with warnings.catch_warnings():  # shown above, once
        warnings.simplefilter("ignore", UnknownLikesWarning)
        return coldstart.embed_profile(state.settings(), profile, trained)[1]


st.title("🙋 New user")
st.caption("Cold start: the user tower embeds a profile it has never seen; nothing is retrained.")
with state.guard():
    vocabulary = state.require_model().encoders.likes
submitted = profile_form(vocabulary)
with state.guard():
    if submitted is not None:
        st.session_state["new_user_profile"] = (submitted, embed(submitted))
if "new_user_profile" not in st.session_state:
    st.info("Fill in the profile and press **Recommend for this profile**.")
    st.stop()

profile, vector = st.session_state["new_user_profile"]
location = st.session_state.setdefault("location", (DEFAULT_LAT, DEFAULT_LON))
radius = widgets.radius_control(key="new_radius_km")
with state.guard():
    live = state.live()
    filters = Filters(lat=location[0], lon=location[1], radius_m=radius, k=10)
    rec = recommend(state.settings(), filters, vector=vector)
st.subheader(f"Top {len(rec.results)} for {profile['name'] or 'the new user'}")
maps.show(
    maps.live_base(live),
    maps.result_layer(location, radius, rec.results, timed=False),
    key="new_user_map",
    height=420,
    clickable=False,  # the location is set on the Recommend page
)
st.markdown(f"**{fmt.location(*location)}** (set on the Recommend page)")
widgets.results_table(rec.results, timed=False)

if st.button(
    "Save this user",
    key="save_new_user",
    help="Keep the profile: it joins the user picker and survives retrains",
):
    with state.guard():
        saved = coldstart.add_user(state.settings(), profile, state.require_model())
        st.success(f"Saved as **{saved['user_id']}**: pick them on the Recommend page.")
