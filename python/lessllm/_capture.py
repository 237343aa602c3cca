"""The capture process the package starts for get_proxy_url().

The process is ``lessllm capture --stop-on-stdin-close``: this process holds
the write end of its stdin, so when Python ends in any way — exit,
exception, ``kill -9`` — the kernel closes the pipe and capture drains its
streams, seals its segments and exits by itself. A clean exit (atexit,
shutdown()) sends SIGTERM and waits for the same.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import queue
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Deque, Dict, List, Optional

from . import _binary
from .errors import CaptureError

log = logging.getLogger("lessllm.capture")

_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING, "WARNING": logging.WARNING, "ERROR": logging.ERROR}


def _loopback(url: str) -> str:
    """A listen address on every interface (``:8000``, ``0.0.0.0``, ``[::]``)
    is reached from this process at 127.0.0.1."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname in ("", "0.0.0.0", "::"):
        return urllib.parse.urlunsplit(parts._replace(netloc=f"127.0.0.1:{parts.port}"))
    return url


class Capture:
    """One running ``lessllm capture`` process."""

    def __init__(self, config_path: str, env: Dict[str, str], listen: Optional[str], secrets: List[str],
                 cwd: Optional[str] = None, start_timeout: float = 15.0) -> None:
        self._secrets = secrets
        self._tail: Deque[str] = collections.deque(maxlen=40)
        args = [_binary.find_binary(), "capture", "--config", config_path, "--stop-on-stdin-close", "--log-format", "json"]
        if not listen:
            args += ["--listen", "127.0.0.1:0"]  # a free port, picked by the kernel
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, cwd=cwd, start_new_session=True,  # the terminal's Ctrl-C reaches Python, which stops capture in order
        )
        self.pid = self.proc.pid
        first: "queue.Queue[Optional[str]]" = queue.Queue()
        threading.Thread(target=self._read_stdout, args=(first,), name="lessllm-capture-stdout", daemon=True).start()
        self._stderr_done = threading.Event()
        threading.Thread(target=self._read_stderr, name="lessllm-capture-log", daemon=True).start()
        try:
            line = first.get(timeout=start_timeout)
        except queue.Empty:
            self.stop()
            raise CaptureError(f"lessllm capture did not start within {start_timeout:.0f} s{self._said()}") from None
        if line is None:
            self.proc.wait()
            self._stderr_done.wait(2)
            raise CaptureError(f"lessllm capture exited with status {self.proc.returncode}{self._said()}")
        # "lessllm capture on http://127.0.0.1:PORT (OpenAI SDK base_url …)"
        words = line.split()
        if len(words) < 4 or words[:3] != ["lessllm", "capture", "on"]:
            self.stop()
            raise CaptureError(f"unexpected first line from lessllm capture: {line!r}")
        self.url = _loopback(words[3])
        self._wait_healthy(start_timeout)

    def _read_stdout(self, first: "queue.Queue[Optional[str]]") -> None:
        assert self.proc.stdout is not None
        sent = False
        for raw in self.proc.stdout:
            if not sent:
                first.put(raw.decode("utf-8", "replace").strip())
                sent = True
        if not sent:
            first.put(None)

    def _read_stderr(self) -> None:
        """Forward capture's JSON log lines to the ``lessllm.capture`` logger
        (the stream must be read anyway: a full pipe would stall capture)."""
        assert self.proc.stderr is not None
        try:
            for raw in self.proc.stderr:
                text = _binary.scrub(raw.decode("utf-8", "replace").rstrip("\n"), self._secrets)
                self._tail.append(text)
                try:
                    rec = json.loads(text)
                except ValueError:
                    log.warning("%s", text)
                    continue
                if not isinstance(rec, dict):
                    log.warning("%s", text)
                    continue
                level = _LEVELS.get(str(rec.pop("level", "INFO")).upper(), logging.INFO)
                rec.pop("time", None)
                msg = rec.pop("msg", "")
                if log.isEnabledFor(level):
                    detail = " ".join(f"{k}={v}" for k, v in rec.items())
                    log.log(level, "%s %s", msg, detail, extra={"lessllm": rec})
        finally:
            self._stderr_done.set()

    def _said(self) -> str:
        lines = []
        for t in self._tail:
            try:
                rec = json.loads(t)
                lines.append(str(rec.get("msg", t)) + ("" if "err" not in rec else f": {rec['err']}"))
            except ValueError:
                lines.append(t[len("lessllm: "):] if t.startswith("lessllm: ") else t)
        return (": " + "\n".join(lines)) if lines else ""

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if self.proc.poll() is not None:
                raise CaptureError(f"lessllm capture exited with status {self.proc.returncode}{self._said()}")
            if time.monotonic() > deadline:
                self.stop()
                raise CaptureError(f"lessllm capture at {self.url} did not answer /healthz within {timeout:.0f} s")
            time.sleep(0.02)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, then wait for the drain and seal; SIGKILL only after
        timeout. Returns the exit status."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.error("lessllm capture (pid %d) did not stop within %.0f s; killing it", self.pid, timeout)
                self.proc.kill()
                self.proc.wait()
        self._stderr_done.wait(2)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
        return self.proc.returncode
