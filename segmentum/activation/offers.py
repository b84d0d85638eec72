"""Next best offer: eligibility, P(accept) from the response history, arbitration, control group.

Pure functions on pandas frames, vectorised with NumPy (2,000,000 customers x 20 offers in
a few seconds, ``benchmarks/bench_activation.py``):

- :func:`read_offers` checks an offers table against the run's segments and stages;
- :func:`acceptance_estimates` gives P(accept) per segment x stage x offer, Beta-smoothed
  towards the offer's overall rate (posterior mean ``(accepted + m p_offer) / (n + m)``
  with prior strength ``m``), with the ``n`` each estimate rests on;
- :func:`control_group` draws the universal control group from a stable hash;
- :func:`next_best_offer` arbitrates in the spirit of Pega's and Unica's engines:
  eligibility, then the highest expected value ``P(accept) x value - cost``, then the
  contact policy (at most N offers per customer per period; an offer refused K times is
  suppressed) and the offers' limits.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from segmentum.activation.settings import ContactPolicy

__all__ = [
    "OFFER_COLUMNS",
    "acceptance_estimates",
    "acceptance_from_counts",
    "contact_history",
    "control_group",
    "hash_uniform",
    "next_best_offer",
    "read_offers",
]

#: columns of the offers frame :func:`read_offers` returns
OFFER_COLUMNS: tuple[str, ...] = (
    "offer_id", "product", "value", "cost", "segments", "stages", "limit",
)  # fmt: skip
_SPLIT = re.compile(r"\s*[;,|]\s*")


_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def _utf8(ids: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ids as UTF-8 bytes: (data, start offsets, lengths), through Arrow (no Python loop)."""
    import pyarrow as pa

    arr = pa.array(pd.Series(ids).astype(str), type=pa.large_string())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[
        arr.offset : arr.offset + len(arr) + 1
    ]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if len(arr) else np.empty(0, np.uint8)
    return data, offsets[:-1], np.diff(offsets)


def positions(values: Any, keys: Any) -> np.ndarray:
    """Where each of ``values`` is in ``keys`` (as strings), -1 where absent: an Arrow hash
    join, several times faster than a pandas string index on millions of ids."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def arrow(x: Any) -> pa.Array:
        return pa.array(pd.Series(x).astype(str), type=pa.string())

    found = pc.index_in(arrow(values), value_set=arrow(keys))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def hash_uniform(ids: pd.Series | np.ndarray | list[Any], seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per id, stable across runs, machines and versions.

    The 64-bit FNV-1a hash of the UTF-8 bytes of ``f"{seed}:{id}"``, finished with the
    SplitMix64 mixer (so neighbouring ids land far apart), top 53 bits over 2**53. Written
    out here, vectorised over ids (one NumPy pass per byte position), so it never changes
    with a library or Python's salted ``hash()``.
    """
    data, start, length = _utf8(ids)
    h = np.full(start.size, _FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for byte in f"{int(seed)}:".encode():
            h = (h ^ np.uint64(byte)) * _FNV_PRIME
        for j in range(int(length.max()) if length.size else 0):
            rows = np.flatnonzero(length > j)
            h[rows] = (h[rows] ^ data[start[rows] + j].astype(np.uint64)) * _FNV_PRIME
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return (h >> np.uint64(11)).astype(np.float64) / 2.0**53


def control_group(
    ids: pd.Series | np.ndarray | list[Any],
    seed: int,
    share: float = 0.05,
    strata: pd.Series | np.ndarray | None = None,
) -> np.ndarray:
    """The universal control group: a boolean per id.

    Each id gets a stable uniform number (:func:`hash_uniform` of the project seed and the
    id); within each stratum (segment) the ``round(share x n)`` ids with the lowest numbers
    are the control group, so every segment holds ``share`` of its people (to one person)
    and the same data and seed give the same people in every run. A growing base moves only
    the people at the margin.
    """
    if not 0 <= share < 1:
        raise ValueError(f"control_share must be in [0, 1), got {share}")
    u = hash_uniform(ids, seed)
    n = u.size
    if strata is None:
        codes = np.zeros(n, dtype=np.int64)
    else:
        codes = pd.factorize(pd.Series(strata).to_numpy(), use_na_sentinel=False)[0]
    order = np.lexsort((u, codes))  # by stratum, then by the hash
    sorted_codes = codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1]
    sizes = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, sizes)
    take = np.repeat(np.rint(share * sizes).astype(np.int64), sizes)
    out = np.zeros(n, dtype=bool)
    out[order] = rank < take
    return out


def _data_error(table: str, label: str, problems: list[tuple[int, str, str, str, str]]) -> None:
    from segmentum.data.errors import DataError, Problem

    found = [
        Problem(table, label, row, col, value, exp, why) for row, col, value, exp, why in problems
    ]
    listed = "\n".join("  " + p.describe() for p in found[:10])
    raise DataError(
        f"{label}: {len(found)} problem(s) in the offers' eligibility:\n{listed}",
        found,
        hint=f"Fix the {table} table, or rename the stages under [activation.stages].",
    )


def _listed(cell: Any) -> list[str] | None:
    """A cell listing segments or stages (``"1;2"``, ``"new, repeat"``): its items, or None
    for an empty cell (all are eligible)."""
    if cell is None or (isinstance(cell, float) and np.isnan(cell)):
        return None
    if isinstance(cell, list | tuple | np.ndarray):
        items = [str(x).strip() for x in cell]
    else:
        text = str(cell).strip()
        if text == "" or text.lower() in ("all", "*"):
            return None
        items = _SPLIT.split(text)
    items = [i for i in items if i]
    return items or None


def read_offers(
    offers: pd.DataFrame,
    *,
    known_segments: list[int],
    known_stages: list[str],
    id_column: str = "offer_id",
    value: str = "value",
    cost: str | None = "cost",
    product: str | None = "product",
    segments: str | None = "segments",
    stages: str | None = "stages",
    limit: str | None = "limit",
    label: str = "offers",
) -> pd.DataFrame:
    """The offers table, checked and normalised (:data:`OFFER_COLUMNS`).

    An eligible segment or stage that does not exist, or a negative cost, raises
    :class:`~segmentum.data.errors.DataError` naming the table, the row (1-based), the
    column and the known values.
    """
    problems: list[tuple[int, str, str, str, str]] = []
    n = len(offers)
    seg_names = {str(s) for s in known_segments}
    out = pd.DataFrame({"offer_id": offers[id_column].astype(str).to_numpy()})
    out["product"] = offers[product].to_numpy() if product and product in offers else None
    out["value"] = pd.to_numeric(offers[value]).astype(float).to_numpy()
    costs = (
        pd.to_numeric(offers[cost]).fillna(0.0).astype(float).to_numpy()
        if cost and cost in offers
        else np.zeros(n)
    )
    for row in np.flatnonzero(costs < 0):
        problems.append(
            (int(row) + 1, str(cost), f"{costs[row]:g}", "a cost >= 0", "negative cost")
        )
    out["cost"] = costs
    for col, known, kind in (
        (segments, seg_names, "segment"),
        (stages, set(known_stages), "stage"),
    ):
        lists: list[tuple[str, ...] | None] = [None] * n
        if col and col in offers:
            for row, cell in enumerate(offers[col].to_numpy()):
                items = _listed(cell)
                if items is None:
                    continue
                if kind == "segment":
                    items = [i.removesuffix(".0") for i in items]
                bad = [i for i in items if i not in known]
                if bad:
                    problems.append(
                        (row + 1, col, ", ".join(bad),
                         f"{kind}s that exist ({', '.join(sorted(known, key=_natural))}), "
                         "or empty for all", f"unknown {kind}")
                    )  # fmt: skip
                lists[row] = tuple(items)
        out["segments" if kind == "segment" else "stages"] = lists
    out["limit"] = (
        pd.to_numeric(offers[limit]).astype(float).to_numpy()
        if limit and limit in offers
        else np.full(n, np.nan)
    )
    if problems:
        _data_error("offers", label, problems)
    return out


def _natural(text: str) -> tuple[int, str]:
    return (int(text), "") if text.isdigit() else (10**9, text)


def acceptance_estimates(
    responses: pd.DataFrame,
    offers: pd.DataFrame,
    cells: pd.DataFrame,
    *,
    prior_strength: float = 20.0,
) -> pd.DataFrame:
    """P(accept) per segment x stage x offer from the response history.

    Parameters
    ----------
    responses : pandas.DataFrame
        One row per offer shown: ``segment``, ``stage`` (of the customer when shown),
        ``offer_id`` and ``accepted`` (bool).
    offers : pandas.DataFrame
        From :func:`read_offers`.
    cells : pandas.DataFrame
        ``segment`` and ``stage`` pairs to estimate (those of the customers to score).
    prior_strength : float
        ``m`` of the Beta prior ``Beta(m p_offer, m (1 - p_offer))``: a cell with ``n``
        responses leans on the offer's overall rate ``p_offer`` with weight ``m / (n + m)``.

    Returns
    -------
    pandas.DataFrame
        ``segment``, ``stage``, ``offer_id``, ``n`` (responses of the cell), ``accepted``,
        ``cell_rate`` (raw), ``offer_n``, ``offer_rate``, ``p_accept`` (smoothed),
        ``prior_strength``. An offer without any history takes the pooled rate of all
        offers (``offer_n`` 0); with no history at all, ``p_accept`` is missing.
    """
    r = responses[["segment", "stage", "offer_id", "accepted"]].copy()
    r["offer_id"] = r["offer_id"].astype(str)
    r["accepted"] = r["accepted"].astype(bool)
    counts = r.groupby(["segment", "stage", "offer_id"], dropna=False)["accepted"].agg(
        ["size", "sum"]
    )
    counts = counts.reset_index().rename(columns={"size": "n", "sum": "accepted"})
    return acceptance_from_counts(counts, offers, cells, prior_strength=prior_strength)


def acceptance_from_counts(
    counts: pd.DataFrame,
    offers: pd.DataFrame,
    cells: pd.DataFrame,
    *,
    prior_strength: float = 20.0,
) -> pd.DataFrame:
    """:func:`acceptance_estimates` from the responses counted per cell.

    ``counts`` holds ``segment``, ``stage``, ``offer_id``, ``n`` (responses) and
    ``accepted`` (how many accepted), one row per cell and offer with responses (a missing
    segment or stage counts towards the offer's and the pooled rate only): what an engine
    aggregates where the response history lives (the estimates read the history only
    through these counts).
    """
    counts = counts.assign(
        offer_id=counts["offer_id"].astype(str),
        n=counts["n"].astype(np.int64),
        accepted=counts["accepted"].astype(np.int64),
    )
    total = int(counts["n"].sum())
    pooled = float(counts["accepted"].sum()) / total if total else np.nan
    by_offer = counts.groupby("offer_id")[["n", "accepted"]].sum()
    grid = cells[["segment", "stage"]].drop_duplicates().merge(offers[["offer_id"]], how="cross")
    grid["offer_id"] = grid["offer_id"].astype(str)
    keyed = counts.dropna(subset=["segment", "stage"])  # the overall rates count them all
    grid = grid.merge(keyed, on=["segment", "stage", "offer_id"], how="left")
    grid["n"] = grid["n"].fillna(0).astype(np.int64)
    grid["accepted"] = grid["accepted"].fillna(0).astype(np.int64)
    grid["offer_n"] = grid["offer_id"].map(by_offer["n"]).fillna(0).astype(np.int64)
    offer_acc = grid["offer_id"].map(by_offer["accepted"]).fillna(0).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        grid["cell_rate"] = np.where(grid["n"] > 0, grid["accepted"] / grid["n"], np.nan)
        grid["offer_rate"] = np.where(grid["offer_n"] > 0, offer_acc / grid["offer_n"], pooled)
    m = float(prior_strength)
    p0 = grid["offer_rate"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        post = (grid["accepted"].to_numpy() + m * p0) / (grid["n"].to_numpy() + m)
    grid["p_accept"] = np.where(grid["n"].to_numpy() + m > 0, post, p0)
    grid["prior_strength"] = m
    cols = ["segment", "stage", "offer_id", "n", "accepted", "cell_rate", "offer_n",
            "offer_rate", "p_accept", "prior_strength"]  # fmt: skip
    return grid[cols]


def contact_history(
    responses: pd.DataFrame,
    analysis_date: Any,
    policy: ContactPolicy,
    customer_ids: pd.Index,
    offer_ids: pd.Index,
) -> tuple[np.ndarray, np.ndarray]:
    """What the contact policy reads from the response history, by row of the customers.

    Parameters
    ----------
    responses : pandas.DataFrame
        ``customer_id``, ``timestamp``, ``offer_id``, ``accepted``.
    customer_ids, offer_ids : pandas.Index
        The customers and offers being arbitrated (rows and columns of the result).

    Returns
    -------
    shown_in_period : numpy.ndarray of int
        Offers shown to each customer in the last ``policy.period_days``.
    refused : numpy.ndarray of shape (m, 2)
        (customer row, offer column) pairs refused at least
        ``policy.suppress_after_refusals`` times in the last ``policy.refusal_window_days``.
    """
    today = pd.Timestamp(analysis_date)
    ci = positions(responses["customer_id"], customer_ids)
    oi = positions(responses["offer_id"], offer_ids)
    ts = pd.to_datetime(responses["timestamp"]).to_numpy()
    start = np.datetime64(today - pd.Timedelta(days=policy.period_days))
    recent = (ci >= 0) & (ts > start) & (ts <= np.datetime64(today))
    shown = np.bincount(ci[recent], minlength=len(customer_ids))
    no = (ci >= 0) & (oi >= 0) & ~responses["accepted"].to_numpy(dtype=bool)
    if policy.refusal_window_days is not None:
        no &= ts > np.datetime64(today - pd.Timedelta(days=policy.refusal_window_days))
    keys, counts = np.unique(ci[no].astype(np.int64) * len(offer_ids) + oi[no], return_counts=True)
    keys = keys[counts >= policy.suppress_after_refusals]
    refused = np.column_stack([keys // len(offer_ids), keys % len(offer_ids)]).astype(np.int64)
    return shown, refused


def _ev_matrix(
    offers: pd.DataFrame, acceptance: pd.DataFrame, segs: pd.Index, stages: pd.Index
) -> tuple[np.ndarray, np.ndarray]:
    """Expected value and P(accept) per (segment x stage) cell x offer; -inf where ineligible."""
    n_cells, n_off = len(segs) * len(stages), len(offers)
    p = np.full((n_cells, n_off), np.nan)
    a = acceptance
    si = segs.get_indexer(a["segment"])
    ti = stages.get_indexer(a["stage"])
    oi = pd.Index(offers["offer_id"]).get_indexer(a["offer_id"])
    ok = (si >= 0) & (ti >= 0) & (oi >= 0)
    p[si[ok] * len(stages) + ti[ok], oi[ok]] = a["p_accept"].to_numpy(dtype=float)[ok]
    ev = p * offers["value"].to_numpy(dtype=float) - offers["cost"].to_numpy(dtype=float)
    seg_names = np.array([str(s) for s in segs], dtype=object)
    for j, (sl, tl) in enumerate(zip(offers["segments"], offers["stages"], strict=True)):
        allowed = np.ones((len(segs), len(stages)), dtype=bool)
        if sl is not None:
            allowed &= np.isin(seg_names, list(sl))[:, None]
        if tl is not None:
            allowed &= np.isin(stages.to_numpy(dtype=object), list(tl))[None, :]
        ev[~allowed.ravel(), j] = -np.inf
    ev[np.isnan(ev)] = -np.inf
    return ev, p


def _best(rows: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Best offer index per row (-1 when none beats ``floor``) and its expected value."""
    if rows.shape[1] == 0:
        return np.full(rows.shape[0], -1), np.full(rows.shape[0], np.nan)
    j = np.argmax(rows, axis=1)
    v = rows[np.arange(rows.shape[0]), j]
    none = ~(v > floor)
    return np.where(none, -1, j), np.where(none, np.nan, v)


def next_best_offer(
    customers: pd.DataFrame,
    offers: pd.DataFrame,
    acceptance: pd.DataFrame,
    *,
    control: np.ndarray | None = None,
    responses: pd.DataFrame | None = None,
    analysis_date: Any = None,
    policy: ContactPolicy | None = None,
    min_expected_value: float = 0.0,
    tie_break: np.ndarray | None = None,
    clv_uplift: np.ndarray | None = None,
) -> pd.DataFrame:
    """The next best offer of every customer.

    Eligibility (the offer's segments and stages; not refused ``K`` times), then the highest
    expected value ``P(accept) x (value + CLV uplift) - cost`` above ``min_expected_value``
    (the uplift only where ``clv_uplift`` gives one), then the
    contact policy (nobody in the control group; nobody shown ``max_offers_per_period``
    offers in the last period) and the offers' limits (the customers with the highest
    expected value keep a limited offer, ties broken by ``tie_break``; the others get their
    next best).

    Parameters
    ----------
    customers : pandas.DataFrame
        ``customer_id``, ``segment``, ``stage``.
    offers, acceptance : pandas.DataFrame
        From :func:`read_offers` and :func:`acceptance_estimates`.
    control : array of bool, optional
        The control group (:func:`control_group`), aligned with ``customers``.
    responses : pandas.DataFrame, optional
        The response history (``customer_id``, ``timestamp``, ``offer_id``, ``accepted``)
        the contact policy reads, as of ``analysis_date`` (:func:`contact_history`).
    clv_uplift : array of shape (n customers, n offers), optional
        Each customer's CLV with the offer taken minus without it (0 where the offer moves
        nothing); from :func:`~segmentum.activation.uplift.offer_clv_uplift`. Without it the
        expected value is the cell's, the same for everyone in a segment x stage.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``next_best_offer`` (offer id or None), ``offer_expected_value``
        (NaN without an offer), ``offer_p_accept``, ``offer_clv_uplift`` (of the chosen offer;
        NaN without an offer or an uplift) and ``no_offer_reason`` (``control``,
        ``contact limit``, ``no eligible offer with positive value`` or None).
    """
    policy = policy or ContactPolicy()
    n = len(customers)
    segs = pd.Index(pd.unique(customers["segment"]))
    stages = pd.Index(pd.unique(customers["stage"]))
    ev_cells, p_cells = _ev_matrix(offers, acceptance, segs, stages)
    cell = segs.get_indexer(customers["segment"]) * len(stages) + stages.get_indexer(
        customers["stage"]
    )
    uplift = None if clv_uplift is None else np.asarray(clv_uplift, dtype=float)
    choice, ev, ev_of = _first_choice(ev_cells, p_cells, cell, uplift, min_expected_value)
    ids = customers["customer_id"].astype(str)
    bans = np.empty((0, 2), dtype=np.int64)  # (customer row, offer column)
    shown = np.zeros(n, dtype=np.int64)
    if responses is not None and len(responses) and len(offers):
        if analysis_date is None:
            raise ValueError("next_best_offer: give analysis_date with the responses")
        shown, bans = contact_history(
            responses, analysis_date, policy, pd.Index(ids), pd.Index(offers["offer_id"])
        )
    blocked = np.zeros(n, dtype=bool) if control is None else np.asarray(control, dtype=bool)
    capped = shown >= policy.max_offers_per_period
    active = ~(blocked | capped)

    state = {"bans": bans}

    def rechoose(rows: np.ndarray, new_bans: np.ndarray | None = None) -> None:
        """Choose again for ``rows`` with every ban so far (and ``new_bans``)."""
        if new_bans is not None:
            state["bans"] = np.concatenate([state["bans"], new_bans])
        b = state["bans"]
        m = ev_of(rows)
        hit = np.isin(b[:, 0], rows)
        m[pd.Index(rows).get_indexer(b[hit, 0]), b[hit, 1]] = -np.inf
        choice[rows], ev[rows] = _best(m, min_expected_value)

    if len(bans):
        rechoose(np.unique(bans[:, 0]))
    _apply_limits(offers, choice, ev, active, tie_break, rechoose)
    reason = np.where(
        blocked,
        "control",
        np.where(capped, "contact limit", np.where(choice < 0, "no offer", None)),
    )
    given = active & (choice >= 0)
    offer_ids = np.append(offers["offer_id"].to_numpy(dtype=object), None)
    safe = np.maximum(choice, 0)
    p_row = p_cells[cell, safe] if len(offers) else np.full(n, np.nan)
    return pd.DataFrame(
        {
            "customer_id": ids.to_numpy(),
            "next_best_offer": offer_ids[np.where(given, choice, len(offers))],
            "offer_expected_value": np.where(given, ev, np.nan),
            "offer_p_accept": np.where(given, p_row, np.nan),
            "offer_clv_uplift": (
                np.where(given, uplift[np.arange(n), safe], np.nan)
                if uplift is not None and len(offers)
                else np.full(n, np.nan)
            ),
            "no_offer_reason": np.where(
                reason == "no offer", "no eligible offer with positive value", reason
            ),
        }
    )


def _first_choice(
    ev_cells: np.ndarray,
    p_cells: np.ndarray,
    cell: np.ndarray,
    uplift: np.ndarray | None,
    floor: float,
) -> tuple[np.ndarray, np.ndarray, Any]:
    """Best offer and expected value per customer before the contact policy, and the
    function giving the expected value per offer of any rows (for choosing again).

    Without an uplift every customer takes their cell's best; with one, the expected value is
    the cell's plus ``P(accept) x uplift`` per customer (in chunks: bounded memory).
    """
    n = cell.size
    if uplift is not None and uplift.shape != (n, ev_cells.shape[1]):
        raise ValueError(
            f"next_best_offer: clv_uplift has shape {uplift.shape}, expected "
            f"{(n, ev_cells.shape[1])} (customers x offers)"
        )

    def ev_of(rows: np.ndarray) -> np.ndarray:
        """Expected value per offer of ``rows``: the cell's, plus P(accept) x uplift."""
        m = ev_cells[cell[rows]]
        if uplift is None:
            return m.copy()
        gain = np.nan_to_num(p_cells[cell[rows]]) * uplift[rows]
        return np.where(np.isfinite(m), m + gain, m)

    if uplift is None:
        cell_best, cell_ev = _best(ev_cells, floor)
        return cell_best[cell], cell_ev[cell], ev_of
    choice, ev = np.full(n, -1), np.full(n, np.nan)
    for lo in range(0, n, 200_000):
        rows = np.arange(lo, min(n, lo + 200_000))
        choice[rows], ev[rows] = _best(ev_of(rows), floor)
    return choice, ev, ev_of


def _apply_limits(
    offers: pd.DataFrame,
    choice: np.ndarray,
    ev: np.ndarray,
    active: np.ndarray,
    tie_break: np.ndarray | None,
    rechoose: Any,
) -> None:
    """Offers with a limit go to the customers with the highest expected value; the rest
    fall back to their next best offer (repeated until no limit is exceeded)."""
    limits = offers["limit"].to_numpy(dtype=float)
    if not np.isfinite(limits).any():
        return
    u = tie_break if tie_break is not None else np.arange(choice.size) / max(choice.size, 1)
    for _ in range(len(offers)):
        dropped: list[np.ndarray] = []
        for j in np.flatnonzero(np.isfinite(limits)):
            rows = np.flatnonzero(active & (choice == j))
            cap = int(limits[j])
            if rows.size <= cap:
                continue
            order = np.lexsort((u[rows], -ev[rows]))
            drop = rows[order[cap:]]
            dropped.append(np.column_stack([drop, np.full(drop.size, j)]))
        if not dropped:
            return
        new = np.concatenate(dropped).astype(np.int64)
        rechoose(np.unique(new[:, 0]), new)
