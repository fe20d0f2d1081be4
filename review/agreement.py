"""Agreement between reviewer pairs: percent agreement, the share of numbers typed exactly alike, and
Cohen's kappa with its confidence interval, per field, table and overall."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.stats import norm

from .forms import Field, Form
from .units import ROW, Reviewer, Unit, show

if TYPE_CHECKING:
    from .lineup import LinedTable


def cohen_kappa(
    first: Sequence[object], second: Sequence[object], level: float = 0.95
) -> tuple[float, float, float]:
    """Cohen's kappa of two raters' labels, with its confidence interval: (kappa, low, high).

    The standard error is the large-sample one of Fleiss, Cohen & Everitt (1969), which holds for any kappa
    (not only kappa = 0); the interval is kappa +/- z * SE, clipped to [-1, 1]. NaN when kappa is undefined
    (no pairs, or both raters gave one and the same label throughout). Written with numpy rather than adding
    scikit-learn, which has no confidence interval anyway.
    """
    if len(first) == 0 or len(first) != len(second):
        return math.nan, math.nan, math.nan
    return _kappa(Counter(zip(map(str, first), map(str, second), strict=True)), level)


def _kappa(pairs: Counter[tuple[str, str]], level: float = 0.95) -> tuple[float, float, float]:
    """cohen_kappa from the counts of each (first, second) pair of labels."""
    n = sum(pairs.values())
    if n == 0:
        return math.nan, math.nan, math.nan
    labels = sorted({a for a, _ in pairs} | {b for _, b in pairs})
    index = {c: i for i, c in enumerate(labels)}
    p = np.zeros((len(labels), len(labels)))
    for (a, b), count in pairs.items():
        p[index[a], index[b]] = count
    p /= n
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    observed, expected = np.trace(p), float(rows @ cols)
    if expected >= 1.0:
        return math.nan, math.nan, math.nan
    kappa = (observed - expected) / (1.0 - expected)
    diagonal = (np.diag(p) * (1.0 - (rows + cols) * (1.0 - kappa)) ** 2).sum()
    off = p * (cols[:, None] + rows[None, :]) ** 2  # p_ij (p_.i + p_j.)^2
    off_diagonal = (1.0 - kappa) ** 2 * (off.sum() - np.trace(off))
    variance = (diagonal + off_diagonal - (kappa - expected * (1.0 - kappa)) ** 2) / (
        n * (1.0 - expected) ** 2
    )
    half = norm.ppf(0.5 + level / 2.0) * math.sqrt(max(variance, 0.0))
    return float(kappa), max(-1.0, float(kappa - half)), min(1.0, float(kappa + half))


@dataclass
class _Tally:
    units: int = 0
    agreed: int = 0
    numeric: int = 0
    exact: int = 0
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)  # categorical label pairs, for kappa

    def add(self, other: _Tally) -> None:
        self.units += other.units
        self.agreed += other.agreed
        self.numeric += other.numeric
        self.exact += other.exact
        self.pairs.update(other.pairs)


AGREEMENT_COLUMNS = [
    "pair",
    "reviewer_1",
    "reviewer_2",
    "table",
    "field",
    "field_type",
    "units",
    "agreed",
    "agreement",
    "numeric_units",
    "numeric_exact",
    "kappa",
    "kappa_low",
    "kappa_high",
    "kappa_units",
]


def _agreement(form: Form, reviewers: tuple[Reviewer, ...], lined: dict[str, LinedTable]) -> pd.DataFrame:
    """Per reviewer pair: each field's, each table's and the overall agreement.

    A unit is a value either reviewer of the pair entered (a missing code counts; both empty does not). It
    agrees as in `compare`. `numeric_exact` is the share of values both gave as numbers that are exactly equal.
    Kappa is computed for category and TRUE/FALSE fields over the values both entered (NR and NA are
    categories too), per field and pooled per table and overall with each label qualified by its field.
    """
    by_table: dict[str, dict[str, list[Unit]]] = {}
    alike: dict[str, dict[str, _Tally]] = {}  # the values every reviewer typed alike: the same for every pair
    alone: dict[str, dict[str, np.ndarray]] = {}  # the values of rows only one reviewer has, by field
    for table in form.tables.values():
        lt = lined[table.name]
        members = by_table.setdefault(table.name, {})
        for u in lt.slow.values():
            if u.field != ROW:
                members.setdefault(u.field, []).append(u)
        alike[table.name] = {f.name: _alike(f, lt) for f in lt.compared if lt.agreed[f.name].any()}
        alone[table.name] = {name: mask for name, mask in lt.single.items() if mask.any()}
    rows = []
    for (i, r1), (j, r2) in itertools.combinations(enumerate(reviewers), 2):
        pair = {"pair": f"{r1.letter}-{r2.letter}", "reviewer_1": r1.name, "reviewer_2": r2.name}
        overall = _Tally()
        for table in form.tables.values():
            whole = _Tally()
            members_of, same, single = by_table[table.name], alike[table.name], alone[table.name]
            lt = lined[table.name]
            has = lt.positions[i] >= 0, lt.positions[j] >= 0
            for name in (
                n for n in table.fields if n in members_of or n in same or n in single
            ):  # form order
                f = table.fields[name]
                tally = _tally(f, members_of.get(name, []), i, j)
                if name in same:
                    tally.add(same[name])
                if name in single:  # a value one of the pair gave on a row the other lacks: a unit not agreed
                    tally.units += int((single[name] & (has[0] | has[1])).sum())
                if not tally.units:
                    continue
                rows.append(
                    pair | {"table": table.name, "field": name, "field_type": f.type} | _figures(tally)
                )
                whole.add(_qualified(tally, name))
            if whole.units:
                rows.append(pair | {"table": table.name, "field": "", "field_type": ""} | _figures(whole))
                overall.add(_qualified(whole, table.name))
        rows.append(pair | {"table": "", "field": "", "field_type": ""} | _figures(overall))
    frame = pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
    return frame.astype(
        {"units": "int64", "agreed": "int64", "numeric_units": "int64", "kappa_units": "int64"}
    )


def _alike(f: Field, lt: LinedTable) -> _Tally:
    """The tally of the values of `f` every reviewer typed alike (counted from the first reviewer's)."""
    at = lt.positions[0][lt.agreed[f.name]]
    cols = lt.columns[0]
    tally = _Tally(len(at), len(at))
    if f.numeric:
        tally.numeric = tally.exact = int(cols.notna[f.name][at].sum())
    if f.type in ("category", "boolean"):
        values, codes = cols.values[f.name][at].tolist(), cols.codes[f.name][at].tolist()
        labels = Counter(code or show(v) for v, code in zip(values, codes, strict=True))
        tally.pairs = Counter({(label, label): n for label, n in labels.items()})
    return tally


def _tally(f: Field, members: list[Unit], i: int, j: int) -> _Tally:
    tally = _Tally()
    for u in members:
        a, b = u.entries[i], u.entries[j]
        if not (a.filled or b.filled):
            continue
        tally.units += 1
        tally.agreed += (i, j) in u.agreeing
        if f.numeric and a.value is not None and b.value is not None:
            tally.numeric += 1
            tally.exact += float(a.value) == float(b.value)
        if f.type in ("category", "boolean") and a.filled and b.filled:
            tally.pairs[(a.shown, b.shown)] += 1
    return tally


def _qualified(tally: _Tally, prefix: str) -> _Tally:
    """The same tally with its kappa labels prefixed, so pooled labels of different fields stay apart."""
    pairs = Counter({(f"{prefix}={a}", f"{prefix}={b}"): n for (a, b), n in tally.pairs.items()})
    return _Tally(tally.units, tally.agreed, tally.numeric, tally.exact, pairs)


def _figures(t: _Tally) -> dict[str, object]:
    kappa, low, high = _kappa(t.pairs) if t.pairs else (math.nan,) * 3
    return {
        "units": t.units,
        "agreed": t.agreed,
        "agreement": 100.0 * t.agreed / t.units if t.units else math.nan,
        "numeric_units": t.numeric,
        "numeric_exact": 100.0 * t.exact / t.numeric if t.numeric else math.nan,
        "kappa": kappa,
        "kappa_low": low,
        "kappa_high": high,
        "kappa_units": sum(t.pairs.values()),
    }
