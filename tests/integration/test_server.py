"""The Redis foundation against real servers: the embedded Redis with Search + JSON,
and a plain Redis without modules (the same redis-server binary, no --loadmodule)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import yaml
from redisvl.index import SearchIndex
from redisvl.query import VectorQuery
from redisvl.query.filter import Geo, GeoRadius, Num, Tag
from redisvl.schema import IndexSchema

from recsys.config import Settings
from recsys.errors import RecsysError
from recsys.serving import server

ROOT = Path(__file__).resolve().parents[2]

# (id, lon, lat, price, cuisine, vector): the query at CENTRE for [1, 0, 0, 0] within 1 km,
# price 1-3 and cuisine "italian" must return a, b, f in that order; c (price 4), d (8 km
# away) and e (thai) are equally close to the query vector but filtered out.
CENTRE = (-122.439, 37.779)
DOCS = [
    ("a", -122.438, 37.779, 2, "italian", [1.0, 0.0, 0.0, 0.0]),
    ("b", -122.440, 37.780, 2, "italian", [0.9, 0.1, 0.0, 0.0]),
    ("c", -122.439, 37.778, 4, "italian", [1.0, 0.0, 0.0, 0.0]),
    ("d", -122.350, 37.800, 2, "italian", [1.0, 0.0, 0.0, 0.0]),
    ("e", -122.437, 37.779, 2, "thai", [1.0, 0.0, 0.0, 0.0]),
    ("f", -122.441, 37.781, 3, "italian", [0.5, 0.5, 0.0, 0.0]),
]


def _schema(settings: Settings) -> IndexSchema:
    return IndexSchema.from_dict(
        {
            "index": {
                "name": settings.key("idx"),
                "prefix": settings.key("doc"),
                "storage_type": "json",
            },
            "fields": [
                {"name": "name", "type": "text"},
                {"name": "cuisine", "type": "tag"},
                {"name": "location", "type": "geo"},
                {"name": "price", "type": "numeric"},
                {
                    "name": "embedding",
                    "type": "vector",
                    "attrs": {
                        "dims": 4,
                        "distance_metric": "cosine",
                        "algorithm": "flat",
                        "datatype": "float32",
                    },
                },
            ],
        }
    )


def _load(index: SearchIndex) -> None:
    records = [
        {
            "id": doc_id,
            "name": f"Place {doc_id}",
            "cuisine": cuisine,
            "location": f"{lon},{lat}",
            "price": price,
            "embedding": vector,
        }
        for doc_id, lon, lat, price, cuisine, vector in DOCS
    ]
    index.load(records, id_field="id")


def _query() -> VectorQuery:
    where = (
        (Geo("location") == GeoRadius(*CENTRE, 1000, "m"))
        & Num("price").between(1, 3)
        & (Tag("cuisine") == "italian")
    )
    return VectorQuery(
        vector=[1.0, 0.0, 0.0, 0.0],
        vector_field_name="embedding",
        return_fields=["name", "price"],
        filter_expression=where,
        num_results=5,
    )


def _ids(results: list[dict], settings: Settings) -> list[str]:
    prefix = settings.key("doc") + ":"
    return [r["id"].removeprefix(prefix) for r in results]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _recsys(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recsys", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


@pytest.fixture
def own_embedded(tmp_path: Path) -> Iterator[Settings]:
    """Settings (no REDIS_URL) for an embedded Redis of this test only, stopped after."""
    own = Settings(data_dir=tmp_path / "data")
    yield own
    server.stop_embedded(own)


@pytest.fixture
def plain_redis_url(tmp_path: Path) -> Iterator[str]:
    """A plain Redis 8 without any module, as Debian's redis-server would be."""
    binary, _ = server._binaries()
    port = _free_port()
    args = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--dir"]
    proc = subprocess.Popen([*args, str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        _wait_for_ping(redis.Redis(port=port), proc)
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait_for_ping(client: redis.Redis, proc: subprocess.Popen) -> None:
    for _ in range(400):
        try:
            client.ping()
            return
        except redis.ConnectionError:
            if proc.poll() is not None:
                break
            time.sleep(0.025)
    pytest.fail("the plain redis-server did not answer PING")


# --- the session server and RedisVL --------------------------------------------------------


def test_session_server_has_search_and_json(redis_client: redis.Redis) -> None:
    assert server.missing_modules(redis_client) == []
    assert redis_client.ping() is True


def test_filtered_knn_over_json_documents(settings: Settings, redis_client: redis.Redis) -> None:
    index = SearchIndex(_schema(settings), redis_client=redis_client)
    index.create()
    _load(index)

    results = index.query(_query())

    assert _ids(results, settings) == ["a", "b", "f"]
    assert float(results[0]["vector_distance"]) == pytest.approx(0.0, abs=1e-6)
    assert results[2]["name"] == "Place f"


def test_drop_namespace_removes_keys_and_indexes_of_that_namespace_only(
    settings: Settings, redis_client: redis.Redis
) -> None:
    index = SearchIndex(_schema(settings), redis_client=redis_client)
    index.create()
    _load(index)
    other = settings.namespace + "x"  # shares the prefix string but not the "ns:" key prefix
    redis_client.set(f"{other}:keep", "1")
    redis_client.execute_command("FT.ALIASADD", settings.key("alias"), settings.key("idx"))

    server.drop_namespace(redis_client, settings.namespace)

    assert list(redis_client.scan_iter(match=f"{settings.namespace}:*")) == []
    assert not index.exists()
    assert redis_client.get(f"{other}:keep") == b"1"
    redis_client.delete(f"{other}:keep")
    try:
        redis_client.execute_command("FT.INFO", settings.key("alias"))
        alias_left = True
    except redis.ResponseError:
        alias_left = False
    assert not alias_left


def test_wrong_password_is_one_sentence_without_the_password(redis_server) -> None:
    port = server.status(redis_server.settings)["port"]
    bad = Settings(
        data_dir=redis_server.settings.data_dir, redis_url=f"redis://:wrong-secret@127.0.0.1:{port}"
    )
    with pytest.raises(RecsysError) as caught:
        server.connect(bad)
    message = str(caught.value)
    assert "refused the credentials" in message
    assert "wrong-secret" not in message
    assert "\n" not in message


# --- the embedded server: start, reuse, persistence, concurrent starters -------------------


def test_embedded_server_files_and_reuse(own_embedded: Settings) -> None:
    client = server.connect(own_embedded)
    first = server.status(own_embedded)
    again = server.connect(own_embedded)
    second = server.status(own_embedded)

    assert client.ping() and again.ping()
    assert first["running"] and first["mode"] == "embedded" and first["missing"] == []
    assert second["pid"] == first["pid"] and second["port"] == first["port"] != 6379
    password = own_embedded.path("redis", "password")
    assert password.stat().st_mode & 0o777 == 0o600
    assert password.read_text().strip() not in str(first)
    assert client.config_get("bind")["bind"] == "127.0.0.1"
    assert client.config_get("appendonly")["appendonly"] == "yes"
    # The password is in the 0600 config file, not on the command line (visible in `ps`).
    cmdline = Path(f"/proc/{first['pid']}/cmdline").read_bytes()
    assert password.read_text().strip().encode() not in cmdline


def test_document_index_and_alias_survive_a_restart(own_embedded: Settings) -> None:
    ns = Settings(data_dir=own_embedded.data_dir, namespace="persist")
    client = server.connect(ns)
    index = SearchIndex(_schema(ns), redis_client=client)
    index.create()
    _load(index)
    client.execute_command("FT.ALIASADD", ns.key("alias"), ns.key("idx"))
    pid = server.status(ns)["pid"]

    assert server.stop_embedded(ns) is True
    assert server.status(ns)["running"] is False
    client = server.connect(ns)

    assert server.status(ns)["pid"] != pid
    assert client.json().get(ns.key("doc", "a"), "$.name") == ["Place a"]
    restored = SearchIndex(_schema(ns), redis_client=client)
    assert _ids(restored.query(_query()), ns) == ["a", "b", "f"]
    assert client.ft(ns.key("alias")).info()["index_name"] == ns.key("idx")


def test_concurrent_starters_share_one_server(own_embedded: Settings) -> None:
    env = {**os.environ, "RECSYS_DATA_DIR": str(own_embedded.data_dir)}
    env.pop("REDIS_URL", None)
    code = "from recsys import config; from recsys.serving import server; "
    code += "s = config.Settings.from_env(); server.connect(s); print(server.status(s)['pid'])"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env, cwd=ROOT)
        for _ in range(3)
    ]
    pids = {proc.communicate(timeout=120)[0].strip() for proc in procs}

    assert [proc.returncode for proc in procs] == [0, 0, 0]
    assert pids == {str(server.status(own_embedded)["pid"]).encode()}


def test_restart_after_a_crash_keeps_fsynced_data(own_embedded: Settings) -> None:
    client = server.connect(own_embedded)
    client.set("crash:key", "kept")
    client.execute_command("WAITAOF", 1, 0, 5000)  # fsynced to the AOF before the crash
    pid = server.status(own_embedded)["pid"]
    os.kill(pid, signal.SIGKILL)  # no SHUTDOWN: the pid file stays behind

    client = server.connect(own_embedded)

    assert server.status(own_embedded)["pid"] != pid
    assert client.get("crash:key") == b"kept"


def test_a_taken_port_moves_the_server_to_a_free_one(own_embedded: Settings) -> None:
    server.connect(own_embedded)
    old_port = server.status(own_embedded)["port"]
    server.stop_embedded(own_embedded)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # despite TIME_WAIT
        squatter.bind(("127.0.0.1", old_port))
        squatter.listen()
        client = server.connect(own_embedded)
        new_port = server.status(own_embedded)["port"]
    assert new_port != old_port
    assert client.ping()
    assert own_embedded.path("redis", "port").read_text().strip() == str(new_port)


def test_a_server_that_cannot_start_is_one_sentence_with_its_log(own_embedded: Settings) -> None:
    server.connect(own_embedded)
    server.stop_embedded(own_embedded)
    manifest = next(own_embedded.path("redis", "appendonlydir").glob("*.manifest"))
    manifest.write_text("this is not a manifest\n")

    with pytest.raises(RecsysError) as caught:
        server.connect(own_embedded)

    message = str(caught.value)
    assert message.startswith("The embedded Redis exited (log ")
    assert "manifest" in message.lower()
    assert "\n" not in message


def test_stop_when_not_running_and_url_without_start(own_embedded: Settings) -> None:
    assert server.stop_embedded(own_embedded) is False
    with pytest.raises(RecsysError, match="embedded Redis is not running"):
        server.redis_url(own_embedded, start=False)


# --- the command line ----------------------------------------------------------------------


def test_cli_status_start_stop_embedded(own_embedded: Settings) -> None:
    env = {**os.environ, "RECSYS_DATA_DIR": str(own_embedded.data_dir)}
    env.pop("REDIS_URL", None)

    down = _recsys("redis", "status", env=env)
    up = _recsys("redis", "start", env=env)
    running = _recsys("redis", "status", env=env)
    stopped = _recsys("redis", "stop", env=env)

    assert down.returncode == 1 and "not running" in down.stdout
    assert up.returncode == 0 and "search" in up.stdout and "ReJSON" in up.stdout
    assert running.returncode == 0 and "running, version" in running.stdout
    password = own_embedded.path("redis", "password").read_text().strip()
    assert password not in up.stdout + running.stdout
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert server.status(own_embedded)["running"] is False


def test_cli_status_names_missing_modules(plain_redis_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "REDIS_URL": plain_redis_url, "RECSYS_DATA_DIR": str(tmp_path)}

    result = _recsys("redis", "status", env=env)

    assert result.returncode == 1
    assert "search module (RediSearch) and JSON module (RedisJSON)" in result.stdout
    assert "Redis 8" in result.stdout


def test_connect_to_plain_redis_raises_one_sentence(plain_redis_url: str, tmp_path: Path) -> None:
    plain = Settings(data_dir=tmp_path, redis_url=plain_redis_url)
    with pytest.raises(RecsysError) as caught:
        server.connect(plain)
    assert str(caught.value) == (
        f"Redis at {plain_redis_url} has no search module (RediSearch) and JSON module "
        "(RedisJSON): use Redis 8, Redis Stack or Redis Cloud."
    )


def test_cli_status_unreachable_is_one_line(tmp_path: Path) -> None:
    url = f"redis://:secret-pw@127.0.0.1:{_free_port()}"
    env = {**os.environ, "REDIS_URL": url, "RECSYS_DATA_DIR": str(tmp_path)}

    result = _recsys("redis", "status", env=env)

    assert result.returncode != 0
    assert len(result.stdout.strip().splitlines()) == 1
    assert "not reachable" in result.stdout
    assert "secret-pw" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_cli_stop_refuses_an_external_redis(redis_server, tmp_path: Path) -> None:
    env = {**os.environ, "REDIS_URL": redis_server.url, "RECSYS_DATA_DIR": str(tmp_path)}
    result = _recsys("redis", "stop", env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("error: REDIS_URL is set")
    assert redis.Redis.from_url(redis_server.url).ping()


# --- MODULE LIST not permitted (some managed plans): probing the commands instead -------


def _acl_user_without_module_command(url: str, name: str) -> str:
    client = redis.Redis.from_url(url)
    client.acl_setuser(
        name,
        enabled=True,
        passwords=["+pw"],
        keys=["*"],
        channels=["*"],
        commands=["+@all", "-module"],
    )
    parts = url.split("//", 1)[1].rsplit("@", 1)[-1]
    return f"redis://{name}:pw@{parts}"


def test_module_probe_when_module_list_is_forbidden(
    redis_server, plain_redis_url: str, tmp_path: Path
) -> None:
    stack_url = _acl_user_without_module_command(redis_server.url, "probeuser")
    stack = redis.Redis.from_url(stack_url)
    plain = redis.Redis.from_url(_acl_user_without_module_command(plain_redis_url, "probeuser"))
    try:
        with pytest.raises(redis.ResponseError):
            stack.module_list()
        assert server.missing_modules(stack) == []
        assert server.missing_modules(plain) == ["search", "ReJSON"]
        info = server.status(Settings(data_dir=tmp_path, redis_url=stack_url))
        assert info["running"] and info["missing"] == []
        assert info["modules"] == {"search": None, "ReJSON": None}
    finally:
        redis.Redis.from_url(redis_server.url).acl_deluser("probeuser")


def test_safe_url_hides_only_the_password() -> None:
    assert server.safe_url("redis://:s3cret@host:6380/0") == "redis://:****@host:6380/0"
    assert server.safe_url("rediss://me:s3cret@host:6380") == "rediss://me:****@host:6380"
    assert server.safe_url("redis://host:6379") == "redis://host:6379"


def test_malformed_redis_url_is_one_sentence(tmp_path: Path) -> None:
    bad = Settings(data_dir=tmp_path, redis_url="redis://:pw@localhost:notaport")
    with pytest.raises(RecsysError, match=r"^REDIS_URL 'redis://:\*\*\*\*@localhost:notaport'"):
        server.connect(bad)


# --- docker compose ----------------------------------------------------------------------


def _compose_command() -> list[str] | None:
    """`docker compose` (plugin) or `docker-compose` (standalone), whichever works."""
    candidates = []
    if docker := shutil.which("docker"):
        candidates.append([docker, "compose"])
    if standalone := shutil.which("docker-compose"):
        candidates.append([standalone])
    for command in candidates:
        probe = subprocess.run([*command, "version"], capture_output=True, timeout=60)
        if probe.returncode == 0:
            return command
    return None


def test_docker_compose_config_is_valid() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("neither `docker compose` (plugin) nor `docker-compose` is installed")
    result = subprocess.run(
        [*command, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_docker_compose_wires_the_app_to_a_healthy_redis_8() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    redis_service, app = compose["services"]["redis"], compose["services"]["app"]

    assert redis_service["image"] == "redis:8"
    assert "ping" in redis_service["healthcheck"]["test"]
    assert "--appendonly" in redis_service["command"]
    assert app["environment"]["REDIS_URL"] == "redis://redis:6379"
    assert app["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "8501:8501" in app["ports"]
    assert any(v.endswith(":/app/data") for v in app["volumes"])
    assert set(compose["volumes"]) == {"redis-data", "app-data"}
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "python -m recsys prepare && exec python -m ui.serve" in dockerfile  # as make run
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "data/*"} <= set(ignored)
