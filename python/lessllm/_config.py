"""The configuration: what configure() takes, how it reaches the binary.

The binary reads ``lessllm.yaml``; JSON is YAML, so a configuration given
as a dict is written as JSON into a private temporary directory (0700, the
file 0600) and handed to the binary with ``--config``. Secrets never go
into that file: every string that looks like one (under a key naming a
key, password, secret or token, and URLs with ``user:password@``) is
replaced by an ``${LESSLLM_PY_SECRET_n}`` reference, which the binary
expands from the environment of the process the package starts. The file
is written one key per line, so the ``file:line`` of the binary's error
messages maps back to the key path the user wrote.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import tempfile
import threading
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from . import _binary
from .errors import CommandError, ConfigError

PathLike = Union[str, "os.PathLike[str]"]

_SECRET_KEY = re.compile(r"key|password|secret|token|credential", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"://[^/@\s]*:[^/@\s]*@")


class Config:
    """The configuration lessllm runs with: ``lessllm.config``.

    It holds the same keys as ``lessllm.yaml`` (``configure()`` replaces
    them) and offers the settings users change most as attributes, each
    mapped to its key:

    * ``debug_mode`` — ``logging.level: debug``: capture logs every exchange
      with its route and connection timings (never bodies or keys), and
      the package forwards them to the ``lessllm.capture`` logger at DEBUG.
    * ``enable_cache_analysis`` — ``cache.enabled``: the prompt-cache model
      (estimated cache hits, ``lessllm cache`` advice) runs when analysing.

    Changes apply to the next command the package runs; a capture already
    running keeps its settings until ``lessllm.shutdown()``.
    """

    __slots__ = ("_data", "_lock")

    def __init__(self) -> None:
        self._data: Dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def debug_mode(self) -> bool:
        """True when capture logs at debug level (``logging.level: debug``)."""
        return self._get("logging", "level") == "debug"

    @debug_mode.setter
    def debug_mode(self, on: bool) -> None:
        if on:
            self._set(("logging", "level"), "debug")
        elif self.debug_mode:
            self._set(("logging", "level"), "info")

    @property
    def enable_cache_analysis(self) -> bool:
        """True when analysis runs the prompt-cache model (``cache.enabled``, default true)."""
        return self._get("cache", "enabled") is not False

    @enable_cache_analysis.setter
    def enable_cache_analysis(self, on: bool) -> None:
        self._set(("cache", "enabled"), bool(on))

    def as_dict(self) -> Dict[str, Any]:
        """A copy of the configuration as lessllm.yaml keys."""
        with self._lock:
            return copy.deepcopy(self._data)

    def __repr__(self) -> str:
        return f"lessllm.Config(debug_mode={self.debug_mode}, enable_cache_analysis={self.enable_cache_analysis}, keys={sorted(self._data)})"

    def _get(self, *path: str) -> Any:
        with self._lock:
            node: Any = self._data
            for k in path:
                if not isinstance(node, dict) or k not in node:
                    return None
                node = node[k]
            return node

    def _set(self, path: Tuple[str, ...], value: Any) -> None:
        with self._lock:
            node = self._data
            for k in path[:-1]:
                if not isinstance(node.get(k), dict):
                    node[k] = {}
                node = node[k]
            node[path[-1]] = value

    def _replace(self, data: Dict[str, Any]) -> None:
        with self._lock:
            self._data = data


class Rendered:
    """A configuration written for the binary: the file, the environment
    that carries its secrets, and the key path of each line."""

    def __init__(self, path: str, env: Dict[str, str], lines: Dict[int, str], secrets: List[str]) -> None:
        self.path = path
        self.env = env
        self.lines = lines
        self.secrets = secrets

    def explain(self, message: str) -> Tuple[str, List[Tuple[str, str]]]:
        """Turn the binary's ``file:line: message`` lines into ``key.path:
        message`` ones; returns the text and the (path, message) pairs."""
        out, pairs = [], []
        prefix = self.path + ":"
        for line in message.splitlines():
            line = _removeprefix(line, "lessllm: ")
            if line.strip() == "invalid configuration:":
                continue
            if line.startswith(prefix):
                num, _, msg = line[len(prefix):].partition(": ")
                where = self.lines.get(int(num), "(top level)") if num.isdigit() else "(config)"
                pairs.append((where, msg))
                out.append(f"{where}: {msg}")
            elif line.strip():
                out.append(line)
        return _binary.scrub("\n".join(out), self.secrets), [(w, _binary.scrub(m, self.secrets)) for w, m in pairs]


def _removeprefix(s: str, p: str) -> str:
    return s[len(p):] if s.startswith(p) else s


class Workdir:
    """The package's private temporary directory (0700), removed at exit.

    Its name carries the process id, so that the directory of an
    interpreter that was killed (no atexit ran) is removed by the next one
    that makes its own."""

    def __init__(self) -> None:
        self._dir: Optional[str] = None
        self._lock = threading.Lock()
        self._count = 0

    def file(self, stem: str) -> str:
        with self._lock:
            if self._dir is None:
                self._dir = tempfile.mkdtemp(prefix=f"lessllm-py-{os.getpid()}-")  # mode 0700
                _remove_stale(os.path.dirname(self._dir))
            self._count += 1
            return os.path.join(self._dir, f"{stem}-{self._count}.json")

    @property
    def path(self) -> Optional[str]:
        """The directory, once a file was asked for."""
        return self._dir

    def remove(self) -> None:
        with self._lock:
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None


def _remove_stale(tmp: str) -> None:
    """Remove the work directories of package processes that are gone."""
    for name in os.listdir(tmp):
        m = re.match(r"lessllm-py-(\d+)-", name)
        if not m or int(m.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)
        except OSError:
            pass  # alive (another user's, or no permission to ask): keep it


def render(data: Mapping[str, Any], workdir: Workdir) -> Rendered:
    """Write data for the binary (see the module doc)."""
    env: Dict[str, str] = {}
    secrets: List[str] = []
    lines: List[str] = []
    paths: Dict[int, str] = {}

    def secret_ref(value: str) -> str:
        name = f"LESSLLM_PY_SECRET_{len(env) + 1}"
        env[name] = value
        secrets.append(value)
        return "${" + name + "}"

    def scalar(value: Any, key: str) -> str:
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if isinstance(value, str) and "${" not in value and value and (_SECRET_KEY.search(key) or _URL_CREDENTIALS.search(value)):
            value = secret_ref(value)
        return json.dumps(value, ensure_ascii=False)

    def line(text: str, path: str) -> None:
        lines.append(text)
        paths[len(lines)] = path

    def emit(value: Any, indent: int, path: str, key: str, lead: str) -> None:
        pad = "  " * indent
        if isinstance(value, (Mapping, list, tuple)):
            # children: (value, path, the key secrets are judged by, lead)
            if isinstance(value, Mapping):
                brackets = "{}"
                for k in value:
                    if not isinstance(k, str):
                        raise ConfigError(f"{path or '(top level)'}: key {k!r} is not a string")
                children = [(v, f"{path}.{k}" if path else k, k, json.dumps(k) + ": ") for k, v in value.items()]
            else:
                # A list under a secret-named key (inbound_keys) holds secrets.
                brackets = "[]"
                children = [(v, f"{path}[{i}]", key, "") for i, v in enumerate(value)]
            if not children:
                line(pad + lead + brackets, path)
                return
            line(pad + lead + brackets[0], path)
            for i, (v, child_path, child_key, child_lead) in enumerate(children):
                emit(v, indent + 1, child_path, child_key, child_lead)
                if i < len(children) - 1:
                    lines[-1] += ","
            line(pad + brackets[1], path)
        else:
            if value is not None and not isinstance(value, (str, int, float, bool, os.PathLike)):
                raise ConfigError(f"{path}: {type(value).__name__} is not a configuration value (want str, int, float, bool, list or dict)")
            line(pad + lead + scalar(value, key), path)

    emit(data, 0, "", "", "")
    path = workdir.file("config")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return Rendered(path, env, paths, secrets)


def load_file(path: PathLike, env: Mapping[str, str]) -> Dict[str, Any]:
    """Validate a lessllm.yaml with the binary and return it as written
    (``lessllm config json``). Errors keep the file's name and line."""
    p = os.fspath(path)
    proc = _binary.run(["config", "json", p], env)
    if proc.returncode != 0:
        msg = "\n".join(_removeprefix(l, "lessllm: ") for l in proc.stderr.strip().splitlines() if l.strip() != "lessllm: invalid configuration:")
        pairs = []
        for line in msg.splitlines():
            where, sep, what = line.partition(": ")
            if sep and where.startswith(p):
                pairs.append((where, what))
        if proc.returncode == 2:
            raise ConfigError(msg, pairs)
        raise CommandError(msg, proc.returncode)
    doc = json.loads(proc.stdout)
    if not isinstance(doc, dict):
        raise ConfigError(f"{p}: the file is not a mapping of keys")
    return doc
