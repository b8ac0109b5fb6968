"""Opening hours: parsing, open-at, closes-at and the Redis TAG encoding of open-at.

One source of truth for the rules (docs/hours.md):

- An interval is `(day, open_min, close_min)` with `day` 0 = Monday … 6 = Sunday,
  `open_min` in 0..1439 and `close_min` in `open_min+1 .. open_min+1440`.
- A close that is not after the open runs past midnight into the next day
  (`close_min > 1440`); a `"23:59"` (or `"24:00"`) close means open until midnight.
- A missing day is closed; no `hours` at all means the hours are unknown (`None`).
- Times are San Francisco wall-clock time (`config.TIMEZONE`), to the minute.

Open at local (day d, minute m) iff some interval of day d has `open <= m < close`,
or some interval of the previous day p has `open <= m + 1440 < close`. `is_open`
and the Redis filter built from `open_tokens` / `open_query_tokens` use exactly this
rule (see "the open-at TAG encoding" below).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from recsys.config import TIMEZONE
from recsys.errors import RecsysError

Interval = tuple[int, int, int]

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SLOTS_PER_DAY = 3
MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY

_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
_DAY_INDEX = {name: i for i, name in enumerate(DAYS)}


def _parse_clock(value: Any, day: str, *, is_close: bool) -> int:
    """Minutes after midnight of an "H:MM"/"HH:MM" string; "24:00" only as a close."""
    match = _TIME_RE.match(value.strip()) if isinstance(value, str) else None
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
        if minute < 60 and (hour < 24 or (is_close and hour == 24 and minute == 0)):
            return hour * 60 + minute
    kind = "closing" if is_close else "opening"
    raise RecsysError(f"hours for {day}: {kind} time {value!r} is not a time H:MM (00:00-23:59).")


def _parse_interval(pair: Any, day: str, day_index: int) -> Interval:
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        raise RecsysError(f"hours for {day}: {pair!r} is not an [open, close] pair.")
    open_min = _parse_clock(pair[0], day, is_close=False)
    close_min = _parse_clock(pair[1], day, is_close=True)
    if close_min == MINUTES_PER_DAY - 1:
        # The source writes "until midnight" as "23:59"; count the last minute as open.
        close_min = MINUTES_PER_DAY
    if close_min <= open_min:
        # Not after the open: the interval runs past midnight into the next day.
        close_min += MINUTES_PER_DAY
    return (day_index, open_min, close_min)


def _day_index(name: Any) -> int:
    index = _DAY_INDEX.get(name.strip().lower()) if isinstance(name, str) else None
    if index is None:
        raise RecsysError(f"hours: {name!r} is not a day name (monday … sunday).")
    return index


def parse_hours(raw: Mapping[str, Any] | None) -> tuple[Interval, ...] | None:
    """Parse a source record's `hours` (day name -> list of ["H:MM", "H:MM"]).

    Args:
        raw: the record's `hours`; `None` or `{}` means the hours are unknown.

    Returns:
        The intervals sorted by (day, open), or `None` when the hours are unknown.
        A day that is missing or has an empty list is closed.

    Raises:
        RecsysError: a day name, time or pair is malformed, a day is given twice, or a
            day has more than `SLOTS_PER_DAY` intervals.
    """
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise RecsysError(f"hours {raw!r} is not an object mapping day names to intervals.")
    if not raw:
        return None
    intervals: list[Interval] = []
    seen: set[int] = set()
    for name, pairs in raw.items():
        index = _day_index(name)
        if index in seen:
            raise RecsysError(f"hours: day {DAYS[index]} is given more than once.")
        seen.add(index)
        if pairs is None:
            continue
        if not isinstance(pairs, list | tuple):
            raise RecsysError(f"hours for {DAYS[index]}: {pairs!r} is not a list of intervals.")
        if len(pairs) > SLOTS_PER_DAY:
            raise RecsysError(
                f"hours for {DAYS[index]}: {len(pairs)} intervals, more than the "
                f"{SLOTS_PER_DAY} a day supported."
            )
        intervals.extend(_parse_interval(pair, DAYS[index], index) for pair in pairs)
    return tuple(sorted(intervals))


def to_local(at: datetime | None = None) -> datetime:
    """An aware San Francisco datetime: `None` = now, naive = SF wall-clock time."""
    if at is None:
        return datetime.now(TIMEZONE)
    if not isinstance(at, datetime):
        raise RecsysError(f"time {at!r} is not a date and time.")
    if at.tzinfo is None or at.tzinfo.utcoffset(at) is None:
        return at.replace(tzinfo=TIMEZONE)
    return at.astimezone(TIMEZONE)


def _day_minute(at: datetime | None) -> tuple[int, int]:
    local = to_local(at)
    return local.weekday(), local.hour * 60 + local.minute


def _contains(interval: Interval, day: int, minute: int) -> bool:
    """The one rule: the interval covers (day, minute) on its own day or the next."""
    i_day, open_min, close_min = interval
    if i_day == day:
        return open_min <= minute < close_min
    if i_day == (day - 1) % 7:
        return open_min <= minute + MINUTES_PER_DAY < close_min
    return False


def is_open(intervals: Iterable[Interval] | None, at: datetime | None = None) -> bool | None:
    """Whether the place is open at `at` (SF time); `None` when the hours are unknown."""
    if intervals is None:
        return None
    day, minute = _day_minute(at)
    return any(_contains(iv, day, minute) for iv in intervals)


def _clock(minutes: int) -> str:
    """ "HH:MM" of a minute count, wrapping past midnight ("24:00" shows as "00:00")."""
    minutes %= MINUTES_PER_DAY
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def closes_at(intervals: Iterable[Interval] | None, at: datetime | None = None) -> str | None:
    """Local "HH:MM" when the place next closes, or `None` if closed or unknown at `at`.

    Back-to-back intervals (e.g. until "23:59" and then from "0:00" next day) are
    followed (for at most a week), so a place open across midnight does not "close"
    at 00:00.
    """
    if intervals is None:
        return None
    intervals = tuple(intervals)
    day, minute = _day_minute(at)
    # Work in minutes since Monday 00:00 of this week, so chaining is plain arithmetic.
    now = day * MINUTES_PER_DAY + minute
    containing = [iv for iv in intervals if _contains(iv, day, minute)]
    if not containing:
        return None
    end = max(_week_end(iv, now) for iv in containing)
    for _ in range(len(intervals)):
        later = [_week_end(iv, end) for iv in intervals if _covers_week_minute(iv, end)]
        if not later or max(later) <= end or max(later) - now > MINUTES_PER_WEEK:
            break
        end = max(later)
    return _clock(end)


def _covers_week_minute(interval: Interval, week_minute: int) -> bool:
    day, minute = divmod(week_minute % MINUTES_PER_WEEK, MINUTES_PER_DAY)
    return _contains(interval, day, minute)


def _week_end(interval: Interval, week_minute: int) -> int:
    """The interval's close as a week minute at or after `week_minute` (it covers it)."""
    i_day, _, close_min = interval
    end = i_day * MINUTES_PER_DAY + close_min
    while end <= week_minute:
        end += MINUTES_PER_WEEK
    while end - MINUTES_PER_WEEK > week_minute:
        end -= MINUTES_PER_WEEK
    return end


# --- the open-at TAG encoding ------------------------------------------------------------
#
# Each place's open minutes of the week (Monday 00:00 = 0 … 10079, wall-clock time) as
# TAG tokens at three levels: a whole hour "h{H}" (H = week minute // 60), a whole quarter
# hour "q{Q}" inside a partly open hour, and a single minute "m{M}" inside a partly open
# quarter. Each open minute is covered by exactly one level, so "open at week minute W"
# is the union of three posting lists: h{W // 60} | q{W // 15} | m{W}. An interval of day
# d covers week minutes d*1440 + open … d*1440 + close - 1, modulo a week (Sunday's
# overnight hours run into Monday), which is the same set of (day, minute) pairs as
# `_contains`: `is_open` and the tokens agree exactly (tests/unit/test_hours.py checks
# every minute of the week).

OPEN_TAG_SEPARATOR = ","
_HOUR, _QUARTER = 60, 15


def open_minutes(intervals: Iterable[Interval] | None) -> bytearray:
    """A week of minutes (index 0 … 10079), 1 where the place is open by `_contains`'s rule."""
    week = bytearray(MINUTES_PER_WEEK)
    for day, open_min, close_min in intervals or ():
        start, end = day * MINUTES_PER_DAY + open_min, day * MINUTES_PER_DAY + close_min
        week[start : min(end, MINUTES_PER_WEEK)] = b"\x01" * (min(end, MINUTES_PER_WEEK) - start)
        if end > MINUTES_PER_WEEK:  # Sunday's overnight hours run into Monday
            week[: end - MINUTES_PER_WEEK] = b"\x01" * (end - MINUTES_PER_WEEK)
    return week


_FULL_HOUR, _FULL_QUARTER = b"\x01" * _HOUR, b"\x01" * _QUARTER
_EMPTY_HOUR = bytes(_HOUR)


def open_tokens(intervals: Iterable[Interval] | None) -> list[str]:
    """The TAG tokens of the open week minutes (in week order); [] if never open."""
    return list(_open_tokens(None if intervals is None else tuple(map(tuple, intervals))))


@lru_cache(maxsize=4096)
def _open_tokens(intervals: tuple[Interval, ...] | None) -> tuple[str, ...]:
    # Cached: many places share their hours (chains, generated templates).
    week = open_minutes(intervals)
    tokens: list[str] = []
    for hour in range(MINUTES_PER_WEEK // _HOUR):
        base = hour * _HOUR
        chunk = week[base : base + _HOUR]
        if chunk == _FULL_HOUR:
            tokens.append(f"h{hour}")
            continue
        if chunk == _EMPTY_HOUR:
            continue
        for first in range(base, base + _HOUR, _QUARTER):
            if week[first : first + _QUARTER] == _FULL_QUARTER:
                tokens.append(f"q{first // _QUARTER}")
            else:
                tokens.extend(f"m{m}" for m in range(first, first + _QUARTER) if week[m])
    return tuple(tokens)


def open_tag(intervals: Iterable[Interval] | None) -> str:
    """`open_tokens` as one TAG string (what the document stores; "" = never open)."""
    return OPEN_TAG_SEPARATOR.join(open_tokens(intervals))


def open_query_tokens(at: datetime | None = None) -> tuple[str, str, str]:
    """The three tokens, one of which a place open at `at` (SF time) has."""
    day, minute = _day_minute(at)
    week_minute = day * MINUTES_PER_DAY + minute
    return (f"h{week_minute // _HOUR}", f"q{week_minute // _QUARTER}", f"m{week_minute}")
