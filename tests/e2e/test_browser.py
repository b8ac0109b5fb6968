"""The app in headless Chromium: map clicks, users, filters, pages, retrain, new user.

Also measures page load → map usable and click → refreshed recommendations
(printed; run with -s to see them) and takes the README screenshots.

Every wait is for a state of the page (a text, the app idle), with the generous
default timeout set in conftest.py: never a fixed sleep.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from recsys.config import DEFAULT_LAT, DEFAULT_LON, TIMEZONE, Settings
from recsys.data import hours
from recsys.model import saved
from recsys.serving import index, recommend

ROOT = Path(__file__).resolve().parents[2]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
LOCATION = re.compile(r"📍 (-?\d+\.\d{4}), (-?\d+\.\d{4})")
SUMMARY = re.compile(r"^\d+ results? · ")
MAP_IFRAME = 'iframe[title="ui.maps.leafmap"]'
# Points of the map a click must not land on: markers and clusters are not map clicks.
_FREE_POINT_JS = """(el, [fx, fy]) => {
  const box = el.getBoundingClientRect();
  const blocked = '.leaflet-marker-icon, .leaflet-control, .leaflet-tooltip, .leaflet-popup';
  for (let r = 0; r < 200; r += 6) {
    for (let a = 0; a < 360; a += (r ? 20 : 360)) {
      const x = box.width * fx + r * Math.cos(a * Math.PI / 180);
      const y = box.height * fy + r * Math.sin(a * Math.PI / 180);
      if (x < 10 || y < 10 || x > box.width - 10 || y > box.height - 10) continue;
      const hit = document.elementFromPoint(box.left + x, box.top + y);
      if (hit && el.contains(hit) && !hit.closest(blocked)) return {x, y};
    }
  }
  return null;
}"""


def idle(page: Page) -> None:
    """Wait until the script has finished its current run."""
    expect(page.locator(IDLE)).to_be_attached()


def map_container(page: Page):
    """The Leaflet container inside the map iframe, once it is visible."""
    container = page.frame_locator(MAP_IFRAME).first.locator(".leaflet-container")
    expect(container).to_be_visible()
    return container


def loaded(page: Page) -> None:
    """The page is usable: map drawn, results summary shown, script idle."""
    map_container(page)
    expect(page.get_by_text(SUMMARY)).to_be_visible()
    idle(page)


def location(page: Page) -> str:
    return page.get_by_text(LOCATION).first.inner_text()


def summary(page: Page):
    return page.get_by_text(SUMMARY)


def table_rows(page: Page) -> list[dict[str, str]]:
    """The results table, read from the data grid's accessibility table (it draws on canvas)."""
    found = int(summary(page).inner_text().split()[0])
    grid = page.get_by_test_id("stDataFrame").first
    expect(grid).to_be_visible()
    # The grid redraws its accessibility table a moment after the data arrives.
    expect(grid.locator("tbody [role=row]")).to_have_count(found)
    header = [h.strip() for h in grid.locator("[role=columnheader]").all_text_contents()]
    rows = []
    for row in grid.locator("tbody [role=row]").all():
        cells = [c.strip() for c in row.locator("[role=gridcell]").all_text_contents()]
        rows.append(dict(zip(header[-len(cells) :], cells, strict=False)))
    return rows


def metres(row: dict[str, str]) -> int:
    """The distance cell ("1,234 m") as whole metres."""
    return int(re.sub(r"\D", "", row["distance"]))


def free_point(page: Page, fx: float, fy: float) -> dict[str, float]:
    """A point near (fx, fy) of the map (fractions of its box) that is plain map."""
    point = map_container(page).evaluate(_FREE_POINT_JS, [fx, fy])
    assert point, f"no free map point near {fx:.2f}, {fy:.2f}"
    return point


def click_map(page: Page, fx: float, fy: float) -> float:
    """Click the map near (fx, fy); wait for the new location and results; return seconds.

    The time is taken in the page, from the click's pointerdown on the map (not from
    when Playwright starts its actionability checks) until the location line has
    changed and the script is idle again (polled every animation frame); both ends are
    `Date.now()` of the same browser, the map's frame and the page.
    """
    before = location(page)
    point = free_point(page, fx, fy)
    container = map_container(page)
    container.evaluate(
        "(el) => { window.__down = null; el.addEventListener('pointerdown',"
        " () => { window.__down = Date.now(); }, {once: true, capture: true}); }"
    )
    container.click(position=point)
    seen = page.wait_for_function(
        """([before, idle]) => {
          const el = [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')]
            .find((e) => e.textContent.includes('📍'));  // textContent: no forced layout
          return el && !el.textContent.includes(before) && document.querySelector(idle)
            && Date.now();
        }""",
        arg=[before, IDLE],
    ).json_value()
    down = container.evaluate("() => window.__down")
    assert down, "the click never reached the map"
    idle(page)
    return (seen - down) / 1000


def choose(page: Page, label: str, option: str) -> None:
    """Pick `option` in the selectbox labelled `label` (typing narrows virtualised lists)."""
    box = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True))
    box.click()
    page.keyboard.type(option)
    expect(page.get_by_role("option", name=option, exact=True)).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.get_by_role("combobox", name=label)).to_have_value(option)


def any_time(page: Page) -> None:
    """Drop the "open now" filter so results do not depend on when the test runs."""
    page.get_by_text("any time", exact=True).click()
    expect(summary(page)).not_to_contain_text(" · open ")
    idle(page)


def map_usable_after(page: Page) -> float:
    """Seconds from the start of navigation until the map is drawn with a non-zero size
    (measured in the page, polled every animation frame)."""
    handle = page.wait_for_function(
        """(sel) => {
          const f = document.querySelector(sel);
          const map = f && f.contentDocument && f.contentDocument.querySelector('.leaflet-pane');
          return map && f.getBoundingClientRect().height > 0 && performance.now();
        }""",
        arg=MAP_IFRAME,
    )
    return handle.json_value() / 1000


def test_map_clicks_move_location_and_recommendations(page: Page, external_asked: list[str]):
    asked_before = len(external_asked)
    cold = map_usable_after(page)
    loaded(page)
    page.reload()
    warm = map_usable_after(page)
    print(f"\npage load → map usable: {cold:.2f} s first load, {warm:.2f} s reload")
    loaded(page)
    any_time(page)
    seen, timings = [repr(table_rows(page))], []
    for fx, fy in ((0.25, 0.3), (0.7, 0.7), (0.35, 0.75), (0.65, 0.3), (0.5, 0.55), (0.3, 0.5)):
        old = location(page)
        timings.append(click_map(page, fx, fy))
        assert location(page) != old
        rows = table_rows(page)
        assert rows, "no recommendations after the click"
        assert all(metres(r) <= 2000 for r in rows), rows
        seen.append(repr(rows))
    print(
        f"click → refreshed recommendations: median {statistics.median(timings):.2f} s "
        f"over {len(timings)} clicks ({', '.join(f'{t:.2f}' for t in timings)} s)"
    )
    assert len(set(seen)) > 2, "the recommendations did not change with the location"
    # Offline as it is here, the map drew and answered clicks from the app's own files.
    assert external_asked[asked_before:] == []


def test_another_user_changes_the_ranking(page: Page):
    loaded(page)
    any_time(page)
    before = repr(table_rows(page))
    page.get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option").nth(5).click()
    expect(page.get_by_test_id("stDataFrame").first).not_to_have_text(before)
    idle(page)


def _next(weekday: int, hour: int) -> datetime:
    """The coming `weekday` at `hour`:00 in San Francisco (what the Day/Time pickers mean)."""
    now = datetime.now(TIMEZONE)
    day = now.date() + timedelta(days=(weekday - now.weekday()) % 7)
    return datetime(day.year, day.month, day.day, hour, tzinfo=TIMEZONE)


def _matching(docs: list[dict], cuisine: str, at: datetime, radius_m: float) -> set[tuple]:
    """(name, address) of every served restaurant passing all the filters of the test."""
    return {
        (d["name"], d["address"])
        for d in docs
        if cuisine in d["cuisines"]
        and 1 <= d["price"] <= 2
        and hours.is_open(d["intervals"], at) is True
        and recommend.haversine_m(DEFAULT_LAT, DEFAULT_LON, d["lat"], d["lon"]) <= radius_m
    }


def test_filters_keep_only_matching_places(page: Page, prepared: dict[str, str]):
    docs = list(index.iter_documents(Settings.from_env(prepared), "restaurants"))
    at, radius_m = _next(4, 23), 2000.0  # Friday 23:00; the default 2 km radius
    # The cuisine with the most late-night matches, so the test has results to check.
    counts = {c: len(_matching(docs, c, at, radius_m)) for d in docs for c in d["cuisines"]}
    cuisine = max(sorted(counts), key=counts.__getitem__)
    expected = _matching(docs, cuisine, at, radius_m)
    assert expected, "the test data has no late-night match for any cuisine"

    loaded(page)
    page.get_by_text("pick a day and time", exact=True).click()
    expect(page.get_by_role("combobox", name="Time")).to_be_visible()
    idle(page)
    choose(page, "Day", "Fri")
    expect(summary(page)).to_contain_text(" · open Fri ")
    idle(page)
    choose(page, "Time", "23:00")
    expect(summary(page)).to_contain_text(" · open Fri 23:00")
    idle(page)
    # The price range's upper thumb from $$$$ down to $$ with the keyboard.
    upper = page.get_by_role("slider", name=re.compile(r"^Price")).nth(1)
    upper.press("ArrowLeft")
    expect(summary(page)).to_contain_text(" · $–$$$ · ")
    idle(page)
    upper.press("ArrowLeft")
    expect(summary(page)).to_contain_text(" · $–$$ · ")
    idle(page)
    page.get_by_test_id("stMultiSelect").first.click()
    page.keyboard.type(cuisine)
    page.get_by_role("option", name=cuisine, exact=True).click()
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name=f"Remove {cuisine}", exact=True)).to_be_visible()
    expect(summary(page)).to_contain_text(f" · {cuisine} · $–$$ · open Fri 23:00 · within 2.0 km")
    idle(page)

    rows = table_rows(page)
    assert len(rows) == min(10, len(expected)), (rows, expected)
    for row in rows:
        doc = _served(docs, row)
        assert (doc["name"], doc["address"]) in expected, (row, "is not a match")
        assert cuisine in [c.strip() for c in row["cuisines"].split(",")], row
        assert row["price"] in ("$", "$$"), row
        assert row["open"].startswith("open"), row
        assert hours.is_open(doc["intervals"], at) is True, row
        assert metres(row) <= radius_m, row


def _served(docs: list[dict], row: dict[str, str]) -> dict:
    """The served restaurant a table row shows: same name, same distance (to the metre)."""
    found = [
        d
        for d in docs
        if d["name"] == row["name"]
        and abs(recommend.haversine_m(DEFAULT_LAT, DEFAULT_LON, d["lat"], d["lon"]) - metres(row))
        <= 1
    ]
    assert len(found) == 1, (row, found)
    return found[0]


_PAGE_URLS = {
    "Model": r"/model$",
    "Data": r"/data$",
    "New user": r"/new_user$",
    "Add restaurant": r"/add_restaurant$",
    # The Recommend page writes its view into the URL (share.publish) once it has run.
    "Recommend": r":\d+/(recommend)?(\?[^/]*)?$",
}


def test_every_page_opens_without_errors(page: Page):
    loaded(page)
    for name in ("Model", "Data", "New user", "Add restaurant", "Recommend"):
        page.get_by_test_id("stSidebarNav").get_by_text(name, exact=True).click()
        expect(page).to_have_url(re.compile(_PAGE_URLS[name]))
        idle(page)
        expect(page.get_by_test_id("stException")).to_have_count(0)


def test_a_map_click_places_a_new_restaurant(page: Page):
    loaded(page)
    page.get_by_test_id("stSidebarNav").get_by_text("Add restaurant", exact=True).click()
    expect(page.get_by_text("no location yet")).to_be_visible()
    idle(page)
    map_container(page).click(position=free_point(page, 0.5, 0.5))
    expect(page.get_by_text(LOCATION)).to_be_visible()  # the page took the click
    idle(page)
    # ... and the map shows the chosen place as its pin (the layer's only marker).
    body = page.frame_locator(MAP_IFRAME).first.locator("body")
    pins = "() => window.leafmap && window.leafmap.layer.getLayers().length"
    assert body.evaluate(pins) == 1
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_new_user_gets_recommendations(page: Page):
    loaded(page)
    page.get_by_test_id("stSidebarNav").get_by_text("New user", exact=True).click()
    page.get_by_role("button", name="Recommend for this profile").click()
    expect(page.get_by_text(re.compile(r"Top \d+ for"))).to_be_visible()
    idle(page)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()


def test_retrain_shows_progress_then_a_new_version(page: Page):
    loaded(page)
    sidebar = page.get_by_test_id("stSidebar")
    version_code = sidebar.locator("code").filter(has_text=re.compile(r"^m-")).first
    version = version_code.inner_text()
    epochs = sidebar.get_by_test_id("stNumberInputField")
    epochs.fill("2")
    epochs.press("Enter")
    expect(epochs).to_have_value("2")
    idle(page)
    sidebar.get_by_role("button", name="Retrain model").click()
    expect(sidebar.get_by_test_id("stProgress")).to_be_visible()
    expect(version_code).not_to_have_text(version, timeout=600_000)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def _screenshot_dir(tmp_path: Path) -> Path:
    """docs/screenshots when asked for by scripts/screenshots.py, else a temporary dir."""
    return Path(os.environ.get("RECSYS_SCREENSHOT_DIR") or tmp_path)


def _ensure_evaluation(env: dict[str, str]) -> None:
    """The Model page charts the saved evaluation: make one if training did not."""
    settings = Settings.from_env(env)
    served = index.live_info(settings)["model_version"]
    if not saved.evaluation_path(settings, served).exists():
        cmd = [sys.executable, "-m", "recsys", "evaluate"]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]


def test_screenshots_of_the_main_and_model_pages(open_page, prepared, tmp_path: Path):
    """The README's pictures: an explained result, the taste map, compare, the Model page."""
    shots = _screenshot_dir(tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    _ensure_evaluation(prepared)
    page = open_page(width=1440, height=1000)
    loaded(page)
    any_time(page)
    page.get_by_text("Why these places", exact=True).click()
    idle(page)
    click_map(page, 0.45, 0.5)
    frame = page.frame_locator(MAP_IFRAME).first
    # Dispatched, not clicked: a neighbouring marker may overlap the first one.
    frame.locator(".leaflet-marker-icon", has_text=re.compile(r"^1$")).first.dispatch_event("click")
    popup = frame.locator(".leaflet-popup")
    expect(popup).to_have_css("opacity", "1")  # faded in
    expect(popup).to_contain_text("match")
    expect(page.get_by_test_id("stDataFrame").first).to_be_in_viewport()
    page.screenshot(path=str(shots / "main.png"))

    page.get_by_text("Why these places", exact=True).click()
    page.get_by_text("Taste map", exact=True).click()
    page.get_by_text("Past visits", exact=True).click()
    idle(page)
    assert _layer_colours(page, 0.85, 1)  # the taste map is drawn
    assert _layer_colours(page, 0.0, 3)  # and the rings of the past visits
    page.screenshot(path=str(shots / "taste.png"))

    page.get_by_role("link", name="Compare users").click()
    expect(page.get_by_test_id("stDataFrame")).to_have_count(2)
    idle(page)
    page.screenshot(path=str(shots / "compare.png"))

    page.get_by_test_id("stSidebarNav").get_by_text("Model", exact=True).click()
    evaluation = page.get_by_text("Evaluation: two-tower vs oracle vs baselines")
    expect(evaluation).to_be_visible()
    idle(page)
    expect(page.get_by_text("No evaluation yet")).to_have_count(0)
    page.set_viewport_size({"width": 1440, "height": 1150})  # down to the evaluation chart
    chart = page.get_by_test_id("stVegaLiteChart").nth(2)  # loss, validation, evaluation
    expect(chart.locator("canvas, svg").first).to_be_visible()
    page.screenshot(path=str(shots / "model.png"))
    for name in ("main.png", "taste.png", "compare.png", "model.png"):
        assert (shots / name).stat().st_size < 300_000, f"{name} is too large for the README"


def test_a_retrain_in_one_app_process_is_seen_and_refused_in_another(
    open_page, second_app_url: str
):
    """Two Streamlit processes on one Redis share no state but Redis: the load lock."""
    first, second = open_page(), open_page(url=second_app_url)
    loaded(first)
    loaded(second)
    expect(first.get_by_role("button", name="Deploy")).to_have_count(0)  # toolbar: minimal
    sidebar = first.get_by_test_id("stSidebar")
    version_code = sidebar.locator("code").filter(has_text=re.compile(r"^m-")).first
    version = version_code.inner_text()
    idle(first)
    sidebar.get_by_role("button", name="Retrain model").click()
    # Past "starting": the job holds the lock (its first stages report after taking it).
    expect(sidebar.get_by_test_id("stProgress")).to_contain_text(re.compile(r"(data|train): "))
    second.reload()
    other = second.get_by_test_id("stSidebar")
    expect(other.get_by_text("Retraining… (started by")).to_be_visible()
    expect(other.get_by_role("button", name="Retrain model")).to_be_disabled()
    expect(sidebar.get_by_test_id("stProgress")).to_be_visible()  # it was running meanwhile
    # When it has finished, both processes serve the new model; the second one is free again.
    expect(version_code).not_to_have_text(version, timeout=600_000)
    new_version = version_code.inner_text()
    other_code = other.locator("code").filter(has_text=re.compile(r"^m-")).first
    expect(other_code).to_have_text(new_version, timeout=120_000)
    expect(other.get_by_role("button", name="Retrain model")).to_be_enabled()
    expect(second.get_by_test_id("stException")).to_have_count(0)


def test_a_shared_url_restores_the_view_after_reload(open_page, app_url: str, prepared):
    settings = Settings.from_env(prepared)
    user = next(u for u in index.iter_documents(settings, "users") if len(u["visited"]) >= 3)
    link = f"{app_url}/?lat=37.794600&lon=-122.400500&r=1.5&user={user['user_id']}&open=any&k=7"
    page = open_page(url=link)
    loaded(page)
    assert location(page) == "📍 37.7946, -122.4005"
    picker = page.get_by_role("combobox", name="Who is eating?")
    expect(picker).to_have_value(re.compile(re.escape(f"({user['user_id']})")))
    expect(summary(page)).to_contain_text("within 1.5 km")
    # Move by a click: the address bar follows, and a reload (or sending it) restores it.
    click_map(page, 0.3, 0.6)
    moved = location(page)
    expect(page).to_have_url(re.compile(r"lat=.*lon="))
    page.reload()
    loaded(page)
    assert location(page) == moved
    expect(picker).to_have_value(re.compile(re.escape(f"({user['user_id']})")))
    expect(summary(page)).to_contain_text("within 1.5 km")


def test_comparing_two_users_shows_both_lists(page: Page):
    loaded(page)
    page.get_by_role("link", name="Compare users").click()
    expect(page.get_by_role("heading", name="Compare two users")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame")).to_have_count(2)
    expect(page.get_by_test_id("stMetric").get_by_text(re.compile(r"^\d+ of 10$"))).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)


# The map draws on a canvas (prefer_canvas), so dots are read through Leaflet itself:
# The map component keeps the click's own layer in the iframe's window.leafmap.layer.
_LAYER_OPTIONS_JS = """(body, [opacity, weight]) => {
  const group = window.leafmap && window.leafmap.layer;
  if (!group) return [];
  return group.getLayers()
    .filter((l) => l.options && l.options.fillOpacity === opacity && l.options.weight === weight)
    .map((l) => l.options.fillColor);
}"""


def _layer_colours(page: Page, opacity: float, weight: int, changed_from=None) -> list[str]:
    """Fill colours of the dynamic layer's dots with these options, once there are some
    (and they differ from `changed_from`, when given)."""
    body = page.frame_locator(MAP_IFRAME).first.locator("body")
    deadline = time.monotonic() + 90.0  # as generous as every other wait here
    while time.monotonic() < deadline:
        colours = body.evaluate(_LAYER_OPTIONS_JS, [opacity, weight])
        if colours and colours != changed_from:
            return colours
        page.wait_for_timeout(250)  # polling a state in the map, not a fixed wait
    raise AssertionError(f"no dots with fillOpacity {opacity} and weight {weight} appeared")


def test_the_taste_map_changes_with_the_user(page: Page):
    loaded(page)
    page.get_by_text("Taste map", exact=True).click()
    idle(page)
    first = _layer_colours(page, 0.85, 1)
    assert len(first) > 100 and len(set(first)) >= 3  # a ramp, not one colour
    users = page.get_by_role("combobox", name="Who is eating?")
    before = users.input_value()
    users.click()
    page.get_by_role("option").nth(5).click()
    expect(users).not_to_have_value(before)
    idle(page)
    second = _layer_colours(page, 0.85, 1, changed_from=first)
    assert sorted(second) != sorted(first) or second != first
    page.get_by_text("Past visits", exact=True).click()
    idle(page)
    assert _layer_colours(page, 0.0, 3)  # the rings of the user's past visits
