"""Shared pieces of the Python tests: the simulator upstream, HTTP calls
made the way the SDKs make them, and a Parquet footer reader."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import struct
import subprocess
import tempfile
import unittest
import urllib.request
from typing import Any, Dict, Iterator, List, Optional, Tuple

import lessllm

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Values that must never appear in anything the package prints, logs,
# raises or writes (TestSecrets).
OPENAI_KEY = "sk-test-OPENAIKEY-9f8e7d6c5b4a39281706"
ANTHROPIC_KEY = "sk-ant-test-ANTHROPICKEY-0a1b2c3d4e5f"
PROXY_PASSWORD = "pr0xy-PASSWORD-77aa"


class Simulator:
    """``lessllm simulate`` on a free loopback port, for the whole run."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [lessllm.find_binary(), "simulate", "--listen", "127.0.0.1:0", "--ttft", "30ms", "--tpot", "2ms", "--output-tokens", "20"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        # "lessllm simulate on http://127.0.0.1:PORT (…)"
        self.url = line.split()[3]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


_sim: "Optional[Simulator | _Shared]" = None


class _Shared:
    """The simulator of the test process, for a child interpreter."""

    def __init__(self, url: str) -> None:
        self.url = url

    def stop(self) -> None:
        pass


def simulator() -> "Simulator | _Shared":
    global _sim
    if _sim is None:
        shared = os.environ.get("LESSLLM_TEST_SIM_URL")
        _sim = _Shared(shared) if shared else Simulator()
    return _sim


def stop_simulator() -> None:
    global _sim
    if _sim is not None:
        _sim.stop()
        _sim = None


def settings(**extra: Any) -> Dict[str, Any]:
    """A configuration whose providers are the simulator, with an alias to
    Claude (translated) and keys the secret scans look for."""
    sim = simulator().url
    cfg: Dict[str, Any] = {
        "providers": {
            "openai": {"type": "openai", "base_url": sim + "/v1", "api_key": OPENAI_KEY},
            "anthropic": {"type": "anthropic", "base_url": sim, "api_key": ANTHROPIC_KEY},
        },
        "models": {"claude": {"provider": "anthropic", "model": "claude-3-5-haiku-20241022"}},
        "capture": {"flush_interval": "50ms"},
    }
    cfg.update(extra)
    return cfg


def chat(base_url: str, model: str = "gpt-4o", stream: bool = False, content: str = "hello", user: Optional[str] = None) -> Tuple[int, bytes]:
    """POST /chat/completions as the OpenAI SDK sends it (base_url ends in /v1)."""
    body: Dict[str, Any] = {"model": model, "stream": stream, "messages": [{"role": "user", "content": content}]}
    if user:
        body["user"] = user
    req = urllib.request.Request(base_url + "/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer " + OPENAI_KEY})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.read()


def messages(root_url: str, stream: bool = False) -> Tuple[int, bytes]:
    """POST /v1/messages as the Anthropic SDK sends it (base_url is the root)."""
    body = {"model": "claude-3-5-haiku-20241022", "max_tokens": 50, "stream": stream, "messages": [{"role": "user", "content": "hello"}]}
    req = urllib.request.Request(root_url + "/v1/messages", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "anthropic-version": "2023-06-01"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.read()


@contextlib.contextmanager
def logged(name: str = "lessllm") -> Iterator[io.StringIO]:
    """What the named logger and those below it log inside the block, at
    every level."""
    seen = io.StringIO()
    handler = logging.StreamHandler(seen)
    logger = logging.getLogger(name)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class InTempDir(unittest.TestCase):
    """Each test in a new working directory (captures and database land
    there, as they would in a user's project), with the package reset."""

    def setUp(self) -> None:
        self._old = os.getcwd()
        self._tmp = tempfile.TemporaryDirectory(prefix="lessllm-pytest-")
        os.chdir(self._tmp.name)
        lessllm.configure(settings())

    def tearDown(self) -> None:
        lessllm.shutdown()
        lessllm.configure(None)
        os.chdir(self._old)
        self._tmp.cleanup()

    @property
    def dir(self) -> str:
        return self._tmp.name


# --- Parquet footer (Thrift compact protocol), enough to read back an export


class _Compact:
    def __init__(self, b: bytes) -> None:
        self.b, self.i = b, 0

    def byte(self) -> int:
        v = self.b[self.i]
        self.i += 1
        return v

    def varint(self) -> int:
        shift = v = 0
        while True:
            c = self.byte()
            v |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                return v

    def zigzag(self) -> int:
        v = self.varint()
        return (v >> 1) ^ -(v & 1)

    def binary(self) -> bytes:
        n = self.varint()
        v = self.b[self.i:self.i + n]
        self.i += n
        return v

    def value(self, t: int) -> Any:
        if t in (1, 2):
            return t == 1
        if t == 3:
            return self.byte()
        if t in (4, 5, 6):
            return self.zigzag()
        if t == 7:
            v = struct.unpack("<d", self.b[self.i:self.i + 8])[0]
            self.i += 8
            return v
        if t == 8:
            return self.binary()
        if t in (9, 10):
            h = self.byte()
            n, et = h >> 4, h & 0x0F
            if n == 15:
                n = self.varint()
            return [self.value(et) for _ in range(n)]
        if t == 12:
            return self.struct()
        raise ValueError(f"thrift type {t}")

    def struct(self) -> Dict[int, Any]:
        out: Dict[int, Any] = {}
        fid = 0
        while True:
            h = self.byte()
            if h == 0:
                return out
            delta, t = h >> 4, h & 0x0F
            fid = fid + delta if delta else self.zigzag()
            out[fid] = self.value(t)


def parquet_footer(path: str) -> Tuple[int, List[str], Dict[str, str]]:
    """(num_rows, column names, key/value metadata) of a Parquet file."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"PAR1" and data[-4:] == b"PAR1", "not a Parquet file"
    n = struct.unpack("<I", data[-8:-4])[0]
    meta = _Compact(data[-8 - n:-8]).struct()
    schema = meta[2]
    names = [e[4].decode() for e in schema[1:]]  # the export's columns are flat
    kv = {e[1].decode(): e.get(2, b"").decode() for e in meta.get(5, [])}
    return meta[3], names, kv
