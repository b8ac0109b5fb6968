"""Hostile values at the library's entry points: types, lengths, dates, escaping."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pandas as pd
import pytest

from recsys import limits
from recsys.config import Settings, redact_url
from recsys.data import table, users
from recsys.errors import RecsysError
from recsys.model.features import AGE_GROUPS, prepare_users
from recsys.serving.filters import Filters

BASE = {"likes": ["pizza"], "price_bracket": "low"}


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ({"name": {"x": 1}}, "name {'x': 1} is not text (a dict)"),
        ({"user_id": [1]}, "user_id [1] is not text (a list)"),
        ({"user_id": True}, "user_id True is not text"),
        ({"user_id": "a\nb"}, "contains a control character"),
        ({"user_id": "u" * 65}, "longer than 64 characters"),
        ({"birthdate": "9999-01-01"}, "birthdate '9999-01-01' is not between 1900-01-01"),
        ({"birthdate": "1800-01-01"}, "birthdate '1800-01-01' is not between"),
        ({"birthdate": "0001-01-01"}, "birthdate '0001-01-01' is not between"),
        ({"birthdate": 1990}, "birthdate 1990 is not a date"),
        ({"account_created_on": "9999-12-31"}, "account_created_on"),
        ({"name": "n" * 10_000_000}, "is longer than 200 characters"),
        ({"email": ["a@b"]}, "email ['a@b'] is not text"),
        ({"likes": ["pizza", 3]}, "like 3 is not text"),
        ({"likes": "x" * 5000}, "is too long"),
        ({"price_bracket": ["low"]}, "price_bracket ['low'] must be one of"),
        ({"newsletter": {"a": 1}}, "newsletter {'a': 1} is not true or false"),
    ],
)
def test_profiles_are_refused_with_one_short_sentence(profile, message) -> None:
    with pytest.raises(RecsysError) as caught:
        users.validate_profile({**BASE, **profile})
    text = str(caught.value)
    assert message in text and "\n" not in text and len(text) < 400, text


def test_a_valid_profile_keeps_its_values() -> None:
    out = users.validate_profile({**BASE, "user_id": 42, "name": "  Ann  ", "phone_number": 5551})
    assert out["user_id"] == "42" and out["name"] == "Ann" and out["phone_number"] == "5551"


def test_age_groups_take_any_age() -> None:
    # Validation keeps birthdates sensible; the features never crash on one that is not.
    frame = pd.DataFrame([users.validate_profile(BASE)] * 2)
    frame["birthdate"] = ["1800-01-01", "2024-12-31"]
    groups = prepare_users(frame)["age_group"].tolist()
    assert groups == [list(AGE_GROUPS)[-1], next(iter(AGE_GROUPS))]


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def _record(**overrides) -> dict:
    return {"name": "Place", "latitude": 37.7, "longitude": -122.4, "cuisine": ["Thai"],
            "price": 2, "rating": 4, **overrides}  # fmt: skip


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (_record(name="n" * 201), "name 'nnnn"),
        (_record(name={"x": 1}), "name {'x': 1} is not a non-empty text"),
        (_record(address="a" * 301), "longer than 300"),
        (_record(locality=["SF"]), "locality ['SF']"),
        (_record(id="i" * 129), "longer than 128"),
        (_record(id="a\tb"), "control character"),
        (_record(cuisine=["Thai,Dessert"]), "contains a comma"),
        (_record(cuisine=["Thai`"]), "contains a backtick"),
        (_record(cuisine=["Th\nai"]), "contains a control character"),
        (_record(cuisine=["T\x00"]), "contains a control character"),
        (_record(cuisine=[f"c{i}" for i in range(21)]), "21 cuisines; at most 20"),
        (_record(reviews=[{"x": _nested(25)}]), "nested more than 20 levels"),
    ],
)
def test_restaurant_records_are_refused_with_one_short_sentence(record, message) -> None:
    with pytest.raises(RecsysError) as caught:
        table.validate_record(record, 0)
    text = str(caught.value)
    assert text.startswith("restaurant #1") and message in text, text
    assert "\n" not in text and len(text) < 400, text


def test_echo_shortens_long_values() -> None:
    assert limits.echo("abc") == "'abc'"
    long = limits.echo("x" * 10_000_000)
    assert len(long) < 80 and long.endswith("(10,000,000 characters)")


@pytest.mark.parametrize("at", ["0001-01-01T00:00+14:00", "9999-12-31T23:59-12:00"])
def test_times_beyond_the_calendar_are_one_sentence(at) -> None:
    with pytest.raises(RecsysError, match="outside the years"):
        Filters(at=at).validate()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@[::1", "redis://:****@[::1"),
        ("redis://user:pw@host:6379/0", "redis://user:****@host:6379/0"),
        ("redis://host:6379", "redis://host:6379"),
        ("redis://:p@w@[::1]:x", "redis://:****@[::1]:x"),
    ],
)
def test_urls_are_redacted_even_when_malformed(url, shown) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize("url", ["redis://:pw@[::1", "redis://:pw@h:99999", "redis://:pw@h:x"])
def test_malformed_redis_urls_are_refused_without_the_password(url) -> None:
    with pytest.raises(RecsysError) as caught:
        Settings.from_env({"REDIS_URL": url})
    assert "REDIS_URL" in str(caught.value) and "pw" not in str(caught.value)


PAYLOADS = [
    "Tpl ${document.title='X'} Bar",
    "x` + (document.title='X') + `",
    "<img src=x onerror=document.title='X'>",
    "<script>document.title='X'</script>",
    "back\\",
]


def test_map_labels_are_escaped_for_html_and_js_template_literals() -> None:
    from ui import fmt, maps

    for payload in PAYLOADS:
        text = fmt.map_text(payload)
        assert not re.search(r"[<>`$\\]", text), text
    frame = pd.DataFrame({"lat": [37.7] * 5, "lon": [-122.4] * 5, "name": PAYLOADS})
    results = [
        {"rank": i + 1, "name": p, "lat": 37.7, "lon": -122.4, "cuisine": [p], "price": 2,
         "rating": 4.0, "distance_m": 5.0, "score": 0.5, "open_at": True, "closes_at": "22:00",
         "why": p}
        for i, p in enumerate(PAYLOADS)
    ]  # fmt: skip
    places = [SimpleNamespace(lat=37.7, lon=-122.4, name=p, score=0.5) for p in PAYLOADS]
    layer = maps.result_layer((37.7, -122.4), 500, results)
    maps.taste_layer(places, layer)
    maps.visits_layer(places, layer)
    # Everything the map component receives: Leaflet renders these strings as HTML.
    labels = [row[2] for row in maps.base_rows(frame)] + [layer["pin_tooltip"]]
    labels += [text for row in layer["results"] for text in row[2:]]
    labels += [row[3] for row in layer["points"]]
    assert len(labels) == 5 + 1 + 5 * 3 + 5 * 2
    for label in labels:
        for payload in PAYLOADS[:4]:
            assert payload not in label
        assert not re.search(r"<(?!/?[bi]>|br>)|`", label), label  # only our own <b>, <i>, <br>
    # four payloads, each shown in five places (background, tooltip, popup, taste, visit)
    assert sum("document.title" in label for label in labels) == 4 * 5  # as inert text


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ({"name": {"x": 1}}, "name {'x': 1} is not text"),
        ({"user_id": [1]}, "user_id [1] is not text"),
        ({"birthdate": "9999-01-01"}, "birthdate '9999-01-01'"),
        ({"name": "n" * 10_000_000}, "longer than 200 characters"),
        ({"user_id": "u" * 10_000_000}, "longer than 64 characters"),
    ],
)
def test_add_user_refuses_before_touching_redis(tmp_path, profile, message) -> None:
    from recsys import coldstart

    settings = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1")  # never used
    with pytest.raises(RecsysError) as caught:
        coldstart.add_user(settings, {**BASE, **profile}, model=None)
    assert message in str(caught.value) and len(str(caught.value)) < 400


def test_add_restaurant_refuses_before_touching_redis(tmp_path) -> None:
    from recsys import coldstart

    settings = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1")  # never used
    with pytest.raises(RecsysError, match="contains a comma"):
        coldstart.add_restaurant(settings, _record(cuisine=["Thai,Dessert"]), model=None)


def test_numeric_ids_in_a_json_lines_users_file_are_text(tmp_path) -> None:
    path = tmp_path / "users.jsonl"
    path.write_text('{"user_id": 17, "likes": ["pizza"], "price_bracket": "low", '
                    '"phone_number": 5551234}\n')  # fmt: skip
    table = users.load_users(path)
    assert table.user_id.tolist() == ["17"] and table.phone_number.tolist() == ["5551234"]
