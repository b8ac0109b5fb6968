"""The CLI's progress bar: quiet in logs, redrawn on terminals, never eating an error line."""

from __future__ import annotations

import io

from recsys.progress import Progress, TextProgress, close_lines


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_logs_get_a_line_per_stage_and_per_tenth_only() -> None:
    log = io.StringIO()
    bar = TextProgress(log)
    for done in range(0, 1001):
        bar(Progress("index", done, 1000, f"{done}/1000"))
    bar(Progress("verify", 1, 1, "ok"))
    lines = log.getvalue().splitlines()
    assert len(lines) == 12  # 0 %, 10 % ... 100 %, then the next stage
    assert lines[0].startswith("index") and "0/1000" in lines[0]
    assert "100.0%" in lines[10] and lines[11].startswith("verify")


def test_terminal_bar_is_redrawn_and_closed_before_an_error() -> None:
    tty = Terminal()
    bar = TextProgress(tty)
    bar(Progress("train", 1, 4, "epoch 1"))
    bar(Progress("train", 2, 4, "epoch 2"))
    assert tty.getvalue().count("\r") == 2 and "\n" not in tty.getvalue()
    close_lines()
    assert tty.getvalue().endswith("\n")
    close_lines()  # nothing left open: no blank line
    assert not tty.getvalue().endswith("\n\n")


def test_bench_bars_are_proportional() -> None:
    from recsys.bench import bar

    assert bar(1.0, 1.0, width=10) == "█" * 10
    assert bar(0.5, 1.0, width=10) == "█" * 5
    assert bar(0.55, 1.0, width=10) == "█" * 5 + "▌"
    assert bar(0.0, 1.0) == "" and bar(2.0, 1.0, width=4) == "████"


def test_logs_get_a_line_each_time_a_part_of_a_stage_ends() -> None:
    """`train --epochs 1`: each candidate ends at 100 %; the log must still show each one
    (it went silent for a minute after the first at 20,000 restaurants)."""
    log = io.StringIO()
    bar = TextProgress(log)
    for name in ("linear", "mlp", "hybrid linear"):
        bar(Progress("train", 1, 1, f"{name}: epoch 1/1"))
    bar(Progress("train", 1, 1, "refit on train + validation"))
    lines = log.getvalue().splitlines()
    assert [line.split("% ")[1] for line in lines] == [
        "linear: epoch 1/1",
        "mlp: epoch 1/1",
        "hybrid linear: epoch 1/1",
        "refit on train + validation",
    ]


def test_a_stage_that_stays_at_its_end_is_one_line() -> None:
    """Polling that reports 100 % with the same message (the index's verify loop) must
    not write a line per poll."""
    log = io.StringIO()
    bar = TextProgress(log)
    for _ in range(50):
        bar(Progress("verify", 1.0, 1.0, "indexing"))
    assert len(log.getvalue().splitlines()) == 1
