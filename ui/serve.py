"""`python -m ui.serve [streamlit options]`: `streamlit run app.py`, warmed up.

Streamlit imports a page's modules on its first run, that is while the first visitor
waits: pandas, RedisVL and the serving modules cost about 1.5 s
there on 2 cores. Importing them here, in the server process before it
starts listening, moves that cost out of the first page load (a module is imported
once per process). PyTorch is not among them: a known user is served without it
(`tests/integration/test_cli.py` checks that the first page does not import it).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app.py"
# What the Recommend page and the sidebar import on their first run, except modules
# that call Streamlit at import time (`st.cache_*`, `declare_component`: they need the
# runtime, which does not exist yet): `ui.*` stays with the page.
WARM = (
    "pandas",
    "streamlit.components.v1",
    "redisvl.query",
    "recsys.serving.recommend",
    "recsys.serving.feedback",
    "recsys.serving.index",
    "recsys.serving.taste",
)


def main(argv: list[str] | None = None) -> int:
    for name in WARM:
        importlib.import_module(name)
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
