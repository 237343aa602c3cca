"""lessllm from Python: capture every LLM call your code makes, then query it.

    import lessllm, openai
    lessllm.configure({"proxy": {"socks_proxy": "socks5://127.0.0.1:1080"}})
    client = openai.OpenAI(base_url=lessllm.get_proxy_url())
    ...
    lessllm.query("SELECT model, count(*) AS calls FROM api_calls GROUP BY model")

The package drives the ``lessllm`` binary (shipped inside the wheel, or
found through ``$LESSLLM_BIN`` or ``PATH``); it reimplements nothing. The
proxy is ``lessllm capture`` running as a child process, the numbers are
``lessllm query``/``stats``/``export`` over the analysis database, brought
up to date with what capture wrote before each call (``--fresh``), so a
query made right after a call sees it.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as _dt
import os
import re
import subprocess
import threading
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Union

from . import _binary, _config
from ._capture import Capture
from ._config import Config, PathLike
from ._result import Result
from .errors import BinaryNotFoundError, CaptureError, CommandError, ConfigError, LessllmError, QueryError

__all__ = [
    "configure", "get_proxy_url", "capture", "shutdown", "query", "export_logs", "get_usage_stats",
    "config", "Config", "Result", "find_binary",
    "LessllmError", "BinaryNotFoundError", "ConfigError", "QueryError", "CaptureError", "CommandError",
]

try:
    from importlib.metadata import version as _version

    __version__: str = _version("lessllm")
except Exception:  # not installed (run from the source tree)
    __version__ = "0+unknown"

#: The configuration in force; see :class:`Config`.
config = Config()

find_binary = _binary.find_binary

_lock = threading.RLock()
_workdir = _config.Workdir()
_running: Optional[Capture] = None
# Where relative paths of the configuration (./captures, ./lessllm.duckdb)
# are resolved: the working directory of the last configure(), so capture
# and the queries agree even if the program changes directory in between.
_home: Optional[str] = None


def _cwd() -> str:
    global _home
    if _home is None:
        _home = os.getcwd()
    return _home


def configure(settings: Union[Mapping[str, Any], PathLike, None] = None) -> Config:
    """Set the configuration: a dict with the keys of ``lessllm.yaml``
    (``proxy``, ``logging``, ``providers``, ``models``, ``capture``, …), or
    the path of a ``lessllm.yaml``; None goes back to the defaults.

    The binary validates it at once. A capture started by this package for
    an earlier configuration is stopped, so the next ``get_proxy_url()``
    runs with this one. ``lessllm.config``'s attributes
    (``debug_mode``, ``enable_cache_analysis``) are keys of it.

    Raises:
        ConfigError: the binary refused it; the message names each key
            path (dict) or file:line (file) and what was expected.
    """
    if settings is None:
        data: Dict[str, Any] = {}
    elif isinstance(settings, Mapping):
        data = _plain(settings)
    else:
        data = _config.load_file(settings, _child_env({}))
    rendered = _config.render(data, _workdir)
    try:
        _validate(rendered)
    finally:
        os.unlink(rendered.path)
    global _home
    with _lock:
        shutdown()
        config._replace(data)
        _home = os.getcwd()
    return config


def get_proxy_url() -> str:
    """The proxy's OpenAI-SDK base URL, ``http://127.0.0.1:PORT/v1``.

    Starts ``lessllm capture`` for the current configuration if this
    process runs none: on a free loopback port unless ``listen`` is
    configured, ready (``/healthz`` answers) before this returns. It stops
    when the interpreter exits or on :func:`shutdown`, and by itself if
    this process dies. Anthropic SDKs take the URL without ``/v1``.

    Raises:
        CaptureError: capture did not start (the message says why).
    """
    return _ensure_running().url + "/v1"


@contextlib.contextmanager
def capture() -> Iterator[str]:
    """``with lessllm.capture() as base_url:`` — get_proxy_url() for the
    block; capture is stopped (drained, sealed) when it ends."""
    try:
        yield get_proxy_url()
    finally:
        shutdown()


def shutdown() -> None:
    """Stop the capture this package started, if any: in-flight streams
    finish, segments are sealed. Safe to call at any time."""
    global _running
    with _lock:
        proc, _running = _running, None
    if proc is not None:
        proc.stop()


def query(sql: str) -> Result:
    """Run read-only SQL over the analysis database (tables ``api_calls``,
    ``cache_opportunities``, … as in ``lessllm query --help``).

    Whatever capture wrote up to now is analysed first, so calls just made
    are in the answer. Relative paths of the configuration (``./captures``,
    ``./lessllm.duckdb``) are taken from the working directory at the last
    ``configure()``, for capture and queries alike.

    Raises:
        QueryError: the SQL failed or is not read-only.
    """
    if not isinstance(sql, str) or not sql.strip():
        raise QueryError("query: empty SQL")
    proc = _run(["query", "--fresh", "--format", "json-typed", "-"], stdin=sql)
    if proc.returncode != 0:
        raise QueryError(_message(proc.stderr))
    return Result.from_json(proc.stdout)


_FILTERS = {"model": "--model", "user": "--user"}


def export_logs(
    filepath: PathLike,
    start_date: Union[str, _dt.date, _dt.datetime, None] = None,
    end_date: Union[str, _dt.date, _dt.datetime, None] = None,
    filters: Optional[Mapping[str, Union[str, Iterable[str]]]] = None,
    format: Optional[str] = None,
) -> int:
    """Write analysed calls to one file and return how many were written.

    ``start_date`` (inclusive) and ``end_date`` (exclusive) take
    ``YYYY-MM-DD`` (UTC), an RFC 3339 time, a ``date`` or a ``datetime``
    (naive ones are UTC). ``filters`` takes ``model`` — a family name
    matches its dated snapshots, as the CLI does: ``gpt-4`` matches
    ``gpt-4-0613``, not ``gpt-4o`` — and ``user``, each a name or a list.
    ``format`` is ``"parquet"`` (default) or ``"csv"`` (default for a
    ``.csv`` name).

    Raises:
        ValueError: an unknown filter or format.
        CommandError: the export failed.
    """
    args = ["export", "--fresh", "--out", os.path.abspath(os.fspath(filepath))]
    for flag, value in (("--since", start_date), ("--until", end_date)):
        if value is not None:
            args += [flag, _when(value)]
    for name, values in (filters or {}).items():
        if name not in _FILTERS:
            raise ValueError(f"export_logs: unknown filter {name!r} (want one of: {', '.join(_FILTERS)})")
        for v in [values] if isinstance(values, str) else list(values):
            args += [_FILTERS[name], str(v)]
    if format is not None:
        if format not in ("parquet", "csv"):
            raise ValueError(f"export_logs: format {format!r}: want 'parquet' or 'csv'")
        args += ["--format", format]
    proc = _run(args)
    if proc.returncode != 0:
        raise CommandError(_message(proc.stderr), proc.returncode)
    m = re.match(r"exported (\d+) call", proc.stdout)
    return int(m.group(1)) if m else 0


_GROUPINGS = ("model", "provider", "user", "day")


def get_usage_stats(days: int = 7, by: str = "model") -> Result:
    """What ``lessllm stats`` prints, as data: one row per model (or
    provider, user, day) and a ``TOTAL`` row — calls, errors, tokens,
    ``cost_usd``, TTFT and TPOT percentiles, actual and estimated cache
    hit rates — over the last ``days`` days (0: everything).

    Raises:
        ValueError: an unknown grouping.
    """
    if by not in _GROUPINGS:
        raise ValueError(f"get_usage_stats: by={by!r}: want one of {', '.join(_GROUPINGS)}")
    proc = _run(["stats", "--fresh", "--format", "json-typed", "--days", str(int(days)), "--by", by])
    if proc.returncode != 0:
        raise CommandError(_message(proc.stderr), proc.returncode)
    return Result.from_json(proc.stdout)


# --- internals ---------------------------------------------------------------


def _plain(m: Mapping[str, Any]) -> Dict[str, Any]:
    """A deep copy of a mapping as plain dicts and lists."""
    def conv(v: Any) -> Any:
        if isinstance(v, Mapping):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        return v
    return conv(m)


def _child_env(extra: Mapping[str, str]) -> Dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    # Settings come from the configuration, not from variables the user's
    # shell may have set for their own lessllm runs.
    for k in ("LESSLLM_CONFIG", "LESSLLM_DB", "LESSLLM_FORMAT", "LESSLLM_LISTEN", "LESSLLM_LOG_LEVEL", "LESSLLM_FRESH"):
        env.pop(k, None)
    return env


def _validate(rendered: _config.Rendered) -> None:
    proc = _binary.run(["config", "validate", rendered.path], _child_env(rendered.env))
    if proc.returncode == 0:
        return
    text, pairs = rendered.explain(proc.stderr)
    if proc.returncode == 2:
        raise ConfigError("invalid configuration:\n" + text, pairs)
    raise CommandError(text, proc.returncode)


def _run(args: List[str], stdin: Optional[str] = None) -> "subprocess.CompletedProcess[str]":
    """Run a binary command with the current configuration; secrets are
    scrubbed from its output, and a refused configuration raises."""
    rendered = _config.render(config.as_dict(), _workdir)
    try:
        proc = _binary.run([args[0], "--config", rendered.path, *args[1:]], _child_env(rendered.env), stdin=stdin, cwd=_cwd())
    finally:
        os.unlink(rendered.path)
    proc.stderr = _binary.scrub(proc.stderr, rendered.secrets)
    proc.stdout = _binary.scrub(proc.stdout, rendered.secrets)
    if proc.returncode == 2 and "invalid configuration" in proc.stderr:
        text, pairs = rendered.explain(proc.stderr)
        raise ConfigError("invalid configuration:\n" + text, pairs)
    return proc


def _message(stderr: str) -> str:
    lines = [l[len("lessllm: "):] if l.startswith("lessllm: ") else l for l in stderr.strip().splitlines()]
    return "\n".join(lines) or "lessllm failed without a message"


def _when(v: Union[str, _dt.date, _dt.datetime]) -> str:
    if isinstance(v, _dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=_dt.timezone.utc)
        return v.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")
    if isinstance(v, _dt.date):
        return v.isoformat()
    return str(v)


def _ensure_running() -> Capture:
    global _running
    with _lock:
        if _running is not None and _running.alive():
            return _running
        if _running is not None:
            _running.stop()
            _running = None
        data = config.as_dict()
        rendered = _config.render(data, _workdir)
        listen = data.get("listen")
        # The config file stays while capture runs: it is read once at
        # start, and removing it after would be fine too, but a user
        # debugging a refused start can read it (it holds no secret).
        _running = Capture(rendered.path, _child_env(rendered.env), listen, rendered.secrets, cwd=_cwd())
        return _running


def _at_exit() -> None:
    shutdown()
    _workdir.remove()


atexit.register(_at_exit)
