"""Result: the answer of query() and get_usage_stats()."""

from __future__ import annotations

import base64
import datetime as _dt
import decimal
import html
import json
import uuid
from typing import Any, Callable, Dict, Iterator, List, Mapping, Sequence, Tuple, Union, overload

_UTC = _dt.timezone.utc


def _timestamp(v: str) -> _dt.datetime:
    # The binary writes "2006-01-02T15:04:05.000000Z" (UTC, microseconds).
    return _dt.datetime.strptime(v, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=_UTC)


def _interval(v: Mapping[str, int]) -> _dt.timedelta:
    # As DuckDB's own Python client does: a month counts 30 days.
    return _dt.timedelta(days=v["months"] * 30 + v["days"], microseconds=v["micros"])


def _converter(db_type: str) -> Callable[[Any], Any]:
    """How a JSON value of a column of this DuckDB type becomes a Python
    value (the spellings are the binary's --format json-typed)."""
    t = db_type.upper()
    if t in ("DOUBLE", "FLOAT", "REAL", "FLOAT4", "FLOAT8"):
        return float  # also "NaN", "Infinity" and integral JSON numbers
    if t.startswith("DECIMAL") or t.startswith("NUMERIC"):
        return decimal.Decimal
    if t.startswith("TIMESTAMP"):
        return _timestamp
    if t == "DATE":
        return _dt.date.fromisoformat
    if t in ("TIME", "TIMETZ", "TIME WITH TIME ZONE"):
        return lambda v: _dt.datetime.strptime(v, "%H:%M:%S.%f").time()
    if t == "BLOB":
        return base64.b64decode
    if t == "UUID":
        return uuid.UUID
    if t == "INTERVAL":
        return _interval
    return lambda v: v


class Result(Sequence[Dict[str, Any]]):
    """The rows of a query, typed.

    ``columns`` are the column names in order, ``types`` their DuckDB types
    and ``rows`` tuples of Python values: int, float, str, bool,
    ``decimal.Decimal``, ``datetime.datetime`` (UTC, timezone-aware),
    ``datetime.date``, ``bytes`` and None for NULL; lists and dicts for
    nested values. Iterating (or indexing) yields one dict per row,
    ``len()`` is the row count, ``df()`` returns a pandas DataFrame, and
    notebooks show the result as a table.
    """

    __slots__ = ("columns", "types", "rows")

    def __init__(self, columns: Sequence[str], types: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.columns: Tuple[str, ...] = tuple(columns)
        self.types: Tuple[str, ...] = tuple(types)
        self.rows: List[Tuple[Any, ...]] = [tuple(r) for r in rows]

    @classmethod
    def from_json(cls, text: str) -> "Result":
        """Build a Result from the binary's ``--format json-typed`` output."""
        doc = json.loads(text)
        columns, types = doc["columns"], doc["types"]
        conv = [_converter(t) for t in types]
        rows = [tuple(None if v is None else conv[i](v) for i, v in enumerate(row)) for row in doc["rows"]]
        return cls(columns, types, rows)

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, i: int) -> Dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> List[Dict[str, Any]]: ...

    def __getitem__(self, i: Union[int, slice]) -> Union[Dict[str, Any], List[Dict[str, Any]]]:
        if isinstance(i, slice):
            return [dict(zip(self.columns, r)) for r in self.rows[i]]
        return dict(zip(self.columns, self.rows[i]))

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        for r in self.rows:
            yield dict(zip(self.columns, r))

    def df(self) -> Any:
        """The rows as a pandas DataFrame (needs pandas: ``pip install pandas``
        or Debian's ``python3-pandas``)."""
        try:
            import pandas
        except ImportError as e:
            raise ImportError("Result.df() needs pandas: pip install pandas (or apt-get install python3-pandas); "
                              "without it, use .rows and .columns or iterate the result") from e
        return pandas.DataFrame.from_records(self.rows, columns=list(self.columns))

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in r) + "</tr>" for r in self.rows[:1000])
        more = f"<p>{len(self.rows) - 1000} more rows</p>" if len(self.rows) > 1000 else ""
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"

    def __repr__(self) -> str:
        cells = [list(self.columns)] + [[_cell(v) for v in r] for r in self.rows[:20]]
        width = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = ["  ".join(v.ljust(width[i]) for i, v in enumerate(row)).rstrip() for row in cells]
        lines.insert(1, "  ".join("-" * w for w in width))
        if len(self.rows) > 20:
            lines.append(f"... {len(self.rows) - 20} more rows")
        lines.append(f"({len(self.rows)} row{'' if len(self.rows) == 1 else 's'})")
        return "\n".join(lines)


def _cell(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, _dt.datetime):
        return v.isoformat(sep=" ")
    s = str(v)
    return s if len(s) <= 80 else s[:77] + "..."
