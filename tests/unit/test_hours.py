"""Opening-hours rules: parsing, open-at, closes-at and the Redis TAG encoding."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from recsys.config import TIMEZONE
from recsys.data import hours
from recsys.errors import RecsysError

# 2026-06-01 is a Monday; the week of June 1..7 is used for wall-clock cases.
MON, TUE, WED, THU, FRI, SAT, SUN = (datetime(2026, 6, d) for d in range(1, 8))
NEXT_MON = datetime(2026, 6, 8)


def at(day: datetime, clock: str) -> datetime:
    h, m = map(int, clock.split(":"))
    return day.replace(hour=h, minute=m)


SPLIT = {"monday": [["11:30", "14:30"], ["17:00", "22:00"]]}
OVERNIGHT = {"friday": [["18:00", "2:00"]]}
SUNDAY_LATE = {"Sunday": [["20:00", "01:30"]]}
MIDNIGHT = {"tuesday": [["11:00", "23:59"]]}
MIDNIGHT_THEN_EARLY = {"tuesday": [["11:00", "23:59"]], "wednesday": [["0:00", "1:00"]]}


@pytest.mark.parametrize(
    ("raw", "when", "expected"),
    [
        # split day: open at lunch and dinner, closed in the gap and at the close minute
        (SPLIT, at(MON, "11:29"), False),
        (SPLIT, at(MON, "11:30"), True),
        (SPLIT, at(MON, "14:29"), True),
        (SPLIT, at(MON, "14:30"), False),
        (SPLIT, at(MON, "16:00"), False),
        (SPLIT, at(MON, "21:59"), True),
        (SPLIT, at(MON, "22:00"), False),
        (SPLIT, at(TUE, "12:00"), False),  # missing day = closed
        # overnight: Friday 18:00-02:00 spills into Saturday morning only
        (OVERNIGHT, at(FRI, "17:59"), False),
        (OVERNIGHT, at(FRI, "23:30"), True),
        (OVERNIGHT, at(SAT, "01:30"), True),
        (OVERNIGHT, at(SAT, "02:00"), False),
        (OVERNIGHT, at(SAT, "19:00"), False),
        (OVERNIGHT, at(FRI, "01:30"), False),  # Thursday had no hours
        # week wrap: Sunday night runs into Monday morning
        (SUNDAY_LATE, at(SUN, "23:00"), True),
        (SUNDAY_LATE, at(NEXT_MON, "01:29"), True),
        (SUNDAY_LATE, at(MON, "01:00"), True),
        (SUNDAY_LATE, at(NEXT_MON, "01:30"), False),
        # "23:59" means until midnight, and not beyond unless the next day opens
        (MIDNIGHT, at(TUE, "23:59"), True),
        (MIDNIGHT, at(TUE, "23:59").replace(second=30), True),
        (MIDNIGHT, at(WED, "00:00"), False),
        (MIDNIGHT_THEN_EARLY, at(WED, "00:00"), True),
        (MIDNIGHT_THEN_EARLY, at(WED, "00:59"), True),
        (MIDNIGHT_THEN_EARLY, at(WED, "01:00"), False),
    ],
)
def test_is_open_table(raw: dict, when: datetime, expected: bool) -> None:
    intervals = hours.parse_hours(raw)
    assert hours.is_open(intervals, when) is expected
    assert _open_by_tokens(intervals, when) is expected


def test_no_hours_is_unknown() -> None:
    assert hours.parse_hours(None) is None
    assert hours.parse_hours({}) is None
    assert hours.is_open(None, at(MON, "12:00")) is None
    assert hours.closes_at(None, at(MON, "12:00")) is None
    assert hours.open_tag(None) == ""


def test_parse_formats_and_sorting() -> None:
    raw = {"MONDAY": [["17:00", "22:00"], ["9:05", "14:30"]], "Friday": [["18:00", "02:00"]]}
    assert hours.parse_hours(raw) == ((0, 545, 870), (0, 1020, 1320), (4, 1080, 1560))
    assert hours.parse_hours({"monday": [["0:00", "24:00"]]}) == ((0, 0, 1440),)
    assert hours.parse_hours({"monday": [["10:00", "10:00"]]}) == ((0, 600, 2040),)
    assert hours.parse_hours({"monday": []}) == ()


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"monday": [["25:00", "26:00"]]}, "'25:00'"),
        ({"monday": [["11:00", "12:60"]]}, "'12:60'"),
        ({"monday": [["24:00", "2:00"]]}, "'24:00'"),
        ({"tuesday": [["11", "14:00"]]}, "tuesday"),
        ({"tuesday": [["11:00"]]}, "tuesday"),
        ({"tuesday": [[1100, 1400]]}, "1100"),
        ({"tuesday": "11:00-14:00"}, "tuesday"),
        ({"funday": [["11:00", "14:00"]]}, "'funday'"),
        ({"monday": [], "Monday": []}, "more than once"),
        ({"monday": [["1:00", "2:00"], ["3:00", "4:00"], ["5:00", "6:00"], ["7:00", "8:00"]]}, "4"),
        (["monday"], "not an object"),
    ],
)
def test_parse_rejects_bad_values(raw: object, fragment: str) -> None:
    with pytest.raises(RecsysError, match=fragment.replace("[", r"\[")):
        hours.parse_hours(raw)  # type: ignore[arg-type]


def test_open_tokens_use_the_coarsest_level_that_fits() -> None:
    # Monday 6:30-10:07: half an hour as quarters, 7:00-10:00 as hours, then 7 minutes.
    tokens = hours.open_tokens(hours.parse_hours({"monday": [["6:30", "10:07"]]}))
    assert tokens == ["q26", "q27", "h7", "h8", "h9", *(f"m{m}" for m in range(600, 607))]
    assert hours.open_tag(hours.parse_hours({"monday": [["6:30", "7:00"]]})) == "q26,q27"
    # Sunday 23:00-01:00 runs into Monday: hour 167 of the week, then hour 0.
    assert hours.open_tokens(hours.parse_hours({"sunday": [["23:00", "1:00"]]})) == ["h0", "h167"]


@pytest.mark.parametrize(
    ("raw", "when", "expected"),
    [
        (SPLIT, at(MON, "12:00"), "14:30"),
        (SPLIT, at(MON, "15:00"), None),
        (OVERNIGHT, at(FRI, "20:00"), "02:00"),
        (OVERNIGHT, at(SAT, "01:30"), "02:00"),
        (MIDNIGHT, at(TUE, "20:00"), "00:00"),
        (MIDNIGHT_THEN_EARLY, at(TUE, "20:00"), "01:00"),
        (SUNDAY_LATE, at(MON, "00:30"), "01:30"),
        ({"monday": [["11:00", "13:00"], ["12:00", "15:00"]]}, at(MON, "12:30"), "15:00"),
    ],
)
def test_closes_at(raw: dict, when: datetime, expected: str | None) -> None:
    assert hours.closes_at(hours.parse_hours(raw), when) == expected


def test_closes_at_open_around_the_clock_terminates() -> None:
    always = hours.parse_hours({day: [["0:00", "23:59"]] for day in hours.DAYS})
    assert hours.closes_at(always, at(WED, "10:00")) == "00:00"


def test_to_local_and_dst() -> None:
    # 2026-03-08: clocks spring forward at 02:00 PST; 10:30Z is 03:30 PDT.
    spring = hours.to_local(datetime(2026, 3, 8, 10, 30, tzinfo=UTC))
    assert (spring.hour, spring.minute, spring.utcoffset()) == (3, 30, timedelta(hours=-7))
    before = hours.to_local(datetime(2026, 3, 8, 9, 30, tzinfo=UTC))
    assert (before.hour, before.utcoffset()) == (1, timedelta(hours=-8))
    # 2026-11-01: clocks fall back at 02:00 PDT; 08:30Z is 01:30 PDT, 09:30Z 01:30 PST.
    first = hours.to_local(datetime(2026, 11, 1, 8, 30, tzinfo=UTC))
    second = hours.to_local(datetime(2026, 11, 1, 9, 30, tzinfo=UTC))
    assert (first.hour, first.minute) == (second.hour, second.minute) == (1, 30)
    assert first.utcoffset() != second.utcoffset()
    # naive = SF wall-clock; other zones are converted
    assert hours.to_local(datetime(2026, 6, 1, 12, 0)).tzinfo is TIMEZONE
    tokyo = datetime(2026, 6, 2, 4, 0, tzinfo=timezone(timedelta(hours=9)))
    assert hours.to_local(tokyo).replace(tzinfo=None) == datetime(2026, 6, 1, 12, 0)
    assert hours.to_local(None).tzinfo is TIMEZONE
    with pytest.raises(RecsysError):
        hours.to_local("2026-06-01")  # type: ignore[arg-type]


def test_dst_days_use_wall_clock() -> None:
    # Sunday brunch 10:00-14:00 on both switch days, given UTC instants.
    brunch = hours.parse_hours({"sunday": [["10:00", "14:00"]]})
    assert hours.is_open(brunch, datetime(2026, 3, 8, 17, 30, tzinfo=UTC)) is True  # 10:30 PDT
    assert hours.is_open(brunch, datetime(2026, 3, 8, 16, 30, tzinfo=UTC)) is False  # 09:30 PDT
    assert hours.is_open(brunch, datetime(2026, 11, 1, 18, 30, tzinfo=UTC)) is True  # 10:30 PST
    assert hours.is_open(brunch, datetime(2026, 11, 1, 17, 30, tzinfo=UTC)) is False  # 09:30 PST
    # Saturday night bar until 03:00: 2026-03-08 10:30Z is 03:30 PDT, already closed.
    bar = hours.parse_hours({"saturday": [["20:00", "3:00"]]})
    assert hours.is_open(bar, datetime(2026, 3, 8, 9, 30, tzinfo=UTC)) is True  # 01:30 PST
    assert hours.is_open(bar, datetime(2026, 3, 8, 10, 30, tzinfo=UTC)) is False


def test_open_query_tokens_name_the_hour_quarter_and_minute_of_the_week() -> None:
    # Saturday 01:30 is week minute 5 * 1440 + 90 = 7290.
    assert hours.open_query_tokens(at(SAT, "01:30")) == ("h121", "q486", "m7290")


def _open_by_tokens(intervals: tuple[hours.Interval, ...] | None, when: datetime) -> bool:
    """Evaluate the Redis rule in Python: the place has one of the asked tokens."""
    return bool(set(hours.open_tokens(intervals)) & set(hours.open_query_tokens(when)))


def test_open_tokens_agree_with_is_open_at_every_minute_of_the_week() -> None:
    rng = random.Random(11)
    for _ in range(15):
        intervals = _random_intervals(rng)
        tokens = set(hours.open_tokens(intervals))
        for minute in range(7 * 1440):
            when = MON + timedelta(minutes=minute)
            asked = set(hours.open_query_tokens(when))
            assert len(asked & tokens) <= 1  # each open minute is covered once
            assert bool(asked & tokens) is hours.is_open(intervals, when)


def _random_intervals(rng: random.Random) -> tuple[hours.Interval, ...]:
    raw: dict[str, list[list[str]]] = {}
    for day in rng.sample(hours.DAYS, rng.randint(0, 7)):
        pairs = []
        for _ in range(rng.randint(0, hours.SLOTS_PER_DAY)):
            o, c = rng.randrange(1440), rng.choice([rng.randrange(1440), 1439, 0, 120])
            pairs.append([f"{o // 60}:{o % 60:02d}", f"{c // 60:02d}:{c % 60:02d}"])
        raw[day] = pairs
    return hours.parse_hours(raw) or ()


def _open_brute_force(intervals: tuple[hours.Interval, ...], when: datetime) -> bool:
    """Independent check: mark every open minute of the week, then look one up."""
    week = set()
    for day, o, c in intervals:
        week.update((day * 1440 + m) % (7 * 1440) for m in range(o, c))
    return when.weekday() * 1440 + when.hour * 60 + when.minute in week


def test_open_tokens_agree_with_is_open_on_random_cases() -> None:
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(3000):
        intervals = _random_intervals(rng)
        when = start + timedelta(minutes=rng.randrange(365 * 1440))
        local = when.astimezone(TIMEZONE)
        expected = _open_brute_force(intervals, local)
        assert hours.is_open(intervals, when) is expected
        assert _open_by_tokens(intervals, when) is expected
        assert hours.parse_hours(_to_raw(intervals)) == intervals
        closing = hours.closes_at(intervals, when)
        assert (closing is not None) is expected


def _to_raw(intervals: Iterable[hours.Interval] | None) -> dict[str, list[list[str]]] | None:
    """Intervals back in the source schema (`parse_hours(_to_raw(x)) == x`).

    A place closed all week lists every day with no intervals, because an empty
    `hours` object would read back as unknown hours.
    """
    if intervals is None:
        return None
    intervals = tuple(intervals)
    raw: dict[str, list[list[str]]] = {} if intervals else {day: [] for day in hours.DAYS}
    for day, open_min, close_min in sorted(intervals):
        close = "23:59" if close_min == hours.MINUTES_PER_DAY else hours._clock(close_min)
        raw.setdefault(hours.DAYS[day], []).append([hours._clock(open_min), close])
    return raw
