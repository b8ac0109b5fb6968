"""`python -m recsys ...`: the command-line face of the library.

This module only parses arguments and dispatches; each command lives in the
module named below and is imported lazily, so `recommend` never imports PyTorch.
Errors meant for people (`RecsysError`) become one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from recsys.errors import RecsysError
from recsys.progress import close_lines

# command -> (module, function); every function takes (args, settings) -> exit code.
COMMANDS = {
    "prepare": ("recsys.pipeline", "prepare_cli"),
    "train": ("recsys.pipeline", "train_cli"),
    "recommend": ("recsys.coldstart", "recommend_cli"),  # known users and new ones
    "evaluate": ("recsys.model.evaluate", "evaluate_cli"),
    "export": ("recsys.serving.export", "export_cli"),
    "feedback": ("recsys.serving.feedback", "feedback_cli"),
    "bench": ("recsys.bench", "bench_cli"),
    "redis": ("recsys.serving.server", "redis_cli"),
}


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one plain line, like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise RecsysError(f"{self.prog}: {message}")


MAX_SEED = 2**32 - 1  # what numpy's and PyTorch's seeding accept alike
MAX_EPOCHS = 10_000  # as recsys.train.train checks


def _whole_number(name: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`, checked before any work."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            shown = text if len(text) <= 40 else text[:40] + "…"
            raise argparse.ArgumentTypeError(
                f"{name} {shown!r} is not a whole number from {low} to {high}"
            )
        return value

    return parse


_seed = _whole_number("seed", 0, MAX_SEED)
MAX_DATA_SEEDS = 10


_data_seed = _whole_number("data seed", 0, MAX_SEED)


def _data_seeds(text: str) -> tuple[int, ...]:
    """An argparse type: 1 to MAX_DATA_SEEDS distinct data seeds, comma-separated."""
    shown = text if len(text) <= 40 else text[:40] + "…"
    problem = argparse.ArgumentTypeError(
        f"data seeds {shown!r} is not a comma-separated list of 1 to {MAX_DATA_SEEDS} "
        f"different whole numbers from 0 to {MAX_SEED}"
    )
    parts = text.split(",")
    if not 1 <= len(parts) <= MAX_DATA_SEEDS:
        raise problem
    try:
        seeds = tuple(_data_seed(part.strip()) for part in parts)
    except argparse.ArgumentTypeError:
        raise problem from None
    if len(set(seeds)) != len(seeds):
        raise problem
    return seeds


_epochs = _whole_number("epochs", 1, MAX_EPOCHS)


def _add_data_files(p: argparse.ArgumentParser) -> None:
    p.add_argument("--restaurants", type=Path, help="restaurants JSON (the article's schema)")
    p.add_argument("--users", type=Path, help="users CSV or JSON Lines")
    p.add_argument("--interactions", type=Path, help="interactions CSV")


def _add_world(p: argparse.ArgumentParser, *, all_allowed: bool = False) -> None:
    from recsys.data.worlds import WORLDS  # names only: no PyTorch import

    names = ", ".join(WORLDS) + (", or all" if all_allowed else "")
    p.add_argument(
        "--world",
        help=f"planted world of the simulated visits: {names} (default: default)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m recsys", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("prepare", help="idempotent set-up: Redis, data, model, index")
    _add_data_files(p)
    _add_world(p)

    p = sub.add_parser("train", help="train the two-tower model and swap the index")
    _add_data_files(p)
    _add_world(p)
    p.add_argument("--epochs", type=_epochs, help="maximum number of epochs, 1-10000")
    p.add_argument("--seed", type=_seed, default=0, help="random seed 0..2**32-1 (default 0)")

    p = sub.add_parser("recommend", help="recommend restaurants (JSON Lines on stdout)")
    who = p.add_mutually_exclusive_group(required=True)
    # extend: `--user-id a b` and `--user-id a --user-id b` both ask for a and b.
    who.add_argument(
        "--user-id", nargs="+", action="extend", metavar="ID", help="one or more known user ids"
    )
    who.add_argument("--new-user", metavar="JSON", help="a new user's profile as JSON")
    p.add_argument("--lat", type=float, help="latitude of the search centre")
    p.add_argument("--lon", type=float, help="longitude of the search centre")
    p.add_argument("--radius-m", type=float, help="search radius in metres")
    p.add_argument("--at", metavar="ISO8601", help="open at this time (no offset = SF time)")
    p.add_argument("--min-price", type=int, help="lowest price level, 1-4")
    p.add_argument("--max-price", type=int, help="highest price level, 1-4")
    p.add_argument("--min-rating", type=float, help="lowest rating, 0-5")
    p.add_argument(
        "--cuisine", nargs="+", action="extend", metavar="C", help="any of these cuisines"
    )
    p.add_argument("-k", type=int, default=10, help="number of results, 1-100 (default 10)")
    p.add_argument("--exclude-visited", action="store_true", help="skip places visited")
    p.add_argument(
        "--explain", action="store_true", help='each result\'s "why": likes, price, score split'
    )

    p = sub.add_parser("evaluate", help="recall/NDCG of the model and every baseline")
    _add_data_files(p)
    _add_world(p, all_allowed=True)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--data-seeds",
        type=_data_seeds,
        metavar="S,S,...",
        help="evaluate on these simulated data sets (e.g. 0,1,2) and print their means; "
        "the served model is used where it fits, else one is trained (not saved)",
    )
    p.add_argument(
        "--feedback-rounds",
        type=int,
        default=0,
        metavar="N",
        help="also simulate N rounds of app feedback (recall@10 per round)",
    )

    p = sub.add_parser("feedback", help="record, list or reset a user's app feedback")
    p.add_argument("--user-id", required=True, metavar="U", help="a known user id")
    p.add_argument("--restaurant-id", metavar="R", help="a served restaurant id")
    mark = p.add_mutually_exclusive_group(required=True)
    mark.add_argument("--went", action="store_true", help='"I went here" (positive)')
    mark.add_argument("--not-for-me", action="store_true", help='"Not for me" (negative)')
    mark.add_argument("--list", action="store_true", help="print the user's feedback")
    mark.add_argument("--reset", action="store_true", help="forget the user's feedback")

    p = sub.add_parser("export", help="export restaurants or users as JSON")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--restaurants", action="store_true")
    what.add_argument("--users", action="store_true")
    p.add_argument("--with-embeddings", action="store_true")

    p = sub.add_parser("bench", help="measure latency and training time")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--quick", action="store_true", help="only the default data (skip 100k and training)"
    )
    p.add_argument(
        "--restaurants",
        metavar="N",
        help="generated Bay Area restaurants to load (default 100,000; 1,000-2,000,000)",
    )
    p.add_argument(
        "--profile", action="store_true", help="add FT.PROFILE of each filter (Bay Area, FLAT)"
    )

    p = sub.add_parser("redis", help="manage the embedded Redis")
    p.add_argument("action", choices=["start", "stop", "status"])
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings meant for a person (e.g. a like the model never saw) as one stderr line."""
    print(f"warning: {' '.join(str(message).split())}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    from recsys.config import Settings

    warnings.showwarning = _one_line_warning
    try:
        args = build_parser().parse_args(argv)
        settings = Settings.from_env()
        module_name, func_name = COMMANDS[args.command]
        handler = getattr(importlib.import_module(module_name), func_name)
        return int(handler(args, settings) or 0)
    except RecsysError as exc:
        close_lines()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a read-only directory: still one plain line
        close_lines()
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        close_lines()
        print("error: interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:
        message = _redis_down(exc, settings if "settings" in locals() else None)
        if message is None:
            raise
        close_lines()
        print(f"error: {message}", file=sys.stderr)
        return 2


def _redis_down(exc: Exception, settings: object) -> str | None:
    """One sentence for a Redis that went away mid-command (None: not that problem).

    redis-py's ConnectionError/TimeoutError can surface anywhere (e.g. when `train`
    reaches publishing); the message names the Redis address, never its password.
    """
    redis = sys.modules.get("redis")
    if redis is None:
        return None
    seen: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in seen:  # RedisVL wraps redis-py's errors
        if isinstance(cause, redis.ConnectionError | redis.TimeoutError):
            break
        seen.append(cause)
        cause = cause.__cause__ or cause.__context__
    if cause is None or cause in seen:
        return None
    exc = cause
    from recsys.serving import server

    where = server.address(settings) if settings is not None else "the Redis in use"
    what = "did not answer in time" if isinstance(exc, redis.TimeoutError) else "went away"
    detail = " ".join(str(exc).split()).rstrip(".")
    return f"Redis at {where} {what} ({detail or type(exc).__name__})."
