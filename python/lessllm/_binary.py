"""Finding and running the lessllm binary."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterable, List, Mapping, Optional

from .errors import BinaryNotFoundError

_EXE = "lessllm.exe" if sys.platform == "win32" else "lessllm"

_INSTALL_HINT = (
    "install the wheel (pip install lessllm-<version>-py3-none-<platform>.whl, built by `make wheel`), "
    "put lessllm on PATH (`make build` writes bin/lessllm), or set LESSLLM_BIN to the binary"
)


def find_binary() -> str:
    """Return the path of the lessllm binary this package drives.

    Looked up in this order: ``$LESSLLM_BIN``; the binary shipped inside the
    wheel (``lessllm/bin/lessllm``); ``lessllm`` on ``PATH``.

    Raises:
        BinaryNotFoundError: none of them is an executable file.
    """
    named = os.environ.get("LESSLLM_BIN")
    if named:
        if os.path.isfile(named) and os.access(named, os.X_OK):
            return named
        raise BinaryNotFoundError(f"LESSLLM_BIN={named!r} is not an executable file; " + _INSTALL_HINT)
    bundled = Path(__file__).resolve().parent / "bin" / _EXE
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return str(bundled)
    on_path = shutil.which("lessllm")
    if on_path:
        return on_path
    raise BinaryNotFoundError("the lessllm binary was not found; " + _INSTALL_HINT)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret value in text by ``xxxxx`` (longest first, so a
    secret that contains another is replaced whole)."""
    for s in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(s, "xxxxx")
    return text


def run(
    args: List[str],
    env: Mapping[str, str],
    stdin: Optional[str] = None,
    cwd: Optional[str] = None,
) -> subprocess.CompletedProcess:
    """Run the binary with args and return the finished process (text mode,
    output captured). The caller judges the exit status."""
    return subprocess.run(
        [find_binary(), *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=dict(env),
        cwd=cwd,
        check=False,
    )


def binary_version() -> str:
    """The version the binary reports (``lessllm version``), e.g. ``0.1.0``."""
    out = subprocess.run([find_binary(), "version"], capture_output=True, text=True, check=False).stdout
    parts = out.split()
    return parts[1] if len(parts) > 1 and parts[0] == "lessllm" else "unknown"
