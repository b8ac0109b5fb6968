"""Regenerate the README screenshots (docs/screenshots/: main, taste, compare, model).

Runs the browser test that takes them, with RECSYS_SCREENSHOT_DIR pointing at
docs/screenshots (without it the same test, part of `make test`, writes to a
temporary directory). Needs what the browser tests need: Debian's chromium and,
for the page icons, fonts-noto-color-emoji (both installed by .ci/run).

Usage: .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST = "tests/e2e/test_browser.py::test_screenshots_of_the_main_and_model_pages"


def main() -> int:
    """Run the screenshot test against docs/screenshots; return pytest's exit code."""
    env = {**os.environ, "RECSYS_SCREENSHOT_DIR": str(ROOT / "docs" / "screenshots")}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TEST]
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
