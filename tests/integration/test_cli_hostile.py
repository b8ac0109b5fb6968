"""Hostile input to `python -m recsys`: every case exits 2 with exactly one plain line
on stderr (no traceback, nothing on stdout), and a bad file never changes what is live.

One prepared namespace serves the whole table (`train --epochs 1` once); commands that
take files fail while reading them, before any training.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from recsys.config import Settings
from recsys.serving import keys, server

pytestmark = pytest.mark.slow


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recsys", *args], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


@dataclass
class Prepared:
    env: dict[str, str]
    files: dict[str, str]
    client: redis.Redis
    live_key: str
    cuisine: str
    user_ids: list[str] = field(default_factory=list)

    def live(self) -> dict[bytes, bytes]:
        return self.client.hgetall(self.live_key)


def _restaurant(**overrides) -> dict:
    record = {"name": "Good Place", "address": "1 Market St", "latitude": 37.79,
              "longitude": -122.40, "cuisine": ["Thai"], "price": 2, "rating": 4.0}  # fmt: skip
    record.update(overrides)
    return record


def _restaurants_file(*records: dict) -> str:
    return json.dumps({"restaurants": [_restaurant(name=f"Place {i}") for i in range(3)]
                       + list(records)})  # fmt: skip


USERS_HEADER = "user_id,likes,price_bracket,birthdate,name\n"
GOOD_USER = "u1,pizza;sushi,low,1990-01-01,Ann\n"


def _jsonl(**fields) -> str:
    return json.dumps({"likes": ["pizza"], "price_bracket": "low", **fields}) + "\n"


def _write_files(root: Path, served: str) -> dict[str, str]:
    """Every bad file of the table, by name -> path (directories too); the bad
    checkpoints stand where the served model version `served` is looked for."""
    nested = "[" * 5000 + "]" * 5000
    texts = {
        # users files (CSV and JSON Lines)
        "users_1800.csv": USERS_HEADER + GOOD_USER + "u2,pizza,low,1800-01-01,Old\n",
        "users_0001.csv": USERS_HEADER + GOOD_USER + "u2,pizza,low,0001-01-01,Older\n",
        "users_9999.csv": USERS_HEADER + GOOD_USER + "u2,pizza,low,9999-01-01,Unborn\n",
        "users_longname.csv": USERS_HEADER + GOOD_USER + f"u2,pizza,low,1990-01-01,{'n' * 5000}\n",
        # Likes are data (any like trains), but not an endless one.
        "users_badlike.csv": USERS_HEADER + GOOD_USER + f"u2,{'🍕' * 300},low,1990-01-01,Bea\n",
        "users_dup.csv": USERS_HEADER + GOOD_USER + GOOD_USER,
        "users_empty.csv": "",
        "users_header_only.csv": USERS_HEADER,
        "users_nocol.csv": "id,likes\nu1,pizza\n",
        "users_listid.jsonl": _jsonl(user_id=[1]),
        "users_dictname.jsonl": _jsonl(user_id="u1", name={"x": 1}),
        "users_nested.jsonl": '{"user_id": "u1", "likes": ' + nested + "}\n",
        "users_garbage.jsonl": "\x00\x01not json at all\n",
        # restaurants files
        "rest_comma.json": _restaurants_file(_restaurant(cuisine=["Thai,Dessert"])),
        "rest_tab.json": _restaurants_file(_restaurant(cuisine=["Thai\tDessert"])),
        "rest_newline.json": _restaurants_file(_restaurant(cuisine=["Thai\nDessert"])),
        "rest_backtick.json": _restaurants_file(_restaurant(cuisine=["Thai`Dessert"])),
        "rest_longcuisine.json": _restaurants_file(_restaurant(cuisine=["c" * 500])),
        "rest_manycuisines.json": _restaurants_file(
            _restaurant(cuisine=[f"C{i}" for i in range(21)])
        ),
        "rest_dictname.json": _restaurants_file(_restaurant(name={"x": 1})),
        "rest_longname.json": _restaurants_file(_restaurant(name="n" * 10_000)),
        "rest_longaddress.json": _restaurants_file(_restaurant(address="a" * 10_000)),
        "rest_listid.json": _restaurants_file(_restaurant(id=[1])),
        "rest_longid.json": _restaurants_file(_restaurant(id="i" * 1000)),
        "rest_nanlat.json": _restaurants_file(_restaurant(latitude=float("nan"))),
        "rest_infprice.json": _restaurants_file(_restaurant(price="inf")),
        "rest_bigrating.json": _restaurants_file(_restaurant(rating=1e308)),
        "rest_nested.json": '{"restaurants": [' + nested + "]}",
        "rest_empty.json": json.dumps({"restaurants": []}),
        "rest_notjson.json": "{restaurants: nope",
        "rest_list.json": json.dumps([_restaurant()]),
        "rest_latin1.json": "",  # replaced by bytes below
        # interactions files
        "inter_unknown.csv": "user_id,restaurant_id\nnobody,nowhere\n",
        "inter_noheader.csv": "",
        # checkpoints
        f"model_raw/model/{served}/checkpoint.pt": "",  # replaced by a raw pickle below
        f"model_text/model/{served}/checkpoint.pt": "this is not a checkpoint\n",
    }
    paths = {}
    for name, text in texts.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        paths[name] = str(path)
    latin1 = '{"restaurants": [{"name": "Caf\xe9"}]}'.encode("latin-1")
    (root / "rest_latin1.json").write_bytes(latin1)
    raw_pickle = pickle.dumps({"state_dict": object})
    (root / f"model_raw/model/{served}/checkpoint.pt").write_bytes(raw_pickle)
    (root / "a_directory").mkdir()
    paths["dir"] = str(root / "a_directory")
    paths["missing"] = str(root / "no-such-file.csv")
    paths["model_raw"] = str(root / "model_raw")
    paths["model_text"] = str(root / "model_text")
    return paths


@pytest.fixture(scope="module")
def prepared(redis_server, tmp_path_factory) -> Iterator[Prepared]:
    namespace = "t" + uuid.uuid4().hex[:10]
    env = {**os.environ, "RECSYS_DATA_DIR": str(tmp_path_factory.mktemp("hostile")),
           "RECSYS_NAMESPACE": namespace, "REDIS_URL": redis_server.url}  # fmt: skip
    env.pop("RECSYS_RESTAURANTS", None)
    trained = _run(env, "train", "--epochs", "1")
    assert trained.returncode == 0, trained.stderr[-1000:]
    client = redis.Redis.from_url(redis_server.url)
    live_key = keys.live(Settings(data_dir=Path(env["RECSYS_DATA_DIR"]), namespace=namespace))
    cuisines = json.loads(client.hget(live_key, "cuisines"))
    served = client.hget(live_key, "model_version").decode()
    users = json.loads(_run(env, "export", "--users").stdout)["users"]
    yield Prepared(
        env=env,
        files=_write_files(tmp_path_factory.mktemp("hostile-files"), served),
        client=client,
        live_key=live_key,
        cuisine=cuisines[0],
        user_ids=[u["user_id"] for u in users[:2]],
    )
    server.drop_namespace(client, namespace)
    client.close()


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A loopback port that listens but never accepts nor answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _profile(**fields) -> str:
    return json.dumps({"likes": ["pizza"], "price_bracket": "low", **fields})


R = ["recommend", "--user-id", "u0001"]
N = ["recommend", "--new-user"]
# (id, argv, env overrides, expected text in the one stderr line). `{name}` in argv
# or env is replaced by the path of that file; `{cuisine}` by a served cuisine.
CASES = [
    # times
    ("at-year1-plus14", [*R, "--at", "0001-01-01T00:00+14:00"], {}, "outside the years"),
    ("at-year9999-minus12", [*R, "--at", "9999-12-31T23:59-12:00"], {}, "outside the years"),
    ("at-empty", [*R, "--at", ""], {}, "is not ISO 8601"),
    ("at-month13", [*R, "--at", "2026-13-01T10:00"], {}, "is not ISO 8601"),
    ("at-huge", [*R, "--at", "9" * 5000], {}, "is not ISO 8601"),
    # numbers
    ("lat-inf", [*R, "--lat", "inf", "--lon", "0"], {}, "latitude inf"),
    ("lat-1e308", [*R, "--lat", "1e308", "--lon", "0"], {}, "outside"),
    ("lon-nan", [*R, "--lat", "37.7", "--lon", "nan"], {}, "longitude nan"),
    ("radius-nan", [*R, "--lat", "37.7", "--lon", "-122.4", "--radius-m", "nan"], {}, "radius"),
    ("radius-neg", [*R, "--lat", "37.7", "--lon", "-122.4", "--radius-m", "-1"], {}, "radius"),
    ("radius-alone", [*R, "--radius-m", "100"], {}, "needs a search centre"),
    ("rating-nan", [*R, "--min-rating", "nan"], {}, "minimum rating nan"),
    ("rating-inf", [*R, "--min-rating=-inf"], {}, "minimum rating -inf"),
    ("price-float", [*R, "--min-price", "2.5"], {}, "invalid int value"),
    ("price-zero", [*R, "--max-price", "0"], {}, "maximum price 0"),
    ("k-huge", [*R, "-k", "9" * 30], {}, "is not a whole number from 1 to 100"),
    ("k-negative", [*R, "-k", "-1"], {}, "k -1 is not"),
    # users and cuisines
    ("user-empty", ["recommend", "--user-id", ""], {}, "is not a user id"),
    ("user-huge", ["recommend", "--user-id", "u" * 100_000], {}, "longer than 64"),
    ("user-unicode", ["recommend", "--user-id", "ü🍕\u202e"], {}, "is not among the users"),
    ("user-repeated-flag", [*R, "--user-id", "nobody"], {}, "'nobody' is not among"),
    ("cuisine-empty", [*R, "--cuisine", ""], {}, "is not a cuisine name"),
    ("cuisine-comma", [*R, "--cuisine", "Thai,Dessert"], {}, "is not in the index"),
    ("cuisine-backtick", [*R, "--cuisine", "a`b"], {}, "is not in the index"),
    ("cuisine-huge", [*R, "--cuisine", "c" * 100_000], {}, "is not in the index"),
    ("cuisine-repeated-flag", [*R, "--cuisine", "{cuisine}", "--cuisine", "Klingon"], {},
     "'Klingon' is not in the index"),
    ("no-who", ["recommend"], {}, "one of the arguments"),
    # new users
    ("new-1800", [*N, _profile(birthdate="1800-01-01")], {}, "birthdate '1800-01-01'"),
    ("new-0001", [*N, _profile(birthdate="0001-01-01")], {}, "birthdate '0001-01-01'"),
    ("new-9999", [*N, _profile(birthdate="9999-01-01")], {}, "birthdate '9999-01-01'"),
    ("new-birth-int", [*N, _profile(birthdate=19900101)], {}, "birthdate 19900101"),
    ("new-nested-deep", [*N, '{"likes": ' + "[" * 20_000 + "]" * 20_000 + "}"], {},
     "is nested too deeply"),
    ("new-nested-30", [*N, _profile(name=json.loads("[" * 30 + "]" * 30))], {},
     "nested more than 20 levels"),
    ("new-name-dict", [*N, _profile(name={"x": 1})], {}, "name {'x': 1} is not text"),
    ("new-id-list", [*N, _profile(user_id=[1])], {}, "user_id [1] is not text"),
    ("new-name-long", [*N, _profile(name="n" * 5000)], {}, "longer than 200 characters"),
    ("new-email-long", [*N, _profile(email="e" * 300)], {}, "email"),
    ("new-json-huge", [*N, _profile(name="n" * 120_000)], {}, "longer than 100,000"),
    ("new-likes-int", [*N, json.dumps({"likes": 5, "price_bracket": "low"})], {}, "likes 5"),
    ("new-likes-empty", [*N, _profile(likes=[])], {}, "likes is empty"),
    # Likes are data (any like is accepted, an unseen one ignored): a too long one is not.
    ("new-likes-long", [*N, _profile(likes=["🍕" * 500])], {}, "like"),
    ("new-likes-flood", [*N, _profile(likes=["pizza"] * 500)], {}, "likes has 500 entries"),
    ("new-bracket-int", [*N, json.dumps({"likes": ["pizza"], "price_bracket": 5})], {},
     "price_bracket 5"),
    ("new-visibility", [*N, _profile(profile_visibility="everyone")], {}, "profile_visibility"),
    ("new-newsletter", [*N, _profile(newsletter="maybe")], {}, "newsletter 'maybe'"),
    ("new-list", [*N, "[1]"], {}, "expected a JSON object, got list"),
    ("new-null", [*N, "null"], {}, "expected a JSON object, got NoneType"),
    ("new-nan", [*N, "NaN"], {}, "expected a JSON object, got float"),
    ("new-empty", [*N, ""], {}, "--new-user is not valid JSON"),
    ("new-raw-pickle-checkpoint", [*N, _profile()], {"RECSYS_DATA_DIR": "{model_raw}"},
     "is not a readable recsys checkpoint"),
    ("new-text-checkpoint", [*N, _profile()], {"RECSYS_DATA_DIR": "{model_text}"},
     "is not a readable recsys checkpoint"),
    # train: seeds and epochs (refused before anything is trained)
    ("seed-negative", ["train", "--seed", "-5"], {}, "seed '-5' is not a whole number"),
    ("seed-huge", ["train", "--seed", "99999999999999999999999"], {}, "is not a whole number"),
    ("seed-float", ["train", "--seed", "1.5"], {}, "seed '1.5'"),
    ("seed-nan", ["train", "--seed", "nan"], {}, "seed 'nan'"),
    # evaluate: data seeds (refused before any data is built)
    ("data-seeds-word", ["evaluate", "--data-seeds", "a,b"], {}, "data seeds 'a,b' is not"),
    ("data-seeds-repeat", ["evaluate", "--data-seeds", "1,1"], {}, "different whole numbers"),
    ("data-seeds-empty", ["evaluate", "--data-seeds", ""], {}, "data seeds '' is not"),
    ("data-seeds-negative", ["evaluate", "--data-seeds", "0,-1"], {}, "data seeds '0,-1'"),
    ("data-seeds-many", ["evaluate", "--data-seeds", "0,1,2,3,4,5,6,7,8,9,10"], {}, "1 to 10"),
    ("epochs-zero", ["train", "--epochs", "0"], {}, "epochs '0' is not a whole number"),
    ("epochs-huge", ["train", "--epochs", "99999999999"], {}, "from 1 to 10000"),
    # users files
    ("users-dir", ["train", "--users", "{dir}"], {}, "is a directory"),
    ("users-missing", ["train", "--users", "{missing}"], {}, "does not exist"),
    ("users-1800", ["train", "--users", "{users_1800.csv}"], {}, "birthdate '1800-01-01'"),
    ("users-0001", ["train", "--users", "{users_0001.csv}"], {}, "birthdate '0001-01-01'"),
    ("users-9999", ["train", "--users", "{users_9999.csv}"], {}, "birthdate '9999-01-01'"),
    ("users-longname", ["train", "--users", "{users_longname.csv}"], {}, "longer than 200"),
    ("users-badlike", ["train", "--users", "{users_badlike.csv}"], {}, "is longer than"),
    ("users-dup", ["train", "--users", "{users_dup.csv}"], {}, "appears twice"),
    ("users-empty", ["train", "--users", "{users_empty.csv}"], {}, "is not valid CSV"),
    ("users-header-only", ["train", "--users", "{users_header_only.csv}"], {}, "has no users"),
    ("users-nocol", ["train", "--users", "{users_nocol.csv}"], {}, "has no user_id"),
    ("users-listid", ["train", "--users", "{users_listid.jsonl}"], {}, "user_id [1] is not text"),
    ("users-dictname", ["train", "--users", "{users_dictname.jsonl}"], {}, "name {'x': 1}"),
    ("users-nested", ["train", "--users", "{users_nested.jsonl}"], {}, "users file"),
    ("users-garbage", ["train", "--users", "{users_garbage.jsonl}"], {}, "is not valid JSON"),
    # restaurants files
    ("rest-dir", ["train", "--restaurants", "{dir}"], {}, "is a directory"),
    ("rest-missing", ["prepare", "--restaurants", "{missing}"], {}, "does not exist"),
    ("rest-comma", ["train", "--restaurants", "{rest_comma.json}"], {}, "contains a comma"),
    ("rest-tab", ["train", "--restaurants", "{rest_tab.json}"], {}, "a control character"),
    ("rest-newline", ["train", "--restaurants", "{rest_newline.json}"], {}, "control character"),
    ("rest-backtick", ["train", "--restaurants", "{rest_backtick.json}"], {}, "a backtick"),
    ("rest-longcuisine", ["train", "--restaurants", "{rest_longcuisine.json}"], {},
     "longer than 50"),
    ("rest-manycuisines", ["train", "--restaurants", "{rest_manycuisines.json}"], {},
     "at most 20"),
    ("rest-dictname", ["train", "--restaurants", "{rest_dictname.json}"], {}, "name {'x': 1}"),
    ("rest-longname", ["train", "--restaurants", "{rest_longname.json}"], {}, "longer than 200"),
    ("rest-longaddress", ["train", "--restaurants", "{rest_longaddress.json}"], {},
     "longer than 300"),
    ("rest-listid", ["train", "--restaurants", "{rest_listid.json}"], {}, "id [1]"),
    ("rest-longid", ["train", "--restaurants", "{rest_longid.json}"], {}, "longer than 128"),
    ("rest-nanlat", ["train", "--restaurants", "{rest_nanlat.json}"], {}, "latitude nan"),
    ("rest-infprice", ["train", "--restaurants", "{rest_infprice.json}"], {}, "price 'inf'"),
    ("rest-bigrating", ["train", "--restaurants", "{rest_bigrating.json}"], {}, "rating 1e+308"),
    ("rest-nested", ["train", "--restaurants", "{rest_nested.json}"], {}, "nested too deeply"),
    ("rest-empty", ["train", "--restaurants", "{rest_empty.json}"], {}, "list is empty"),
    ("rest-notjson", ["train", "--restaurants", "{rest_notjson.json}"], {}, "is not valid JSON"),
    ("rest-list", ["train", "--restaurants", "{rest_list.json}"], {}, "'restaurants' list"),
    ("rest-latin1", ["train", "--restaurants", "{rest_latin1.json}"], {}, "cannot be read"),
    ("rest-env", ["train"], {"RECSYS_RESTAURANTS": "{rest_comma.json}"}, "contains a comma"),
    # interactions files
    ("inter-dir", ["train", "--interactions", "{dir}"], {}, "is a directory"),
    ("inter-unknown", ["train", "--interactions", "{inter_unknown.csv}"], {}, "unknown user_id"),
    ("inter-empty", ["train", "--interactions", "{inter_noheader.csv}"], {}, "is not valid CSV"),
    # Redis addresses and settings
    ("url-ipv6-status", ["redis", "status"], {"REDIS_URL": "redis://:pw@[::1"},
     "is not valid (Invalid IPv6 URL)"),
    ("url-ipv6-recommend", R, {"REDIS_URL": "redis://:pw@[::1"}, "Invalid IPv6 URL"),
    ("url-port", R, {"REDIS_URL": "redis://:pw@127.0.0.1:99999"}, "Port out of range"),
    ("url-scheme", R, {"REDIS_URL": "http://:pw@127.0.0.1:6379"}, "is not a Redis URL"),
    ("url-closed", R, {"REDIS_URL": "redis://:pw@127.0.0.1:{closed}"}, "is not reachable"),
    ("url-silent", R, {"REDIS_URL": "redis://:pw@127.0.0.1:{silent}"}, "did not answer"),
    ("namespace", R, {"RECSYS_NAMESPACE": "bad namespace!"}, "RECSYS_NAMESPACE"),
    ("algorithm", R, {"RECSYS_VECTOR_ALGORITHM": "ivf"}, "RECSYS_VECTOR_ALGORITHM"),
    ("export-both", ["export", "--users", "--restaurants"], {}, "not allowed with"),
    ("unknown-command", ["frobnicate"], {}, "invalid choice"),
]  # fmt: skip


def _fill(text: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


@pytest.mark.parametrize(("argv", "env", "message"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_hostile_input_is_one_line_and_changes_nothing(
    prepared: Prepared, silent_port: int, argv, env, message
) -> None:
    values = {**prepared.files, "cuisine": prepared.cuisine, "silent": str(silent_port),
              "closed": str(_closed_port())}  # fmt: skip
    run_env = {**prepared.env, **{k: _fill(v, values) for k, v in env.items()}}
    before = prepared.live()
    out = _run(run_env, *(_fill(a, values) for a in argv))
    assert out.returncode == 2, (out.returncode, out.stdout[-300:], out.stderr[-2000:])
    assert out.stdout == ""
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1, out.stderr[-2000:]
    assert message in out.stderr, out.stderr
    assert len(out.stderr) < 1000, "the bad value is echoed in full"
    assert ":pw@" not in out.stderr, "a password was printed"
    assert prepared.live() == before


def test_case_table_is_large_enough() -> None:
    assert len(CASES) >= 60 and len({c[0] for c in CASES}) == len(CASES)


def test_repeated_flags_add_up(prepared: Prepared) -> None:
    """`--user-id a --user-id b` asks for both, like `--user-id a b`."""
    a, b = prepared.user_ids
    out = _run(prepared.env, "recommend", "--user-id", a, "--user-id", b, "-k", "2")
    assert out.returncode == 0, out.stderr
    assert [json.loads(line)["user_id"] for line in out.stdout.splitlines()] == [a, b]
    cuisine = prepared.cuisine
    out = _run(prepared.env, "recommend", "--user-id", a, "--cuisine", cuisine,
               "--cuisine", cuisine.upper(), "-k", "3")  # fmt: skip
    assert out.returncode == 0, out.stderr
    for result in json.loads(out.stdout)["results"]:
        assert cuisine in result["cuisine"]


class _Proxy:
    """A loopback TCP forwarder to the test Redis that can be cut off at once."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.gone = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if self.gone.is_set():
                client.close()
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass

    def cut(self) -> None:
        """Refuse new connections and reset every open one (Redis is gone)."""
        self.gone.set()
        with contextlib.suppress(OSError):  # wakes the accepting thread (Linux)
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def test_redis_lost_during_train_is_one_line(prepared: Prepared, redis_server) -> None:
    """Redis goes away while the model trains: when `train` next needs Redis (to
    evaluate or publish), it ends with one line naming the address, no traceback."""
    target = urlsplit(redis_server.url)
    proxy = _Proxy(target.hostname, target.port)
    url = f"redis://:{target.password}@127.0.0.1:{proxy.port}"
    before = prepared.live()
    proc = subprocess.Popen(
        [sys.executable, "-m", "recsys", "train", "--epochs", "1"],
        env={**prepared.env, "REDIS_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    try:
        for line in proc.stderr:  # progress lines until training starts
            lines.append(line)
            if line.startswith("train "):
                proxy.cut()
                break
        lines += proc.stderr.readlines()
        stdout = proc.stdout.read()
        assert proc.wait(timeout=600) == 2
    finally:
        proxy.cut()
        if proc.poll() is None:
            proc.kill()
    text = "".join(lines)
    assert any(line.startswith("train ") for line in lines), text
    assert "Traceback" not in text and stdout == ""
    assert lines[-1].startswith(f"error: Redis at redis://:****@127.0.0.1:{proxy.port} "), text
    assert target.password not in text
    assert prepared.live() == before
