"""Model: how training went, how the model compares with the oracle and baselines, its space."""

import altair as alt
import pandas as pd
import streamlit as st

from recsys.model import evaluate, metrics
from ui import state

st.title("🧠 The two-tower model")
with state.guard():
    trained = state.require_model()
    live = state.live()
    results = state.evaluation()
    points = state.embedding_map(live)

st.caption(f"Model `{trained.version}` · serving index version {live['version']}")
# A residual hybrid's history also says which training phase each epoch was: not a curve.
history = pd.DataFrame(trained.history).drop(columns="phase", errors="ignore")
if history.empty:
    st.info("This checkpoint has no training history.")
else:
    long = history.melt("epoch", var_name="series", value_name="value").dropna()
    charts = zip(st.columns(2), (True, False), ("Training loss", "Validation"), strict=True)
    for col, is_loss, title in charts:
        part = long[long["series"].str.contains("loss") == is_loss]
        col.altair_chart(
            alt.Chart(part, title=title)
            .mark_line(point=True)
            .encode(x="epoch:Q", y=alt.Y("value:Q", title=None), color="series:N")
            .properties(height=220),
            width="stretch",
        )

st.subheader("Model selection")
selection = trained.selection or {}
if not selection:
    st.info("This model was trained with a fixed configuration (no model selection).")
else:
    st.markdown(f"Chosen: **{selection['winner']}** — {selection['why']}.")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "candidate": c["name"],
                    "val recall@10": c["val_recall@10"],
                    "held-out users": c["val_recall@10_cold_users"],
                    "held-out restaurants": c["val_recall@10_cold_restaurants"],
                    "mean recall": c.get("mean"),
                    "score (vs best per segment)": c["score"],
                    "best epoch": c["best_epoch"],
                    "seconds": c["seconds"],
                    "chosen": c["name"] == selection["winner"],
                }
                for c in selection["candidates"]
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    softmax = (
        "full, over every restaurant"
        if selection.get("full_softmax")
        else "sampled in-batch with logQ correction"
    )
    st.caption(
        "Every candidate is trained on the training visits of 90 % of the users and "
        "restaurants, early-stopped on the validation visits and scored on the 10 % held "
        "out as well (new users and restaurants it never saw); the winner is then refit "
        "on every training + validation visit. "
        f"Softmax: {softmax}."
    )

st.subheader("Evaluation: two-tower vs oracle vs baselines")
if results is None:
    st.info("No evaluation yet: run `python -m recsys evaluate` (or retrain).")
else:
    metric = st.radio("Metric", metrics.METRICS, horizontal=True)
    rows = [
        {"segment": seg, "model": row, "value": scores.get(metric)}
        for seg, by_row in results["segments"].items()
        for row, scores in by_row.items()
    ]
    chart = (
        alt.Chart(pd.DataFrame(rows))
        .mark_bar()
        .encode(
            x=alt.X("model:N", sort=list(evaluate.ROWS), title=None, axis=alt.Axis(labelLimit=200)),
            y=alt.Y("value:Q", title=metric),
            color=alt.Color("model:N", sort=list(evaluate.ROWS), legend=None),
            column=alt.Column("segment:N", sort=list(evaluate.SEGMENTS), title=None),
            tooltip=["segment", "model", alt.Tooltip("value:Q", format=".3f")],
        )
    )
    st.altair_chart(chart.properties(width=240, height=220))
    learnable = results.get("notes", {}).get("oracle_learnable")
    if learnable and "oracle_learnable" in results["segments"].get("warm_users", {}):
        st.caption(f"oracle_learnable: {learnable}")

st.subheader("Feedback loop (simulated)")
loop = (results or {}).get("feedback")
if not loop:
    st.info("No simulation yet: run `python -m recsys evaluate --feedback-rounds 10`.")
else:
    segment = st.radio(
        "Users", ["all", "cold_users", "warm_users"], horizontal=True, key="feedback_segment"
    )
    rows = [
        {"round": entry["round"], "update": arm, "recall@10": value}
        for entry in loop["rounds"]
        for arm, value in entry["by_segment"][segment].items()
    ]
    st.altair_chart(
        alt.Chart(pd.DataFrame(rows))
        .mark_line(point=True)
        .encode(
            x=alt.X("round:Q", title="rounds of feedback"),
            y=alt.Y("recall@10:Q", title="recall@10 vs the oracle"),
            color=alt.Color("update:N", title=None),
            tooltip=["round", "update", alt.Tooltip("recall@10:Q", format=".3f")],
        )
        .properties(height=240),
        width="stretch",
    )
    st.caption(
        "Simulated users mark the first places shown the way their planted taste says; "
        "online = the served vector moves after every mark, none = marked places only "
        "removed, retrain = no online update, a retrain every few rounds."
    )
used = (results or {}).get("feedback_used")
if used:
    st.caption(
        f"This model's training used {used['went_used']} 'I went here' and "
        f"{used['not_for_me_used']} 'Not for me' marks from the app "
        f"({used['unknown_skipped']} of unknown users or places and "
        f"{used['held_out_skipped']} held out for evaluation were skipped)."
    )

st.subheader("Embedding space (PCA to 2-D)")
shown = points["kind"].value_counts()
st.caption(
    "Restaurants coloured by their first cuisine, users by their first like: "
    f"{shown.get('restaurant', 0)} of {live['restaurants']} restaurants and "
    f"{shown.get('user', 0)} of {live['users']} users, spread evenly over each."
)
st.altair_chart(
    alt.Chart(points)
    .mark_point(filled=True, size=40)
    .encode(
        x=alt.X("x:Q", title="PC 1"),
        y=alt.Y("y:Q", title="PC 2"),
        color=alt.Color("group:N", title="cuisine / like"),
        shape=alt.Shape("kind:N", title=None),
        tooltip=["kind", "name", "group"],
    )
    .interactive(),
    width="stretch",
)
