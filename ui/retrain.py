"""Retraining off the script thread, one job per process, visible to every session.

A Streamlit rerun interrupts the script thread, so training runs in its own
thread; the job lives in this module (imported once per process) so every
session can see it. `pipeline.retrain` also takes a Redis lock, which stops a
second retrain started elsewhere (the CLI, another app process).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recsys.config import Settings
from recsys.errors import RecsysError
from recsys.progress import Progress


@dataclass
class Job:
    """One retraining run and what it reported so far."""

    id: str
    started: float
    last: Progress | None = None
    losses: list[float] = field(default_factory=list)
    done: bool = False
    error: str | None = None
    result: Any = None

    def on_progress(self, event: Progress) -> None:
        """Progress callback given to `pipeline.retrain` (runs on the job thread)."""
        self.last = event
        loss = event.extra.get("loss") if event.extra else None
        if loss is not None and event.stage == "train":
            self.losses.append(float(loss))


_lock = threading.Lock()
_current: Job | None = None


def current() -> Job | None:
    """The running job, or the last finished one."""
    return _current


def running() -> Job | None:
    """The job that is still running, if any."""
    job = _current
    return job if job is not None and not job.done else None


def start(settings: Settings, on_done: Callable[[], None], epochs: int | None = None) -> Job:
    """Start retraining in a background thread.

    Raises:
        RecsysError: a retrain is already running in this app.
    """
    global _current
    with _lock:
        job = running()
        if job is not None:
            ago = time.time() - job.started
            raise RecsysError(
                f"A retrain is already running (started {ago:.0f} s ago): wait for it to finish."
            )
        job = Job(id=uuid.uuid4().hex, started=time.time())
        _current = job
    thread = threading.Thread(
        target=_run,
        args=(job, settings, on_done, epochs),
        name=f"retrain-{job.id[:8]}",
        daemon=True,
    )
    thread.start()
    return job


def _run(job: Job, settings: Settings, on_done: Callable[[], None], epochs: int | None) -> None:
    from recsys import pipeline

    try:
        job.result = pipeline.retrain(settings, epochs=epochs, progress=job.on_progress)
    except RecsysError as exc:
        job.error = str(exc)
    except Exception as exc:  # shown in the sidebar: a thread has nowhere else to report
        job.error = f"Retraining failed: {exc.__class__.__name__}: {exc}"
    finally:
        if job.error is None:
            on_done()
        job.done = True
