"""Users: generation is deterministic, files are validated row by row."""

import json

import pandas as pd
import pytest
from tests_frames import restaurants

from recsys.data.users import (
    ARTICLE_LIKES,
    LIKE_RULES,
    LIKES,
    REFERENCE_DATE,
    USER_FIELDS,
    generate_users,
    like_matrix,
    load_users,
    validate_profile,
)
from recsys.errors import RecsysError


def test_likes_cover_the_article_and_every_like_has_a_rule():
    assert set(ARTICLE_LIKES) <= set(LIKES)
    assert len(ARTICLE_LIKES) == 13
    assert set(LIKE_RULES) == set(LIKES)


def test_generated_users_are_deterministic_and_well_formed():
    a, b = generate_users(50, seed=3), generate_users(50, seed=3)
    assert a.equals(b)
    assert not a.equals(generate_users(50, seed=4))
    assert list(a.columns) == list(USER_FIELDS)
    assert a["user_id"].iloc[0] == "u0001" and a["user_id"].is_unique
    assert a["likes"].map(len).between(1, 4).all()
    assert set(a["price_bracket"]) <= {"low", "middle", "high"}
    assert set(a["profile_visibility"]) <= {"public", "private", "friends-only"}


def test_generated_users_do_not_depend_on_today():
    # A golden value: birthdates drawn relative to today would change from day to day
    # (and with them the data fingerprint, forcing a retrain).
    a = generate_users(50, seed=3)
    assert a["birthdate"].iloc[:3].tolist() == ["1993-04-18", "1989-07-18", "1945-09-17"]
    ages = (pd.Timestamp(REFERENCE_DATE) - pd.to_datetime(a["birthdate"])).dt.days / 365.25
    assert ages.between(18, 80).all()


def test_like_matrix_follows_the_rules():
    rest = restaurants(5)
    rest.at[0, "cuisines"], rest.at[0, "price"] = ["Pizza"], 2
    rest.at[1, "cuisines"], rest.at[1, "price"] = ["Thai"], 4
    matches = like_matrix(rest)
    assert matches[0, LIKES.index("pizza")] == 1.0 and matches[0, LIKES.index("italian")] == 1.0
    assert matches[0, LIKES.index("thai")] == 0.0
    assert matches[1, LIKES.index("fine dining")] == 1.0  # price 4 is fine dining


def test_users_file_csv_and_jsonl_with_both_likes_forms(tmp_path):
    csv = tmp_path / "users.csv"
    csv.write_text(
        "user_id,likes,price_bracket,newsletter\n"
        'a,pizza;BBQ,low,yes\nb,"[""sushi"", ""brunch""]",high,false\n'
    )
    users = load_users(csv)
    assert users["likes"].tolist() == [["pizza", "bbq"], ["sushi", "brunch"]]
    assert users["newsletter"].tolist() == [True, False]
    jsonl = tmp_path / "users.jsonl"
    jsonl.write_text(json.dumps({"user_id": "c", "likes": ["thai"], "price_bracket": "middle"}))
    assert load_users(jsonl)["profile_visibility"].tolist() == ["public"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("user_id,price_bracket\na,low\n", "no likes column"),
        ("user_id,likes,price_bracket\na,pizza,low\nb,;,low\n", "row 2 ('b'): likes is empty"),
        ("user_id,likes,price_bracket\na,pizza,cheap\n", "row 1 ('a'): price_bracket 'cheap'"),
        (
            "user_id,likes,price_bracket\na,pizza,low\na,bbq,low\n",
            "row 2: user_id 'a' appears twice",
        ),
        ("user_id,likes,price_bracket,newsletter\na,pizza,low,maybe\n", "newsletter 'maybe'"),
        ("user_id,likes,price_bracket,birthdate\na,pizza,low,May\n", "birthdate 'May'"),
    ],
)
def test_bad_users_files_are_rejected_naming_the_row(tmp_path, body, message):
    path = tmp_path / "users.csv"
    path.write_text(body)
    with pytest.raises(RecsysError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_users(path)


def test_missing_users_file_is_named(tmp_path):
    with pytest.raises(RecsysError, match="does not exist"):
        load_users(tmp_path / "nope.csv")


def test_validate_profile_defaults_and_messages():
    profile = validate_profile({"likes": "pizza; thai", "price_bracket": "High"})
    assert profile["likes"] == ["pizza", "thai"] and profile["price_bracket"] == "high"
    assert profile["newsletter"] is False and profile["profile_visibility"] == "public"
    with pytest.raises(RecsysError, match="'price_bracket' is missing"):
        validate_profile({"likes": ["pizza"]})
    # Likes are data, not a closed list: ones without a rule are kept as given.
    free = validate_profile({"likes": ["Caviar", "pizza", " yachts  club"], "price_bracket": "low"})
    assert free["likes"] == ["caviar", "pizza", "yachts club"]
    with pytest.raises(RecsysError, match="expected a JSON object"):
        validate_profile(["pizza"])  # type: ignore[arg-type]


def test_generated_users_live_in_san_francisco_and_are_deterministic() -> None:
    import re

    from recsys.data.synth import NEIGHBOURHOODS, ZIP_CODES

    first, again = generate_users(300, seed=4), generate_users(300, seed=4)
    assert first.equals(again)
    pattern = re.compile(r"^\d+ .+, (.+), San Francisco, CA (94\d{3})$")
    hoods = {hood.name for hood in NEIGHBOURHOODS}
    for address in first["address"]:
        match = pattern.match(address)
        assert match, address
        assert match.group(1) in hoods and ZIP_CODES[match.group(1)] == match.group(2)
    assert first["address"].nunique() > 250
    assert not first["address"].equals(generate_users(300, seed=5)["address"])
