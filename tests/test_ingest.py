"""Bad project files and bad data: each gives its clear error and exit code, and nothing in
the project folder changes."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from segmentum.cli.main import app
from segmentum.data import DataError, ProjectError, ingest, load_config

runner = CliRunner()

CUSTOMERS = "customer_id,age,region\nC1,34,North\nC2,51,South\nC3,29,North\n"
TRANSACTIONS = (
    "customer_id,date,amount\n"
    "C1,2024-01-05,20.0\nC1,2024-02-10,35.5\nC2,2024-01-07,12.0\nC3,2024-03-01,80.0\n"
)
PROJECT = """
[project]
name = "bad input"
analysis_date = "2024-06-30"
{extra}

[sources.customers]
path = "customers.csv"
id = "customer_id"
descriptors = ["age", "region"]

[sources.transactions]
path = "transactions.csv"
customer_id = "customer_id"
timestamp = "date"
amount = "amount"
"""


def make_project(
    tmp_path: Path,
    *,
    customers: str | bytes = CUSTOMERS,
    transactions: str | bytes = TRANSACTIONS,
    project: str | None = None,
    extra: str = "",
) -> Path:
    for name, content in (("customers.csv", customers), ("transactions.csv", transactions)):
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    (tmp_path / "segmentum.toml").write_text(
        project or PROJECT.format(extra=extra), encoding="utf-8"
    )
    return tmp_path / "segmentum.toml"


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run_cli(args: list[str]) -> tuple[int, str]:
    result = runner.invoke(app, args)
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def check_fails(project_file: Path, code: int, *expected: str) -> str:
    """Both validate and run fail with ``code``, say ``expected``, and change nothing."""
    folder = project_file.parent
    before = snapshot(folder)
    for command in ("validate", "run"):
        exit_code, output = run_cli([command, str(project_file)])
        assert exit_code == code, output
        flat = " ".join(output.split())
        for text in expected:
            assert text in flat, f"{text!r} not in {flat!r}"
        assert snapshot(folder) == before, f"{command} changed the project folder"
        assert not (folder / "runs").exists()
    return output


def test_good_project_validates(tmp_path: Path) -> None:
    project_file = make_project(tmp_path)
    code, output = run_cli(["validate", str(project_file)])
    assert code == 0, output
    assert "The project is valid" in output


def test_missing_project_file(tmp_path: Path) -> None:
    code, output = run_cli(["validate", str(tmp_path / "nope.toml")])
    assert code == 2
    assert "not found" in output


def test_project_file_with_unknown_key(tmp_path: Path) -> None:
    project_file = make_project(tmp_path, extra="sed = 3")
    check_fails(project_file, 2, "unknown key 'sed'", "Did you mean 'seed'?")


def test_project_file_not_toml(tmp_path: Path) -> None:
    project_file = make_project(tmp_path, project="[project\nname=1")
    check_fails(project_file, 2, "not valid TOML")


def test_missing_data_file(tmp_path: Path) -> None:
    project_file = make_project(tmp_path)
    (tmp_path / "transactions.csv").unlink()
    check_fails(project_file, 3, "transactions.csv: file not found", "sources.transactions.path")


def test_missing_column(tmp_path: Path) -> None:
    project_file = make_project(tmp_path, transactions=TRANSACTIONS.replace("amount", "amnt"))
    check_fails(
        project_file,
        3,
        "column 'amount' (role: amount) is not in the table",
        "Did you mean 'amnt'?",
    )


def test_wrong_type(tmp_path: Path) -> None:
    bad = TRANSACTIONS.replace("35.5", "thirty")
    project_file = make_project(tmp_path, transactions=bad)
    check_fails(
        project_file,
        3,
        "transactions.csv, row 2 (line 3), column 'amount'",
        "not a number",
        "'thirty'",
        "Expected a number",
    )


def test_unparseable_date(tmp_path: Path) -> None:
    bad = TRANSACTIONS.replace("2024-02-10", "10/02/2024")
    project_file = make_project(tmp_path, transactions=bad)
    check_fails(project_file, 3, "row 2 (line 3), column 'date'", "not a date", "'10/02/2024'")


def test_duplicate_ids(tmp_path: Path) -> None:
    bad = CUSTOMERS + "C2,60,East\n"
    project_file = make_project(tmp_path, customers=bad)
    check_fails(
        project_file,
        3,
        "customers.csv, row 4 (line 5), column 'customer_id'",
        "duplicate id",
        "first seen on row 2",
    )


def test_empty_file(tmp_path: Path) -> None:
    project_file = make_project(tmp_path, transactions="")
    check_fails(project_file, 3, "transactions.csv: the file is empty")


def test_header_only_file(tmp_path: Path) -> None:
    project_file = make_project(tmp_path, transactions="customer_id,date,amount\n")
    check_fails(project_file, 3, "transactions.csv: the table has no rows")


def test_non_utf8_bytes(tmp_path: Path) -> None:
    bad = CUSTOMERS.encode() + "C4,40,Zürich\n".encode("latin-1")
    project_file = make_project(tmp_path, customers=bad)
    check_fails(project_file, 3, "customers.csv: line 5", "is not UTF-8", "0xfc")


def gzip_project(tmp_path: Path, customers: bytes) -> Path:
    """The project with its customers as ``customers.csv.gz``."""
    tmp_path.mkdir(exist_ok=True)
    project_file = make_project(tmp_path)
    (tmp_path / "customers.csv.gz").write_bytes(gzip.compress(customers))
    (tmp_path / "customers.csv").unlink()
    text = project_file.read_text(encoding="utf-8")
    project_file.write_text(text.replace('"customers.csv"', '"customers.csv.gz"'), "utf-8")
    return project_file


def test_gzip_csv_is_read_and_checked_as_the_text_it_holds(tmp_path: Path) -> None:
    good = gzip_project(tmp_path / "good", CUSTOMERS.encode())
    code, output = run_cli(["validate", str(good)])
    assert code == 0, output
    assert ingest(load_config(good), good.parent).frame("customers")["customer_id"].tolist() == [
        "C1",
        "C2",
        "C3",
    ]
    bad = CUSTOMERS.encode() + "C4,40,Zürich\n".encode("latin-1")
    # the line and byte of the decompressed text, not of the compressed bytes
    check_fails(gzip_project(tmp_path / "bad", bad), 3, "customers.csv.gz: line 5", "0xfc")


def test_damaged_gzip_csv(tmp_path: Path) -> None:
    project_file = gzip_project(tmp_path, CUSTOMERS.encode())
    path = tmp_path / "customers.csv.gz"
    path.write_bytes(path.read_bytes()[:-12])
    check_fails(project_file, 3, "customers.csv.gz: the file cannot be decompressed")


def test_dates_after_analysis_date(tmp_path: Path) -> None:
    bad = TRANSACTIONS + "C2,2024-07-02,5.0\n"
    project_file = make_project(tmp_path, transactions=bad)
    check_fails(
        project_file, 3, "row 5 (line 6), column 'date'", "after the analysis date", "2024-06-30"
    )


def test_negative_amount_without_returns(tmp_path: Path) -> None:
    bad = TRANSACTIONS + "C2,2024-04-02,-5.0\n"
    project_file = make_project(tmp_path, transactions=bad)
    check_fails(
        project_file,
        3,
        "row 5 (line 6), column 'amount'",
        "negative amount",
        "allow_returns = true",
    )


def test_negative_amount_with_returns_declared(tmp_path: Path) -> None:
    bad = TRANSACTIONS + "C2,2024-04-02,-5.0\n"
    project = PROJECT.format(extra="") + "allow_returns = true\n"
    project_file = make_project(tmp_path, transactions=bad, project=project)
    code, output = run_cli(["validate", str(project_file)])
    assert code == 0, output


def test_unknown_customer_id(tmp_path: Path) -> None:
    bad = TRANSACTIONS + "C9,2024-04-02,5.0\n"
    project_file = make_project(tmp_path, transactions=bad)
    check_fails(project_file, 3, "row 5 (line 6), column 'customer_id'", "unknown id", "'C9'")


def test_error_lists_every_problem_count(tmp_path: Path) -> None:
    rows = "".join(f"C1,2024-01-{d:02d},x{d}\n" for d in range(1, 26))
    project_file = make_project(tmp_path, transactions="customer_id,date,amount\n" + rows)
    output = check_fails(project_file, 3, "25 problems in 25 rows", "and 15 more")
    assert "quarantine" in output


def test_quarantine_keeps_good_rows_and_explains_bad_ones(tmp_path: Path) -> None:
    bad = TRANSACTIONS + "C2,2024-04-02,-5.0\nC9,2024-04-03,7.0\n"
    project_file = make_project(tmp_path, transactions=bad, extra='on_bad_rows = "quarantine"')
    data = ingest(load_config(project_file), tmp_path)
    table = data.tables["transactions"]
    assert len(table.frame) == 4
    assert table.n_rejected == 2
    assert table.n_rows_read == 6
    assert list(table.rejected["source_row"]) == [5, 6]
    assert "negative amount" in table.rejected["reason"].iloc[0]
    assert "unknown id" in table.rejected["reason"].iloc[1]
    # nothing is lost: every row read is either used or set aside with a reason
    assert len(table.frame) + table.n_rejected == table.n_rows_read


def test_types_are_parsed(tmp_path: Path) -> None:
    project_file = make_project(tmp_path)
    data = ingest(load_config(project_file), tmp_path)
    tx = data.frame("transactions")
    assert pd.api.types.is_datetime64_any_dtype(tx["date"])
    assert pd.api.types.is_float_dtype(tx["amount"])
    assert data.frame("customers")["age"].tolist() == [34, 51, 29]
    assert data.analysis_date == pd.Timestamp("2024-06-30")


def test_duckdb_query_source(tmp_path: Path) -> None:
    make_project(tmp_path)
    project = PROJECT.format(extra="").replace(
        'path = "transactions.csv"',
        "query = \"SELECT * FROM read_csv('transactions.csv') WHERE amount > 15\"",
    )
    (tmp_path / "segmentum.toml").write_text(project)
    data = ingest(load_config(tmp_path / "segmentum.toml"), tmp_path)
    assert len(data.frame("transactions")) == 3


def test_duckdb_table_source(tmp_path: Path) -> None:
    import duckdb

    make_project(tmp_path)
    con = duckdb.connect(str(tmp_path / "crm.duckdb"))
    con.execute(
        "CREATE TABLE tx AS SELECT * FROM read_csv(?)", [str(tmp_path / "transactions.csv")]
    )
    con.close()
    project = PROJECT.format(extra="").replace(
        'path = "transactions.csv"', 'table = "crm.duckdb:tx"'
    )
    (tmp_path / "segmentum.toml").write_text(project)
    data = ingest(load_config(tmp_path / "segmentum.toml"), tmp_path)
    assert len(data.frame("transactions")) == 4


def test_source_needs_exactly_one_location(tmp_path: Path) -> None:
    project = PROJECT.format(extra="").replace(
        'path = "transactions.csv"', 'path = "transactions.csv"\ntable = "x:y"'
    )
    project_file = make_project(tmp_path, project=project)
    with pytest.raises(ProjectError, match="exactly one of"):
        load_config(project_file)


def test_mixed_types_in_basis_column(tmp_path: Path) -> None:
    survey = "respondent_id,q1,q2,q3\nR1,1,5,2\nR2,2,4,oops\nR3,5,1,3\nR4,4,2,3\n"
    (tmp_path / "survey.csv").write_text(survey)
    (tmp_path / "segmentum.toml").write_text(
        '[sources.survey]\npath = "survey.csv"\nid = "respondent_id"\nbasis = ["q1","q2","q3"]\n'
    )
    with pytest.raises(DataError, match=r"row 2 \(line 3\), column 'q3'.*'oops'"):
        ingest(load_config(tmp_path / "segmentum.toml"), tmp_path)


def test_init_writes_a_project_that_validates(tmp_path: Path, shared_data: Path) -> None:
    import shutil

    shutil.copy(shared_data / "msa" / "mcdonalds.csv", tmp_path / "mcdonalds.csv")
    code, output = run_cli(
        ["init", str(tmp_path / "mcdonalds.csv"), "-o", str(tmp_path / "segmentum.toml")]
    )
    assert code == 0, output
    config = load_config(tmp_path / "segmentum.toml")
    assert config.sources.survey is not None
    assert config.sources.survey.basis == [
        "yummy",
        "convenient",
        "spicy",
        "fattening",
        "greasy",
        "fast",
        "cheap",
        "tasty",
        "expensive",
        "healthy",
        "disgusting",
    ]
    assert set(config.sources.survey.descriptors) == {"Age", "Gender", "Like", "VisitFrequency"}
    data = ingest(config, tmp_path)
    assert data.frame("survey")["respondent_id"].iloc[0] == "1"
    # init refuses to overwrite
    code, output = run_cli(
        ["init", str(tmp_path / "mcdonalds.csv"), "-o", str(tmp_path / "segmentum.toml")]
    )
    assert code == 2 and "exists" in output


def test_unknown_stage_setting_is_a_project_error(tmp_path: Path) -> None:
    project_file = make_project(
        tmp_path, project=PROJECT.format(extra="") + '\n[value]\ntime_unitt = "W"\n'
    )
    check_fails(project_file, 2, "[value] unknown key 'time_unitt'", "Did you mean 'time_unit'?")


def test_bad_stage_setting_value_is_a_project_error(tmp_path: Path) -> None:
    project_file = make_project(
        tmp_path, project=PROJECT.format(extra="") + '\n[value]\ntime_unit = "fortnight"\n'
    )
    check_fails(project_file, 2, "[value.time_unit]", "'D' or 'W'")


def test_survey_customer_ids_must_be_customers(tmp_path: Path) -> None:
    make_project(tmp_path)
    (tmp_path / "survey.csv").write_text(
        "respondent_id,customer_id,q1,q2\nR1,C1,3,4\nR2,,5,1\nR3,C7,2,2\n"
    )
    project = PROJECT.format(extra="") + (
        '\n[sources.survey]\npath = "survey.csv"\nid = "respondent_id"\n'
        'customer_id = "customer_id"\nbasis = ["q1", "q2"]\n'
    )
    project_file = make_project(tmp_path, project=project)
    check_fails(
        project_file,
        3,
        "survey.csv, row 3 (line 4), column 'customer_id'",
        "unknown id (not in customers)",
        "'C7'",
    )


def test_rating_run_finds_the_scale_most_answers_are_on() -> None:
    from segmentum.data.ingest import rating_run

    likert = {1.0: 40, 2.0: 51, 3.0: 60, 4.0: 58, 5.0: 49, 6.0: 30, 7.0: 11}
    assert rating_run(likert) == (1.0, 7.0)
    assert rating_run({**likert, 99.0: 3}) == (1.0, 7.0)  # a "don't know" code is off it
    assert rating_run({**likert, -7.0: 1}) == (1.0, 7.0)
    assert rating_run({**likert, 0.0: 2}) == (0.0, 7.0)  # next to the scale: part of it
    assert rating_run({0.0: 50, 1.0: 50}) == (0.0, 1.0)
    assert rating_run({v: 1 for v in range(18, 80)}) is None  # ages: not a rating scale
    assert rating_run({25.0: 5, 40.0: 5, 55.0: 5}) is None  # no run of two points
    assert rating_run({1.0: 10, 2.5: 10}) is None  # not whole numbers
    assert rating_run({1.0: 20, 2.0: 20, 10.0: 20, 11.0: 20, 30.0: 20}) is None  # none has half


def test_ragged_lines_names_each_line(tmp_path: Path) -> None:
    from segmentum.data.ingest import ragged_lines

    path = tmp_path / "x.csv"
    path.write_text('a,b,c\n1,2,3\n"multi\nline",2,3\n1,2\n1,2,3,4\n')
    assert ragged_lines(path, ",") == (3, [(5, 2), (6, 4)])


def test_init_infers_the_scale_and_names_codes_off_it(tmp_path: Path) -> None:
    rows = ["respondent_id,q1,q2,q3,q4"] + [
        f"R{i},{1 + i % 7},{1 + (i * 3) % 7},{1 + (i * 5) % 7},{1 + (i * 2) % 7}"
        for i in range(1, 71)
    ]
    rows[4] = "R4,99,2,3,4"
    (tmp_path / "survey.csv").write_text("\n".join(rows) + "\n")
    code, output = run_cli(
        ["init", str(tmp_path / "survey.csv"), "-o", str(tmp_path / "segmentum.toml")]
    )
    assert code == 0, output
    text = (tmp_path / "segmentum.toml").read_text()
    assert "scale = [1, 7]" in text
    assert "99 is outside the scale in q1: if it means no answer, add missing = [99]" in text
    config = load_config(tmp_path / "segmentum.toml")
    assert config.sources.survey is not None
    assert config.sources.survey.scale == (1.0, 7.0)
    assert config.sources.survey.basis == ["q1", "q2", "q3", "q4"]  # q1 kept despite the 99
    check_fails(tmp_path / "segmentum.toml", 3, "row 4 (line 5), column 'q1'", "'99'")
