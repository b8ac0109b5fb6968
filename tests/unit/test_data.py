"""Loading restaurants: the quirks of the real file are accepted, malformed files are named."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest

from recsys.config import Settings
from recsys.data import sources, synth, table
from recsys.errors import RecsysError

QUIRKS = Path(__file__).resolve().parents[1] / "fixtures" / "restaurants_quirks.json"


@pytest.fixture(scope="module")
def quirks() -> pd.DataFrame:
    return table.normalise_records(sources.read_restaurants_file(QUIRKS)).set_index(
        "id", drop=False
    )


def test_table_has_the_contract_columns(quirks: pd.DataFrame) -> None:
    assert list(quirks.columns) == list(table.COLUMNS)
    assert len(table.BOOL_ATTRIBUTES) == 22
    assert quirks["price"].dtype == int and quirks["rating"].dtype == float
    assert all(quirks[key].dtype == bool for key in table.BOOL_ATTRIBUTES)
    assert not quirks[list(table.REVIEW_STATS)].isna().any().any()


def test_ids_slugs_chains_and_duplicates(quirks: pd.DataFrame) -> None:
    ids = list(quirks["id"])
    assert ids[:2] == [
        "21st-amendment-brewery-restaurant-563-2nd-st",  # chain: same name, two addresses
        "21st-amendment-brewery-restaurant-2010-williams-st",
    ]
    assert "my-own-id-7" in ids and "42" in ids  # the record's own id wins
    # same name and address twice: the second gets a suffix, in file order
    assert ids[2] == "amber-india-restaurant-25-yerba-buena-ln"
    assert ids[5] == "amber-india-restaurant-25-yerba-buena-ln-2"
    assert len(set(ids)) == len(ids)


def test_slugify() -> None:
    assert table.slugify("Café Claude 7 Claude Ln") == "cafe-claude-7-claude-ln"
    assert table.slugify("寿司").startswith("restaurant-")  # nothing ASCII left: a hash
    assert table.slugify("寿司") == table.slugify("寿司") != table.slugify("ラーメン")


def test_prices_ratings_coordinates(quirks: pd.DataFrame) -> None:
    assert quirks.loc["21st-amendment-brewery-restaurant-563-2nd-st", "price"] == 2  # "2"
    assert quirks.loc["42", "price"] == 4  # 4.0
    assert quirks.loc["mystery-spot-1-unknown-alley", "rating"] == 3.0  # int
    amber = quirks.loc["amber-india-restaurant-25-yerba-buena-ln"]
    assert (amber["lat"], amber["lon"]) == (37.785772, -122.404401)  # numeric strings


def test_missing_keys_get_defaults(quirks: pd.DataFrame) -> None:
    amber = quirks.loc["amber-india-restaurant-25-yerba-buena-ln"]
    assert amber["cuisines"] == [] and amber["review_count"] == 0
    assert amber["options_vegetarian"] and amber["options_vegan"]  # 1 and "true"
    assert not amber["parking"] and not amber["wifi"]  # missing booleans
    assert amber["locality"] == "San Francisco"
    assert quirks.loc["42", "address"] == ""
    assert quirks.loc["my-own-id-7", "cuisines"] == ["French", "Cafe"]  # repeats dropped


def test_hours_quirks(quirks: pd.DataFrame) -> None:
    brewery = quirks.loc["21st-amendment-brewery-restaurant-563-2nd-st"]
    assert (0, 690, 1440) in brewery["intervals"]  # "23:59" = until midnight
    assert (4, 690, 1560) in brewery["intervals"]  # past midnight
    assert brewery["hours_raw"]["friday"] == [["11:30", "2:00"]]
    amber = quirks.loc["amber-india-restaurant-25-yerba-buena-ln"]
    assert len([iv for iv in amber["intervals"] if iv[0] == 1]) == 3  # three slots
    assert quirks.loc["mystery-spot-1-unknown-alley", "intervals"] is None  # no key
    assert quirks.loc["amber-india-restaurant-25-yerba-buena-ln-2", "intervals"] is None  # null
    assert quirks.loc["42", "intervals"] is None  # {}
    assert quirks.loc["my-own-id-7", "intervals"] == ((3, 1050, 1440), (4, 1080, 2520))


def test_review_stats(quirks: pd.DataFrame) -> None:
    brewery = quirks.loc["21st-amendment-brewery-restaurant-563-2nd-st"]
    assert brewery["review_count"] == 2
    stats = [brewery[k] for k in table.REVIEW_STATS]
    assert stats == [3.0, 5.0, 4.0, 1.0]  # population std, as in the article
    claude = quirks.loc["my-own-id-7"]
    assert claude["review_count"] == 2 and claude["review_rating_mean"] == 4.0


GOOD = {
    "name": "Foo",
    "address": "1 Main St",
    "latitude": 37.78,
    "longitude": -122.41,
    "cuisine": ["Pizza"],
    "price": "2",
    "rating": 4.0,
    "hours": {"monday": [["11:00", "22:00"]]},
    "reviews": [{"review_rating": 4}],
}


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("price", "abc", "price 'abc' is not a number 1-4"),
        ("price", "5", "price '5'"),
        ("price", 2.5, "price 2.5"),
        ("price", None, "price None"),
        ("rating", 6, "rating 6 is not a number 0-5"),
        ("rating", "good", "rating 'good'"),
        ("latitude", "north", "latitude 'north'"),
        ("latitude", 95, "latitude 95"),
        ("longitude", -200.0, "longitude -200.0"),
        ("longitude", True, "longitude True"),
        ("latitude", float("nan"), "latitude nan"),
        ("hours", {"monday": [["11:00", "25:00"]]}, "hours for monday: closing time '25:00'"),
        ("hours", {"someday": []}, "'someday' is not a day name"),
        ("hours", [["11:00", "22:00"]], "hours"),
        ("cuisine", "Italian", "cuisine 'Italian' is not a list"),
        ("cuisine", ["Pizza", 3], "cuisine"),
        ("name", "", "name '' is not a non-empty text"),
        ("name", None, "name is missing"),
        ("wifi", "maybe", "wifi 'maybe' is not true or false"),
        ("reviews", "great", "reviews is not a list"),
        ("reviews", [{"review_rating": 9}], "review #1 review_rating 9"),
        ("id", "", "id '' is not"),
    ],
)
def test_malformed_record_is_named(field: str, value: object, fragment: str) -> None:
    records = [copy.deepcopy(GOOD), copy.deepcopy(GOOD) | {"name": "Bar", "address": "2 St"}]
    records[1][field] = value
    with pytest.raises(RecsysError) as caught:
        table.normalise_records(records)
    message = str(caught.value)
    assert message.startswith("restaurant #2")
    if field != "name":
        assert "('Bar')" in message
    assert fragment in message
    assert "\n" not in message


def test_repeated_explicit_id_is_an_error() -> None:
    records = [GOOD | {"id": "x"}, GOOD | {"id": "x", "name": "Bar"}]
    with pytest.raises(RecsysError, match=r"restaurant #2 \('Bar'\): id 'x' is already used by"):
        table.normalise_records(records)


def test_validate_record_alone() -> None:
    row = table.validate_record(GOOD)
    assert row["id"] == "foo-1-main-st" and row["price"] == 2
    assert set(row) == set(table.COLUMNS)
    with pytest.raises(RecsysError, match=r"^restaurant \('Foo'\): price 'x'"):
        table.validate_record(GOOD | {"price": "x"})
    with pytest.raises(RecsysError, match="restaurant #4 is not a JSON object"):
        table.validate_record(["Foo"], 3)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "is not valid JSON (line 1"),
        ("[]", "is not a JSON object with a 'restaurants' list"),
        ('{"restaurants": {"a": 1}}', "'restaurants' list"),
        ('{"restaurant_count": 0}', "'restaurants' list"),
        ('{"restaurants": []}', "the restaurants list is empty"),
        ('{"restaurants": [1]}', "restaurant #1 is not a JSON object"),
    ],
)
def test_malformed_file_is_rejected(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    settings = Settings(data_dir=tmp_path / "data")
    with pytest.raises(RecsysError, match=fragment.replace("(", r"\(")) as caught:
        sources.load_restaurants(settings, path=path)
    assert str(path) in str(caught.value)


def test_explicit_file_wins_and_missing_file_raises(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", restaurants_file=QUIRKS)
    loaded = sources.load_restaurants(settings)
    assert loaded.source == "file" and loaded.path == QUIRKS
    assert loaded.description == f"Your file {QUIRKS} (7 restaurants)."
    missing = tmp_path / "nope.json"
    with pytest.raises(RecsysError, match="does not exist"):
        sources.load_restaurants(settings, path=missing)  # the argument beats the setting
    assert not (tmp_path / "data" / "restaurants").exists()  # nothing generated silently


def test_generated_is_cached_and_rebuilt_on_version_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(sources.DATA_URL_ENV, "none")
    settings = Settings(data_dir=tmp_path)
    first = sources.load_restaurants(settings)
    assert first.source == "generated"
    assert "downloads are disabled" in first.description
    assert first.description.startswith("Generated San Francisco data set (220 restaurants")
    document = json.loads(first.path.read_text())
    assert document["generated"] is True
    assert document["generator_version"] == synth.GENERATOR_VERSION
    # A cache from another generator version is not trusted.
    document["generator_version"] = -1
    document["restaurants"] = document["restaurants"][:40]
    first.path.write_text(json.dumps(document))
    second = sources.load_restaurants(settings)
    pd.testing.assert_frame_equal(first.frame, second.frame)


def test_other_data_seeds_never_rewrite_the_served_seeds_files(tmp_path: Path) -> None:
    """Generated users and simulated visits are cached per data seed: evaluating seed 1
    (`evaluate --data-seeds`) leaves seed 0's files, which the app reads, as they were."""
    from tests_frames import restaurants

    from recsys.data.dataset import build_dataset

    settings = Settings(data_dir=tmp_path)
    places = restaurants(40, seed=2)
    first = build_dataset(settings, restaurants=places, seed=0)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    other = build_dataset(settings, restaurants=places, seed=1)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert {name: after[name] for name in before} == before
    assert {"users-seed1.jsonl", "interactions-seed1.csv"} <= set(after)
    assert other.fingerprint != first.fingerprint
    again = build_dataset(settings, restaurants=places, seed=0)
    assert again.fingerprint == first.fingerprint
