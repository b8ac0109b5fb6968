"""`python -m ui.serve [streamlit options]`: `streamlit run app.py`, warmed up.

Streamlit imports a page's modules on its first run, that is while the first visitor
waits: pandas, RedisVL and the serving modules cost about 1.5 s
there on 2 cores. Importing them here, in the server process before it
starts listening, moves that cost out of the first page load (a module is imported
once per process). PyTorch is not among them: a known user is served without it
(`tests/integration/test_cli.py` checks that the first page does not import it).

The first run of the page itself still costs about a second more than the next ones
(the live tables read from Redis, the map's background rows, the app's own modules,
Streamlit's emoji table for the page icon): as soon as the server answers, `warm_up`
runs the default page once in a session of its own, over the same websocket a
browser uses, so Streamlit's caches are full before the first visitor's page has
finished loading its JavaScript. It is best effort: a failure is one line on stderr.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
import urllib.request
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app.py"
# What the Recommend page and the sidebar import on their first run, except modules
# that call Streamlit at import time (`st.cache_*`, `declare_component`: they need the
# runtime, which does not exist yet): `ui.*` stays with the page.
WARM = (
    "pandas",
    "streamlit.emojis",  # the page icon is checked against it on the first run
    "streamlit.components.v1",
    "redisvl.query",
    "recsys.serving.recommend",
    "recsys.serving.feedback",
    "recsys.serving.index",
    "recsys.serving.taste",
)


def warm_up(base_url: str, timeout: float = 120.0) -> bool:
    """Run the app's default page once in a throw-away session at `base_url`
    (e.g. "http://127.0.0.1:8501"); True if it ran to the end."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect

    deadline = time.monotonic() + timeout
    while True:  # the server answers once it listens
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=5) as reply:
                if reply.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    stream = base_url.replace("http", "ws", 1) + "/_stcore/stream"
    with connect(stream, subprotocols=["streamlit"], open_timeout=10) as ws:
        rerun = BackMsg()
        rerun.rerun_script.query_string = ""
        rerun.rerun_script.page_script_hash = ""  # the default page
        ws.send(rerun.SerializeToString())
        failed = False
        while time.monotonic() < deadline:
            msg = ForwardMsg.FromString(ws.recv(timeout=max(deadline - time.monotonic(), 0)))
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.new_element.WhichOneof("type") == "exception":
                failed = True
            elif kind == "script_finished":
                return not failed and msg.script_finished in (
                    ForwardMsg.FINISHED_SUCCESSFULLY,
                    ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
                )
    return False


def _warm_up_when_listening() -> None:
    """`warm_up` against this process's server, once Streamlit has read its options."""
    from streamlit import config
    from streamlit.runtime import Runtime

    try:
        while not Runtime.exists():
            time.sleep(0.05)
        address = config.get_option("server.address") or "127.0.0.1"
        host = "127.0.0.1" if address in ("0.0.0.0", "::", "localhost") else address
        host = f"[{host}]" if ":" in host else host
        if not warm_up(f"http://{host}:{config.get_option('server.port')}"):
            print("warm-up: the first page did not run to the end", file=sys.stderr)
    except Exception as exc:  # best effort: the server itself is unaffected
        print(f"warm-up skipped: {exc.__class__.__name__}: {exc}", file=sys.stderr)


def main(argv: list[str] | None = None, app: Path = APP) -> int:
    """`streamlit run app` with `argv` (default: the command line), warmed up."""
    for name in WARM:
        importlib.import_module(name)
    from streamlit.web import cli

    threading.Thread(target=_warm_up_when_listening, name="warm-up", daemon=True).start()

    sys.argv = ["streamlit", "run", str(app), *(sys.argv[1:] if argv is None else argv)]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
