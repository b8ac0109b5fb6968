"""App feedback in the browser: "Not for me" removes a place, "I went here" joins the
user's card, and both survive a page reload and a restart of the embedded Redis.

This test runs its own app on its own embedded Redis (no REDIS_URL), so restarting that
server touches no other test. Every wait is for a state of the page, never a sleep.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import EXPECT_TIMEOUT_MS, EXTERNAL, _route_offline, running_app
from tests.e2e.test_browser import any_time, idle, loaded, table_rows

ROOT = Path(__file__).resolve().parents[2]
CARD = re.compile(r"^Feedback in the app: ")


def _recsys(env: dict[str, str], *args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "recsys", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.fixture(scope="module")
def own_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """(URL, environment) of an app on an embedded Redis of its own."""
    home = tmp_path_factory.mktemp("e2e-feedback")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECSYS_") and k != "REDIS_URL"}
    env.update(
        RECSYS_DATA_DIR=str(home / "data"),
        RECSYS_NAMESPACE="feedback",
        RECSYS_DATA_URL="none",
        XDG_CONFIG_HOME=str(home / "xdg-config"),
        XDG_CACHE_HOME=str(home / "xdg-cache"),
        PYTHONUNBUFFERED="1",
    )
    try:
        _recsys(env, "train", "--epochs", os.environ.get("RECSYS_E2E_EPOCHS", "3"))
        with running_app(env, tmp_path_factory) as url:
            yield url, env
    finally:
        subprocess.run(
            [sys.executable, "-m", "recsys", "redis", "stop"], cwd=ROOT, env=env, timeout=120
        )


def _open(browser, url: str) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.route(EXTERNAL, _route_offline)
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    page = context.new_page()
    page.goto(url)
    return page


def _open_with_picker(browser, url: str) -> tuple[Page, Locator]:
    """A loaded page (any time of day) and its feedback picker, on the first result as
    the server rendered it (the grid's accessibility rows can lag a rerun behind on a
    busy machine)."""
    page = _open(browser, url)
    loaded(page)
    any_time(page)
    picker = page.get_by_role("combobox", name="Your feedback on")
    expect(picker).to_have_value(re.compile(r"^1\. "))
    return page, picker


def _names(page: Page) -> list[str]:
    """The names in rank order (the grid's accessibility rows need not be in order)."""
    rows = sorted(table_rows(page), key=lambda row: int(row["#"]))
    return [row["name"] for row in rows]


def _card(page: Page):
    return page.get_by_text(CARD)


def _check_state(page: Page, rejected: str, went: str) -> None:
    """After a reload or a restart: the rejected place is gone, the visit on the card."""
    loaded(page)
    any_time(page)
    expect(_card(page)).to_contain_text(f"✓ went: {went}")
    expect(_card(page)).to_contain_text(f"✗ not for me: {rejected}")
    assert rejected not in _names(page)


def test_feedback_changes_the_list_and_the_card_and_survives_restarts(browser, own_app):
    url, env = own_app
    page, picker = _open_with_picker(browser, url)
    first = picker.input_value().split(". ", 1)[1]
    before = _names(page)
    page.get_by_role("button", name="✗ Not for me").click()
    expect(page.get_by_test_id("stDataFrame").first).not_to_contain_text(first)
    idle(page)
    after = _names(page)
    assert first not in after and after != before
    expect(picker).not_to_have_value(re.compile(re.escape(first)))
    went = picker.input_value().split(". ", 1)[1]
    page.get_by_role("button", name="✓ I went here").click()
    expect(_card(page)).to_contain_text(f"✓ went: {went}")
    idle(page)

    page.reload()
    _check_state(page, first, went)

    _recsys(env, "redis", "stop")
    _recsys(env, "redis", "start")
    page.reload()
    _check_state(page, first, went)
    page.context.close()


def test_a_selected_table_row_is_the_place_feedback_acts_on(browser, own_app):
    url, _ = own_app
    page, picker = _open_with_picker(browser, url)
    grid = page.get_by_test_id("stDataFrame").first
    box = grid.bounding_box()
    assert box is not None
    # The grid draws on a canvas: the row-selection marker is the leftmost column, rows
    # are as tall as the header; the third row's marker is in its middle.
    header = box["height"] / (len(table_rows(page)) + 1)
    grid.click(position={"x": 12, "y": header * 3.5})
    expect(picker).to_have_value(re.compile(r"^3\. "))
    idle(page)
    page.context.close()
