"""Input limits: the one table of maximum lengths, and the checks that use it.

Every text a person or a file can hand us (restaurant and user records, the
`--new-user` JSON, ids, cuisines, likes) is checked here for its type and length,
so that a 10 MB name or `{"x": 1}` where a name belongs is refused with one
sentence naming the field and the value (shortened), never stored as its string
form. The UI sets `max_chars` on its text inputs from the same table.
"""

from __future__ import annotations

import re
from numbers import Integral as _Integral
from typing import Any

from recsys.errors import RecsysError

# field -> maximum number of characters.
MAX_CHARS: dict[str, int] = {
    "name": 200,
    "username": 100,
    "email": 254,  # RFC 5321's longest forward path
    "address": 300,
    "locality": 100,
    "phone_number": 40,
    "user_id": 64,
    "restaurant_id": 128,
    "cuisine": 50,
    "like": 40,
    "hours_text": 100,  # one day's hours as typed in the Add restaurant page
    "search": 200,  # the Data page's search box
    "new_user_json": 100_000,  # the whole `--new-user` argument
}
MAX_CUISINES = 20  # cuisines of one restaurant
MAX_NESTING = 20  # depth of JSON objects/lists accepted in one record
ECHO_CHARS = 40  # how much of a bad value an error message repeats

# Characters a cuisine may not contain: the TAG separator (","), the backtick (not
# escaped by RedisVL), and control characters (tab, newline...): a cuisine holding
# one could be stored but never matched by the cuisine filter.
_CUISINE_FORBIDDEN = re.compile(r"[,`\x00-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def echo(value: Any) -> str:
    """`repr(value)`, cut to about ECHO_CHARS characters for an error message."""
    try:
        text = repr(value)
    except RecursionError:  # a pathologically nested value
        return f"<a deeply nested {type(value).__name__}>"
    if len(text) <= ECHO_CHARS:
        return text
    size = len(value) if isinstance(value, str | bytes | list | dict | tuple) else None
    more = f"… ({size:,} characters)" if isinstance(value, str) else "…"
    return text[:ECHO_CHARS] + more


def text(
    value: Any,
    field: str,
    where: str,
    *,
    limit: str | None = None,
    required: bool = False,
    numbers: bool = False,
    single_line: bool = False,
) -> str:
    """`value` as stripped text, checked against `MAX_CHARS[limit or field]`.

    Args:
        value: the value given (None counts as empty).
        field: how the message names it; where: whose field it is ("new user").
        required: an empty value is an error.
        numbers: whole numbers are accepted and written in decimal (ids, phones).
        single_line: control characters (tab, newline...) are refused.

    Raises:
        RecsysError: wrong type, too long, empty when required, or a control character.
    """
    if value is None:
        value = ""
    if numbers and isinstance(value, _Integral) and not isinstance(value, bool):
        value = str(int(value))  # numpy integers too (pandas reads JSON numbers as int64)
    if not isinstance(value, str):
        raise RecsysError(f"{where}: {field} {echo(value)} is not text (a {type(value).__name__}).")
    maximum = MAX_CHARS[limit or field]
    if len(value) > maximum:
        raise RecsysError(f"{where}: {field} {echo(value)} is longer than {maximum} characters.")
    value = value.strip()
    if required and not value:
        raise RecsysError(f"{where}: {field} is empty.")
    if single_line and _CONTROL.search(value):
        raise RecsysError(
            f"{where}: {field} {echo(value)} contains a control character (tab, newline...)."
        )
    return value


def cuisine(value: Any, where: str) -> str:
    """One cuisine name: text, at most MAX_CHARS["cuisine"], filterable in Redis.

    Raises:
        RecsysError: naming `where` and the value, for a character the filter cannot match.
    """
    name = text(value, "cuisine", where, required=True)
    bad = _CUISINE_FORBIDDEN.search(name)
    if bad:
        what = {",": "a comma", "`": "a backtick"}.get(bad.group(), "a control character")
        raise RecsysError(
            f"{where}: cuisine {echo(name)} contains {what}, which the cuisine filter "
            "cannot match; use another name."
        )
    return name


def nesting(value: Any, where: str, depth: int = 0) -> None:
    """Refuse JSON nested deeper than MAX_NESTING (lists and objects)."""
    if depth > MAX_NESTING:
        raise RecsysError(f"{where} is nested more than {MAX_NESTING} levels deep.")
    if isinstance(value, dict):
        for item in value.values():
            nesting(item, where, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            nesting(item, where, depth + 1)
