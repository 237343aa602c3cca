"""``python -m lessllm …`` and the wheel's ``lessllm`` console script: run
the binary with the same arguments, as if it had been called directly."""

from __future__ import annotations

import os
import sys

from ._binary import find_binary
from .errors import BinaryNotFoundError


def main() -> None:
    """Replace this process by the lessllm binary."""
    try:
        binary = find_binary()
    except BinaryNotFoundError as e:
        sys.exit(f"lessllm: {e}")
    # The console script is itself named lessllm and may be what PATH finds.
    if os.path.realpath(binary) == os.path.realpath(sys.argv[0]):
        sys.exit("lessllm: the lessllm found on PATH is this script, not the binary; set LESSLLM_BIN")
    if sys.platform == "win32":
        import subprocess

        sys.exit(subprocess.call([binary, *sys.argv[1:]]))
    os.execv(binary, [binary, *sys.argv[1:]])


if __name__ == "__main__":
    main()
