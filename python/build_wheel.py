#!/usr/bin/env python3
"""Build the lessllm wheel: the Python package with the Go binary inside.

    python3 python/build_wheel.py --binary bin/lessllm --out dist

The way native CLIs ship on pip (ruff, uv): one wheel per platform, tagged
``py3-none-<platform>``, the binary in the package's ``bin/`` and a
``lessllm`` console script that runs it. Standard library only (no
setuptools, no network), so ``make wheel`` works where PyPI does not.

The version is the binary's own (``lessllm version``), so the wheel and the
binary inside it can never disagree. The platform tag is read off the
binary: its architecture from the ELF header, and ``manylinux_2_N`` from
the newest glibc symbol version it needs (``objdump -T``), so pip refuses
the wheel on a system whose glibc is older than the binary needs.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import List, Tuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# PEP 440, as the packaging library spells it (public versions and local labels).
PEP440 = re.compile(
    r"^([1-9][0-9]*!)?(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*((a|b|rc)(0|[1-9][0-9]*))?"
    r"(\.post(0|[1-9][0-9]*))?(\.dev(0|[1-9][0-9]*))?(\+[a-z0-9]+(\.[a-z0-9]+)*)?$"
)

ELF_MACHINES = {62: "x86_64", 183: "aarch64"}

SUMMARY = "Capture every LLM API call through a fast local proxy, then query latency, tokens, cost and cache hits."


def binary_version(binary: Path) -> str:
    out = subprocess.run([str(binary), "version"], capture_output=True, text=True, check=True).stdout.split()
    if len(out) < 2 or out[0] != "lessllm":
        sys.exit(f"build_wheel: {binary} version printed {' '.join(out)!r}, not 'lessllm VERSION …'")
    v = out[1].lstrip("v")
    if not PEP440.match(v):
        sys.exit(f"build_wheel: the binary's version {v!r} is not a PEP 440 version; build it with "
                 f"`make build VERSION=0.1.0` (make wheel does)")
    return v


def platform_tag(binary: Path) -> str:
    with open(binary, "rb") as f:
        head = f.read(20)
    if head[:4] != b"\x7fELF":
        sys.exit(f"build_wheel: {binary} is not an ELF executable (only Linux wheels are built)")
    endian = "<" if head[5] == 1 else ">"
    machine = struct.unpack(endian + "H", head[18:20])[0]
    arch = ELF_MACHINES.get(machine)
    if arch is None:
        sys.exit(f"build_wheel: unknown ELF machine {machine}")
    objdump = subprocess.run(["objdump", "-T", str(binary)], capture_output=True, text=True)
    if objdump.returncode != 0:
        sys.exit("build_wheel: objdump -T failed (install binutils): " + objdump.stderr.strip())
    versions = [tuple(int(p) for p in m.split(".")) for m in re.findall(r"GLIBC_(\d+\.\d+(?:\.\d+)?)", objdump.stdout)]
    if not versions:
        return f"linux_{arch}"  # static: no glibc requirement pip can express better
    major, minor = max(versions)[:2]
    return f"manylinux_{major}_{minor}_{arch}"


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build(binary: Path, out: Path) -> Path:
    version = binary_version(binary)
    tag = platform_tag(binary)
    dist_info = f"lessllm-{version}.dist-info"
    files: List[Tuple[str, bytes, int]] = []  # (name in the wheel, bytes, mode)
    pkg = HERE / "lessllm"
    for path in sorted(pkg.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".typed"):
            files.append((f"lessllm/{path.relative_to(pkg).as_posix()}", path.read_bytes(), 0o644))
    files.append(("lessllm/bin/lessllm", binary.read_bytes(), 0o755))
    readme = (HERE / "README.md").read_text(encoding="utf-8")
    metadata = "\n".join([
        "Metadata-Version: 2.1",
        "Name: lessllm",
        f"Version: {version}",
        f"Summary: {SUMMARY}",
        "License: Apache-2.0",
        "Requires-Python: >=3.9",
        "Classifier: License :: OSI Approved :: Apache Software License",
        "Classifier: Programming Language :: Python :: 3",
        "Classifier: Typing :: Typed",
        "Provides-Extra: pandas",
        "Requires-Dist: pandas; extra == \"pandas\"",
        "Description-Content-Type: text/markdown",
        "",
        readme,
    ])
    files.append((f"{dist_info}/METADATA", metadata.encode(), 0o644))
    wheel = f"Wheel-Version: 1.0\nGenerator: lessllm build_wheel.py\nRoot-Is-Purelib: false\nTag: py3-none-{tag}\n"
    files.append((f"{dist_info}/WHEEL", wheel.encode(), 0o644))
    files.append((f"{dist_info}/entry_points.txt", b"[console_scripts]\nlessllm = lessllm.__main__:main\n", 0o644))
    for name in ("LICENSE", "NOTICE"):
        files.append((f"{dist_info}/licenses/{name}", (REPO / name).read_bytes(), 0o644))
    record = [record_line(n, d) for n, d, _ in files] + [f"{dist_info}/RECORD,,"]
    files.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode(), 0o644))

    out.mkdir(parents=True, exist_ok=True)
    target = out / f"lessllm-{version}-py3-none-{tag}.whl"
    # Fixed timestamps: the same inputs give the same wheel.
    stamp = (1980, 1, 1, 0, 0, 0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, mode in files:
            info = zipfile.ZipInfo(name, stamp)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data, compresslevel=9)
    target.write_bytes(buf.getvalue())
    return target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", required=True, type=Path, help="the lessllm binary to ship")
    ap.add_argument("--out", default=Path("dist"), type=Path, help="directory for the wheel")
    args = ap.parse_args()
    target = build(args.binary, args.out)
    print(f"{target} ({target.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
