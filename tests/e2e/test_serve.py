"""`python -m ui.serve` runs the default page once as soon as the server answers, so
the first visitor finds Streamlit's caches full (no browser needed here)."""

from __future__ import annotations

from tests.e2e.conftest import _free_port
from ui import serve


def test_the_warm_up_session_runs_the_default_page_to_the_end(app_url: str) -> None:
    # The app under test was started by `python -m ui.serve`, which ran this once already.
    assert serve.warm_up(app_url, timeout=120)


def test_warming_up_a_server_that_never_answers_gives_up() -> None:
    assert not serve.warm_up(f"http://127.0.0.1:{_free_port()}", timeout=0.5)
