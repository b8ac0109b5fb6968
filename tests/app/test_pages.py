"""Every page through Streamlit's AppTest, on the real library and the test Redis."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from recsys.config import Settings
from recsys.serving import index

APP = str(Path(__file__).resolve().parents[2] / "app.py")

# Two points in San Francisco, a few km apart (Western Addition, Mission).
A = (37.7790, -122.4390)
B = (37.7599, -122.4148)


def location_text(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "📍" in m.value)


def results(at: AppTest) -> pd.DataFrame:
    return at.dataframe[0].value


def any_time(at: AppTest) -> AppTest:
    """Drop the default "open now" filter: results must not depend on when tests run."""
    return at.radio(key="open_at_mode").set_value("any time").run()


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_recommend_page_lists_ranked_results_within_the_radius(app, fake_map):
    app.run()
    assert app.sidebar.button(key="retrain") is not None
    any_time(app)
    no_errors(app)
    table = results(app)
    assert list(table["#"]) == list(range(1, len(table) + 1))
    assert (table["distance_m"] <= 2000).all()
    assert (table["open"] == "—").all()  # no time asked: nothing to say about opening
    assert any(c.value == f"{len(table)} results · within 2.0 km" for c in app.caption)


def test_sidebar_describes_the_served_model(app, fake_map, prepared):
    from recsys.serving import index

    live = index.live_info(prepared)
    app.run()
    no_errors(app)
    text = " ".join(m.value for m in app.sidebar.markdown)
    assert live["model_version"] in text and "val R@10 **0." in text
    assert f"epochs **{live['model']['metrics']['epochs']}**" in text
    captions = " ".join(c.value for c in app.sidebar.caption)
    assert f"Index version {live['version']} (FLAT)" in captions
    # Model selection's outcome, recorded with the live index, is shown.
    winner = live["model"]["selection"]["winner"]
    assert f"Selected **{winner}** of " in captions and "candidates by validation" in captions


def test_model_page_shows_every_candidate_and_the_chosen_one(app, fake_map, prepared):
    from recsys import coldstart

    model = coldstart.serving_model(prepared)
    app.run()
    app.switch_page("pages/model.py").run()
    no_errors(app)
    winner = model.selection["winner"]
    assert any(f"Chosen: **{winner}**" in m.value for m in app.markdown)
    table = app.dataframe[0].value
    assert list(table["candidate"]) == [c["name"] for c in model.selection["candidates"]]
    assert list(table.loc[table["chosen"], "candidate"]) == [winner]
    assert table["val recall@10"].between(0, 1).all()
    # The learnable oracle's row is explained under the evaluation chart.
    assert any(c.value.startswith("oracle_learnable: the planted affinity") for c in app.caption)


def test_a_map_click_moves_the_location_and_the_results(app, fake_map):
    any_time(app.run())
    fake_map.click(*A)
    app.run()
    first = results(app)
    assert "37.7790, -122.4390" in location_text(app)
    fake_map.click(*B)
    app.run()
    no_errors(app)
    assert "37.7599, -122.4148" in location_text(app)
    second = results(app)
    assert (second["distance_m"] <= 2000).all()
    assert list(first["name"]) != list(second["name"])


def test_another_user_gets_another_ranking(app, fake_map):
    any_time(app.run())
    users = app.selectbox(key="user")
    before = list(results(app)["name"])
    app.selectbox(key="user").set_value(users.options[-1].rsplit("(", 1)[1].rstrip(")")).run()
    no_errors(app)
    assert list(results(app)["name"]) != before


def test_the_first_screen_shows_a_user_with_past_visits(app, fake_map, prepared):
    app.run()
    no_errors(app)
    user_id = app.selectbox(key="user").value
    assert len(index.get_user(prepared, user_id)["visited"]) >= 5
    assert any("past visits **" in md.value and "**0**" not in md.value for md in app.markdown)


def test_cuisine_and_price_filters_keep_only_matching_places(app, fake_map):
    app.run()
    cuisine = app.multiselect(key="cuisines").options[0]
    app.multiselect(key="cuisines").set_value([cuisine])
    app.select_slider(key="price").set_value((1, 2))
    app.radio(key="open_at_mode").set_value("any time")
    app.run()
    no_errors(app)
    table = results(app)
    assert len(table) > 0
    assert table["cuisines"].str.contains(cuisine, regex=False).all()
    assert table["price"].isin(["$", "$$"]).all()
    summary = f"{len(table)} result{'s' if len(table) != 1 else ''} · {cuisine} · $–$$ · within"
    assert any(c.value.startswith(summary) for c in app.caption), [c.value for c in app.caption]


def test_empty_state_names_the_tightest_filter(app, fake_map):
    app.run()
    fake_map.click(37.7425, -122.5100)  # Ocean Beach: no restaurant within 250 m
    app.slider(key="radius_km").set_value(0.25).run()
    no_errors(app)
    assert any("No restaurant matches" in w.value for w in app.warning)
    assert any("within the radius" in i.value for i in app.info)
    # One click relaxes it: the radius doubles and results come back.
    app.button(key="relax_location").click().run()
    assert app.slider(key="radius_km").value == 0.5
    for _ in range(4):  # 0.5 -> 1 -> 2 -> 4 -> 8 km, while it is still the tightest
        if len(app.dataframe) or "relax_location" not in [b.key for b in app.button]:
            break
        app.button(key="relax_location").click().run()
    assert len(results(app)) > 0


@pytest.mark.parametrize(
    "page", ["pages/model.py", "pages/data.py", "pages/new_user.py", "pages/compare.py"]
)
def test_each_page_opens_without_errors(app, fake_map, page):
    app.run()
    app.switch_page(page).run()
    no_errors(app)


def test_data_page_search_filters_rows(app, fake_map):
    app.run()
    app.switch_page("pages/data.py").run()
    # The source recorded with the live index is stated plainly.
    assert any("Generated San Francisco data set" in i.value for i in app.info)
    total = len(app.dataframe[0].value)
    name = app.dataframe[0].value["name"].iloc[0]
    app.text_input(key="search_restaurants").input(name).run()
    found = app.dataframe[0].value
    assert 0 < len(found) < total
    assert found["name"].str.contains(name, regex=False).all()


def test_new_user_gets_cold_start_recommendations(app, fake_map):
    app.run()
    app.switch_page("pages/new_user.py").run()
    app.button[0].click().run()  # the form's submit button
    no_errors(app)
    assert len(results(app)) > 0


def test_a_saved_new_user_joins_the_user_picker(app, fake_map, prepared):
    from recsys.serving import index

    app.run()
    app.switch_page("pages/new_user.py").run()
    app.text_input[0].input("Saved Newcomer")
    app.button[0].click().run()
    app.button(key="save_new_user").click().run()
    no_errors(app)
    saved = next(s.value for s in app.success if "Saved as" in s.value)
    user_id = saved.split("**")[1]
    assert index.get_user(prepared, user_id)["name"] == "Saved Newcomer"
    app.switch_page("pages/recommend.py").run()
    assert any("Saved Newcomer" in option for option in app.selectbox[0].options)


def test_added_restaurant_is_served_at_once(app, fake_map):
    app.run()
    app.switch_page("pages/add_restaurant.py").run()
    fake_map.click(37.7700, -122.4500)
    app.run()
    app.text_input[0].input("Chez Test Kitchen")
    app.text_input[1].input("1 Test Street")
    app.button[0].click().run()
    no_errors(app)
    assert any("Chez Test Kitchen" in s.value for s in app.success)
    app.switch_page("pages/data.py").run()
    assert "Chez Test Kitchen" in set(app.dataframe[0].value["name"])


def test_bad_input_is_a_message_not_a_traceback(app, fake_map):
    app.run()
    app.switch_page("pages/add_restaurant.py").run()
    app.button[0].click().run()  # no map click, no name
    assert not app.exception
    assert app.error


def test_unreachable_redis_is_explained(point_app_at, tmp_path, fake_map):
    point_app_at(Settings(data_dir=tmp_path, namespace="down", redis_url="redis://127.0.0.1:1"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("Redis" in e.value for e in at.error)


def test_nothing_prepared_says_what_to_run(redis_server, point_app_at, tmp_path, fake_map):
    point_app_at(Settings(data_dir=tmp_path, namespace="empty1", redis_url=redis_server.url))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("prepare" in e.value for e in at.error)
    # The page stopped, the sidebar still says what is wrong and offers the Retrain button.
    assert any("Redis" in c.value for c in at.sidebar.caption)
    assert at.sidebar.button(key="retrain")


def test_a_shared_link_restores_the_view_and_the_url_follows_changes(app, fake_map, prepared):
    users = index.iter_documents(prepared, "users")
    user = next(u for u in users if len(u["visited"]) >= 3)["user_id"]
    cuisine = index.live_info(prepared)["cuisines"][0]
    app.query_params.update(
        lat="37.7946", lon="-122.4005", r="1.5", user=user, price="2-3", rating="3.5",
        k="7", open="fri-20:00", cuisine=[cuisine],
    )  # fmt: skip
    app.run()
    no_errors(app)
    assert "37.7946, -122.4005" in location_text(app)
    assert app.selectbox(key="user").value == user
    assert app.slider(key="radius_km").value == 1.5
    assert app.select_slider(key="price").value == (2, 3)
    assert app.slider(key="min_rating").value == 3.5
    assert app.slider(key="k").value == 7
    assert app.radio(key="open_at_mode").value == "pick a day and time"
    assert app.multiselect(key="cuisines").value == [cuisine]
    assert app.query_params["user"] == user and app.query_params["open"] == "fri-20:00"
    # A change on the page is written back into the URL.
    fake_map.click(37.7599, -122.4148)
    app.run()
    assert app.query_params["lat"] == "37.759900" and app.query_params["lon"] == "-122.414800"


@pytest.mark.parametrize(
    ("name", "value"),
    [("lat", "north"), ("lat", "1e999"), ("r", "0.3"), ("r", "99"), ("user", "<script>"),
     ("price", "3-1"), ("k", "1000"), ("open", "fri-25:00"), ("rating", "nan"),
     ("cuisine", "x" * 500)],
)  # fmt: skip
def test_a_bad_link_value_is_named_and_ignored(app, fake_map, name, value):
    app.query_params.update({name: value, **({"lon": "-122.4"} if name == "lat" else {})})
    app.run()
    no_errors(app)
    warning = " ".join(w.value for w in app.warning)
    assert f"{name}=" in warning and "Ignored from the link" in warning
    assert len(results(app)) > 0  # the page still works with the defaults


def test_compare_shows_two_users_lists_side_by_side(app, fake_map):
    app.switch_page("pages/compare.py").run()
    no_errors(app)
    first, second = app.selectbox(key="compare_a").value, app.selectbox(key="compare_b").value
    assert first != second
    assert len(app.dataframe) == 2
    lists = [frame.value for frame in app.dataframe]
    assert all(len(frame) == 10 for frame in lists)
    shared = set(lists[0]["name"]) & set(lists[1]["name"])
    assert app.metric[0].value == f"{len(shared)} of 10"
    assert list(lists[0]["name"]) != list(lists[1]["name"])
    # The same user twice: identical lists, all shared.
    app.selectbox(key="compare_b").set_value(first).run()
    assert app.metric[0].value == "10 of 10"


def test_feedback_buttons_change_the_results_and_the_card(app, fake_map, prepared):
    from recsys.serving import feedback

    app.run()
    any_time(app)
    user = app.selectbox(key="user").value
    feedback.reset(prepared, user)
    app.run()
    first = results(app)["name"].iloc[0]
    app.button(key="feedback_not_for_me").click().run()
    no_errors(app)
    assert first not in list(results(app)["name"])
    went = results(app)["name"].iloc[0]
    app.button(key="feedback_went").click().run()
    no_errors(app)
    card = " ".join(c.value for c in app.caption)
    assert "✓ went:" in card and "✗ not for me:" in card
    marks = {m.label for m in feedback.for_user(prepared, user)}
    assert marks == {1, -1} and went
    app.button(key="feedback_reset").click().run()
    assert feedback.for_user(prepared, user) == []
    assert first in list(results(app)["name"])


def test_why_these_places_names_a_like_of_the_user(app, fake_map, prepared):
    any_time(app.run())
    app.toggle(key="explain").set_value(True).run()
    no_errors(app)
    table = results(app)
    assert "why" in table.columns
    profile = index.get_user(prepared, app.selectbox(key="user").value)
    likes = set(profile["likes"])
    assert any(any(like in str(why) for like in likes) for why in table["why"])
    fits = ("price range", "pricier", "cheaper")
    assert all(any(fit in str(why) for fit in fits) for why in table["why"])


def test_live_tables_are_shared_and_hold_what_the_pages_use(app, prepared):
    """The live tables come out of a resource cache: every run gets the same frame (no
    copy per run or click: at 20,000 places a copy of the whole documents cost ~1.5 s),
    without the index's tokens and vectors."""
    from ui import state

    live = index.require_live(prepared)
    first, again = state.restaurants(live), state.restaurants(live)
    assert first is again
    assert list(first.columns) == list(state._TABLE_FIELDS["restaurants"])
    assert len(first) == live["restaurants"]
    assert state.restaurant_names(live) is state.restaurant_names(live)
    assert state.restaurant_names(live)[str(first["id"].iloc[0])] == first["name"].iloc[0]
    users = state.users(live)
    assert users is state.users(live)
    assert "embedding" not in users.columns
    assert users["name"].is_monotonic_increasing


@pytest.mark.parametrize("limit", [100_000, 50], ids=["every place", "density"])
def test_the_map_background_is_every_place_or_past_the_limit_their_density(
    app, fake_map, prepared, monkeypatch, limit
):
    """Up to `BASE_MAX_PLACES` the background file lists every restaurant; past it (here
    made small), the density of places on a grid, every place counted once."""
    import json

    from ui import maps

    monkeypatch.setattr(maps, "BASE_MAX_PLACES", limit)
    maps._cached_base.clear()  # built once per live load: build it again with this limit
    app.run()
    no_errors(app)
    base = fake_map.bases[-1]
    rows = json.loads((maps._served()[0] / base["url"]).read_text(encoding="utf-8"))
    total = index.require_live(prepared)["restaurants"]
    if limit > total:
        assert base["kind"] == "places" and len(rows) == total
    else:
        assert base["kind"] == "density" and sum(r[3] for r in rows) == total
        assert len(rows) < total
