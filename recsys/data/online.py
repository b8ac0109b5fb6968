"""The online update of a user's vector from app feedback (pure NumPy, no model, no Redis).

One function, used by the serving path (`recsys/serving/feedback.py`, on the vectors of
the live load) and by the feedback-loop simulation (`recsys/model/loop.py`), so the
figures in the README measure exactly what is served:

    v' = normalise(v + WENT_STEP * sum(went) - NOT_FOR_ME_STEP * sum(not for me))

`v` is the trained (unit) vector of the user, `went` / `not for me` the unit vectors of
the places they marked. A sum, not a mean: every new mark adds evidence. The trained
vector is never overwritten: the served one is recomputed from it and the feedback, so
a reset or a retrain starts from data, not from drift.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Chosen by `python -m recsys evaluate --feedback-rounds 10` (recsys/model/loop.py,
# README "Feedback loop"): see STEP_GRID there for the values tried.
WENT_STEP = 0.3
NOT_FOR_ME_STEP = 0.1


def online_vector(
    trained: Sequence[float] | np.ndarray,
    went: np.ndarray | Sequence[Sequence[float]] = (),
    not_for_me: np.ndarray | Sequence[Sequence[float]] = (),
    *,
    went_step: float = WENT_STEP,
    not_for_me_step: float = NOT_FOR_ME_STEP,
) -> np.ndarray:
    """The served vector after feedback: float32, unit length (see module doc).

    With no feedback it is the trained vector itself (normalised).
    """
    v = np.asarray(trained, dtype=np.float64).reshape(-1).copy()
    went = np.asarray(went, dtype=np.float64).reshape(-1, v.shape[0])
    rejected = np.asarray(not_for_me, dtype=np.float64).reshape(-1, v.shape[0])
    if len(went):
        v += went_step * went.sum(axis=0)
    if len(rejected):
        v -= not_for_me_step * rejected.sum(axis=0)
    norm = np.linalg.norm(v)
    if not np.isfinite(norm) or norm < 1e-9:  # cancelled out: keep the trained direction
        v, norm = np.asarray(trained, dtype=np.float64).reshape(-1), 1.0
        norm = np.linalg.norm(v) or 1.0
    return (v / norm).astype(np.float32)


def online_matrix(
    trained: np.ndarray,
    restaurants: np.ndarray,
    went: np.ndarray,
    not_for_me: np.ndarray,
    *,
    went_step: float = WENT_STEP,
    not_for_me_step: float = NOT_FOR_ME_STEP,
) -> np.ndarray:
    """`online_vector` for many users at once (the simulation).

    Args:
        trained: (n_users, D); restaurants: (n_restaurants, D).
        went / not_for_me: (n_users, n_restaurants) 0/1 marks.

    Row i equals `online_vector(trained[i], restaurants[went[i]], restaurants[nfm[i]])`.
    """
    v = trained.astype(np.float64) + went_step * (went @ restaurants) - not_for_me_step * (
        not_for_me @ restaurants
    )
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    bad = ~np.isfinite(norms[:, 0]) | (norms[:, 0] < 1e-9)
    v[bad], norms[bad] = trained[bad], np.linalg.norm(trained[bad], axis=1, keepdims=True)
    return (v / np.maximum(norms, 1e-12)).astype(np.float32)
