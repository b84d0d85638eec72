"""Fuzzing the project-file loader and ingest: random TOML and random CSV bytes give a clean
error (a :class:`SegmentumError`, exit 2 or 3) or a valid project, never a traceback."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from segmentum.cli.main import app
from segmentum.data.errors import SegmentumError
from segmentum.project import Project

# SEGMENTUM_FUZZ_EXAMPLES=2000 searches harder (a few minutes); the default takes seconds.
EXAMPLES = int(os.environ.get("SEGMENTUM_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

SURVEY = "respondent_id,q1,q2,q3,weight,region\nR1,1,5,2,1.0,N\nR2,2,4,3,0.5,S\nR3,5,1,3,2,N\n"
CUSTOMERS = "customer_id,age,region\nC1,34,North\nC2,51,South\n"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz")
    (path / "survey.csv").write_text(SURVEY)
    (path / "customers.csv").write_text(CUSTOMERS)
    (path / "ratings.csv").write_text("respondent_id,brand,need,rating\nR1,A,q1,3\nR2,A,q1,99\n")
    (path / "sub").mkdir()
    return path


# --- TOML ------------------------------------------------------------------------------

KEYS = {
    "project": ["name", "seed", "analysis_date", "runs_dir", "on_bad_rows"],
    "survey": [
        "path", "table", "query", "id", "customer_id", "weight", "basis", "behaviours",
        "descriptors", "text", "scale", "scales", "missing",
    ],
    "customers": ["path", "id", "descriptors", "channel", "acquisition_cost"],
    "transactions": ["path", "customer_id", "timestamp", "amount", "allow_returns",
                     "date_format"],
    "competitor_ratings": ["path", "respondent_id", "brand", "need", "rating", "scale"],
    "events": ["path", "customer_id", "timestamp", "event_type", "date_format"],
    "segments": ["method", "k_range", "n_segments", "n_boot", "scale_correction"],
    "value": ["time_unit", "cost"],
}  # fmt: skip
MISSPELT = {"project": "sed", "survey": "basiss", "segments": "k_rang", "value": "time_units"}
STAGE_TABLES = ("project", "segments", "value")
# Locations are drawn from a fixed list: the fuzzer must not read or write elsewhere.
LOCATIONS = {
    "path": [
        "survey.csv",
        "customers.csv",
        "ratings.csv",
        "missing.csv",
        "sub",
        "x.parquet",
        "survey.CSV",
    ],
    "table": ["crm.duckdb:t", "nocolon", ":t", "survey.csv:t"],
    "query": ["SELECT 1 AS x", "SELEC", "SELECT * FROM read_csv('survey.csv')"],
}
COLUMNS = ["respondent_id", "q1", "q2", "q3", "weight", "region", "customer_id", "age", "nope"]

scalars = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from([*COLUMNS, "", "fail", "quarantine", "kmeans", "W", "2024-06-30", "1-7"]),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from([*COLUMNS, "a", "b"]), inner, max_size=3),
    ),
    max_leaves=8,
)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return '"' + value.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{ " + ", ".join(f'"{k}" = {toml_value(v)}' for k, v in value.items()) + " }"


numbers = st.one_of(st.integers(-2, 12), st.floats(-2, 12), st.sampled_from([99, -7, 1e300]))
columns = st.sampled_from(COLUMNS)
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    **{k: st.lists(columns, max_size=4) for k in ("basis", "behaviours", "descriptors")},
    "scale": st.lists(numbers, max_size=3),
    "scales": st.dictionaries(columns, st.lists(numbers, min_size=2, max_size=2), max_size=2),
    "missing": st.lists(st.one_of(numbers, st.sampled_from(["DK", "", "n/a"])), max_size=3),
    "allow_returns": st.booleans(),
    "date_format": st.sampled_from(["%d/%m/%Y", "%Y-%m-%d", "%Q"]),
    "name": st.text(max_size=10),
    "seed": st.integers(-5, 2**40),
    "analysis_date": st.sampled_from(["2024-06-30", "2999-01-01", "x", "2024-13-01"]),
    "runs_dir": st.just("runs"),
    "on_bad_rows": st.sampled_from(["fail", "quarantine", "drop"]),
    "method": st.sampled_from(["kmeans", "gmm", "lca", "kmedoids", "x"]),
    "k_range": st.lists(st.integers(-1, 9), max_size=3),
    "n_segments": st.one_of(st.none(), st.integers(-1, 9)).map(lambda v: 3 if v is None else v),
    "n_boot": st.integers(-1, 5),
    "scale_correction": st.sampled_from(["none", "center", "standardize", "x"]),
    "time_unit": st.sampled_from(["D", "W", "M", "fortnight"]),
}
ROLE_KEYS = {
    "id", "customer_id", "weight", "text", "channel", "acquisition_cost", "timestamp",
    "amount", "respondent_id", "brand", "need", "rating", "event_type",
}  # fmt: skip


def plausible(key: str) -> st.SearchStrategy[Any]:
    """A value of the right shape for ``key`` (a column name for a role, and so on)."""
    if key in ROLE_KEYS:
        return columns
    return PLAUSIBLE.get(key, values)


@st.composite
def project_files(draw: st.DrawFn) -> str:
    tables = draw(st.lists(st.sampled_from(sorted(KEYS)), unique=True, min_size=1))
    out = []
    for table in tables:
        header = f"[{table}]" if table in STAGE_TABLES else f"[sources.{table}]"
        out.append(header)
        keys = draw(st.lists(st.sampled_from(KEYS[table]), unique=True, max_size=6))
        if table in MISSPELT and not draw(st.integers(0, 7)):
            keys.append(MISSPELT[table])
        if table not in STAGE_TABLES and draw(st.integers(0, 3)):
            # most sources get exactly one location, so that ingest is reached
            keys = [k for k in keys if k not in LOCATIONS]
            keys.insert(0, draw(st.sampled_from(sorted(LOCATIONS))))
        for key in keys:
            if key in LOCATIONS and draw(st.integers(0, 3)):
                value: Any = draw(st.sampled_from(LOCATIONS[key]))
            elif key not in LOCATIONS and draw(st.integers(0, 3)):
                value = draw(plausible(key))
            else:
                value = draw(values)
            out.append(f"{key} = {toml_value(value)}")
    return "\n".join(out) + "\n"


def load_and_validate(project_file: Path) -> None:
    """What `segmentum validate` does, through the Python API (fast)."""
    try:
        Project.load(project_file).validate()
    except SegmentumError as exc:
        assert exc.exit_code in (2, 3), exc
        assert str(exc).strip()
        event(type(exc).__name__)  # --hypothesis-show-statistics shows how examples end
    else:
        event("valid")


@FUZZ
@given(text=project_files())
def test_random_project_files_give_clean_errors(folder: Path, text: str) -> None:
    project_file = folder / "segmentum.toml"
    project_file.write_text(text, encoding="utf-8")
    load_and_validate(project_file)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_random_project_bytes_give_clean_errors(folder: Path, raw: bytes) -> None:
    project_file = folder / "segmentum.toml"
    project_file.write_bytes(raw)
    load_and_validate(project_file)


# --- CSV bytes -------------------------------------------------------------------------

PROJECT = """[project]
on_bad_rows = "{mode}"
[sources.survey]
path = "survey.csv"
id = "respondent_id"
weight = "weight"
basis = ["q1", "q2", "q3"]
descriptors = ["region"]
{extra}
"""

cells = st.one_of(
    st.sampled_from(
        ["1", "4", "7", "99", "-7", "", " ", "nan", "inf", "-inf", "1e300", "3.5", "0", "Yes",
         " y ", "NO", "x", '"', '""', '"a,b"', "R1", "R2", "\ufeff", "\x00", "é", "1,5"]
    ),
    st.text(max_size=6),
)  # fmt: skip
header_names = st.one_of(
    st.sampled_from(["respondent_id", "q1", "q2", "q3", "weight", "region"]), st.text(max_size=5)
)


@st.composite
def csv_bytes(draw: st.DrawFn) -> bytes:
    """CSV-shaped bytes (a header, rows of tricky cells) with random damage."""
    delimiter = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    header = ["respondent_id", "q1", "q2", "q3", "weight", "region"]
    if draw(st.booleans()):
        header = draw(st.lists(header_names, min_size=1, max_size=7))
    rows = draw(
        st.lists(
            st.lists(cells, min_size=max(len(header) - 1, 0), max_size=len(header) + 1),
            max_size=8,
        )
    )
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(delimiter.join(r) for r in [header, *rows]) + newline
    data = text.encode("utf-8")
    if draw(st.booleans()):  # damage: bytes spliced in somewhere
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=4)) + data[at:]
    return data


@FUZZ
@given(
    data=st.one_of(csv_bytes(), st.binary(max_size=120)),
    mode=st.sampled_from(["fail", "quarantine"]),
    extra=st.sampled_from(["", "scale = [1, 7]", "missing = [99]", "scales = { q3 = [0, 5] }"]),
)
def test_random_csv_bytes_give_clean_errors(
    folder: Path, data: bytes, mode: str, extra: str
) -> None:
    (folder / "survey.csv").write_bytes(data)
    project_file = folder / "segmentum.toml"
    project_file.write_text(PROJECT.format(mode=mode, extra=extra), encoding="utf-8")
    load_and_validate(project_file)


@settings(
    max_examples=max(EXAMPLES // 4, 15), deadline=None, suppress_health_check=list(HealthCheck)
)
@given(data=csv_bytes())
def test_random_csv_through_the_cli(folder: Path, data: bytes) -> None:
    """The same through `segmentum validate`: exit 0 or 3, and no traceback."""
    (folder / "survey.csv").write_bytes(data)
    project_file = folder / "segmentum.toml"
    project_file.write_text(PROJECT.format(mode="fail", extra=""), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(project_file)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 3), result.output
