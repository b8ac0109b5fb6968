"""The generated San Francisco data set: deterministic, on land, with the real file's quirks."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from recsys.data import hours, synth, table
from recsys.errors import RecsysError


@pytest.fixture(scope="module")
def document() -> dict:
    return synth.generate_restaurants()


@pytest.fixture(scope="module")
def frame(document: dict) -> pd.DataFrame:
    return table.normalise_records(document["restaurants"])


def test_deterministic_given_seed(document: dict) -> None:
    assert synth.generate_restaurants() == document
    other = synth.generate_restaurants(seed=1)
    assert other["restaurants"] != document["restaurants"]


def test_size_and_header(document: dict, frame: pd.DataFrame) -> None:
    assert 150 <= len(frame) <= 300
    assert document["restaurant_count"] == len(document["restaurants"]) == 220
    assert document["total_review_count"] == frame["review_count"].sum()
    assert frame["id"].is_unique


def test_schema_like_the_real_file(document: dict) -> None:
    record = document["restaurants"][0]
    assert isinstance(record["price"], str)  # a string, as in the article's file
    assert all(key in record for key in table.BOOL_ATTRIBUTES)
    assert {"review_rating", "review_text", "review_date", "user_name"} <= set(record["reviews"][0])


def test_points_on_san_francisco_land(frame: pd.DataFrame) -> None:
    assert synth.on_sf_land(frame["lat"], frame["lon"]).all()
    assert (
        frame["lat"].between(37.70, 37.815).all() and frame["lon"].between(-122.52, -122.35).all()
    )
    # the land test itself: bay, ocean, Golden Gate Park and Lake Merced are out
    water_or_park = [(37.80, -122.38), (37.76, -122.53), (37.769, -122.48), (37.727, -122.495)]
    land = [(37.7599, -122.4148), (37.7946, -122.3999), (37.7530, -122.4950)]
    assert not synth.on_sf_land(*zip(*water_or_park, strict=True)).any()
    assert synth.on_sf_land(*zip(*land, strict=True)).all()


def test_neighbourhood_flavour(document: dict) -> None:
    places = pd.DataFrame(
        {"hood": r["neighborhood"][0], "cuisines": r["cuisine"]} for r in document["restaurants"]
    )

    def share(hood: str, cuisine: str) -> float:
        return places.loc[places["hood"] == hood, "cuisines"].map(lambda c: cuisine in c).mean()

    assert share("Chinatown", "Chinese") >= 0.5
    assert share("Mission", "Mexican") >= 0.3
    assert share("North Beach", "Italian") >= 0.3
    assert share("Japantown", "Japanese") >= 0.5


def test_cuisines_prices_ratings(frame: pd.DataFrame) -> None:
    assert frame["cuisines"].map(len).between(2, 5).all()
    assert set(frame["price"]) == {1, 2, 3, 4}
    assert set(frame["rating"]) <= {2.5, 3.0, 3.5, 4.0, 4.5, 5.0}
    assert frame["rating"].between(3.5, 4.5).mean() > 0.6
    steak = frame[frame["cuisines"].map(lambda c: "Steakhouse" in c)]
    cheap = frame[frame["cuisines"].map(lambda c: "Fast Food" in c or "Cafe" in c)]
    assert steak["price"].mean() > cheap["price"].mean() + 1


def test_chains_share_a_name_at_several_addresses(frame: pd.DataFrame) -> None:
    counts = frame.groupby("name")["address"].nunique()
    assert (counts >= 3).sum() >= 3
    assert frame["id"].is_unique


def test_hours_quirks_present(document: dict, frame: pd.DataFrame) -> None:
    unknown = frame["intervals"].isna().sum()
    assert 3 <= unknown <= 5
    known = frame["intervals"].dropna()
    assert known.map(lambda ivs: any(c > 1440 for _, _, c in ivs)).sum() >= 10  # overnight
    raws = [r.get("hours") for r in document["restaurants"]]
    assert sum("23:59" in str(raw) for raw in raws) >= 5
    assert sum(raw is not None and len(raw) < 7 for raw in raws) >= 20  # closed days
    split = known.map(lambda ivs: max(Counter(d for d, _, _ in ivs).values()) >= 2)
    assert split.sum() >= 20  # lunch + dinner


def test_attributes_consistent(frame: pd.DataFrame) -> None:
    vegan = frame[frame["cuisines"].map(lambda c: "Vegan" in c)]
    assert len(vegan) and vegan["options_vegan"].all()
    assert frame.loc[frame["parking_valet"], "price"].mean() > frame["price"].mean()
    assert (frame["parking"] == frame[["parking_valet", "parking_garage", "parking_street",
                                       "parking_lot"]].any(axis=1)).all()  # fmt: skip
    known = frame.dropna(subset=["intervals"])
    at_dinner = known["intervals"].map(
        lambda ivs: any(hours.is_open(ivs, datetime(2026, 6, d, 19, 0)) for d in range(1, 8))
    )
    assert (known["meal_dinner"] == at_dinner).all()


def test_review_means_follow_ratings(frame: pd.DataFrame) -> None:
    assert frame["review_count"].between(5, 30).all()
    gap = (frame["review_rating_mean"] - frame["rating"]).abs()
    assert gap.max() <= 0.25
    assert np.corrcoef(frame["review_rating_mean"], frame["rating"])[0, 1] > 0.9


def test_bad_count_is_rejected() -> None:
    with pytest.raises(RecsysError, match="restaurant count 5"):
        synth.generate_restaurants(n=5)


def test_other_sizes_load(frame: pd.DataFrame) -> None:
    small = table.normalise_records(synth.generate_restaurants(n=150, seed=2)["restaurants"])
    big = table.normalise_records(synth.generate_restaurants(n=300, seed=2)["restaurants"])
    assert (len(small), len(big)) == (150, 300)


def test_bay_area_bench_set() -> None:
    bay = synth.generate_bay_area(n=20_000, seed=0)
    assert len(bay) == 20_000 and list(bay.columns) == list(table.COLUMNS)
    assert bay["id"].is_unique
    assert bay["lat"].between(37.0, 38.2).all() and bay["lon"].between(-122.6, -121.5).all()
    assert not synth._inside(bay["lat"].to_numpy(), bay["lon"].to_numpy(), synth.BAY_WATER).any()
    sf = bay[bay["locality"] == "San Francisco"]
    assert synth.on_sf_land(sf["lat"], sf["lon"]).all()
    assert bay["locality"].nunique() >= 15
    assert set(bay["price"]) == {1, 2, 3, 4}
    pd.testing.assert_frame_equal(bay.head(500), synth.generate_bay_area(n=20_000).head(500))
    # every row is valid by the loader's own rules
    sample = bay.sample(200, random_state=0)
    assert sample["price"].between(1, 4).all() and sample["rating"].between(0, 5).all()
    assert sample["intervals"].map(lambda ivs: ivs is None or isinstance(ivs, tuple)).all()
