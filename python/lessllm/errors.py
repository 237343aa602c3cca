"""Exceptions raised by the lessllm package.

Every error the package raises is a :class:`LessllmError`. Messages come from
the ``lessllm`` binary where it judged the input (a config key, a SQL
statement) and never contain a secret: values the package moved out of the
config (API keys, passwords) are replaced by ``xxxxx`` before raising.
"""

from __future__ import annotations

from typing import List, Optional, Tuple


class LessllmError(Exception):
    """Base class of every error raised by lessllm."""


class BinaryNotFoundError(LessllmError, FileNotFoundError):
    """The ``lessllm`` binary was not found (``$LESSLLM_BIN``, the wheel, ``PATH``)."""


class ConfigError(LessllmError, ValueError):
    """The configuration was refused by the binary.

    ``errors`` holds one ``(where, message)`` pair per problem: ``where`` is
    the key path (``proxy.socks_proxy``) for a configuration given as a dict,
    or ``file:line`` for a configuration file.
    """

    def __init__(self, message: str, errors: Optional[List[Tuple[str, str]]] = None) -> None:
        super().__init__(message)
        self.errors: List[Tuple[str, str]] = list(errors or [])


class QueryError(LessllmError):
    """A query was refused or failed (bad SQL, a statement that is not read-only)."""


class CaptureError(LessllmError):
    """The capture process could not be started, or stopped unexpectedly."""


class CommandError(LessllmError):
    """Another ``lessllm`` command failed; ``returncode`` is its exit status."""

    def __init__(self, message: str, returncode: int) -> None:
        super().__init__(message)
        self.returncode = returncode
