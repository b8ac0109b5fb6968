"""AppTest fixtures: the real library on the test Redis, one prepared namespace per session.

The app reads its settings from the environment, so each test points the
environment at the prepared namespace and clears Streamlit's process-wide caches.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from recsys.config import Settings

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
EPOCHS = 3  # a small, quick model: these tests check the UI, not the model


@pytest.fixture(scope="session")
def prepared(redis_server, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One namespace with data, a small trained model and a live index."""
    from recsys import pipeline

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("app-data"),
        namespace="app" + uuid.uuid4().hex[:8],
        redis_url=redis_server.url,
    )
    with mock.patch.dict("os.environ", {"RECSYS_DATA_URL": "none"}):
        pipeline.retrain(settings, epochs=EPOCHS)
    return settings


def use(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Point the app (which reads the environment) at `settings`; forget cached state."""
    monkeypatch.setenv("RECSYS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("RECSYS_NAMESPACE", settings.namespace)
    monkeypatch.setenv("RECSYS_DATA_URL", "none")
    if settings.redis_url:
        monkeypatch.setenv("REDIS_URL", settings.redis_url)
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def point_app_at(monkeypatch: pytest.MonkeyPatch):
    """`point_app_at(settings)`: run the app against other settings (error cases)."""
    return lambda settings: use(monkeypatch, settings)


@pytest.fixture
def app(prepared: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    """The app on the prepared namespace, first run done, map clicks faked by `click`."""
    use(monkeypatch, prepared)
    at = AppTest.from_file(APP, default_timeout=120)
    yield at


class FakeMap:
    """Stands in for the map component (AppTest cannot render Leaflet): returns the last
    click, and keeps the background and the layer the page drew."""

    def __init__(self) -> None:
        self.last_clicked: dict[str, float] | None = None
        self.bases: list = []
        self.layers: list = []

    def click(self, lat: float, lon: float) -> None:
        self.last_clicked = {"lat": lat, "lng": lon}

    def __call__(self, base, layer, **kwargs) -> dict:
        self.bases.append(base)
        self.layers.append(layer)
        return {"last_clicked": self.last_clicked}


@pytest.fixture
def fake_map() -> Iterator[FakeMap]:
    fake = FakeMap()
    with mock.patch("ui.maps.show", fake):
        yield fake
