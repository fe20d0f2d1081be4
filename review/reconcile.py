"""Consensus from the adjudicator's decisions.

`reconcile` turns the extractions and the decisions (read by review.adjudication's `read_decisions`) into
consensus tables, refusing while a disagreement is undecided or a decision is stale (the value it was made on has
changed since). `write_consensus` writes one CSV per table (a folder that `review validate` and
`read_csv_folder` read like any extraction), the trail of every value and a manifest with the SHA-256 of every
input, byte for byte the same on every run with the same inputs. The discrepancy workbook's writer and reader are
importable from here too.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .adjudication import (
    AGREEMENT,
    FORMAT,
    META,
    README,
    SHEET,
    Decision,
    Decisions,
    _check_reviewers,
    _stale,
    carry_over,
    read_decisions,
    write_discrepancies,
)
from .compare import (
    AGREED,
    ANNOTATIONS,
    DERIVED,
    DISAGREE,
    EQUIVALENT,
    OTHER,
    ROW,
    SINGLE,
    Columns,
    Comparison,
    Entry,
    LinedTable,
    Reviewer,
    Unit,
    compare,
    show,
)

__all__ = [
    "AGREEMENT",
    "FORMAT",
    "META",
    "MANIFEST",
    "README",
    "SHEET",
    "TRAIL",
    "Consensus",
    "ConsensusBlocked",
    "Decision",
    "Decisions",
    "carry_over",
    "read_decisions",
    "reconcile",
    "write_consensus",
    "write_discrepancies",
]
from .csvs import csv_chunks
from .errors import ReviewError
from .extraction import Extraction
from .files import atomic_path
from .forms import Field, Form
from .issues import CODES, ERROR
from .values import parse_value
from .words import counted

DECIDED = "decided"  # the basis of a consensus value an adjudicator chose


ADJUDICATOR = "adjudicator"  # where a value typed in by the adjudicator comes from


_CITES = ("source", "location")  # annotations that say where values were found: cite only the values kept


class ConsensusBlocked(ReviewError):
    """Disagreements are undecided, or decisions were made on values that have changed since (stale)."""

    def __init__(self, path: str, open_units: list[Unit], stale: list[tuple[Unit, str]]):
        self.path, self.open, self.stale = path, open_units, stale
        parts = []
        if open_units:
            parts.append(f"{len(open_units)} undecided ({_listed(open_units)})")
        if stale:
            parts.append(f"{len(stale)} stale ({_listed([u for u, _ in stale], [why for _, why in stale])})")
        carry = (
            (
                " (to carry the valid decisions into a fresh workbook: `review compare ... --decisions "
                f"{Path(path).name} -o NEW.xlsx`)"
            )
            if stale
            else ""
        )
        super().__init__(
            f"{path}: no consensus while disagreements are open: {'; '.join(parts)}. Decide them in "
            f"{path}{carry} and run reconcile again."
        )


def _listed(units: list[Unit], why: list[str] | None = None, limit: int = 12) -> str:
    items = [
        f"{u.id} {u.table} {u.row} {u.field}" + (f": {why[i]}" if why else "")
        for i, u in enumerate(units[:limit])
    ]
    return ", ".join(items) + (f" and {len(units) - limit} more" if len(units) > limit else "")


@dataclass
class Consensus:
    """Consensus tables and the trail of every value in them.

    `tables[name]` has the form's fields as columns; a cell holds the value, "NR"/"NA", or None (empty). The
    `trail` has one row per consensus value: how it was reached (`basis`: agreed, equivalent, derived, single or
    decided), each reviewer's value and where it was found, and the decision, adjudicator, date and reason.
    """

    form: Form
    reviewers: tuple[Reviewer, ...]
    tables: dict[str, pd.DataFrame]
    trail: pd.DataFrame
    decisions: Decisions
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, table: str) -> pd.DataFrame:
        return self.tables[table]

    def counts(self) -> dict[str, int]:
        values = self.trail[self.trail["field"] != ROW]
        return {
            basis: int((values["basis"] == basis).sum())
            for basis in (AGREED, EQUIVALENT, DERIVED, SINGLE, DECIDED)
        }

    def summary(self) -> str:
        counts = ", ".join(f"{n} {b}" for b, n in self.counts().items() if n)
        rows = ", ".join(f"{name} {len(t)}" for name, t in self.tables.items() if len(t))
        return f"{sum(self.counts().values())} values ({counts}); rows: {rows}"

    def __repr__(self) -> str:
        return f"Consensus({', '.join(r.label for r in self.reviewers)}; {self.summary()})"

    def _repr_html_(self) -> str:
        return f"<p><b>Consensus</b>: {html.escape(self.summary())}</p>" + self.trail.head(50).to_html(
            index=False
        )


def reconcile(
    extractions: Sequence[Extraction],
    decisions: Decisions,
    *,
    annotations: Sequence[str] = ANNOTATIONS,
    comparison: Comparison | None = None,
) -> Consensus:
    """Build the consensus of `extractions` from the adjudicator's `decisions`.

    Values the reviewers agree on are taken as agreed (within rounding, the more precise one); each disagreement
    takes the decided reviewer's value or the value typed in. Raises ConsensusBlocked while a disagreement is
    undecided or a decision is stale, and ReviewError when the extractions are not those the decisions were
    made on. Pass the `comparison` of these same extractions (from `compare`) to reuse it instead of comparing
    again: at a thousand studies comparing is most of the work.
    """
    if comparison is None:
        comparison = compare(extractions, annotations=annotations)
    elif len(comparison.extractions) != len(extractions) or any(
        x is not y for x, y in zip(comparison.extractions, extractions, strict=False)
    ):
        raise ReviewError("the comparison given to reconcile was made on other extractions; compare these.")
    elif tuple(comparison.annotations) != tuple(annotations):
        raise ReviewError("the comparison given to reconcile carries other annotations; compare again.")
    _check_reviewers(comparison.reviewers, decisions)
    if decisions.form and decisions.form != comparison.form.name:
        raise ReviewError(
            f"{decisions.path}: decides on form {decisions.form}, the extractions use {comparison.form.name}."
        )
    letters = [r.letter for r in comparison.reviewers]
    chosen: dict[tuple, Decision] = {}
    dropped: set[tuple[str, tuple[str, ...]]] = set()
    open_units, stale = [], []
    for u in sorted(
        comparison.disagreements, key=lambda u: u.field != ROW
    ):  # rows first: they may drop fields
        if u.field != ROW and (u.table, u.key) in dropped:
            continue  # the whole row is dropped, so its values need no decision
        d = decisions.items.get((u.table, u.key, u.field))
        why = _stale(u, d, comparison.reviewers) if d is not None and d.choice else ""
        if d is None or not d.choice:
            open_units.append(u)
        elif why:
            stale.append((u, why))
        else:
            chosen[(u.table, u.key, u.field)] = d
            if u.field == ROW and not u.entries[letters.index(d.choice)].present:
                dropped.add((u.table, u.key))
    if open_units or stale:
        order = {id(u): i for i, u in enumerate(comparison.disagreements)}
        open_units.sort(key=lambda u: order[id(u)])
        raise ConsensusBlocked(str(decisions.path), open_units, stale)
    notes = list(comparison.notes)
    changed = [
        r.letter
        for r, then in zip(comparison.reviewers, decisions.reviewers, strict=False)
        if then.sha256 and r.sha256 != then.sha256
    ]
    if changed:
        notes.append(
            f"{', '.join(changed)} changed since the discrepancies were written; every decision still "
            "matches the values it was made on"
        )
    current = {(u.table, u.key, u.field) for u in comparison.disagreements}
    obsolete = [d for k, d in decisions.items.items() if d.choice and k not in current]
    if obsolete:
        notes.append(
            f"{counted(len(obsolete), 'decision')} concern values the reviewers now agree on and were not needed: "
            + ", ".join(d.id for d in obsolete)
        )
    tables, trail = _build(comparison, chosen, dropped)
    return Consensus(comparison.form, comparison.reviewers, tables, trail, decisions, notes)


def _key_columns(form: Form) -> list[str]:
    return list(dict.fromkeys(k for t in form.tables.values() for k in t.key))


def _trail_columns(form: Form, reviewers: Sequence[Reviewer]) -> list[str]:
    return [
        "table",
        *_key_columns(form),
        "field",
        "value",
        "basis",
        "from",
        "source",
        "location",
        "discrepancy",
        "type",
        "decision",
        "adjudicator",
        "decided_on",
        "reason",
    ] + [f"{r.letter}_{c}" for r in reviewers for c in ("value", "where", "source", "location")]


def _build(comparison: Comparison, chosen: dict[tuple, Decision], dropped: set) -> tuple[dict, pd.DataFrame]:
    """The consensus tables and the trail. Values every reviewer typed alike (most of them) are taken column by
    column; the others value by value."""
    columns = _trail_columns(comparison.form, comparison.reviewers)
    tables: dict[str, pd.DataFrame] = {}
    pieces: dict[str, list] = {c: [] for c in columns}
    sizes: list[int] = []
    order: list[np.ndarray] = []
    for table in comparison.form.tables.values():
        lt = comparison.lined[table.name]
        tables[table.name], trail, table_sizes, table_order = _table_consensus(
            comparison, lt, chosen, dropped
        )
        for c in columns:
            pieces[c] += trail[c]
        order.append(table_order + sum(sizes))
        sizes += table_sizes
    rows = np.concatenate(order) if order else np.empty(0, dtype=np.int64)
    merged = {}
    for c in columns:  # one column at a time, its pieces let go as it is made
        merged[c] = _merged(pieces.pop(c), sizes, rows, coded=not c.endswith("_where"))
    return tables, pd.DataFrame(merged, columns=columns, copy=False)


@dataclass(frozen=True, slots=True)
class _Coded:
    """A piece of a trail column as each row's code into the distinct texts (pandas.factorize's pair)."""

    codes: np.ndarray
    uniques: np.ndarray

    def __getitem__(self, at: np.ndarray) -> _Coded:  # the rows at `at`
        return _Coded(self.codes[at], self.uniques)


def _coded(values: np.ndarray) -> _Coded:
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return _Coded(codes, uniques)


def _merged(pieces: list, sizes: list[int], rows: np.ndarray, coded: bool) -> pd.Categorical | pd.Series:
    """A trail column from its pieces (arrays, _Coded, or one value standing for `size` equal ones), in the
    order of `rows`. A column of text with repeats (all but the cells' places) becomes a Categorical: each
    distinct text held once and a small code per row, instead of an object per row (1.2 million rows at a
    thousand studies); the others (the cells' places, each different) a Series of pandas' default dtype for
    text (pyarrow's compact strings where pandas uses them)."""
    if coded:
        index: dict[str, int] = {}
        codes = []
        for piece, size in zip(pieces, sizes, strict=True):
            if isinstance(piece, np.ndarray):
                piece = _coded(piece)
            if isinstance(piece, _Coded):
                if not _text(piece.uniques):
                    break
                remap = np.array(
                    [index.setdefault(u, len(index)) for u in piece.uniques.tolist()], dtype=np.int64
                )
                codes.append(remap[piece.codes])
            elif type(piece) is str:
                codes.append(np.full(size, index.setdefault(piece, len(index))))
            else:
                break
        else:
            texts = np.array(list(index) + [""], dtype=object)[:-1]
            # categories sorted, as pandas.Categorical sorts them
            ranks = np.empty(len(texts), dtype=np.int64)
            ranks[np.argsort(texts, kind="stable")] = np.arange(len(texts))
            whole = np.concatenate(codes) if codes else np.empty(0, dtype=np.int64)
            small = np.int8 if len(texts) < 2**7 else np.int16 if len(texts) < 2**15 else np.int32
            return pd.Categorical.from_codes(ranks[whole][rows].astype(small), categories=np.sort(texts))
    if not pieces:
        return np.empty(0, dtype=object)
    whole = pd.concat(
        [
            pd.Series(piece.uniques[piece.codes] if isinstance(piece, _Coded) else piece)
            if isinstance(piece, (_Coded, np.ndarray, pd.Series))
            else pd.Series([piece] * size)
            for piece, size in zip(pieces, sizes, strict=True)
        ],
        ignore_index=True,
    )
    return whole.iloc[rows].reset_index(drop=True)


def _text(values: np.ndarray) -> bool:
    return pd.api.types.infer_dtype(values, skipna=False) in ("string", "empty")


def _rank(table, compared: list[str], name: str) -> int:
    """Where a value goes in its row's trail: the row itself, then its key fields, then the others."""
    if name == ROW:
        return -1000
    return -500 + table.key.index(name) if name in table.key else compared.index(name)


def _table_consensus(comparison: Comparison, lt: LinedTable, chosen: dict[tuple, Decision], dropped: set):
    """One consensus table, and its trail as pieces (arrays or single values), their sizes and the order that
    puts the trail's rows in row and field order."""
    form, reviewers, table = comparison.form, comparison.reviewers, lt.table
    letters = [r.letter for r in reviewers]
    columns = _trail_columns(form, reviewers)
    key_columns = _key_columns(form)
    n = len(lt.keys)
    slow_rows = sorted({p for p, _ in lt.slow})
    plain = np.ones(n, dtype=bool)  # rows with every value typed alike (and every reviewer having the row)
    plain[slow_rows] = False
    # -- the consensus table: values typed alike, then the others put in row by row
    key_text = {
        name: np.array([key[k] for key in lt.keys] + [None], dtype=object)[:n]
        for k, name in enumerate(table.key)
    }
    out: dict[str, np.ndarray] = {name: key_text[name].copy() for name in table.key}
    first, at = lt.columns[0], lt.positions[0]
    for f in lt.compared:
        values, codes = first.values[f.name][at], first.codes[f.name][at]
        out[f.name] = np.full(n, None, dtype=object)
        agreed = lt.agreed[f.name]
        out[f.name][agreed] = np.where(codes != "", codes, values)[agreed]
    texts: dict[str, list[np.ndarray]] = {
        name: [c.shown(name)[p] for c, p in zip(lt.columns, lt.positions, strict=True)]
        for name in table.fields
        if name in comparison.annotations and name in first.values
    }
    for name in table.fields:
        if name in comparison.annotations:
            out[name] = _combined_column(texts[name], letters, plain) if name in texts else np.full(n, None)
    compared = [f.name for f in lt.compared]
    logged: list[dict] = []
    logged_at: list[tuple[int, int]] = []
    keep = np.ones(n, dtype=bool)
    for p in slow_rows:
        record, logs = _row_consensus(comparison, lt, p, chosen, dropped, key_columns)
        logged += [row for _, row in logs]
        logged_at += [(p, _rank(table, compared, name)) for name, _ in logs]
        if record is None:
            keep[p] = False
            continue
        for name, value in record.items():
            out[name][p] = value
    frame = pd.DataFrame(
        {name: out[name][keep] for name in table.fields}, columns=list(table.fields), dtype=object
    )
    # -- the trail: the values typed alike field by field, then the others, sorted into row and field order
    pieces: dict[str, list] = {c: [] for c in columns}
    sizes: list[int] = []
    position: list[np.ndarray] = []
    rank: list[np.ndarray] = []
    # the row-wise texts coded once (each distinct text and a code per row), so the trail's columns are
    # made from codes (see _merged)
    provenance = {name: [_coded(t) for t in texts[name]] for name in _CITES if name in texts}
    joined = {name: _coded(_joined_column(texts[name], letters)) for name in provenance}
    keys = {name: _coded(key_text[name]) for name in key_text}
    wheres = [_wheres(c, lt.rows, k) for k, c in enumerate(lt.columns)]
    for order, f in enumerate(lt.compared):
        at_f = np.flatnonzero(lt.agreed[f.name] & keep)
        if not len(at_f):
            continue
        codes = first.codes[f.name][at[at_f]]
        shown = first.shown(f.name)[at[at_f]]
        shown = _coded(np.where(codes != "", codes, shown))
        block: dict[str, object] = {
            "table": table.name,
            **{c: keys[c][at_f] if c in keys else "" for c in key_columns},
            "field": f.name,
            "value": shown,
            "basis": AGREED,
            "from": ", ".join(letters),
            "discrepancy": "",
            "type": "",
            "decision": "",
            "adjudicator": "",
            "decided_on": "",
            "reason": "",
        }
        for cite in _CITES:
            block[cite] = joined[cite][at_f] if cite in joined else ""
        for k, x in enumerate(letters):
            block[f"{x}_value"] = shown
            # each place's text made compact at once (pandas' string dtype: pyarrow's buffers where installed)
            block[f"{x}_where"] = pd.Series(wheres[k](f.name, at_f))
            for cite in _CITES:
                block[f"{x}_{cite}"] = provenance[cite][k][at_f] if cite in provenance else ""
        for c in columns:
            pieces[c].append(block[c])
        sizes.append(len(at_f))
        position.append(at_f)
        rank.append(np.full(len(at_f), order))
    if logged:
        slow = pd.DataFrame(logged, columns=columns, dtype=object).fillna("")
        for c in columns:
            pieces[c].append(slow[c].to_numpy(dtype=object))
        sizes.append(len(logged))
        position.append(np.array([p for p, _ in logged_at], dtype=np.int64))
        rank.append(np.array([r for _, r in logged_at], dtype=np.int64))
    if not sizes:
        return frame, pieces, sizes, np.empty(0, dtype=np.int64)
    return frame, pieces, sizes, np.lexsort((np.concatenate(rank), np.concatenate(position)))


def _wheres(cols: Columns, rows: list[tuple[int | None, ...]], k: int):
    """A function giving where (file:Sheet!A1) each value of a field is, for the rows at some positions."""
    et = cols.source
    numbers = np.array([str(r[k]) for r in rows] + [""], dtype=object)[: len(rows)]

    def where(name: str, at: np.ndarray) -> np.ndarray:
        prefix = f"{et.file}:{et.sheet}!{et.columns.get(name, '')}"
        out = np.add(np.array(prefix, dtype=object), numbers[at])  # str + str for each row, in numpy's loop
        if et.origins:
            for i, p in enumerate(at.tolist()):
                out[i] = et.where(rows[p][k], name)
        return out

    return where


def _combined_column(texts: list[np.ndarray], letters: list[str], rows: np.ndarray) -> np.ndarray:
    """_combined for every row at `rows` (where every reviewer has the row), None elsewhere."""
    out = np.full(len(rows), None, dtype=object)
    same = np.logical_and.reduce([t == texts[0] for t in texts]) & rows
    out[same] = np.where(texts[0][same] == "", None, texts[0][same])
    for p in np.flatnonzero(rows & ~same).tolist():
        out[p] = " | ".join(f"{x}: {t[p]}" for x, t in zip(letters, texts, strict=True) if t[p])
    return out


def _joined_column(texts: list[np.ndarray], letters: list[str]) -> np.ndarray:
    """_joined of every reviewer's text, row by row."""
    out = texts[0].copy()
    same = np.logical_and.reduce([t == texts[0] for t in texts])
    for p in np.flatnonzero(~same).tolist():
        out[p] = _joined([(x, t[p]) for x, t in zip(letters, texts, strict=True)])
    return out


def _row_consensus(
    comparison: Comparison, lt: LinedTable, p: int, chosen: dict[tuple, Decision], dropped: set, key_columns
) -> tuple[dict[str, object] | None, list[tuple[str, dict]]]:
    """The values of one row that not every reviewer typed alike, with their trail rows (by field); None for a
    row the adjudicator dropped. The values typed alike are the caller's."""
    reviewers, table = comparison.reviewers, lt.table
    key, rows = lt.keys[p], lt.rows[p]
    letters = [r.letter for r in reviewers]
    logs: list[tuple[str, dict]] = []

    def log(name, value, basis, u: Unit, d: Decision | None, via: Unit | None = None, taken=()) -> None:
        """One trail row; `via` is the row discrepancy a single reviewer's value was kept by; `taken` the
        letters whose value the consensus holds (empty: the adjudicator's own value)."""
        record = dict.fromkeys(key_columns, "") | dict(zip(table.key, key, strict=False))
        chosen = [e for r, e in zip(reviewers, u.entries, strict=False) if r.letter in taken]
        record = {
            "table": table.name,
            **record,
            "field": name,
            "value": value,
            "basis": basis,
            "from": ", ".join(taken) if taken else (ADJUDICATOR if d else ""),
            "source": _joined([(e_letter, e.source) for e_letter, e in zip(taken, chosen, strict=False)]),
            "location": _joined([(e_letter, e.location) for e_letter, e in zip(taken, chosen, strict=False)]),
            "discrepancy": (via or u).id,
            "type": (via or u).type,
            "decision": d.choice if d else "",
            "adjudicator": d.adjudicator if d else "",
            "decided_on": d.date if d else "",
            "reason": d.reason if d else "",
        }
        for r, e in zip(reviewers, u.entries, strict=False):
            record |= {
                f"{r.letter}_value": e.shown,
                f"{r.letter}_where": e.where,
                f"{r.letter}_source": e.source,
                f"{r.letter}_location": e.location,
            }
        logs.append((name, record))

    row_unit = lt.slow.get((p, ROW))
    row_decision = chosen.get((table.name, key, ROW))
    if row_unit is not None:
        kept = (table.name, key) not in dropped
        log(ROW, "kept" if kept else "dropped", DECIDED, row_unit, row_decision)
        if not kept:
            return None, logs
    record: dict[str, object] = {}
    decided: dict[str, tuple[str, ...]] = {}  # field -> letters whose value an adjudicator took
    for name in table.key:  # a row the reviewers filed under different keys (compare's key, moved)
        u = lt.slow.get((p, name))
        if u is not None and u.status == DISAGREE:
            d = chosen.get((table.name, key, name))
            assert d is not None  # consensus refuses a disagreement without a decision
            record[name] = _decided(u, d, table.fields[name], letters)
            log(name, show(record[name]), DECIDED, u, d, taken=_taken(u, d, letters))
            decided[name] = _taken(u, d, letters)
    for f in lt.compared:
        name = f.name
        u = lt.judged(p, name)
        if u is None:
            continue  # typed alike (the caller's) or by nobody
        d = chosen.get((table.name, key, name))
        if u.status == DISAGREE:
            assert d is not None  # consensus refuses a disagreement without a decision
            value = _decided(u, d, f, letters)
            taken = _taken(u, d, letters)
            decided[name] = taken
            log(name, show(value), DECIDED, u, d, taken=taken)
        else:
            value = _agreed(u, f)
            single = u.status == SINGLE
            backing = tuple(
                r.letter for r, e in zip(reviewers, u.entries, strict=False) if e.present and e.filled
            )
            log(
                name,
                show(value),
                u.status,
                u,
                row_decision if single else None,
                row_unit if single else None,
                taken=backing,
            )
        record[name] = value
    values = [
        {name: c.value(row, name) if row is not None else None for name in table.fields if name in c.values}
        for c, row in zip(lt.columns, rows, strict=True)
    ]
    present = [{0: v} for v in values]  # the shape _cited and _combined read: cells[row][name]
    at = [0 if row is not None else None for row in rows]
    for name in table.fields:
        if name in comparison.annotations:
            cite = name in _CITES and decided
            record[name] = (
                _cited(present, at, name, reviewers, decided)
                if cite
                else _combined(present, at, name, reviewers)
            )
    return record, logs


def _value(e: Entry) -> object:
    return e.code or e.value


def _agreed(u: Unit, f: Field) -> object:
    """The agreed value: when the reviewers agree within rounding or precision, the most precise of them."""
    filled = [e for e in u.entries if e.present and e.filled]
    if not filled:
        return None
    if u.status == EQUIVALENT and f.type in ("number", "percent", "date"):
        return _value(max(filled, key=lambda e: len(show(e.value))))  # first of the longest: stable
    return _value(filled[0])


def _decided(u: Unit, d: Decision, f: Field, letters: list[str]) -> object:
    if d.choice != OTHER:
        return _value(u.entries[letters.index(d.choice)])
    parsed = parse_value(d.other, f)
    if any(CODES[c].severity == ERROR for c in parsed.codes) or parsed.is_empty:
        raise ReviewError(
            f"{d.cell}: Other value {show(d.other)!r} is not a valid {f.type} for {u.table}.{f.name} "
            f"({'; '.join(parsed.codes) or parsed.note}); type it as the field expects, or NR/NA."
        )
    return parsed.missing or parsed.value


def _taken(u: Unit, d: Decision, letters: list[str]) -> tuple[str, ...]:
    """The reviewers whose value a decision took: the chosen one and any who entered the same; none for a value
    the adjudicator typed in (unless a reviewer had exactly that)."""
    if d.choice == OTHER:
        typed = show(d.other).strip().casefold()
        return tuple(x for x, e in zip(letters, u.entries, strict=False) if e.shown.casefold() == typed)
    picked = u.entries[letters.index(d.choice)].shown
    return tuple(x for x, e in zip(letters, u.entries, strict=False) if e.shown == picked)


def _joined(texts: list[tuple[str, str]]) -> str:
    """Annotations of several reviewers: the text when they wrote the same, else each one with its letter."""
    texts = [(x, t) for x, t in texts if t]
    if len({t for _, t in texts}) == 1:
        return texts[0][1]
    return " | ".join(f"{x}: {t}" for x, t in texts)


def _cited(
    values: list[dict[int, dict]],
    rows,
    name: str,
    reviewers: Sequence[Reviewer],
    decided: dict[str, tuple[str, ...]],
) -> str | None:
    """Where the values of a row with decided fields come from: only the reviewers whose value was kept
    everywhere it was disputed; when each lost somewhere, every reviewer's text with the fields taken from it,
    so no consensus value cites a source that states something else (the trail has it value by value)."""
    texts = {
        r.letter: show(cells[row][name])
        for r, cells, row in zip(reviewers, values, rows, strict=False)
        if row is not None
    }
    kept = [x for x in texts if all(x in taken for taken in decided.values())]
    if kept:
        return _joined([(x, texts[x]) for x in kept]) or None
    parts = []
    for x, text in texts.items():
        fields = [f for f, taken in decided.items() if x in taken]
        if fields:
            parts.append(f"{x} for {', '.join(fields)}: {text or '(none given)'}")
    typed = [f for f, taken in decided.items() if not taken]
    if typed:
        parts.append(f"{ADJUDICATOR} for {', '.join(typed)}: see the decision's reason")
    return " | ".join(parts) or None


def _combined(values: list[dict[int, dict]], rows, name: str, reviewers: Sequence[Reviewer]) -> str | None:
    """An annotation (source, location, comment...) of every reviewer who has the row: the text when they all
    wrote the same, else each one's prefixed with the reviewer's letter."""
    texts = [
        (r.letter, show(cells[row][name]))
        for r, cells, row in zip(reviewers, values, rows, strict=False)
        if row is not None
    ]
    if len({t for _, t in texts}) == 1:
        return texts[0][1] or None
    return " | ".join(f"{letter}: {t}" for letter, t in texts if t)


TRAIL, MANIFEST = "trail.csv", "manifest.json"


def write_consensus(consensus: Consensus, folder: str | Path) -> list[Path]:
    """Write one CSV per table, trail.csv and manifest.json to `folder`, each atomically; returns the paths.

    The same inputs and decisions give byte-identical files: rows in the order of the extractions, numbers as
    their shortest exact text, no time stamps but the adjudicators' dates, and the manifest's keys sorted.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ReviewError(f"{folder}: is a file; give a folder for the consensus tables.")
    for r in consensus.reviewers:
        if Path(r.file).resolve() == folder.resolve():
            raise ReviewError(
                f"{folder}: is reviewer {r.letter}'s extraction; write the consensus elsewhere."
            )
    if TRAIL[:-4] in consensus.tables:
        raise ReviewError(f"the form has a table named {TRAIL[:-4]!r}, which would overwrite the trail.")
    frames = {f"{name}.csv": frame for name, frame in consensus.tables.items()} | {TRAIL: consensus.trail}
    written, digests = [], {}
    for name, frame in frames.items():  # streamed: a large trail never sits in memory as text whole
        digest = hashlib.sha256()
        with atomic_path(folder / name) as tmp, open(tmp, "wb") as out:
            for chunk in csv_chunks(frame, show if name != TRAIL or not _all_text(frame) else None):
                digest.update(chunk)
                out.write(chunk)
        written.append(folder / name)
        digests[name] = {"sha256": digest.hexdigest(), "rows": len(frame)}
    manifest = _manifest(consensus, digests)
    with atomic_path(folder / MANIFEST) as tmp:
        tmp.write_bytes(
            (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
        )
    written.append(folder / MANIFEST)
    return written


def _all_text(frame: pd.DataFrame) -> bool:
    """Whether every value is text (as the trail's are: `show` gave them), which `show` writes as it is."""
    return all(
        _text(column.cat.categories)
        if isinstance(column.dtype, pd.CategoricalDtype)
        else not column.hasnans
        if isinstance(column.dtype, pd.StringDtype)
        else _text(column.to_numpy())
        for _, column in frame.items()
    )


def _manifest(consensus: Consensus, files: dict[str, dict]) -> dict:
    d = consensus.decisions
    return {
        "form": {"name": consensus.form.name, "version": consensus.form.version},
        "inputs": [
            {"letter": r.letter, "reviewer": r.name, "file": Path(r.file).name, "sha256": r.sha256}
            for r in consensus.reviewers
        ],
        "decisions": {
            "file": d.path.name,
            "sha256": d.sha256,
            "decided": d.decided,
            "inputs_when_compared": [
                {"letter": r.letter, "file": Path(r.file).name, "sha256": r.sha256} for r in d.reviewers
            ],
        },
        "files": files,
        "values": consensus.counts(),
        "notes": consensus.notes,
    }
