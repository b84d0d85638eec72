"""`segmentum init` on several files: links by row order or shared ids, names what it left out;
`validate` and `run` default to ``segmentum.toml`` in the current folder."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from segmentum.cli.main import app
from segmentum.data import ingest, load_config

runner = CliRunner()
SMALL_RUN = "\n[segments]\nk_range = [2, 3]\nn_boot = 4\nn_init = 2\nn_jobs = 1\n"


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def _vacmot(folder: Path, shared_data: Path) -> None:
    for name in ("vacmot.csv", "vacmotdesc.csv"):
        shutil.copy(shared_data / "msa" / name, folder / name)


def test_vacmot_answers_and_descriptors_link_by_row_order_validate_and_run(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _vacmot(tmp_path, shared_data)
    monkeypatch.chdir(tmp_path)
    code, output = cli("init", "vacmot.csv", "vacmotdesc.csv")
    assert code == 0, output
    assert "1,000 rows each and no shared id: linked by row order" in output
    text = Path("segmentum.toml").read_text()
    assert "customer_id" not in text  # no invented id column
    assert "POSITIONAL JOIN" in text and "[sources.customers]" not in text
    config = load_config("segmentum.toml")
    survey = config.sources.survey
    assert survey is not None and survey.id is None and len(survey.basis) == 20
    desc = pd.read_csv(tmp_path / "vacmotdesc.csv")
    # every descriptor column is kept, the numeric ones (Age, NEP, Obligation…) included
    assert set(survey.descriptors) == set(desc.columns)
    # row i of the answers is row i of the descriptors
    frame = ingest(config, tmp_path).frame("survey")
    answers = pd.read_csv(tmp_path / "vacmot.csv")
    assert (frame["Gender"].to_numpy() == desc["Gender"].to_numpy()).all()
    assert (frame["NEP"].to_numpy() == desc["NEP"].to_numpy()).all()
    assert (frame["do sports"].to_numpy() == answers["do sports"].to_numpy()).all()

    code, output = cli("validate")  # no argument: segmentum.toml in this folder
    assert code == 0 and "The project is valid." in output, output
    with open("segmentum.toml", "a", encoding="utf-8") as handle:
        handle.write(SMALL_RUN)
    code, output = cli("run")
    assert code == 0, output
    assert len(list((tmp_path / "runs").glob("*/report.html"))) == 1
    personas = next((tmp_path / "runs").glob("*/personas.md")).read_text()
    assert "### Segment 1" in personas


def test_row_order_link_fails_clearly_when_the_row_counts_part(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _vacmot(tmp_path, shared_data)
    monkeypatch.chdir(tmp_path)
    assert cli("init", "vacmot.csv", "vacmotdesc.csv")[0] == 0
    lines = (tmp_path / "vacmotdesc.csv").read_text().splitlines()
    (tmp_path / "vacmotdesc.csv").write_text("\n".join(lines[:-10]) + "\n")
    code, output = cli("validate")
    assert code != 0
    assert "must have the same number of rows: they are linked by row order" in output
    # init itself does not link files whose row counts differ: it asks instead
    code, output = cli("init", "vacmot.csv", "vacmotdesc.csv", "-o", "second.toml")
    assert code == 0, output
    text = (tmp_path / "second.toml").read_text()
    assert "POSITIONAL JOIN" not in text
    assert "no link found to vacmotdesc.csv (1,000 and 990 rows)" in text


def _survey_and_customers(folder: Path, survey_key: str, customers_key: str) -> None:
    survey = ["respondent_id," + survey_key + ",q1,q2,q3,q4"]
    survey += [
        f"R{i},C{i % 40},{1 + i % 5},{1 + (i * 3) % 5},{1 + (i * 2) % 5},{1 + (i * 7) % 5}"
        for i in range(60)
    ]
    (folder / "survey.csv").write_text("\n".join(survey) + "\n")
    customers = [customers_key + ",age,region"]
    customers += [f"C{i},{20 + i},{'North' if i % 2 else 'South'}" for i in range(50)]
    (folder / "customers.csv").write_text("\n".join(customers) + "\n")


@pytest.mark.parametrize(
    ("survey_key", "customers_key"),
    [("customer_id", "customer_id"), ("member_no", "customer_id")],
    ids=["same name", "values are the other's ids"],
)
def test_a_shared_id_column_links_survey_and_customers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, survey_key: str, customers_key: str
) -> None:
    _survey_and_customers(tmp_path, survey_key, customers_key)
    monkeypatch.chdir(tmp_path)
    code, output = cli("init", "survey.csv", "customers.csv")
    assert code == 0, output
    assert f"linked to customers.csv by {survey_key} = {customers_key}" in output
    config = load_config("segmentum.toml")
    assert config.sources.survey is not None and config.sources.customers is not None
    assert config.sources.survey.customer_id == survey_key
    assert config.sources.customers.id == customers_key
    assert survey_key not in config.sources.survey.descriptors
    code, output = cli("validate")
    assert code == 0 and "The project is valid." in output, output


def test_unlinkable_files_are_not_given_an_invented_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _survey_and_customers(tmp_path, "customer_id", "customer_id")
    customers = pd.read_csv(tmp_path / "customers.csv").drop(columns="customer_id")
    customers.to_csv(tmp_path / "customers.csv", index=False)  # 50 rows, the survey 60
    monkeypatch.chdir(tmp_path)
    code, output = cli("init", "survey.csv", "customers.csv")
    assert code == 0, output
    text = Path("segmentum.toml").read_text()
    assert "no customer id column found: set id =" in text
    customers_part = text.split("[sources.customers]")[1]
    assert "\nid = " not in customers_part
    assert "no link found to customers.csv (60 and 50 rows)" in text


def test_left_out_columns_are_named_with_their_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = ["respondent_id,q1,q2,q3,q4,spend_index,nickname"] + [
        f"R{i},{1 + i % 7},{1 + (i * 3) % 7},{1 + (i * 5) % 7},{1 + (i * 2) % 7},"
        f"{i * 1.37:.2f},nick{i}"
        for i in range(80)
    ]
    (tmp_path / "survey.csv").write_text("\n".join(rows) + "\n")
    monkeypatch.chdir(tmp_path)
    code, output = cli("init", "survey.csv")
    assert code == 0, output
    text = Path("segmentum.toml").read_text()
    for where in (output, text):
        assert "left out spend_index: numeric (0..108.23) with no recognised role" in where
        assert "left out nickname: text with ~" in where
        assert "too many for a descriptor" in where
    config = load_config("segmentum.toml")
    assert config.sources.survey is not None
    assert config.sources.survey.basis == ["q1", "q2", "q3", "q4"]


def test_init_reads_a_gzip_csv(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = (shared_data / "msa" / "mcdonalds.csv").read_bytes()
    (tmp_path / "mcdonalds.csv.gz").write_bytes(gzip.compress(raw))
    monkeypatch.chdir(tmp_path)
    code, output = cli("init", "mcdonalds.csv.gz")
    assert code == 0, output
    config = load_config("segmentum.toml")
    assert config.sources.survey is not None and config.sources.survey.path == "mcdonalds.csv.gz"
    assert len(config.sources.survey.basis) == 11
    code, output = cli("validate")
    assert code == 0 and "The project is valid." in output, output


def test_validate_and_run_without_a_project_file_name_the_missing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for command in ("validate", "run"):
        code, output = cli(command)
        assert code != 0
        assert "segmentum.toml not found" in output
        assert "segmentum init" in output


def test_transactions_without_an_id_name_link_by_their_values_or_ask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _survey_and_customers(tmp_path, "customer_id", "customer_id")
    tx = ["buyer,date,amount"] + [
        f"C{i % 30},2024-0{1 + i % 9}-1{i % 10},{5 + i}" for i in range(90)
    ]
    (tmp_path / "transactions.csv").write_text("\n".join(tx) + "\n")
    monkeypatch.chdir(tmp_path)
    code, output = cli("init", "transactions.csv")  # alone: nothing to link to, so it asks
    assert code == 0, output
    text = Path("segmentum.toml").read_text()
    assert "no customer_id column found: set customer_id =" in text
    assert "customer_id = " not in text.split("[sources.transactions]")[1]
    code, output = cli("init", "survey.csv", "customers.csv", "transactions.csv", "--force")
    assert code == 0, output
    assert "linked to customers.csv by buyer = customer_id" in output
    config = load_config("segmentum.toml")
    assert config.sources.transactions is not None
    assert config.sources.transactions.customer_id == "buyer"
    code, output = cli("validate")
    assert code == 0 and "The project is valid." in output, output


def test_init_writes_a_gitignore_for_the_keys_and_runs(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key store (a secret) and the runs stay out of git; a user's own lines are kept."""
    import shutil as sh
    import subprocess

    _vacmot(tmp_path, shared_data)
    monkeypatch.chdir(tmp_path)
    code, output = cli("init", "vacmot.csv", "vacmotdesc.csv")
    assert code == 0, output
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert {"keys.sqlite", "keys.sqlite-wal", "keys.sqlite-shm", "runs/"} <= set(lines)
    assert ".gitignore: git leaves out keys.sqlite" in output
    # a second project in the folder, after the user edited the file: nothing repeated
    (tmp_path / ".gitignore").write_text("*.csv\nruns/\n")
    code, output = cli("init", "vacmot.csv", "vacmotdesc.csv", "-o", "second.toml")
    assert code == 0, output
    again = (tmp_path / ".gitignore").read_text().splitlines()
    assert again[:2] == ["*.csv", "runs/"] and again.count("runs/") == 1
    assert {"keys.sqlite", "keys.sqlite-wal", "keys.sqlite-shm"} <= set(again)
    if sh.which("git") is None:
        return
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "keys.sqlite").write_bytes(b"")
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "r.txt").write_text("x")
    ignored = subprocess.run(
        ["git", "-C", str(tmp_path), "check-ignore", "keys.sqlite", "runs/r.txt"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert ignored.stdout.split() == ["keys.sqlite", "runs/r.txt"]
