"""Derived numbers, each with its formula, its inputs, and a refusal with the reason when it cannot be had.

Every function returns a `Derived` (value(s), `derivation` = the formula in words, `inputs` = the numbers used,
`note` = why nothing was derived, or an assumption made). Nothing here guesses: a missing input is a refusal,
never a default.

Methods and their sources:
- counts from a printed percentage: the whole counts that the printed rounding allows (review.validate);
- SD from an SE, a CI of the mean (normal, or t with n - 1 df below 60 patients) or the p-value of the difference
  in means (t with n1 + n2 - 2 df): Cochrane Handbook 6.5.2.2-6.5.2.3;
- mean and SD from the median with the IQR and/or the range: Wan X et al. BMC Med Res Methodol 2014;14:135
  (SD; mean), Luo D et al. Stat Methods Med Res 2018;27:1785-805 (mean), Shi J et al. Res Synth Methods
  2020;11:641-54 (SD from all five numbers);
- log HR and its SE from a CI, from O-E and V, or from a log-rank p-value with the number of events and the
  allocation ratio: Tierney JF et al. Trials 2007;8:16 (Parmar 1998's methods).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm, t

from .validate import whole_counts

MISSING = ("NR", "NA")
MEDIAN_METHODS = {
    "wan2014": "mean and SD by Wan et al. 2014",
    "luo2018": "mean by Luo et al. 2018, SD by Wan et al. 2014",
    "shi2020": "mean by Luo et al. 2018, SD by Shi et al. 2020",
}
CI_DISTRIBUTIONS = (
    "auto",
    "normal",
    "t",
)  # auto: t with n - 1 df when n < 60, as the Cochrane Handbook advises
COUNT_POLICIES = ("unique", "nearest")


def known(value: object) -> bool:
    """A number was typed (not empty, not NR/NA)."""
    if value is None or value is pd.NA or (isinstance(value, str) and value in MISSING):
        return False
    try:
        return not math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def code(value: object) -> str:
    """How a missing value was typed: NR, NA or empty."""
    return value if isinstance(value, str) and value in MISSING else "empty"


def fmt(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Derived:
    """A value (or values) reported or derived, or the reason it cannot be had."""

    value: float | None = None
    derivation: str = ""
    inputs: str = ""
    note: str = ""
    extra: float | None = None  # a second value: the SE of a log HR, the SD of an estimated mean


@dataclass(frozen=True)
class Count:
    """A count, reported or derived, or the reason it cannot be had."""

    value: int | None
    derivation: str = ""
    inputs: str = ""
    note: str = ""


def count_from(
    events: object, percent: object, total: object, what: str = "count", policy: str = "unique"
) -> Count:
    """The count as reported, or derived from a reported percentage of `total`.

    policy "unique" (the default) derives a count only when exactly one whole count fits the printed rounding;
    "nearest" takes the nearest whole count even when several fit, and records which did.
    """
    if known(events):
        return Count(int(float(events)), "reported")  # type: ignore[arg-type]
    if known(percent) and known(total):
        fits = whole_counts(float(percent), float(total))  # type: ignore[arg-type]
        exact = float(percent) * float(total) / 100  # type: ignore[arg-type]
        inputs = f"percent={fmt(percent)}, total={fmt(total)}"
        if len(fits) == 1:
            return Count(fits[0], "percent x total / 100, rounded", inputs)
        if not fits:
            return Count(
                None,
                note=f"{what}: no whole number of patients out of {fmt(total)} gives "
                f"{fmt(percent)}% ({exact:.2f})",
            )
        if policy == "nearest":
            return Count(
                round(exact),
                "percent x total / 100, nearest whole count",
                inputs,
                note=f"{what}: {fmt(percent)}% of {fmt(total)} = {exact:.2f}; "
                f"{fits[0]} to {fits[-1]} fit the printed rounding",
            )
        return Count(
            None,
            note=f"{what}: {fmt(percent)}% of {fmt(total)} fits "
            f"{' or '.join(map(str, fits))} patients; type the count if the report gives it",
        )
    if known(percent):
        return Count(None, note=f"{what}: {fmt(percent)}% without its denominator ({code(total)})")
    return Count(None, note=f"{what}: {code(events)}")


def counts_from(
    events: pd.Series, percent: pd.Series | None, total: pd.Series, what: pd.Series | str, policy: str
) -> pd.DataFrame:
    """count_from for whole columns: reported counts are taken as one vector; only the rows that need a
    percentage worked back (few, in practice) go through count_from one by one."""
    n = len(events)
    ev = pd.to_numeric(events, errors="coerce")
    out = pd.DataFrame(
        {
            "events": ev.round().astype("Int64"),
            "derivation": np.where(ev.notna(), "reported", ""),
            "inputs": "",
            "note": "",
        },
        index=events.index,
    )
    todo = np.flatnonzero(ev.isna().to_numpy())
    if len(todo):
        pct = percent if percent is not None else pd.Series([None] * n, index=events.index)
        names = what if isinstance(what, pd.Series) else pd.Series([what] * n, index=events.index)
        ev_o, pc_o, tot_o, nm_o = (s.astype(object).to_numpy() for s in (events, pct, total, names))
        derived = [count_from(ev_o[i], pc_o[i], tot_o[i], str(nm_o[i]), policy) for i in todo]
        rows = events.index[todo]
        out.loc[rows, "events"] = pd.array([d.value for d in derived], dtype="Int64")
        out.loc[rows, "derivation"] = [d.derivation for d in derived]
        out.loc[rows, "inputs"] = [d.inputs for d in derived]
        out.loc[rows, "note"] = [d.note for d in derived]
    return out


# --- continuous outcomes ------------------------------------------------------------------------------------


def ci_critical(n: float, level: float, distribution: str) -> tuple[float, str]:
    """The critical value that divides a CI's width by 2: z, or t on n - 1 df (auto: t when n < 60)."""
    alpha = 1 - level / 100
    use_t = distribution == "t" or (distribution == "auto" and n < 60)
    if use_t:
        return float(t.ppf(1 - alpha / 2, n - 1)), f"t({n - 1:g} df)"
    return float(norm.ppf(1 - alpha / 2)), "z"


def sd_from_se(se: object, n: object) -> Derived:
    if not (known(se) and known(n)):
        return Derived(note=f"SD from SE needs SE and n (SE {_state(se)}, n {_state(n)})")
    return _usable(Derived(float(se) * math.sqrt(float(n)), "SD = SE x sqrt(n)", f"SE={fmt(se)}, n={fmt(n)}"))  # type: ignore[arg-type]


def sd_from_ci(
    low: object, high: object, n: object, level: object = None, distribution: str = "auto"
) -> Derived:
    """SD = sqrt(n) x (upper - lower) / (2 x crit) for a CI of one arm's mean (Cochrane Handbook 6.5.2.2)."""
    if not (known(low) and known(high) and known(n)):
        return Derived(
            note=f"SD from a CI needs both limits and n (lower {_state(low)}, upper {_state(high)}, n {_state(n)})"
        )
    lo, hi, size = float(low), float(high), float(n)  # type: ignore[arg-type]
    if hi <= lo:
        return Derived(note=f"SD from a CI: upper {fmt(high)} is not above lower {fmt(low)}")
    if size < 2:
        return Derived(note="SD from a CI needs n >= 2")
    conf = float(level) if known(level) else 95.0  # type: ignore[arg-type]
    if not 50 <= conf < 100:  # 0.95 typed for 95% would make an SD 171 times too large
        return Derived(
            note=f"SD from a CI: level {fmt(level)}% is not a CI level; type it in percent, e.g. 95"
        )
    crit, name = ci_critical(size, conf, distribution)
    assumed = "" if known(level) else "CI level not given: 95% assumed"
    return _usable(
        Derived(
            math.sqrt(size) * (hi - lo) / (2 * crit),
            f"SD = sqrt(n) x (upper - lower) / (2 x {crit:.4f}), {name}",
            f"CI={fmt(low)} to {fmt(high)}, level={conf:g}%, n={fmt(n)}",
            assumed,
        )
    )


def sd_from_p(mean_e: object, mean_c: object, n_e: object, n_c: object, p: object) -> Derived:
    """A common SD from the two-sided p-value of a t-test of the difference in means (Cochrane 6.5.2.3):
    t = qt(1 - p/2, n1 + n2 - 2); SE(MD) = |MD| / t; SD = SE(MD) / sqrt(1/n1 + 1/n2)."""
    values = {
        "mean (experimental)": mean_e,
        "mean (control)": mean_c,
        "n (exp.)": n_e,
        "n (control)": n_c,
        "p": p,
    }
    missing = [k for k, v in values.items() if not known(v)]
    if missing:
        return Derived(note=f"SD from a p-value needs {', '.join(missing)}")
    pv, n1, n2 = float(p), float(n_e), float(n_c)  # type: ignore[arg-type]
    md = abs(float(mean_e) - float(mean_c))  # type: ignore[arg-type]
    if not 0 < pv < 1:
        return Derived(
            note=f"SD from a p-value needs 0 < p < 1 (p = {fmt(p)}); a bound such as p < 0.05 gives none"
        )
    if md == 0:
        return Derived(note="SD from a p-value: the means are equal, so the p-value says nothing of the SD")
    if n1 < 1 or n2 < 1 or n1 + n2 < 3:
        return Derived(note=f"SD from a p-value needs n1 + n2 >= 3 (n = {fmt(n_e)} and {fmt(n_c)})")
    tval = float(t.ppf(1 - pv / 2, n1 + n2 - 2))
    se_md = md / tval
    return _usable(
        Derived(
            se_md / math.sqrt(1 / n1 + 1 / n2),
            f"t = qt(1 - p/2, {n1 + n2 - 2:g}) = {tval:.4f}; SE(MD) = |MD| / t; SD = SE(MD) / sqrt(1/n1 + 1/n2)",
            f"means={fmt(mean_e)} and {fmt(mean_c)}, n={fmt(n_e)} and {fmt(n_c)}, p={fmt(p)}",
        )
    )


def mean_sd_from_median(
    median: object,
    q1: object,
    q3: object,
    low: object,
    high: object,
    n: object,
    method: str = "shi2020",
    mean_given: bool = False,
) -> Derived:
    """Mean (value) and SD (extra) from the median with the IQR (q1, q3), the range (low, high) or both; with
    `mean_given` (a reported mean beside them), the SD only, said so (value stays the estimated mean)."""
    if method not in MEDIAN_METHODS:
        raise ValueError(f"median method must be one of {', '.join(MEDIAN_METHODS)}")
    has_iqr, has_range = known(q1) and known(q3), known(low) and known(high)
    if not known(median) or not known(n) or not (has_iqr or has_range):
        return Derived(
            note=f"mean and SD from a median need the median, n and the IQR or the range (median {_state(median)}, "
            f"n {_state(n)}, IQR {'given' if has_iqr else 'not given'}, range {'given' if has_range else 'not given'})"
        )
    m, size = float(median), float(n)  # type: ignore[arg-type]
    if size < 2:
        return Derived(note=f"mean and SD from a median need n >= 2 (n = {fmt(n)})")
    for name, lo, hi in (("quartiles", q1, q3), ("range", low, high)):
        if known(lo) and known(hi) and not float(lo) <= m <= float(hi):  # type: ignore[arg-type]
            return Derived(
                note=f"mean and SD from a median: the {name} {fmt(lo)} to {fmt(hi)} "
                f"{'do' if name == 'quartiles' else 'does'} not contain the median {fmt(median)}; check the order "
                "of the values"
            )
    if has_iqr and has_range and not float(low) <= float(q1) <= float(q3) <= float(high):  # type: ignore[arg-type]
        return Derived(
            note=f"mean and SD from a median: the quartiles {fmt(q1)} to {fmt(q3)} are not within the range "
            f"{fmt(low)} to {fmt(high)}"
        )
    xi = 2 * norm.ppf((size - 0.375) / (size + 0.25))  # Wan 2014: expected range of n standard normals
    eta = 2 * norm.ppf((0.75 * size - 0.125) / (size + 0.25))  # Wan 2014: expected IQR
    a, b = (float(low), float(high)) if has_range else (math.nan, math.nan)  # type: ignore[arg-type]
    lq, uq = (float(q1), float(q3)) if has_iqr else (math.nan, math.nan)  # type: ignore[arg-type]
    luo = method != "wan2014"
    if has_iqr and has_range:
        scenario = "median, IQR and range"
        if luo:
            w1, w2 = 2.2 / (2.2 + size**0.75), 0.7 - 0.72 / size**0.55
            mean = w1 * (a + b) / 2 + w2 * (lq + uq) / 2 + (1 - w1 - w2) * m
        else:
            mean = (a + 2 * lq + 2 * m + 2 * uq + b) / 8
        if method == "shi2020":
            w3 = 1 / (1 + 0.07 * size**0.6)
            sd = w3 * (b - a) / xi + (1 - w3) * (uq - lq) / eta
        else:
            sd = (b - a) / (2 * xi) + (uq - lq) / (2 * eta)
        inputs = (
            f"median={fmt(median)}, IQR={fmt(q1)} to {fmt(q3)}, range={fmt(low)} to {fmt(high)}, n={fmt(n)}"
        )
    elif has_iqr:
        scenario = "median and IQR"
        mean = (0.7 + 0.39 / size) * (lq + uq) / 2 + (0.3 - 0.39 / size) * m if luo else (lq + m + uq) / 3
        sd = (uq - lq) / eta
        inputs = f"median={fmt(median)}, IQR={fmt(q1)} to {fmt(q3)}, n={fmt(n)}"
    else:
        scenario = "median and range"
        if luo:
            w = 4 / (4 + size**0.75)
            mean = w * (a + b) / 2 + (1 - w) * m
        else:
            mean = (a + 2 * m + b) / 4
        sd = (b - a) / xi
        inputs = f"median={fmt(median)}, range={fmt(low)} to {fmt(high)}, n={fmt(n)}"
    shi = method == "shi2020" and has_iqr and has_range  # Shi's SD is for both; one of them: Wan's
    label = MEDIAN_METHODS[method if shi or method != "shi2020" else "luo2018"]
    how = "(assumes a roughly symmetric distribution)"
    if mean_given:
        sd_label = "SD by Shi et al. 2020" if shi else "SD by Wan et al. 2014"
        derivation = f"SD estimated from the {scenario}: {sd_label} {how}; the reported mean kept"
    else:
        derivation = f"mean and SD estimated from the {scenario}: {label} {how}"
    return _usable(Derived(mean, derivation, inputs, extra=sd))


def _usable(d: Derived) -> Derived:
    """A derived SD (`extra` when a mean comes with it, else `value`) that is a positive finite number, beside a
    finite mean; else the reason no analysis can use it (limits of 1e308, a spread of 0)."""
    sd, mean = (d.extra, d.value) if d.extra is not None else (d.value, None)
    if sd is not None and math.isfinite(sd) and sd > 0 and (mean is None or math.isfinite(mean)):
        return d
    what = f"mean {fmt(mean)} and SD" if mean is not None else "SD"
    return Derived(note=f"the derived {what} {fmt(sd)} cannot be used: check {d.inputs}")


# --- time to event ------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _z(conf: float) -> float:
    """The normal quantile of a two-sided CI level in percent; kept per level (scipy's per-call cost was most
    of deriving a review's hazard ratios, one row at a time)."""
    return float(norm.ppf(1 - (1 - conf / 100) / 2))


def log_hr(hr: object, low: object, high: object, level: object) -> dict:
    """log HR and its SE from a reported CI: SE = (ln high - ln low) / (2 z), z for the CI level."""
    out: dict[str, Any] = {"yi": None, "sei": None, "derivation": "", "inputs": "", "note": ""}
    if not (known(low) and known(high)):
        out["note"] = f"SE not derived: CI {code(low if not known(low) else high)}"
        if known(hr):
            out["yi"] = math.log(float(hr))  # type: ignore[arg-type]
        return out
    lo, hi = float(low), float(high)  # type: ignore[arg-type]
    if lo <= 0 or hi <= lo:
        out["note"] = f"SE not derived: CI {fmt(low)} to {fmt(high)} is not a valid ratio interval"
        return out
    assumed = not known(level)
    conf = 95.0 if assumed else float(level)  # type: ignore[arg-type]
    z = _z(conf)
    out["sei"] = (math.log(hi) - math.log(lo)) / (2 * z)
    mid = (math.log(hi) + math.log(lo)) / 2
    if known(hr):
        out["yi"] = math.log(float(hr))  # type: ignore[arg-type]
        out["derivation"] = f"yi = ln HR; SE = (ln upper - ln lower) / (2 x {z:.4f})"
        asym = abs(out["yi"] - mid)
        if asym > 0.05 * (math.log(hi) - math.log(lo)) + 1e-9:
            out["note"] = f"CI asymmetric on the log scale (ln HR {out['yi']:.4f} vs midpoint {mid:.4f})"
    else:
        out["yi"] = mid
        out["derivation"] = f"yi = CI midpoint on the log scale; SE = (ln upper - ln lower) / (2 x {z:.4f})"
    out["inputs"] = f"HR={fmt(hr) if known(hr) else code(hr)}, CI={fmt(low)} to {fmt(high)}, level={conf:g}%"
    if assumed:
        out["note"] = "; ".join(n for n in (out["note"], "CI level not given: 95% assumed") if n)
    return out


def log_hr_from_oe(o_minus_e: object, variance: object, hr: object = None) -> dict:
    """Tierney 2007 (method 1): ln HR = (O - E) / V, SE = 1 / sqrt(V); the sign of O - E must agree with a
    reported HR."""
    out: dict[str, Any] = {"yi": None, "sei": None, "derivation": "", "inputs": "", "note": ""}
    if not (known(o_minus_e) and known(variance)):
        out["note"] = f"not derived from O-E and V: O-E {_state(o_minus_e)}, V {_state(variance)}"
        return out
    oe, v = float(o_minus_e), float(variance)  # type: ignore[arg-type]
    if v <= 0:
        out["note"] = f"not derived from O-E and V: V = {fmt(variance)} must be > 0"
        return out
    if known(hr) and float(hr) != 1 and oe != 0 and (float(hr) > 1) != (oe > 0):  # type: ignore[arg-type]
        out["note"] = (
            f"not derived: O-E = {fmt(o_minus_e)} and HR = {fmt(hr)} point in opposite directions; check which arm "
            "the O-E refers to"
        )
        return out
    out.update(
        yi=oe / v,
        sei=1 / math.sqrt(v),
        derivation="ln HR = (O - E) / V; SE = 1 / sqrt(V) (Tierney 2007)",
        inputs=f"O-E={fmt(o_minus_e)}, V={fmt(variance)}",
    )
    return out


def log_hr_from_p(
    p: object, events: object, hr: object = None, n_e: object = None, n_c: object = None, favours: str = ""
) -> dict:
    """Tierney 2007 (method from a log-rank p-value): V = D x Re x Rc / (Re + Rc)^2, O - E = z sqrt(V) with
    z = qnorm(1 - p/2) and the sign of the reported HR (or of `favours`), ln HR = (O - E) / V, SE = 1/sqrt(V)."""
    out: dict[str, Any] = {"yi": None, "sei": None, "derivation": "", "inputs": "", "note": ""}
    missing = [name for name, v in (("p-value", p), ("number of events", events)) if not known(v)]
    if missing:
        out["note"] = f"not derived from a p-value: {' and '.join(missing)} not given"
        return out
    pv, d = float(p), float(events)  # type: ignore[arg-type]
    if not 0 < pv < 1:
        out["note"] = f"not derived from a p-value: needs an exact 0 < p < 1 (p = {fmt(p)})"
        return out
    if known(hr):
        sign = 1.0 if float(hr) > 1 else -1.0 if float(hr) < 1 else 0.0  # type: ignore[arg-type]
        direction = f"sign of ln HR {fmt(hr)}"
    elif favours in ("experimental", "control"):
        sign = -1.0 if favours == "experimental" else 1.0
        direction = f"favours {favours}"
    else:
        out["note"] = (
            "not derived from a p-value: a p-value has no direction; give the HR or which arm did better"
        )
        return out
    if sign == 0:
        out["note"] = "not derived from a p-value: HR = 1 gives no direction"
        return out
    ratio_given = known(n_e) and known(n_c)
    re, rc = (float(n_e), float(n_c)) if ratio_given else (1.0, 1.0)  # type: ignore[arg-type]
    v = d * re * rc / (re + rc) ** 2
    z = float(norm.isf(pv / 2))
    out.update(
        yi=sign * z / math.sqrt(v),
        sei=1 / math.sqrt(v),
        derivation=f"V = D x Re x Rc / (Re + Rc)^2; O - E = {z:.4f} x sqrt(V), signed by the {direction}; "
        "ln HR = (O - E) / V; SE = 1 / sqrt(V) (Tierney 2007)",
        inputs=f"p={fmt(p)}, events={fmt(events)}, allocation={fmt(re)}:{fmt(rc)}",
        note="" if ratio_given else "allocation ratio not given: 1:1 assumed",
    )
    return out


def _state(value: object) -> str:
    return "given" if known(value) else code(value)
