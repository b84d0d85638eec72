"""Write a project file: infer column roles from data files, commented for the user to edit."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from segmentum.data.errors import DataError
from segmentum.data.ingest import _literal, _quote, check_utf8, rating_run

_ID = re.compile(r"(^|_)(id|key|number|no)$", re.IGNORECASE)
_TIME = re.compile(r"(date|time|timestamp|_at|_on)$", re.IGNORECASE)
_AMOUNT = re.compile(r"(amount|revenue|value|spend|sales|price|total)", re.IGNORECASE)
_WEIGHT = re.compile(r"^(weight|wt|wgt|sample_weight)s?$", re.IGNORECASE)
_DESCRIPTOR = re.compile(
    r"(age|gender|sex|region|state|country|city|income|education|occupation|household|"
    r"segment_size|industry|employees|size|tenure|zip|postcode)",
    re.IGNORECASE,
)


@dataclass
class Guess:
    """The table a file looks like and the roles of its columns."""

    table: str
    path: str
    roles: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    columns: list[dict[str, Any]] = field(default_factory=list)
    file: Path | None = None
    left_out: dict[str, str] = field(default_factory=dict)
    """Column → why init gave it no role (also written as comments in the project file)."""


def _reader(path: Path) -> str:
    """The DuckDB table function reading ``path`` (CSV, gzip CSV or Parquet)."""
    name = path.name.lower()
    if name.endswith((".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz")):
        return f"read_csv({_literal(str(path))}, header=true, sample_size=-1)"
    if name.endswith((".parquet", ".pq")):
        return f"read_parquet({_literal(str(path))})"
    raise DataError(
        f"{path}: unknown file type '{path.suffix.lower()}'.",
        hint="segmentum init reads .csv, .csv.gz and .parquet files.",
    )


def _profile(path: Path) -> list[dict[str, Any]]:
    """Column name, type, distinct count, average text length, min, max (on a sample)."""
    reader = _reader(path)
    if reader.startswith("read_csv"):
        check_utf8(path)
    con = duckdb.connect()
    try:
        con.execute(f"CREATE VIEW t AS SELECT * FROM {reader} USING SAMPLE 20000 ROWS")
        n = con.execute("SELECT count(*) FROM t").fetchone()[0]
        out = []
        for name, dtype, *_ in con.execute("DESCRIBE t").fetchall():
            q = _quote(name)
            distinct, nulls = con.execute(
                f"SELECT approx_count_distinct({q}), count(*) - count({q}) FROM t"
            ).fetchone()
            info: dict[str, Any] = {
                "name": name,
                "type": dtype,
                "distinct": distinct,
                "n": n,
                "nulls": nulls,
            }
            if dtype == "VARCHAR":
                info["avg_len"] = con.execute(f"SELECT avg(length({q})) FROM t").fetchone()[0]
                info["levels"] = {
                    str(r[0]).lower()
                    for r in con.execute(
                        f"SELECT DISTINCT {q} FROM t WHERE {q} IS NOT NULL LIMIT 12"
                    ).fetchall()
                }
            elif dtype in (
                "BIGINT",
                "INTEGER",
                "DOUBLE",
                "SMALLINT",
                "TINYINT",
                "FLOAT",
                "HUGEINT",
            ) or dtype.startswith("DECIMAL"):
                info["min"], info["max"] = con.execute(
                    f"SELECT min({q}), max({q}) FROM t"
                ).fetchone()
                if distinct <= 40:
                    info["counts"] = {
                        float(v): int(k)
                        for v, k in con.execute(
                            f"SELECT {q}, count(*) FROM t WHERE {q} IS NOT NULL GROUP BY {q}"
                        ).fetchall()
                    }
            out.append(info)
        return out
    finally:
        con.close()


def _is_binary(c: dict[str, Any]) -> bool:
    if c["distinct"] > 2:
        return False
    if c["type"] == "VARCHAR":
        return c.get("levels", set()) <= {"yes", "no", "y", "n", "true", "false", "0", "1"}
    return c["type"] == "BOOLEAN" or (c.get("min") in (0, 1) and c.get("max") in (0, 1))


def _is_scale(c: dict[str, Any]) -> bool:
    """An integer rating item: 3 to 11 points within 0..11 (Likert, 0–10 scales).

    A few answers off the scale (a ``99`` "don't know" code) do not hide it: the scale is
    the run of points most answers are on (:func:`~segmentum.data.ingest.rating_run`).
    """
    if c["type"] not in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT"):
        return False
    run = _scale_of(c)
    if run is None:
        return False
    low, high = run
    points = sum(1 for v in c["counts"] if low <= v <= high)
    return points >= 3 and low >= 0 and high <= 11


def _scale_of(c: dict[str, Any]) -> tuple[float, float] | None:
    counts = c.get("counts")
    return rating_run(counts) if counts else None


def _whole(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def _survey_scale(cols: list[dict[str, Any]], basis: list[str]) -> tuple[dict[str, Any], list]:
    """``scale = [low, high]`` for the basis items, inferred from their answers, with notes."""
    items = [c for c in cols if c["name"] in basis and _scale_of(c) is not None]
    if not items:
        return {}, []
    runs = {c["name"]: _scale_of(c) for c in items}
    low = min(r[0] for r in runs.values() if r)
    high = max(r[1] for r in runs.values() if r)
    scale = [_whole(low), _whole(high)]
    notes = [
        f"scale = {scale} was inferred from the answers to {len(items)} basis item(s); check "
        "it against the questionnaire (answers outside it are bad rows)"
    ]
    outside: dict[float, list[str]] = {}
    for c in items:
        for v in c["counts"]:
            if v < low or v > high:
                outside.setdefault(v, []).append(c["name"])
    for v, names in sorted(outside.items()):
        code = _whole(v)
        notes.append(
            f"{code} is outside the scale in {', '.join(names[:3])}"
            + (" …" if len(names) > 3 else "")
            + f": if it means no answer, add missing = [{code}]"
        )
    return {"scale": scale}, notes


def guess_roles(path: Path, relative_to: Path) -> Guess:
    """Guess which table a file is and the role of each column."""
    cols = _profile(path)
    guess = _guess(cols, path, relative_to)
    guess.columns, guess.file = cols, path
    for key in [k for k, v in guess.roles.items() if v is None]:
        del guess.roles[key]  # never an invented column: ask instead
        guess.notes.append(
            f"no {key} column found: set {key} = the column that holds it (the file's "
            f"columns: {', '.join(c['name'] for c in cols[:8])}{' …' if len(cols) > 8 else ''})"
        )
    return guess


def _guess(cols: list[dict[str, Any]], path: Path, relative_to: Path) -> Guess:
    """The table and roles of a profiled file."""
    names = [c["name"] for c in cols]
    lower = {n.lower(): n for n in names}
    rel = os.path.relpath(path.resolve(), relative_to.resolve())
    ids = [c["name"] for c in cols if _ID.search(c["name"])]
    times = [
        c["name"]
        for c in cols
        if c["type"].startswith(("TIMESTAMP", "DATE"))
        or (_TIME.search(c["name"]) and c["type"] == "VARCHAR")
    ]
    scales = [c["name"] for c in cols if _is_scale(c) and c["name"] not in ids]
    binaries = [c["name"] for c in cols if _is_binary(c) and c["name"] not in ids]
    texts = [c["name"] for c in cols if c["type"] == "VARCHAR" and (c.get("avg_len") or 0) > 25]
    customer_id = next((n for n in ids if "cust" in n.lower()), ids[0] if ids else None)

    if "brand" in lower and "rating" in lower:
        g = Guess(
            "competitor_ratings",
            rel,
            {
                "respondent_id": next(
                    (n for n in ids if "resp" in n.lower()), ids[0] if ids else None
                ),
                "brand": lower["brand"],
                "need": lower.get("need", "need"),
                "rating": lower["rating"],
            },
        )
        return g
    if times and any(n.lower() in ("event_type", "event", "type") for n in names):
        event_type = next(n for n in names if n.lower() in ("event_type", "event", "type"))
        return Guess(
            "events",
            rel,
            {
                "customer_id": customer_id,
                "timestamp": times[0],
                "event_type": event_type,
            },
        )
    amounts = [
        c["name"]
        for c in cols
        if _AMOUNT.search(c["name"]) and c["type"] not in ("VARCHAR",) and c["name"] not in ids
    ]
    if times and amounts:
        roles: dict[str, Any] = {
            "customer_id": customer_id,
            "timestamp": times[0],
            "amount": amounts[0],
        }
        for role in ("margin", "cost", "channel", "product"):
            if role in lower:
                roles[role] = lower[role]
        return Guess("transactions", rel, roles)
    if len(scales) + len(binaries) >= 4:
        return _guess_survey(cols, rel, ids, scales, binaries, texts)
    return _guess_customers(cols, rel, ids, customer_id)


def _guess_survey(
    cols: list[dict[str, Any]],
    rel: str,
    ids: list[str],
    scales: list[str],
    binaries: list[str],
    texts: list[str],
) -> Guess:
    """A survey's roles: id, customer id, weight, basis, behaviours, scale, descriptors, text."""
    names = [c["name"] for c in cols]
    rid = next((n for n in ids if "resp" in n.lower()), ids[0] if ids else None)
    roles: dict[str, Any] = {"id": rid} if rid else {}
    g = Guess("survey", rel, roles)
    if rid is None:
        g.notes.append("no id column found: respondents are numbered by row")
    other_ids = [n for n in ids if n != rid and "cust" in n.lower()]
    if other_ids:
        roles["customer_id"] = other_ids[0]
    weight = next((n for n in names if _WEIGHT.match(n)), None)
    if weight:
        roles["weight"] = weight
    descriptors = [
        c["name"]
        for c in cols
        if _DESCRIPTOR.search(c["name"]) and c["name"] not in ids and c["name"] != weight
    ]
    basis = [n for n in scales if n not in descriptors]
    behaviours = [n for n in binaries if n not in descriptors and n != weight]
    if not basis:  # an all-binary survey (pick-any perceptions): binaries are the basis
        basis, behaviours = behaviours, []
    roles["basis"] = basis
    roles["behaviours"] = behaviours
    scale, scale_notes = _survey_scale(cols, basis)
    roles.update(scale)
    g.notes.extend(scale_notes)
    roles["descriptors"] = descriptors + [
        c["name"]
        for c in cols
        if c["type"] == "VARCHAR"
        and c["name"] not in ids
        and c["name"] not in texts
        and c["name"] not in descriptors
        and c["name"] not in binaries
        and c["distinct"] <= 30
    ]
    if texts:
        roles["text"] = texts[0]
    g.notes.append("basis = the needs the segments are built on; check the list")
    return g


def _guess_customers(
    cols: list[dict[str, Any]], rel: str, ids: list[str], customer_id: str | None
) -> Guess:
    """A customer table's roles: id, descriptors, acquisition cost, channel."""
    names = [c["name"] for c in cols]
    lower = {n.lower(): n for n in names}
    roles: dict[str, Any] = {"id": customer_id} if customer_id else {}
    roles["descriptors"] = [
        c["name"]
        for c in cols
        if c["name"] not in ids
        and ((c["type"] == "VARCHAR" and c["distinct"] <= 50) or _DESCRIPTOR.search(c["name"]))
    ]
    if "acquisition_cost" in lower:
        roles["acquisition_cost"] = lower["acquisition_cost"]
    channel = next((n for n in names if "channel" in n.lower()), None)
    if channel:
        roles["channel"] = channel
        roles["descriptors"] = [d for d in roles["descriptors"] if d != channel]
    g = Guess("customers", rel, roles)
    if not customer_id:
        g.notes.append(
            "no customer id column found: set id = the column that names each customer "
            "(the survey's customer_id and the transactions refer to it)"
        )
    return g


_COMMENTS = {
    "survey": "Survey answers: one row per respondent. basis = needs/attitudes that build the "
    "segments;\n# descriptors describe them afterwards (demographics never build them).",
    "customers": "Customers: one row per customer, with descriptors for profiles and activation.",
    "transactions": "Transactions: one row per purchase (customer, time, amount). Set "
    "allow_returns = true if negative amounts are returns.",
    "events": "Events for lifecycle stages: visit, quote, purchase, support, cancellation.",
    "competitor_ratings": "How well each competitor brand serves each need, per respondent "
    "(long format).",
    "offers": "Offers for the next best offer: value, cost, eligible segments and stages "
    "(empty: all).",
    "responses": "Response history: one row per offer shown to a customer, accepted or not.",
    "leads": "Sales leads to score: descriptors shared with customers, the source, optional "
    "golden-question answers.",
    "channels": "Channels to buy: cost, audience and its mix (segment_<id> or "
    "<descriptor>=<level> shares).",
}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        items = [_toml_value(v) for v in value]
        one_line = "[" + ", ".join(items) + "]"
        if len(one_line) <= 88:
            return one_line
        return "[\n" + "".join(f"    {i},\n" for i in items) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def render_project(
    sources: dict[str, dict[str, Any]],
    *,
    name: str = "segmentum project",
    seed: int = 0,
    analysis_date: str | None = None,
    notes: dict[str, list[str]] | None = None,
    stage_settings: dict[str, dict[str, Any]] | None = None,
) -> str:
    """Return the text of a commented project file."""
    lines = [
        "# segmentum project file. Edit the roles below, then:",
        "#   segmentum validate segmentum.toml   (checks the data, writes nothing)",
        "#   segmentum run segmentum.toml        (writes a run folder under runs/)",
        "",
        "[project]",
        f"name = {_toml_value(name)}",
        f"seed = {seed}  # same data + same seed give the same segments, same labels",
    ]
    if analysis_date:
        lines.append(f'analysis_date = "{analysis_date}"  # no date in the data may be later')
    else:
        lines.append('# analysis_date = "YYYY-MM-DD"  # default: the latest date in the data')
    lines += [
        'on_bad_rows = "fail"  # or "quarantine": set bad rows aside (with reasons) and go on',
        "",
    ]
    for table, roles in sources.items():
        lines.append(f"# {_COMMENTS.get(table, table)}")
        for note in (notes or {}).get(table, []):
            lines.append(f"# NOTE: {note}")
        lines.append(f"[sources.{table}]")
        for key, value in roles.items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    for stage, settings in (stage_settings or {}).items():
        if not settings:
            continue
        lines.append(f"[{stage}]")
        for key, value in settings.items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


_SETTING_KEYS = ("path", "query", "table", "allow_outside", "scale", "scales", "missing")


def _used_columns(roles: dict[str, Any]) -> set[str]:
    """Every column a table's roles name."""
    used: set[str] = set()
    for key, value in roles.items():
        if key in _SETTING_KEYS:
            continue
        if isinstance(value, str):
            used.add(value)
        elif isinstance(value, list):
            used.update(v for v in value if isinstance(v, str))
    return used


def _why_left_out(c: dict[str, Any], linked: set[str]) -> str:
    """Why init gave column ``c`` no role, in words the user can act on."""
    name = c["name"]
    if c["nulls"] == c["n"]:
        return "empty in every row"
    if _ID.search(name) and name not in linked:
        return "looks like an id but links to no other file"
    if c["type"] == "VARCHAR":
        if (c.get("avg_len") or 0) > 25:
            return "free text (one text column per survey is used)"
        return (
            f"text with ~{c['distinct']:,} distinct values, too many for a descriptor; "
            "add it to descriptors if it describes people"
        )
    if "min" in c:
        span = f"{_whole(c['min'])}..{_whole(c['max'])}" if c["min"] is not None else "no values"
        return (
            f"numeric ({span}) with no recognised role; add it to descriptors if it "
            "describes people, or to basis if it is a need"
        )
    return f"type {c['type']} with no recognised role"


def _note_left_out(g: Guess, linked: set[str]) -> None:
    used = _used_columns(g.roles)
    g.left_out = {c["name"]: _why_left_out(c, linked) for c in g.columns if c["name"] not in used}
    for col, why in g.left_out.items():
        g.notes.append(f"left out {col}: {why}")


def _con_for(*files: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for i, f in enumerate(files):
        con.execute(f"CREATE VIEW f{i} AS SELECT * FROM {_reader(f)}")
    return con


def _row_count(path: Path) -> int:
    con = _con_for(path)
    try:
        return int(con.execute("SELECT count(*) FROM f0").fetchone()[0])
    finally:
        con.close()


def _id_link(survey: Guess, customers: Guess, *, any_name: bool = False) -> tuple[str, str] | None:
    """(survey column, customers column): a unique customers column most survey values are in.

    Candidates are columns with the same name in both files, or an id-like column of each
    (with ``any_name``: any text or whole-number column of ``survey`` against the customers'
    id).
    """
    assert survey.file is not None and customers.file is not None
    s_cols = {c["name"]: c for c in survey.columns}
    c_cols = {c["name"]: c for c in customers.columns}
    keys = ("VARCHAR", "BIGINT", "INTEGER", "HUGEINT")  # ids are text or whole numbers
    pairs = [(n, n) for n in s_cols if n in c_cols and s_cols[n]["type"] in keys]
    pairs += [
        (s, c)
        for s in s_cols
        for c in c_cols
        if s != c
        and (_ID.search(s) or (any_name and c == customers.roles.get("id")))
        and _ID.search(c)
        and s not in survey.roles.get("basis", [])
        and s_cols[s]["type"] in keys
    ]
    con = _con_for(survey.file, customers.file)
    try:
        for s, c in pairs:
            qs, qc = _quote(s), _quote(c)
            n_c, unique_c = con.execute(
                f"SELECT count({qc}), count(DISTINCT {qc}) FROM f1"
            ).fetchone()
            if not n_c or unique_c != n_c:
                continue  # not an id in the customers file
            n_s, found = con.execute(
                f"SELECT count(DISTINCT CAST({qs} AS VARCHAR)), count(DISTINCT CASE WHEN "
                f"CAST({qs} AS VARCHAR) IN (SELECT CAST({qc} AS VARCHAR) FROM f1) "
                f"THEN CAST({qs} AS VARCHAR) END) FROM f0"
            ).fetchone()
            if n_s and found >= 0.5 * n_s:
                return s, c
        return None
    finally:
        con.close()


def _link_to_customers(g: Guess, customers: Guess) -> None:
    """Give a transactions or events guess with no customer id the column holding them."""
    link = _id_link(g, customers, any_name=True)
    if link is None or link[1] != customers.roles["id"]:
        return
    g.roles = {"customer_id": link[0], **g.roles}
    g.notes = [n for n in g.notes if not n.startswith("no customer_id column")]
    g.notes.append(f"linked to {customers.path} by {link[0]} = {link[1]} (customer ids)")


def _row_order_query(survey: Guess, other: Guess) -> str:
    """One SELECT joining two files row by row, failing when their row counts differ."""
    a, b = (
        ("read_parquet" if g.path.lower().endswith((".parquet", ".pq")) else "read_csv")
        + f"({_literal(g.path)})"
        for g in (survey, other)
    )
    message = (
        f"{survey.path} and {other.path} must have the same number of rows: they are "
        "linked by row order"
    )
    return (
        f"SELECT * FROM {a} POSITIONAL JOIN {b} WHERE (SELECT count(*) FROM {a}) = "
        f"(SELECT count(*) FROM {b}) OR error({_literal(message)})"
    )


def _link_survey_customers(survey: Guess, customers: Guess) -> tuple[bool, set[str]]:
    """Link the survey and customers guesses in place; return (merged, linked columns).

    A shared id (same name or matching values) becomes ``customer_id``/``id``. With no id in
    the customers file and the same number of rows, the customers file describes the same
    people row by row: its columns become survey descriptors, read with a POSITIONAL JOIN.
    """
    link = _id_link(survey, customers)
    if link is not None:
        s, c = link
        survey.roles["customer_id"] = s
        customers.roles = {"id": c, **{k: v for k, v in customers.roles.items() if k != "id"}}
        customers.notes = [n for n in customers.notes if not n.startswith("no customer id")]
        for table in (survey, customers):
            for key in ("basis", "behaviours", "descriptors"):
                if key in table.roles:
                    table.roles[key] = [x for x in table.roles[key] if x not in (s, c)]
        survey.notes.append(f"linked to {customers.path} by {s} = {c} (customer ids)")
        return False, {s, c}
    assert survey.file is not None and customers.file is not None
    n_s, n_c = _row_count(survey.file), _row_count(customers.file)
    clash = {c["name"] for c in survey.columns} & {c["name"] for c in customers.columns}
    if "id" in customers.roles or n_s != n_c or clash:
        why = f"{n_s:,} and {n_c:,} rows" if n_s != n_c else f"shared column names {sorted(clash)}"
        survey.notes.append(
            f"no link found to {customers.path} ({why}): set customer_id = the survey column "
            f"holding the customer ids of {customers.path} — check"
        )
        return False, set()
    survey.roles["descriptors"] = list(survey.roles.get("descriptors", [])) + [
        c["name"] for c in customers.columns if (c.get("avg_len") or 0) <= 25
    ]
    survey.notes.append(
        f"{survey.path} and {customers.path} have {n_s:,} rows each and no shared id: "
        f"linked by row order (row 1 of one is row 1 of the other), {customers.path}'s "
        "columns are descriptors — check"
    )
    survey.columns = survey.columns + customers.columns
    return True, set()


def _locate(g: Guess, source: dict[str, Any], notes: list[str]) -> None:
    if Path(g.path).parts[:1] == ("..",) or Path(g.path).is_absolute():
        # the user named this file: keep reading it where it is, and say so
        source["allow_outside"] = True
        if any(n.startswith("this file is outside") for n in notes):
            return
        if "query" in source:
            notes.append(
                "this file is outside the project folder; allow_outside = true lets the "
                "query read it there, and any other file: move both files into the project "
                "folder and drop that line to keep the project to its own folder"
            )
            return
        notes.append(
            "this file is outside the project folder; allow_outside = true lets the "
            "project read it there (or move it into the folder and drop that line)"
        )


def _guess_all(paths: list[Path], out: Path) -> list[Guess]:
    guesses: list[Guess] = []
    seen: set[str] = set()
    for path in paths:
        if not path.exists():
            raise DataError(f"{path}: file not found.", hint="Give paths to CSV or Parquet files.")
        guess = guess_roles(path, out.parent)
        if guess.table in seen:
            first = next(g.path for g in guesses if g.table == guess.table)
            raise DataError(
                f"{guess.path} and {first} both look like the {guess.table} table; a project "
                "has one table of each kind.",
                hint="Pass one file per table (survey, customers, transactions, events, "
                "competitor_ratings), or combine them with a DuckDB query.",
            )
        seen.add(guess.table)
        guesses.append(guess)
    return guesses


#: What a project folder holds that stays out of version control: the web app's key store
#: (key hashes and the session-signing secret, with SQLite's two companion files) and the
#: run folders (outputs, often large, with one row per customer).
GITIGNORE_LINES: tuple[str, ...] = ("keys.sqlite", "keys.sqlite-wal", "keys.sqlite-shm", "runs/")


def write_gitignore(folder: Path) -> list[str]:
    """Add the :data:`GITIGNORE_LINES` that ``folder/.gitignore`` lacks (creating the file);
    return the lines added. Lines already there, and the user's own, are kept as they are."""
    path = folder / ".gitignore"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    present = {line.strip() for line in text.splitlines()}
    added = [line for line in GITIGNORE_LINES if line not in present]
    if added:
        head = "" if not text or text.endswith("\n") else "\n"
        block = "# segmentum: API keys (secrets) and run outputs\n" + "\n".join(added) + "\n"
        path.write_text(text + head + block, encoding="utf-8")
    return added


def init_project(paths: list[Path], out: Path, name: str | None = None) -> tuple[str, list[Guess]]:
    """Guess roles for each data file, link the tables, and return the project file's text.

    The text is not written. Tables are linked by a shared customer id, or, for a survey
    and a file of descriptors with the same number of rows and no id, by row order. Every
    column given no role is named, with the reason, in the guess's ``left_out``.
    """
    guesses = _guess_all(paths, out)
    by_table = {g.table: g for g in guesses}
    merged: Guess | None = None
    linked: set[str] = set()
    if "survey" in by_table and "customers" in by_table:
        joined, linked = _link_survey_customers(by_table["survey"], by_table["customers"])
        merged = by_table["customers"] if joined else None
    customers = by_table.get("customers")
    if customers is not None and "id" in customers.roles and merged is None:
        for g in guesses:
            if g.table in ("transactions", "events") and "customer_id" not in g.roles:
                _link_to_customers(g, customers)
    sources: dict[str, dict[str, Any]] = {}
    notes: dict[str, list[str]] = {}
    for g in guesses:
        if g is merged:
            continue
        _note_left_out(g, linked)
        notes[g.table] = list(g.notes)
        if g.table == "survey" and merged is not None:
            sources["survey"] = {"query": _row_order_query(g, merged)}
            for part in (g, merged):
                _locate(part, sources["survey"], notes["survey"])
        else:
            sources[g.table] = {"path": g.path}
            _locate(g, sources[g.table], notes[g.table])
        sources[g.table].update(g.roles)
    if merged is not None:
        merged.left_out, merged.notes = {}, [f"linked to {by_table['survey'].path} by row order"]
        merged.table = "survey (descriptors, by row order)"
    text = render_project(sources, name=name or out.parent.resolve().name, notes=notes)
    return text, guesses
