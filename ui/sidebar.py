"""The sidebar on every page: Redis and model status, and the Retrain button."""

from __future__ import annotations

import contextlib
import time
from datetime import datetime
from typing import Any

import redis
import streamlit as st

from recsys.config import TIMEZONE
from recsys.errors import RecsysError
from ui import retrain, state

POLL_S = 1.0


def render() -> None:
    """Draw the sidebar: connection, model card, retrain controls and progress."""
    with st.sidebar:
        _redis_status()
        _model_status()
        _retrain_button()
        _retrain_panel()
        announce()


def _redis_status() -> None:
    info = state.redis_status()
    where = f"{info.get('mode', '?')} · {info.get('url') or 'no URL'}"
    if info.get("running") and not info.get("missing"):
        st.caption(f"🟢 Redis {info.get('version')} ({where})")
    else:
        st.caption(f"🔴 Redis: {info.get('error') or 'missing modules'} ({where})")


def _when(value: Any) -> str:
    """An ISO timestamp as San Francisco time, e.g. "Sat 28 Nov 09:12"."""
    with contextlib.suppress(TypeError, ValueError):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.astimezone(TIMEZONE).strftime("%a %d %b %H:%M")
    return str(value) if value else "—"


def _model_status() -> None:
    # Everything here comes from the live pointer in Redis: the model being served, not
    # whatever checkpoint is on disk, and no PyTorch import on the way to the map.
    st.subheader("Model")
    try:
        live = _live_info()
    except RecsysError as exc:
        st.warning(str(exc))
        return
    except Exception as exc:  # the sidebar must never take the page down
        st.warning(f"Model status unavailable: {exc.__class__.__name__}.")
        return
    if not live:
        st.info("No model is serving yet.")
        return
    served = live.get("model") or {}
    st.markdown(f"**Version** `{live['model_version']}`  \nTrained {_when(served.get('created'))}")
    # One line, not st.metric columns: three metrics do not fit the sidebar's width.
    metrics = key_metrics(served.get("metrics") or {}, live["model_version"])
    st.markdown(" · ".join(f"{name} **{value}**" for name, value in metrics.items()))
    chosen = selection_line(served)
    if chosen:
        st.caption(chosen)
    st.caption(
        f"Index version {live['version']} ({live['algorithm'].upper()}) · "
        f"{live['restaurants']} restaurants · {live['users']} users"
    )
    _feedback_status(live)


def _feedback_status(live: dict[str, Any]) -> None:
    """How much app feedback the served model has not been trained on yet."""
    from recsys.serving import feedback

    try:
        new = feedback.unseen(state.settings(), feedback.seen_seq(live))
    except Exception as exc:  # the sidebar must never take the page down
        st.caption(f"App feedback: unavailable ({exc.__class__.__name__}).")
        return
    used = (live.get("model") or {}).get("feedback") or {}
    trained_on = used.get("went_used", 0) + used.get("not_for_me_used", 0)
    st.caption(
        f"App feedback: **{new}** new since this model was trained "
        f"(it learned from {trained_on}); applied at once, learned at the next retrain."
    )


def _live_info() -> dict[str, Any]:
    from recsys.serving import index

    return index.live_info(state.settings()) or {}


def key_metrics(metrics: dict[str, Any], model_version: str) -> dict[str, str]:
    """Headline numbers: validation recall@10, warm-user test recall@10, epochs."""
    shown = {"val R@10": f"{metrics.get('val_recall@10', float('nan')):.3f}"}
    results = state.evaluation() or {}
    if results.get("model_version") != model_version:
        results = {}  # an evaluation of another model: not this one's numbers
    warm = results.get("segments", {}).get("warm_users", {}).get("two_tower", {})
    if "recall@10" in warm:
        shown["test R@10"] = f"{warm['recall@10']:.3f}"
    shown["epochs"] = str(metrics.get("epochs", "?"))
    return shown


def selection_line(served: dict[str, Any]) -> str:
    """Which candidate model selection chose, and on which world's data ("" if none)."""
    selection = served.get("selection") or {}
    if not selection.get("winner"):
        return ""
    n = len(selection.get("candidates") or [])
    world = served.get("world")
    where = f" · world {world}" if world and world != "default" else ""
    return f"Selected **{selection['winner']}** of {n} candidates by validation{where}"


def retrain_elsewhere() -> dict[str, Any] | None:
    """Who holds the load lock for a retrain started outside this app process, or None.

    The lock lives in Redis, so a retrain started by another app process or the CLI is
    seen here too (this process's own job is shown by `_retrain_panel`).
    """
    from recsys.serving import index

    if retrain.running() is not None:
        return None
    with contextlib.suppress(RecsysError, redis.RedisError):
        holder = index.lock_holder(state.settings())
        if holder and holder.get("what") == "retrain":
            return holder
    return None


def _retrain_button() -> None:
    from recsys.model.configs import ModelConfig

    elsewhere = retrain_elsewhere()
    if elsewhere is not None:
        _watch_elsewhere(elsewhere)
        return
    job = retrain.running()
    epochs = st.number_input(
        "Max epochs",
        1,
        500,
        ModelConfig().max_epochs,
        key="retrain_epochs",
        help="Training stops earlier when validation recall stops improving.",
    )
    if st.button("Retrain model", key="retrain", disabled=job is not None, width="stretch"):
        try:
            job = retrain.start(state.settings(), on_done=state.clear, epochs=int(epochs))
        except RecsysError as exc:
            st.warning(str(exc))
            return
        st.session_state["retrain_job"] = job.id
        st.rerun()


def _watch_elsewhere(holder: dict[str, Any]) -> None:
    """Say that another process is retraining, and look again until it has finished."""

    @st.fragment(run_every=POLL_S)
    def watch() -> None:
        if retrain_elsewhere() is None:
            state.clear()  # a new model may be live: every cache of the old one goes
            st.rerun()
        st.info(
            f"Retraining… (started by {holder.get('owner', 'another process')} at "
            f"{_when(holder.get('started'))}); the map keeps the current model. "
            "A second retrain is refused until it has finished.",
            icon="⏳",
        )
        st.button("Retrain model", key="retrain_busy", disabled=True, width="stretch")

    watch()


def _retrain_panel() -> None:
    job = retrain.current()
    if job is None:
        return
    if job.done:
        seen = {st.session_state.get("watching_job"), st.session_state.get("retrain_job")}
        if st.session_state.get("acknowledged_job") == job.id or job.id not in seen:
            return

    @st.fragment(run_every=POLL_S if not job.done else None)
    def panel() -> None:
        _show_job(job)

    panel()


def _show_job(job: retrain.Job) -> None:
    mine = st.session_state.get("retrain_job") == job.id
    if not job.done:
        st.session_state["watching_job"] = job.id
        if mine:
            _progress(job)
        else:
            st.info("Retraining… (started in another session); the map keeps the current model.")
        return
    if st.session_state.get("acknowledged_job") == job.id:
        return
    st.session_state["acknowledged_job"] = job.id
    if job.error:
        if mine:
            st.session_state["retrain_error"] = job.error
    elif mine:
        st.session_state["retrain_toast"] = job.id
    st.rerun()  # the whole app: new model version and caches in every widget


def _progress(job: retrain.Job) -> None:
    event = job.last
    elapsed = time.time() - job.started
    if event is None:
        st.progress(0.0, text=f"Retraining… starting ({elapsed:.0f} s)")
        return
    text = f"{event.stage}: {event.message or f'{event.done:g}/{event.total:g}'}"
    st.progress(event.fraction, text=text)
    if len(job.losses) > 1:
        st.line_chart(job.losses, height=120, x_label="epoch", y_label="loss")


def announce() -> None:
    """Toast the result of this session's finished retrain (once), or show its error."""
    error = st.session_state.pop("retrain_error", None)
    if error:
        st.sidebar.error(error)
    if st.session_state.pop("retrain_toast", None):
        live = _live_info()
        served = live.get("model") or {}
        metrics = key_metrics(served.get("metrics") or {}, live.get("model_version", ""))
        summary = ", ".join(f"{k} {v}" for k, v in metrics.items())
        version = live.get("model_version", "?")
        st.toast(f"New model {version} is live. {summary}", icon="✅")
