"""`python -m recsys prepare | recommend | export` as subprocesses: JSON Lines out, and
every bad input answered with exit 2, one stderr line and nothing on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis

from recsys.serving import server

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recsys", *args], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


@pytest.fixture(scope="module")
def prepared(redis_server, tmp_path_factory):
    """One prepared namespace for the module (prepare is what a user runs first)."""
    namespace = "t" + uuid.uuid4().hex[:10]
    env = {
        **os.environ,
        "RECSYS_DATA_DIR": str(tmp_path_factory.mktemp("cli")),
        "RECSYS_NAMESPACE": namespace,
        "REDIS_URL": redis_server.url,
    }
    env.pop("RECSYS_RESTAURANTS", None)
    first = _run(env, "prepare")
    assert first.returncode == 0, first.stderr[-500:]
    yield env, json.loads(first.stdout)
    server.drop_namespace(redis.Redis.from_url(redis_server.url), namespace)


def test_prepare_is_idempotent(prepared) -> None:
    env, first = prepared
    assert first["trained"] and first["loaded"]
    again = _run(env, "prepare")
    assert again.returncode == 0
    summary = json.loads(again.stdout)
    assert not summary["trained"] and not summary["loaded"]
    assert summary["model_version"] == first["model_version"]
    assert summary["version"] == first["version"]
    # The data source is said plainly (here: generated, since downloads are off).
    assert "restaurants: Generated San Francisco data set" in again.stderr


def test_recommend_prints_one_json_line_per_user(prepared) -> None:
    env, _ = prepared
    users = json.loads(_run(env, "export", "--users").stdout)["users"]
    ids = [users[0]["user_id"], users[1]["user_id"]]
    where = ["--lat", "37.78", "--lon", "-122.42", "--radius-m", "3000"]
    out = _run(env, "recommend", "--user-id", *ids, *where, "--at", "2026-07-04T19:30",
               "-k", "3", "--exclude-visited")  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["user_id"] for line in lines] == ids
    keys = {"rank", "id", "name", "address", "lat", "lon", "cuisine", "price", "rating",
            "distance_m", "score", "open_at", "closes_at"}  # fmt: skip
    for line, user in zip(lines, users[:2], strict=True):
        assert 1 <= len(line["results"]) <= 3
        for r in line["results"]:
            assert set(r) == keys and r["open_at"] is True and r["distance_m"] <= 3000
            assert r["id"] not in user["visited"]


def test_export_restaurants_keeps_source_hours_and_embeddings(prepared) -> None:
    env, _ = prepared
    out = _run(env, "export", "--restaurants", "--with-embeddings")
    doc = json.loads(out.stdout)
    first = doc["restaurants"][0]
    assert {"id", "name", "hours", "cuisines", "price", "rating", "embedding"} <= set(first)
    assert len(first["embedding"]) == 128 and "monday_open_0" not in first
    plain = json.loads(_run(env, "export", "--restaurants").stdout)["restaurants"][0]
    assert "embedding" not in plain


BAD = [
    (["--user-id", "nobody"], "user 'nobody' is not among the users"),
    (["--user-id", "u0001", "--lat", "37.7"], "both a latitude and a longitude"),
    (["--user-id", "u0001", "--lat", "nan", "--lon", "-122.4"], "latitude nan"),
    (["--user-id", "u0001", "--lat", "37.7", "--lon", "-122.4", "--radius-m", "0"], "radius 0"),
    (["--user-id", "u0001", "--lat", "37.7", "--lon", "-122.4", "--radius-m", "60000"],
     "at most 50000 m"),
    (["--user-id", "u0001", "--min-price", "3", "--max-price", "1"], "minimum price 3 is above"),
    (["--user-id", "u0001", "--min-price", "7"], "minimum price 7"),
    (["--user-id", "u0001", "--min-rating", "6"], "minimum rating 6"),
    (["--user-id", "u0001", "-k", "0"], "k 0 is not"),
    (["--user-id", "u0001", "-k", "101"], "k 101 is not"),
    (["--user-id", "u0001", "--at", "next tuesday"], "is not ISO 8601"),
    (["--user-id", "u0001", "--cuisine", "Klingon"], "cuisine 'Klingon' is not in the index"),
    (["--user-id", "u0001", "--cuisine", "Thai} | @price:[0 9"], "is not in the index"),
    (["--user-id", "u0001", "nobody"], "user 'nobody' is not among"),  # nothing half-printed
    (["--new-user", "{broken"], "--new-user is not valid JSON"),
    (["--new-user", '{"likes": ["pizza"]}'], "price_bracket"),
    (["--user-id", "u0001", "--lat", "abc"], "invalid float value"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_input_exits_2_with_one_line(prepared, args, message) -> None:
    env, _ = prepared
    out = _run(env, "recommend", *args)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.count("\n") == 1 and message in out.stderr, out.stderr


def _torch_loaded_after(
    env: dict[str, str], *args: str
) -> tuple[bool, subprocess.CompletedProcess]:
    """Run the CLI in a fresh interpreter; was PyTorch imported by the end?"""
    code = (
        "import sys\n"
        "from recsys.cli import main\n"
        f"code = main({list(args)!r})\n"
        "sys.stderr.write('TORCH=%s\\n' % ('torch' in sys.modules))\n"
        "sys.exit(code)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=600)  # fmt: skip
    return "TORCH=True" in out.stderr, out


def test_torch_is_imported_only_for_a_cold_start(prepared) -> None:
    env, _ = prepared
    users = json.loads(_run(env, "export", "--users").stdout)["users"]
    known, known_run = _torch_loaded_after(env, "recommend", "--user-id", users[0]["user_id"])
    assert known_run.returncode == 0, known_run.stderr
    assert json.loads(known_run.stdout.splitlines()[0])["results"]
    assert not known
    profile = json.dumps({"likes": ["sushi"], "price_bracket": "middle"})
    cold, cold_run = _torch_loaded_after(env, "recommend", "--new-user", profile)
    assert cold_run.returncode == 0, cold_run.stderr
    assert json.loads(cold_run.stdout.splitlines()[0])["results"]
    assert cold


def test_the_first_page_does_not_import_torch(prepared) -> None:
    """The Recommend page (and the sidebar) serve a known user without PyTorch: importing
    it costs seconds of the first page load. A fresh interpreter runs the app once."""
    env, _ = prepared
    code = (
        "import sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(ROOT / 'app.py')!r}, default_timeout=300).run()\n"
        "assert not at.exception, [e.value for e in at.exception]\n"
        "assert any(' result' in c.value for c in at.caption), 'no results line on the page'\n"
        "sys.stderr.write('TORCH=%s\\n' % ('torch' in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "TORCH=False" in out.stderr, out.stderr[-2000:]


@pytest.mark.parametrize("command", ["prepare", "train", "evaluate"])
def test_unknown_world_exits_2_with_one_line(prepared, command) -> None:
    env, _ = prepared
    out = _run(env, command, "--world", "mars")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == (
        "error: unknown world 'mars'; choose one of default, remapped, nonlinear, collaborative.\n"
    )


def test_recommend_explain_says_why_and_splits_the_served_score(prepared) -> None:
    env, _ = prepared
    users = json.loads(_run(env, "export", "--users").stdout)["users"]
    user = next(u for u in users if len(u["visited"]) >= 5)
    out = _run(env, "recommend", "--user-id", user["user_id"], "-k", "5", "--explain")
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)["results"]
    assert len(results) == 5
    for result in results:
        why = result["why"]
        assert set(why) >= {"likes", "price", "parts", "exact", "rating"}
        assert set(why["likes"]) <= set(user["likes"])
        if why["exact"]:  # linear towers: the split is the served score itself
            assert sum(why["parts"].values()) == pytest.approx(result["score"], abs=1e-3)
    assert any(result["why"]["likes"] for result in results)  # the top 5 meet some like
    plain = _run(env, "recommend", "--user-id", user["user_id"], "-k", "5")
    assert "why" not in json.loads(plain.stdout)["results"][0]
