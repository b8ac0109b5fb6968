"""The online update of a user's vector from app feedback (pure NumPy, no model, no Redis).

One function, used by the serving path (`recsys/serving/feedback.py`, on the vectors of
the live load) and by the feedback-loop simulation (`recsys/model/loop.py`), so the
figures in the README measure exactly what is served:

    v' = normalise(v + s * (WENT_STEP * sum(r - m for r went)
                            - NOT_FOR_ME_STEP * sum(r - m for r not for me)))
    s  = (share of "Not for me" among the user's marks) ** 2 * prior(visits)
    prior(visits) = 1 / (1 + visits / PRIOR_VISITS)   (PRIOR_VISITS > 0)
                  = 1 if visits == 0 else 0           (PRIOR_VISITS == 0, the default)

- `v` is the trained (unit) vector, `r` the vectors of the marked places and `m` the
  mean restaurant vector of the catalogue: centred, because every restaurant vector
  shares a large common part (norm ~0.78 on the default data) and pushing away from
  it would turn a user away from every place at once.
- Read as a MAP step: the marks score `v` by a linear utility (went: +(r - m),
  not for me: -(r - m)) and the trained vector is a Gaussian prior centred on `v`
  whose precision is `1 / s`: higher the more of the user's marks confirm it (someone
  who goes where we send them needs no correction) and the more training visits it
  was fitted on (each worth `1 / PRIOR_VISITS` marks). `PRIOR_VISITS = 0` is the
  limit of an exact prior: a user with training visits keeps the trained vector, and
  only users without any (new sign-ups) move.
- Why the limit, measured (`python -m recsys.model.loop --check`, README "Feedback
  loop"; 4 planted worlds x 3 data seeds x 3 samples of warm users): every finite
  prior strength tried (PRIOR_VISITS 0.2, 0.02, and in exploration down to 0.001),
  and the MAP step on the softmax likelihood of the marks (with an isotropic or a
  Laplace prior), lowered warm users' recall@10 in some round of some world. With
  0.2 their mean change is positive in every run (+0.0002 to +0.005) but single
  rounds dip to -0.0097: their taste beyond the profile is per-place noise in the
  simulator, so the marks carry next to nothing the trained vector lacks, and a
  small move only reshuffles near-ties. Their "Not for me" places are still
  excluded at once, and their marks are learnt at the next retrain.

A sum, not a mean: every new mark adds evidence. The trained vector is never
overwritten: the served one is recomputed from it and the marks, so a reset or a
retrain starts from data, not from drift.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Chosen by simulation across worlds and data seeds (`python -m recsys.model.loop --grid
# --world all --data-seeds 0,1,2`, README "Feedback loop"): the steps with the largest
# mean and the largest worst cold-start lift after 3 rounds; PRIOR_VISITS by `--check`
# (the only prior strength that never lowers warm users; see the module doc).
WENT_STEP = 0.6
NOT_FOR_ME_STEP = 0.3
PRIOR_VISITS = 0.0


def trust_scale(
    n_went: np.ndarray,
    n_rejected: np.ndarray,
    visits: np.ndarray,
    prior_visits: float = PRIOR_VISITS,
) -> np.ndarray:
    """`s` of the module doc, elementwise."""
    marks = np.maximum(1.0, n_went + n_rejected)
    visits = np.asarray(visits, dtype=np.float64)
    if prior_visits > 0:
        prior = 1.0 / (1.0 + visits / prior_visits)
    else:  # the limit PRIOR_VISITS -> 0: training visits make the trained vector exact
        prior = (visits <= 0).astype(np.float64)
    return (n_rejected / marks) ** 2 * prior


def online_vector(
    trained: Sequence[float] | np.ndarray,
    went: np.ndarray | Sequence[Sequence[float]] = (),
    not_for_me: np.ndarray | Sequence[Sequence[float]] = (),
    *,
    mean: Sequence[float] | np.ndarray | None = None,
    visits: int = 0,
    went_step: float = WENT_STEP,
    not_for_me_step: float = NOT_FOR_ME_STEP,
    prior_visits: float = PRIOR_VISITS,
) -> np.ndarray:
    """The served vector after feedback: float32, unit length (see module doc).

    Args:
        trained: the user's trained vector; went / not_for_me: vectors of marked places.
        mean: the catalogue's mean restaurant vector (None: not centred).
        visits: how many visits the trained vector was trained on.
        prior_visits: `PRIOR_VISITS` (0: users with training visits do not move).
    """
    v = np.asarray(trained, dtype=np.float64).reshape(-1)
    dim = v.shape[0]
    went = np.asarray(went, dtype=np.float64).reshape(-1, dim)
    rejected = np.asarray(not_for_me, dtype=np.float64).reshape(-1, dim)
    centre = np.zeros(dim) if mean is None else np.asarray(mean, dtype=np.float64).reshape(-1)
    scale = float(
        trust_scale(
            np.float64(len(went)), np.float64(len(rejected)), np.float64(visits), prior_visits
        )
    )
    step = went_step * (went - centre).sum(axis=0)
    step = step - not_for_me_step * (rejected - centre).sum(axis=0)
    return _unit(v + scale * step, v)


def online_matrix(
    trained: np.ndarray,
    restaurants: np.ndarray,
    went: np.ndarray,
    not_for_me: np.ndarray,
    *,
    visits: np.ndarray,
    mean: np.ndarray | None = None,
    went_step: float = WENT_STEP,
    not_for_me_step: float = NOT_FOR_ME_STEP,
    prior_visits: float = PRIOR_VISITS,
) -> np.ndarray:
    """`online_vector` for many users at once (the simulation).

    Args:
        trained: (n_users, D); restaurants: (n_restaurants, D).
        went / not_for_me: (n_users, n_restaurants) 0/1 marks; visits: (n_users,).
        mean: default the mean of `restaurants`.

    Row i equals `online_vector(trained[i], restaurants[went[i] > 0], ...)`.
    """
    trained = np.asarray(trained, dtype=np.float64)
    restaurants = np.asarray(restaurants, dtype=np.float64)
    centre = restaurants.mean(axis=0) if mean is None else np.asarray(mean, dtype=np.float64)
    centred = restaurants - centre
    scale = trust_scale(went.sum(axis=1), not_for_me.sum(axis=1), visits, prior_visits)[:, None]
    step = went_step * (went @ centred) - not_for_me_step * (not_for_me @ centred)
    return np.stack([_unit(row, t) for row, t in zip(trained + scale * step, trained, strict=True)])


def _unit(v: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v)
    if not np.isfinite(norm) or norm < 1e-9:  # cancelled out: keep the trained direction
        v, norm = fallback, np.linalg.norm(fallback) or 1.0
    return (v / norm).astype(np.float32)
