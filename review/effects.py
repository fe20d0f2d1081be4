"""Effect sizes for meta-analysis: the one place for the formulas.

Every formula, default and continuity correction is that of R's metafor 3.8 `escalc()` (vtype "LS"), so that a
study's `yi, vi` here equal metafor's to rounding. Input columns use the project's names:

- two-arm counts:   `events_e, n_e, events_c, n_c`        (metafor's ai, n1i, ci, n2i)
- one-arm counts:   `events, n`                            (metafor's xi, ni)
- continuous:       `mean_e, sd_e, n_e, mean_c, sd_c, n_c` (metafor's m1i, sd1i, n1i, m2i, sd2i, n2i)
- generic:          `yi` and `vi` (or `sei`), already on the analysis scale (for instance a log hazard ratio).

A count-based measure given only `yi, vi` takes them as they are (say, adjusted log odds ratios).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, gammaln

from .errors import ReviewError

TWO_ARM = ("events_e", "n_e", "events_c", "n_c")
ONE_ARM = ("events", "n")
CONTINUOUS = ("mean_e", "sd_e", "n_e", "mean_c", "sd_c", "n_c")
GENERIC = ("yi", "vi")

CORRECTIONS = ("only0", "all", "if0all", "none")


@dataclass(frozen=True)
class Measure:
    """An outcome measure: its input columns, how it returns to the natural scale, and its null value."""

    code: str
    label: str
    columns: tuple[str, ...]  # the raw-data columns; () for a measure given only as yi, vi
    natural: str  # back-transformation: "exp", "ilogit", "iarcsin", "ipft" or "identity"
    null: float | None  # no-effect value on the natural scale (None for a single-group proportion)


MEASURES = {
    m.code: m
    for m in (
        Measure("OR", "odds ratio", TWO_ARM, "exp", 1.0),
        Measure("RR", "risk ratio", TWO_ARM, "exp", 1.0),
        Measure("RD", "risk difference", TWO_ARM, "identity", 0.0),
        Measure("PETO", "Peto odds ratio", TWO_ARM, "exp", 1.0),
        Measure("PLO", "proportion", ONE_ARM, "ilogit", None),
        Measure("PR", "proportion", ONE_ARM, "identity", None),
        Measure("PAS", "proportion", ONE_ARM, "iarcsin", None),
        Measure("PFT", "proportion", ONE_ARM, "ipft", None),
        Measure("MD", "mean difference", CONTINUOUS, "identity", 0.0),
        Measure("SMD", "standardised mean difference (Hedges' g)", CONTINUOUS, "identity", 0.0),
        Measure("HR", "hazard ratio", (), "exp", 1.0),
        Measure("GEN", "effect", (), "identity", None),
    )
}


_PANDAS_3 = int(pd.__version__.split(".")[0]) >= 3


def _copy_on_write() -> bool:
    """pandas 3 always copies on write; pandas 2 when asked, which a user may change at any time (a shallow copy
    without it would share writable arrays)."""
    return _PANDAS_3 or pd.get_option("mode.copy_on_write") is True


def measure_info(measure: str) -> Measure:
    """The `Measure` for a metafor code such as "OR"; a one-line ReviewError for an unknown one."""
    code = str(measure).upper()
    if code not in MEASURES:
        raise ReviewError(f"unknown measure {measure!r}: use one of {', '.join(MEASURES)}.")
    return MEASURES[code]


def default_add(measure: str) -> float:
    """metafor's default continuity correction: 1/2, except 0 for PAS and PFT, which need none."""
    return 0.0 if measure_info(measure).code in ("PAS", "PFT") else 0.5


def input_kind(data: pd.DataFrame, measure: str) -> str:
    """Which columns a measure is computed from in `data`: "raw" (counts or means) or "generic" (yi, vi)."""
    info = measure_info(measure)
    if info.columns and all(c in data.columns for c in info.columns):
        return "raw"
    if "yi" in data.columns and ("vi" in data.columns or "sei" in data.columns):
        return "generic"
    needed = ", ".join(info.columns) + " (or yi, vi)" if info.columns else "yi, vi (or yi, sei)"
    missing = [c for c in (info.columns or GENERIC) if c not in data.columns]
    raise ReviewError(
        f"measure {info.code} needs columns {needed}; missing {', '.join(missing)}. "
        "Rename the columns in the input or choose another measure."
    )


def effect_sizes(
    data: pd.DataFrame,
    measure: str,
    add: float | None = None,
    to: str = "only0",
    drop00: bool = False,
    by: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return a copy of `data` with each study's effect size `yi` and sampling variance `vi` (as escalc).

    `add` is added to the cells of the studies that `to` selects: "only0" (a study with a zero cell, metafor's
    default), "all", "if0all" (every study of an analysis in which any study has a zero cell; analyses are
    the groups of `by`) or "none". `add=None` is metafor's default (1/2; 0 for PAS and PFT). With `drop00`,
    two-arm studies without events (or without non-events) in both arms get `yi = vi = NaN`.
    Two boolean columns record what was done: `corrected` and, for two-arm counts, `double_zero`.
    """
    info = measure_info(measure)
    add = default_add(info.code) if add is None else float(add)
    if not np.isfinite(add) or add < 0:
        raise ReviewError(f"add={add} is not a valid continuity correction; use a number >= 0 such as 0.5.")
    if to not in CORRECTIONS:
        raise ReviewError(
            f"to={to!r} is not a continuity-correction rule; use one of {', '.join(CORRECTIONS)}."
        )
    if input_kind(data, info.code) == "generic":
        yi = _numbers(data, "yi")
        vi = _numbers(data, "vi") if "vi" in data.columns else _numbers(data, "sei") ** 2
        _require(data, ~(vi > 0), "vi (or sei) must be > 0", "check the variance or standard error")
        # columns already float keep their arrays: under copy-on-write the copy shares them until either frame
        # changes them (copying them was a tenth of pooling 10,000 analyses given as yi and vi)
        out = data.copy(deep=not _copy_on_write())
        for column, values in (("yi", yi), ("vi", vi)):
            if column not in data.columns or data[column].dtype != np.float64:
                out[column] = values
        out["corrected"] = np.zeros(len(data), dtype=bool)
        return out

    out = data.copy()

    groups = group_codes(data, by) if to == "if0all" else None
    if info.columns == TWO_ARM:
        yi, vi, corrected, double_zero = _two_arm(data, info.code, add, to, drop00, groups)
        out["double_zero"] = double_zero
    elif info.columns == ONE_ARM:
        yi, vi, corrected = _one_arm(data, info.code, add, to, groups)
    else:
        yi, vi = _continuous(data, info.code)
        corrected = np.zeros(len(data), dtype=bool)
    out["yi"], out["vi"], out["corrected"] = yi, vi, corrected
    return out


def to_natural(measure: str, x: np.ndarray, n_harmonic: np.ndarray | float | None = None) -> np.ndarray:
    """Back-transform values on the analysis scale to the natural scale (metafor's transf.* functions).

    PFT needs the harmonic mean of the sample sizes (as metafor's `transf.ipft.hm`), per value or for all.
    """
    x = np.asarray(x, dtype=float)
    kind = measure_info(measure).natural
    if kind == "exp":
        return np.exp(x)
    if kind == "ilogit":
        return expit(x)
    if kind == "iarcsin":
        z = np.sin(x) ** 2
        return np.where(x < 0, 0.0, np.where(x > np.arcsin(1.0), 1.0, z))
    if kind == "ipft":
        return _ipft(x, np.asarray(n_harmonic, dtype=float))
    return x


# --- formulas (metafor 3.8 escalc, vtype "LS") -------------------------------------------------------------


def no_contrast(events_e, n_e, events_c, n_c):
    """Two-arm counts with no events in either arm, or events in every patient of both: what metafor's drop00
    drops (arrays or Series; NaN compares False)."""
    return ((events_e == 0) & (events_c == 0)) | ((events_e == n_e) & (events_c == n_c))


def _two_arm(data, code, add, to, drop00, groups):
    ai, n1 = _numbers(data, "events_e"), _numbers(data, "n_e")
    ci, n2 = _numbers(data, "events_c"), _numbers(data, "n_c")
    _check_counts(data, ai, n1, "events_e", "n_e")
    _check_counts(data, ci, n2, "events_c", "n_c")
    bi, di = n1 - ai, n2 - ci
    double_zero = no_contrast(ai, n1, ci, n2)
    dropped = double_zero & drop00
    zero = (ai == 0) | (bi == 0) | (ci == 0) | (di == 0)
    corrected = _correct(zero, to, groups) & ~dropped & (add > 0)
    a, b, c, d = (x + add * corrected for x in (ai, bi, ci, di))
    n1, n2 = a + b, c + d
    p1, p2 = a / n1, c / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        if code == "OR":
            yi = np.log(p1 / (1 - p1)) - np.log(p2 / (1 - p2))
            vi = 1 / a + 1 / b + 1 / c + 1 / d
        elif code == "RR":
            yi = np.log(p1) - np.log(p2)
            vi = 1 / a - 1 / n1 + 1 / c - 1 / n2
        elif code == "RD":
            yi = p1 - p2
            vi = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
        else:  # PETO: (O - E) / V from the hypergeometric mean and variance
            events, non_events, total = a + c, b + d, n1 + n2
            expected = events * n1 / total
            variance = events * non_events * (n1 / total) * (n2 / total) / (total - 1)
            yi = (a - expected) / variance
            vi = 1 / variance
    yi, vi = np.where(dropped, np.nan, yi), np.where(dropped, np.nan, vi)
    return yi, vi, corrected, double_zero


def _one_arm(data, code, add, to, groups):
    xi, ni = _numbers(data, "events"), _numbers(data, "n")
    _check_counts(data, xi, ni, "events", "n")
    mi = ni - xi
    corrected = _correct((xi == 0) | (mi == 0), to, groups) & (add > 0)
    x, m = xi + add * corrected, mi + add * corrected
    n = x + m
    p = x / n
    with np.errstate(divide="ignore", invalid="ignore"):
        if code == "PR":
            return p, p * (1 - p) / n, corrected
        if code == "PLO":
            return np.log(p / (1 - p)), 1 / x + 1 / m, corrected
        if code == "PAS":
            return np.arcsin(np.sqrt(p)), 1 / (4 * n), corrected
        yi = 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))
        return yi, 1 / (4 * n + 2), corrected


def _continuous(data, code):
    m1, s1, n1 = (_numbers(data, c) for c in ("mean_e", "sd_e", "n_e"))
    m2, s2, n2 = (_numbers(data, c) for c in ("mean_c", "sd_c", "n_c"))
    for col, sd in (("sd_e", s1), ("sd_c", s2)):
        _require(data, sd < 0, f"{col} is negative", "a standard deviation must be >= 0")
    for col, n in (("n_e", n1), ("n_c", n2)):
        _require(data, n <= 0, f"{col} is not positive", "a group size must be > 0")
    if code == "MD":
        return m1 - m2, s1**2 / n1 + s2**2 / n2
    # SMD: Hedges' g, exact small-sample correction c(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2))
    df = n1 + n2 - 2
    _require(data, df <= 1, "n_e + n_c is below 4", "Hedges' g needs at least 4 participants in all")
    sd_pooled = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / df)
    _require(data, sd_pooled == 0, "both SDs are 0", "an SMD needs a positive pooled SD")
    correction = np.exp(gammaln(df / 2) - np.log(np.sqrt(df / 2)) - gammaln((df - 1) / 2))
    yi = correction * (m1 - m2) / sd_pooled
    return yi, 1 / n1 + 1 / n2 + yi**2 / (2 * (n1 + n2))


def _correct(zero: np.ndarray, to: str, groups: np.ndarray | None) -> np.ndarray:
    """Which studies receive the continuity correction."""
    if to == "all":
        return np.ones_like(zero)
    if to == "none":
        return np.zeros_like(zero)
    if to == "if0all":
        assert groups is not None  # effect_sizes numbers the groups for if0all
        any_zero = np.bincount(groups, weights=zero) > 0
        return any_zero[groups]
    return zero


def _ipft(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Inverse Freeman-Tukey double arcsine (Miller 1978), clamped to [0, 1] as metafor's transf.ipft."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.sin(2 * x)
        z = 0.5 * (1 - np.sign(np.cos(2 * x)) * np.sqrt(1 - (s + (s - 1 / s) / n) ** 2))

        def pft(p):
            events = p * n
            return 0.5 * (np.arcsin(np.sqrt(events / (n + 1))) + np.arcsin(np.sqrt((events + 1) / (n + 1))))

        return np.where(x > pft(1.0), 1.0, np.where(x < pft(0.0), 0.0, z))


# --- input checks ------------------------------------------------------------------------------------------


def _numbers(data: pd.DataFrame, column: str) -> np.ndarray:
    """A column as floats; a non-number or an empty cell is the user's to fix, named by row."""
    raw = data[column]
    if raw.dtype.kind in "fiu":  # already numbers: no converted copy (a fresh array costs its page faults)
        values = raw.to_numpy(dtype=float)
    else:
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        shown = raw.iloc[i]
        what = "is empty" if pd.isna(shown) else f"is {shown!r}, not a number"
        raise ReviewError(
            f"{column} {what} in {row_label(data, i)}: enter the number, or remove the row if it was not "
            "reported."
        )
    return values


def _check_counts(data, events, n, events_col, n_col):
    _require(data, events < 0, f"{events_col} is negative", "counts must be >= 0")
    _require(data, n <= 0, f"{n_col} is not positive", "a group size must be > 0")
    _require(
        data, events > n, f"{events_col} is larger than {n_col}", "check both numbers (swapped columns?)"
    )


def _require(data: pd.DataFrame, bad: np.ndarray, problem: str, fix: str) -> None:
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        more = int(np.count_nonzero(bad)) - 1
        also = f" (and {more} more row{'s' if more > 1 else ''})" if more else ""
        raise ReviewError(f"{problem} in {row_label(data, i)}{also}: {fix}.")


def row_label(data: pd.DataFrame, position: int) -> str:
    """Name a row for a message: its 1-based data row and, when there is one, its study identifier."""
    label = f"row {position + 1}"
    for col in ("study_id", "study"):
        if col in data.columns:
            return f"{label} ({col} {data[col].iloc[position]})"
    return label


def group_codes(data: pd.DataFrame, by: Sequence[str] | None) -> np.ndarray:
    """Number the analyses (groups of equal `by` values, empty ones too) 0, 1, ... in order of appearance."""
    if not by:
        return np.zeros(len(data), dtype=np.intp)
    return data.groupby(list(by), sort=False, dropna=False).ngroup().to_numpy()
