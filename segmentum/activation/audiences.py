"""Audience files a CRM or ad platform can import: ``audiences/`` in the run folder.

One file per segment, per segment × lifecycle stage and per next best offer (the last two
only when the people carry ``stage`` / ``offer`` columns), each as CSV (UTF-8, with a BOM
for spreadsheets when asked) and XLSX (openpyxl; files over ``xlsx_max_rows`` rows are CSV
only, said so in the manifest). Each row: the customer id, the columns the project passes
through (``[activation] audience_columns``, e.g. email), the segment id and name, stage,
offer and expected value. The control group is kept out of every campaign file and written to
``audiences/control.csv``.

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
        for f in self.files:
            if f["path"].endswith(".csv"):
                kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
        control = sum(
            f["rows"] for f in self.files if f["kind"] == "control" and f["path"].endswith(".csv")
        )
        campaign = sum(
            f["rows"] for f in self.files if f["kind"] == "segment" and f["path"].endswith(".csv")
        )
        return {"files": kinds, "people": campaign, "control": control}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _prepare(
    people: pd.DataFrame,
    id_column: str,
    columns: Sequence[str],
    segment_names: Mapping[int, str] | None,
    extra: Sequence[str],
) -> pd.DataFrame:
    missing = [c for c in [id_column, "segment", *columns] if c not in people.columns]
    if missing:
        raise ValueError(
            f"audience files: column(s) {missing} not found (give them in the customers table "
            "or remove them from [activation] audience_columns)"
        )
    seg = people["segment"]
    frame = pd.DataFrame({id_column: people[id_column].astype(str).to_numpy()})
    for c in columns:
        if c != id_column:
            frame[c] = people[c].to_numpy()
    frame["segment"] = seg.astype("Int64").to_numpy()
    names = {int(k): str(v) for k, v in (segment_names or {}).items()}
    frame["segment_name"] = (
        frame["segment"]
        .map(lambda v: None if pd.isna(v) else names.get(int(v), f"Segment {int(v)}"))
        .astype(object)
    )
    for c in extra:
        frame[c] = people[c].to_numpy()
    for c in frame.columns:
        if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c]):
            frame[c] = neutralise(frame[c])
    return frame


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
            if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
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
    """Writes filtered copies of one registered frame with DuckDB, and their XLSX twins."""

    def __init__(self, folder: Path, frame: pd.DataFrame, bom: bool, xlsx: bool, xlsx_max: int):
        import duckdb

        self.folder, self.frame, self.bom = folder, frame, bom
        self.xlsx, self.xlsx_max = xlsx, xlsx_max
        self.con = duckdb.connect()
        self.files: list[dict[str, Any]] = []
        self.notes: list[str] = []

    def write(self, name: str, kind: str, mask: np.ndarray, columns: Sequence[str]) -> None:
        rows = int(mask.sum())
        path = self.folder / f"{name}.csv"
        cols = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
        idx = np.flatnonzero(mask)
        sub = self.frame if rows == len(self.frame) else self.frame.iloc[idx]
        self.con.register("audience", sub)
        target = path if not self.bom else path.with_suffix(".csv.tmp")
        self.con.execute(
            f"COPY (SELECT {cols} FROM audience) TO '{_sql_path(target)}' (FORMAT CSV, HEADER)"
        )
        self.con.unregister("audience")
        if self.bom:
            with path.open("wb") as out, target.open("rb") as src:
                out.write(_BOM)
                while chunk := src.read(1 << 22):
                    out.write(chunk)
            target.unlink()
        self.files.append({"path": path.name, "rows": rows, "sha256": _sha256(path), "kind": kind})
        if not self.xlsx:
            return
        if rows > self.xlsx_max:
            self.notes.append(f"{name}: {rows:,} rows, over xlsx_max_rows; CSV only")
            return
        xpath = self.folder / f"{name}.xlsx"
        _write_xlsx(sub[list(columns)].reset_index(drop=True), xpath)
        self.files.append(
            {"path": xpath.name, "rows": rows, "sha256": _sha256(xpath), "kind": kind}
        )

    def close(self) -> None:
        self.con.close()


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
    frame = _prepare(people, id_column, columns, segment_names, extra)
    is_control = (
        people[control].fillna(False).to_numpy(dtype=bool)
        if control is not None and control in people.columns
        else np.zeros(len(people), dtype=bool)
    )
    seg = frame["segment"].to_numpy(dtype=object)
    has_seg = frame["segment"].notna().to_numpy()
    campaign = has_seg & ~is_control
    cols = list(frame.columns)
    w = _Writer(folder, frame, bom, xlsx, xlsx_max_rows)
    try:
        for s in sorted({int(x) for x in seg[has_seg]}):
            in_s = campaign & (frame["segment"].to_numpy(dtype=float, na_value=np.nan) == s)
            w.write(f"segment_{s}", "segment", in_s, cols)
            if stage is not None and stage in frame:
                st = frame[stage].astype(str).to_numpy()
                for level in sorted(set(st[in_s & frame[stage].notna().to_numpy()])):
                    w.write(
                        f"segment_{s}_{_slug(level)}", "segment_stage", in_s & (st == level), cols
                    )
        if offer is not None and offer in frame:
            of = frame[offer].astype(str).to_numpy()
            for level in sorted(set(of[campaign & frame[offer].notna().to_numpy()])):
                w.write(f"offer_{_slug(level)}", "offer", campaign & (of == level), cols)
        if control is not None and control in people.columns:
            w.write("control", "control", is_control, cols)
    finally:
        w.close()
    out = AudienceFiles(folder, w.files, w.notes)
    (folder / "manifest.json").write_text(
        json.dumps(out.manifest(), indent=2) + "\n", encoding="utf-8"
    )
    return out
