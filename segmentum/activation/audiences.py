"""Audience files a CRM or ad platform can import: ``audiences/`` in the run folder.

One file per segment, per segment × lifecycle stage and per next best offer (the last two
only when the people carry ``stage`` / ``offer`` columns), each as CSV (UTF-8, with a BOM
for spreadsheets when asked) and XLSX (openpyxl; files over ``xlsx_max_rows`` rows are CSV
only, said so in the manifest). Each row: the customer id, the columns the project passes
through (``[activation] audience_columns``, e.g. email), the segment id and name, stage,
offer and expected value. The control group is kept out of every campaign file and written to
``audiences/control.csv``. Segment files keep the input order; the segment × stage and offer
files are written in one partitioned pass each (their rows in no set order).

Every text cell is safe to open in a spreadsheet: a cell beginning with ``=``, ``+``, ``-``,
``@``, tab or carriage return is prefixed with ``'`` (OWASP, "CSV Injection"), so
``=HYPERLINK("http://x","y")`` arrives as the text ``'=HYPERLINK("http://x","y")`` in both
formats, never as a formula. ``audiences/manifest.json`` lists every file with its ``path``
(relative to ``audiences/``), ``rows`` and ``sha256``.

CSV files are written by DuckDB's ``COPY … TO`` (one filtered copy per file) so that writing
the files of 2,000,000 customers costs about what one copy of them does.

References
----------
OWASP Foundation, "CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["AudienceFiles", "neutralise", "write_audiences"]

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
_BOM = "\ufeff".encode()


def neutralise(values: pd.Series) -> pd.Series:
    """Text cells that a spreadsheet would run as a formula, prefixed with ``'``.

    Examples
    --------
    >>> neutralise(pd.Series(['=1+1', '+1-2', 'Ann', '-'])).tolist()
    ["'=1+1", "'+1-2", 'Ann', "'-"]
    """
    s = values.astype(object)
    text = s.map(lambda v: isinstance(v, str))
    if not text.any():
        return s
    t = s[text].astype(str)
    bad = t.str.startswith(_DANGEROUS)
    out = s.copy()
    out.loc[bad[bad].index] = "'" + t[bad]
    return out


def _slug(value: Any) -> str:
    text = re.sub(r"[^A-Za-z0-9]+", "_", str(value)).strip("_").lower()
    return text[:60] or "blank"


@dataclass(frozen=True)
class AudienceFiles:
    """What :func:`write_audiences` wrote.

    Attributes
    ----------
    folder : pathlib.Path
        The ``audiences/`` folder.
    files : list of dict
        ``path`` (relative to ``folder``), ``rows``, ``sha256`` and ``kind`` (``segment``,
        ``segment_stage``, ``offer``, ``control``) of every file.
    notes : list of str
    """

    folder: Path
    files: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def manifest(self) -> dict[str, Any]:
        """``audiences/manifest.json``."""
        return {"files": self.files, "notes": self.notes}

    def summary(self) -> dict[str, Any]:
        """Counts for ``activation.json`` and the report."""
        kinds: dict[str, int] = {}
        csv = [f for f in self.files if _is_csv(f)]
        for f in csv:
            kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
        control = sum(f["rows"] for f in csv if f["kind"] == "control")
        campaign = sum(f["rows"] for f in csv if f["kind"] == "segment")
        return {"files": kinds, "people": campaign, "control": control}


def _is_csv(entry: Mapping[str, Any]) -> bool:
    """A CSV audience: a ``.csv`` file, or a folder of CSV part files (written by Spark)."""
    return str(entry["path"]).endswith(".csv") or entry.get("format") == "csv"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _safe(expr: str) -> str:
    """SQL prefixing ``'`` to a text that starts with =, +, -, @, tab or CR (OWASP)."""
    quote = "''''"  # the SQL literal of one single quote
    return (
        f"CASE WHEN left({expr}, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) "
        f"THEN {quote} || {expr} ELSE {expr} END"
    )


def _check_columns(present: Sequence[str], id_column: str, columns: Sequence[str]) -> None:
    """The audience writers' one check of their people table (DuckDB's and Spark's): the
    id, ``segment`` and every passed-through column present, else the error naming them."""
    missing = [c for c in [id_column, "segment", *columns] if c not in present]
    if missing:
        raise ValueError(
            f"audience files: column(s) {missing} not found (give them in the customers table "
            "or remove them from [activation] audience_columns)"
        )


def _table_sql(
    people: pd.DataFrame,
    id_column: str,
    columns: Sequence[str],
    segment_names: Mapping[int, str] | None,
    extra: Sequence[str],
) -> tuple[str, list[str]]:
    """The SELECT building the audience table from ``people``, and its output columns."""
    _check_columns(list(people.columns), id_column, columns)

    def text(c: str) -> bool:
        return bool(pd.api.types.is_string_dtype(people[c]) or people[c].dtype == object)

    names = {int(k): str(v) for k, v in (segment_names or {}).items()}
    segs = sorted({int(v) for v in pd.to_numeric(people["segment"]).dropna().unique()})
    when = " ".join(f"WHEN {s} THEN {_literal(names.get(s, f'Segment {s}'))}" for s in segs)
    passed = [c for c in columns if c != id_column]
    out = [id_column, *passed, "segment", "segment_name", *extra]
    sel = [f"{_safe(f'CAST({_quote(id_column)} AS VARCHAR)')} AS {_quote(id_column)}"]
    for c in passed:
        sel.append(f"{_safe(_quote(c)) if text(c) else _quote(c)} AS {_quote(c)}")
    sel.append('CAST("segment" AS BIGINT) AS "segment"')
    name_expr = f'CASE CAST("segment" AS BIGINT) {when} END' if segs else "NULL"
    sel.append(f'{_safe(name_expr)} AS "segment_name"')
    for c in extra:
        expr = _safe(f"CAST({_quote(c)} AS VARCHAR)") if text(c) else _quote(c)
        sel.append(f"{expr} AS {_quote(c)}")
    sel += ['"_control"', '"_stage_code"', '"_offer_code"']
    return "SELECT " + ", ".join(sel) + " FROM people", out


def _sql_path(path: Path) -> str:
    return path.resolve().as_posix().replace("'", "''")


def _write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("audience")
    ws.append(list(frame.columns))
    cols = [frame[c].to_numpy(dtype=object) for c in frame.columns]
    for i in range(len(frame)):
        row = []
        for col in cols:
            v = col[i]
            if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
                row.append(None)
            elif isinstance(v, str):
                cell = WriteOnlyCell(ws, value=v)
                cell.data_type = "s"  # never a formula, whatever the text
                row.append(cell)
            elif isinstance(v, np.generic):
                row.append(v.item())
            else:
                row.append(v)
        ws.append(row)
    wb.save(path)


class _Writer:
    """Writes filtered copies of the audience table with DuckDB, and their XLSX twins."""

    def __init__(self, folder: Path, select: str, people: pd.DataFrame, **opts: Any):
        import duckdb

        self.folder = folder
        self.bom, self.xlsx, self.xlsx_max = opts["bom"], opts["xlsx"], opts["xlsx_max"]
        self.con = duckdb.connect()
        self.con.register("people", people)
        self.con.execute(f"CREATE TEMP TABLE audience AS {select}")
        self.con.unregister("people")
        self.files: list[dict[str, Any]] = []
        self.notes: list[str] = []

    def write(self, name: str, kind: str, where: str, rows: int, columns: Sequence[str]) -> None:
        path = self.folder / f"{name}.csv"
        query = f"SELECT {', '.join(map(_quote, columns))} FROM audience WHERE {where}"
        target = path if not self.bom else path.with_suffix(".csv.tmp")
        self.con.execute(f"COPY ({query}) TO '{_sql_path(target)}' (FORMAT CSV, HEADER)")
        if self.bom:
            with path.open("wb") as out, target.open("rb") as src:
                out.write(_BOM)
                while chunk := src.read(1 << 22):
                    out.write(chunk)
            target.unlink()
        self.files.append({"path": path.name, "rows": rows, "sha256": _sha256(path), "kind": kind})
        self._xlsx_twin(name, kind, rows, columns, where)

    def partitioned(
        self,
        kind: str,
        where: str,
        keys: Sequence[str],
        names: Mapping[tuple[int, ...], str],
        counts: Mapping[tuple[int, ...], int],
        columns: Sequence[str],
    ) -> None:
        """Many files in one pass: DuckDB writes one partition per key, renamed ``names``."""
        import shutil

        tmp = self.folder / f".{kind}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        parts = ", ".join(f"{_quote(k)} AS _p{i}" for i, k in enumerate(keys))
        query = f"SELECT {', '.join(map(_quote, columns))}, {parts} FROM audience WHERE {where}"
        by = ", ".join(f"_p{i}" for i in range(len(keys)))
        self.con.execute(
            f"COPY ({query}) TO '{_sql_path(tmp)}' (FORMAT CSV, HEADER, PARTITION_BY ({by}))"
        )
        for key, name in names.items():
            sub = tmp.joinpath(*[f"_p{i}={v}" for i, v in enumerate(key)])
            path = self.folder / f"{name}.csv"
            found = sorted(sub.glob("*.csv"))
            if len(found) == 1 and not self.bom:
                found[0].replace(path)  # the usual case: one file per partition
                found = []
            with path.open("ab" if not found else "wb") as out:
                if self.bom:
                    out.write(_BOM)
                for n, part in enumerate(found):
                    with part.open("rb") as src:
                        if n:
                            src.readline()  # one header per file
                        shutil.copyfileobj(src, out, 1 << 22)
            rows = int(counts[key])
            self.files.append({"path": path.name, "rows": rows, "sha256": _sha256(path),
                               "kind": kind})  # fmt: skip
            self._xlsx_twin(name, kind, rows, columns, " AND ".join(
                [where, *(f"{_quote(k)} = {v}" for k, v in zip(keys, key, strict=True))]))  # fmt: skip
        shutil.rmtree(tmp, ignore_errors=True)

    def _xlsx_twin(
        self, name: str, kind: str, rows: int, columns: Sequence[str], where: str
    ) -> None:
        if not self.xlsx:
            return
        if rows > self.xlsx_max:
            self.notes.append(f"{name}: {rows:,} rows, over xlsx_max_rows; CSV only")
            return
        xpath = self.folder / f"{name}.xlsx"
        query = f"SELECT {', '.join(map(_quote, columns))} FROM audience WHERE {where}"
        _write_xlsx(self.con.execute(query).df(), xpath)
        self.files.append(
            {"path": xpath.name, "rows": rows, "sha256": _sha256(xpath), "kind": kind}
        )

    def close(self) -> None:
        self.con.close()


def _codes(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes (-1: empty) into the sorted distinct texts of a stage/offer column."""
    cat = pd.Categorical(values.astype("string").where(values.notna()))
    levels = [str(v) for v in cat.categories]
    codes = np.asarray(cat.codes, dtype=np.int64)
    if not levels:  # an empty column (no offer made to anyone)
        return codes, []
    rank = np.argsort(np.argsort(levels))
    return np.where(codes >= 0, rank[np.maximum(codes, 0)], -1), sorted(levels)


def write_audiences(
    folder: Path | str,
    people: pd.DataFrame,
    *,
    id_column: str = "customer_id",
    columns: Sequence[str] = (),
    segment_names: Mapping[int, str] | None = None,
    stage: str | None = "stage",
    offer: str | None = "offer",
    value: str | None = "expected_value",
    control: str | None = "control",
    bom: bool = False,
    xlsx: bool = True,
    xlsx_max_rows: int = 100_000,
) -> AudienceFiles:
    """Write the audience files and ``manifest.json`` into ``folder`` (created).

    Parameters
    ----------
    folder : path
        The run's ``audiences/`` folder.
    people : pandas.DataFrame
        One row per customer: ``id_column``, ``segment``, the ``columns`` passed through and,
        where present, ``stage``, ``offer``, ``value`` and ``control`` (bool).
    id_column : str, default="customer_id"
    columns : sequence of str
        Customer columns passed through (``[activation] audience_columns``).
    segment_names : mapping of int to str, optional
    stage, offer, value, control : str or None
        Column names; a column not in ``people`` is left out (and its files not written).
    bom : bool, default=False
        Start each CSV with a UTF-8 byte-order mark (Excel then reads it as UTF-8).
    xlsx : bool, default=True
    xlsx_max_rows : int, default=100_000
        Larger files are written as CSV only (a note says so).

    Returns
    -------
    AudienceFiles

    Raises
    ------
    ValueError
        A column that is not in ``people``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    extra = [c for c in (stage, offer, value) if c is not None and c in people.columns]
    is_control = (
        people[control].fillna(False).to_numpy(dtype=bool)
        if control is not None and control in people.columns
        else np.zeros(len(people), dtype=bool)
    )
    none = np.full(len(people), -1, dtype=np.int64)
    st_codes, st_levels = (
        _codes(people[stage]) if stage is not None and stage in extra else (none, [])
    )
    of_codes, of_levels = (
        _codes(people[offer]) if offer is not None and offer in extra else (none, [])
    )
    frame = people.assign(_control=is_control, _stage_code=st_codes, _offer_code=of_codes)
    select, cols = _table_sql(frame, id_column, columns, segment_names, extra)
    seg = pd.to_numeric(people["segment"]).to_numpy(dtype=float)
    campaign = ~np.isnan(seg) & ~is_control
    segs = [int(x) for x in np.unique(seg[~np.isnan(seg)])]
    w = _Writer(folder, select, frame, bom=bom, xlsx=xlsx, xlsx_max=xlsx_max_rows)
    live = '"segment" IS NOT NULL AND NOT "_control"'
    try:
        for s in segs:
            w.write(f"segment_{s}", "segment", f'"segment" = {s} AND NOT "_control"',
                    int((campaign & (seg == s)).sum()), cols)  # fmt: skip
        if st_levels:
            pick = campaign & (st_codes >= 0)
            pairs = pd.Series(1, index=pd.MultiIndex.from_arrays(
                [seg[pick].astype(np.int64), st_codes[pick]])).groupby(level=[0, 1]).size()  # fmt: skip
            counts = {(int(a), int(b)): int(n) for (a, b), n in pairs.items()}
            names = {k: f"segment_{k[0]}_{_slug(st_levels[k[1]])}" for k in counts}
            w.partitioned("segment_stage", f'{live} AND "_stage_code" >= 0',
                          ["segment", "_stage_code"], names, counts, cols)  # fmt: skip
        if of_levels:
            n_of = np.bincount(of_codes[campaign & (of_codes >= 0)], minlength=len(of_levels))
            counts = {(j,): int(n) for j, n in enumerate(n_of) if n}
            names = {k: f"offer_{_slug(of_levels[k[0]])}" for k in counts}
            w.partitioned("offer", f'{live} AND "_offer_code" >= 0', ["_offer_code"], names,
                          counts, cols)  # fmt: skip
        if control is not None and control in people.columns:
            w.write("control", "control", '"_control"', int(is_control.sum()), cols)
    finally:
        w.close()
    out = AudienceFiles(folder, w.files, w.notes)
    (folder / "manifest.json").write_text(
        json.dumps(out.manifest(), indent=2) + "\n", encoding="utf-8"
    )
    return out
