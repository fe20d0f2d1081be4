"""Meta-analysis: pool every analysis of a long table at once, with the numbers of R's metafor 3.8.

`pool()` takes one row per study and pools each group of rows that the `by` columns define (an adverse-event
term and grade, a response category, a comparison or subgroup...). All groups are computed together: sums over
studies are `np.bincount` over a group code, and the iterative tau^2 estimators (REML's Fisher scoring, Paule-
Mandel's root search) update every analysis's tau^2 as one array, each analysis stopping at its own
convergence.

Each estimator follows metafor's code path, not just its formula, so the numbers agree to rounding:
`rma.uni` (EE, DL, REML, PM; z or knha; Q, I^2, H^2; predict's prediction interval), `rma.mh` and `rma.peto`
(exact counts; the continuity correction only enters the heterogeneity statistics) and `escalc` (effect sizes,
in review/effects.py).

Why numpy rather than statsmodels or PyMARE, measured on the same 10,000 random analyses of k = 10
(benchmarks/bench_pool.py, 2-core machine):
- statsmodels' `combine_effects` pools one analysis per call: a loop of it took 3.0-4.5 s (Paule-Mandel) and
  1.4-1.6 s (DL), 30-40x and 60-85x the time of `pool` (PM 0.10-0.14 s, DL 0.02-0.03 s, REML 0.09-0.13 s). It
  has no REML, MH or Peto; it leaves DL's tau^2 negative (30% of those analyses; metafor floors it at 0) and
  stops Paule-Mandel at |Q - (k-1)| < 1e-5, which moved tau^2 by up to 3e-5 from metafor's.
- PyMARE 0.0.13 fits equal-k analyses in one call (REML 0.21 s) but by numerical optimisation: its tau^2
  differed from metafor's by more than 1e-6 in a third of them (up to 1.3e-4). It needs every analysis to
  have the same k and has neither MH nor Peto.
So the estimators are written here on numpy, each on metafor's code path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .effects import (
    TWO_ARM,
    default_add,
    effect_sizes,
    group_codes,
    input_kind,
    measure_info,
    row_label,
    to_natural,
)
from .errors import ReviewError

METHODS = ("EE", "DL", "REML", "PM", "MH", "PETO")
RANDOM_EFFECTS = ("DL", "REML", "PM")
TESTS = ("z", "knha")
SINGLE_STUDY = ("error", "keep")
_ALIASES = {"FE": "EE", "CE": "EE"}

# metafor's rma.uni control defaults: Fisher scoring stops when tau^2 changes by <= threshold, after at most
# maxiter steps; uniroot (Paule-Mandel) searches [0, max(100, 10 mad(yi)^2)] to tol = eps^(1/4), which is also
# the log-likelihood margin of REML's check against tau^2 = 0.
THRESHOLD = 1e-5
MAX_ITER = 100
TOL = np.finfo(float).eps ** 0.25
TAU2_MAX = 100.0


def pool(
    data: pd.DataFrame,
    measure: str,
    method: str = "REML",
    test: str = "z",
    by: Sequence[str] | None = None,
    level: float = 95.0,
    add: float | None = None,
    to: str = "only0",
    drop00: bool | None = None,
    single_study: str = "error",
    max_iter: int = MAX_ITER,
    threshold: float = THRESHOLD,
) -> pd.DataFrame:
    """Pool each analysis (group of rows sharing the `by` values) of `data`; one result row per analysis.

    `measure` and `method` are metafor's codes (OR, RR, RD, PETO, PLO, PR, PAS, PFT, MD, SMD, HR, GEN; EE, DL,
    REML, PM, MH, PETO); `test` is "z" or "knha" (Hartung-Knapp-Sidik-Jonkman). `add`, `to` and `drop00` are
    escalc's continuity correction; their defaults are metafor's (add 1/2, or 0 for PAS and PFT; drop00 False
    for inverse-variance methods, True for MH and Peto, whose pooled estimate always uses the exact counts).
    A random-effects analysis with one study is an error unless `single_study="keep"`, which reports what
    metafor does (the study itself, tau^2 = 0). `max_iter` and `threshold` are metafor's REML controls.

    Columns: the `by` values, measure, method, test, k, theta and se (analysis scale), stat, ddf, pval,
    estimate, ci_low, ci_high, pi_low, pi_high (natural scale), tau2, i2, h2, q, q_df, q_pval, converged,
    add, to, drop00, k_corrected, k_double_zero and note (why a value is missing, or what was adjusted).
    """
    return _analyse(
        data, measure, method, test, by, level, add, to, drop00, single_study, max_iter, threshold
    )[0]


def study_weights(
    data: pd.DataFrame,
    measure: str,
    method: str = "REML",
    by: Sequence[str] | None = None,
    level: float = 95.0,
    add: float | None = None,
    to: str = "only0",
    drop00: bool | None = None,
    single_study: str = "error",
) -> pd.DataFrame:
    """Each study's yi, vi, its Wald interval on the natural scale and its weight in percent (as weights()).

    Weights are those of the pooled estimate: 1/(vi + tau^2) for inverse-variance methods, the Mantel-Haenszel
    or Peto weights otherwise. A study left out of its analysis (a dropped double zero) has weight NaN.
    """
    return _analyse(
        data, measure, method, "z", by, level, add, to, drop00, single_study, MAX_ITER, THRESHOLD
    )[1]


def subgroups(
    data: pd.DataFrame,
    subgroup: str,
    measure: str,
    method: str = "REML",
    test: str = "z",
    by: Sequence[str] | None = None,
    level: float = 95.0,
    add: float | None = None,
    to: str = "only0",
    drop00: bool | None = None,
    single_study: str = "error",
) -> pd.DataFrame:
    """Pool each level of `subgroup` within each analysis and test for subgroup differences.

    The test is the Q statistic between the subgroup estimates (a common-effect model of theta with standard
    error se, as metafor's `rma(theta, sei=se, method="EE")` on the subgroup fits; each subgroup has its own
    tau^2). Rows are `pool(by=[*by, subgroup])`; the test is repeated on each row of its analysis as
    q_between, q_between_df and q_between_pval.
    """
    by = _columns(data, by)
    if subgroup not in data.columns:
        raise ReviewError(
            f"subgroup column {subgroup!r} is not in the data; columns are {', '.join(data.columns)}."
        )
    result = pool(data, measure, method, test, [*by, subgroup], level, add, to, drop00, single_study)
    codes = group_codes(result, by)
    theta, se = result["theta"].to_numpy(), result["se"].to_numpy()
    ok = np.isfinite(theta) & np.isfinite(se) & (se > 0)
    w = np.where(ok, 1 / np.where(ok, se, 1.0) ** 2, 0.0)
    g_sum = _summer(codes, int(codes.max()) + 1 if len(codes) else 0)
    n_ok = g_sum(ok.astype(float))
    mean = g_sum(w * np.where(ok, theta, 0.0)) / g_sum(w)
    q = g_sum(np.where(ok, w * (theta - mean[codes]) ** 2, 0.0))
    valid = n_ok >= 2
    df = np.where(valid, n_ok - 1, np.nan)
    result["q_between"] = np.where(valid, q, np.nan)[codes]
    result["q_between_df"] = df[codes]
    result["q_between_pval"] = np.where(valid, stats.chi2.sf(q, np.where(valid, df, 1)), np.nan)[codes]
    return result


def leave_one_out(
    data: pd.DataFrame,
    measure: str,
    method: str = "REML",
    test: str = "z",
    by: Sequence[str] | None = None,
    study: str | None = None,
    level: float = 95.0,
    add: float | None = None,
    to: str = "only0",
    drop00: bool | None = None,
) -> pd.DataFrame:
    """Refit each analysis without each of its studies in turn (metafor's leave1out), in one `pool` pass.

    `study` names the column that labels studies (default: study_id or study if present, else the 1-based row
    number); the result has one row per analysis and omitted study, with the pool() columns.
    """
    by = _columns(data, by)
    if study is None:
        study = next((c for c in ("study_id", "study") if c in data.columns), None)
    labels = data[study].to_numpy() if study else np.arange(1, len(data) + 1)
    codes = group_codes(data, by)
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes)
    starts = np.cumsum(sizes) - sizes
    # for each row (the omitted one), all rows of its analysis; then drop the omitted row itself
    rep = sizes[codes[order]]
    omitted = np.repeat(order, rep)
    within = np.arange(rep.sum()) - np.repeat(np.cumsum(rep) - rep, rep)
    kept = order[starts[codes[omitted]] + within]
    keep = kept != omitted
    frame = data.iloc[kept[keep]].reset_index(drop=True)
    frame["omitted"] = labels[omitted[keep]]
    return pool(frame, measure, method, test, [*by, "omitted"], level, add, to, drop00, single_study="keep")


def egger_test(
    data: pd.DataFrame,
    measure: str,
    by: Sequence[str] | None = None,
    add: float | None = None,
    to: str = "only0",
    drop00: bool = False,
) -> pd.DataFrame:
    """Egger's regression test for funnel-plot asymmetry in each analysis (metafor's regtest(model="lm")).

    Weighted least squares of yi on its standard error with weights 1/vi; `bias` is the slope (Egger's
    intercept in the standardised form), tested with t on k - 2 df; `limit_estimate` is the intercept, the
    effect expected in a study of infinite size. Needs k >= 3.
    """
    by = _columns(data, by)
    es = effect_sizes(data, measure, add, to, drop00, by)
    codes = group_codes(data, by)
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    keys = _keys(data, by, codes, n_groups)
    y, v = es["yi"].to_numpy(), es["vi"].to_numpy()
    use = np.isfinite(y) & np.isfinite(v) & (v > 0)
    y, v, g = y[use], v[use], codes[use]
    s = _summer(g, n_groups)
    k = np.bincount(g, minlength=n_groups)
    w, x = 1 / v, np.sqrt(v)
    sw, swx, swxx, swy, swxy = s(w), s(w * x), s(w * x * x), s(w * y), s(w * x * y)
    with np.errstate(divide="ignore", invalid="ignore"):
        det = sw * swxx - swx**2
        slope = (sw * swxy - swx * swy) / det
        intercept = (swxx * swy - swx * swxy) / det
        ddf = np.where(k >= 3, k - 2, np.nan)
        sigma2 = s(w * (y - intercept[g] - slope[g] * x) ** 2) / ddf
        se = np.sqrt(sigma2 * sw / det)
        stat = slope / se
    enough = k >= 3
    out = keys.assign(
        measure=measure_info(measure).code,
        k=k,
        bias=np.where(enough, slope, np.nan),
        bias_se=np.where(enough, se, np.nan),
        stat=np.where(enough, stat, np.nan),
        ddf=ddf,
        pval=np.where(enough, 2 * stats.t.sf(np.abs(stat), np.where(enough, ddf, 1)), np.nan),
        limit_estimate=np.where(enough, intercept, np.nan),
        note=np.where(enough, "", "Egger's test needs k >= 3"),
    )
    return out


# --- the engine --------------------------------------------------------------------------------------------


def _analyse(data, measure, method, test, by, level, add, to, drop00, single_study, max_iter, threshold):
    """Pool all analyses; return (one row per analysis, one row per study with its weight)."""
    info = measure_info(measure)
    method = _ALIASES.get(str(method).upper(), str(method).upper())
    if method not in METHODS:
        raise ReviewError(f"unknown method {method!r}: use one of {', '.join(METHODS)}.")
    if test not in TESTS:
        raise ReviewError(f"unknown test {test!r}: use z or knha.")
    if single_study not in SINGLE_STUDY:
        raise ReviewError(f"single_study={single_study!r}: use 'error' or 'keep'.")
    if not 0 < level < 100:
        raise ReviewError(f"level={level} is not a confidence level; use a percentage such as 95.")
    level = level * 100 if level < 1 else level  # metafor also reads 0.95 as 95%
    by = _columns(data, by)
    if len(data) == 0:
        raise ReviewError("the input has no rows: add one row per study.")
    if method in ("MH", "PETO"):
        allowed = ("OR", "RR", "RD") if method == "MH" else ("OR", "PETO")
        if info.code not in allowed:
            raise ReviewError(
                f"method {method} pools only {', '.join(allowed)}; use method REML, DL, PM or EE."
            )
        if input_kind(data, info.code) != "raw":
            raise ReviewError(f"method {method} needs the counts {', '.join(TWO_ARM)}, not yi and vi.")
        if test != "z":
            raise ReviewError(f"test {test} applies to inverse-variance methods; {method} uses z.")
    drop00 = method in ("MH", "PETO") if drop00 is None else bool(drop00)
    escalc_measure = "PETO" if method == "PETO" else info.code
    add = default_add(escalc_measure) if add is None else float(add)
    es = effect_sizes(data, escalc_measure, add, to, drop00, by)
    codes = group_codes(data, by)
    n_groups = int(codes.max()) + 1
    y, v = es["yi"].to_numpy(dtype=float), es["vi"].to_numpy(dtype=float)
    dropped = es["double_zero"].to_numpy() & drop00 if "double_zero" in es else np.zeros(len(es), bool)
    unusable = ~dropped & ~(np.isfinite(y) & np.isfinite(v) & (v > 0))
    if unusable.any():
        i = int(np.flatnonzero(unusable)[0])
        fix = (
            "a zero cell needs a continuity correction: use add > 0 (metafor's default is 0.5)"
            if add == 0 or to == "none"
            else "check its numbers"
        )
        raise ReviewError(
            f"{info.code} has no finite effect size or positive variance for {row_label(data, i)}: {fix}."
        )
    alpha = (100 - level) / 100
    notes = _Notes(n_groups)
    if method in ("MH", "PETO"):
        fit, weight = _fit_counts(es, codes, n_groups, method, info.code, notes)
    else:
        fit, weight = _fit_iv(
            y, v, codes, n_groups, method, test, alpha, single_study, max_iter, threshold, data, by, notes
        )
    crit_z = stats.norm.isf(alpha / 2)
    if method in ("MH", "PETO"):
        fit["crit"] = np.full(n_groups, crit_z)
        fit["ddf"] = np.full(n_groups, np.nan)
    theta, se, crit, tau2 = fit["theta"], fit["se"], fit["crit"], fit["tau2"]
    with np.errstate(invalid="ignore"):
        stat = theta / se
    pval = np.where(
        np.isfinite(fit["ddf"]),
        2 * stats.t.sf(np.abs(stat), np.nan_to_num(fit["ddf"], nan=1)),
        2 * stats.norm.sf(np.abs(stat)),
    )
    # predict.rma gives a prediction interval for random-effects models only
    half_pi = crit * np.sqrt(se**2 + tau2) if method in RANDOM_EFFECTS else np.full(n_groups, np.nan)

    s_rows = _summer(codes, n_groups)
    n_harmonic = None
    if info.natural == "ipft":
        if "n" not in data.columns:
            raise ReviewError(
                "measure PFT needs column n (the sample sizes) to back-transform the pooled proportion."
            )
        n_col = pd.to_numeric(data["n"], errors="coerce").to_numpy(dtype=float)
        n_harmonic = np.bincount(codes, minlength=n_groups) / s_rows(1 / n_col)

    def natural(x):
        return to_natural(info.code, x, n_harmonic)

    corrected = es["corrected"].to_numpy(dtype=float)
    double_zero = es["double_zero"].to_numpy(dtype=float) if "double_zero" in es else np.zeros(len(es))
    result = _keys(data, by, codes, n_groups).assign(
        measure=info.code,
        method=method,
        test=test,
        k=fit["k"],
        theta=theta,
        se=se,
        stat=stat,
        ddf=fit["ddf"],
        pval=pval,
        estimate=natural(theta),
        ci_low=natural(theta - crit * se),
        ci_high=natural(theta + crit * se),
        pi_low=natural(theta - half_pi),
        pi_high=natural(theta + half_pi),
        tau2=tau2,
        i2=fit["i2"],
        h2=fit["h2"],
        q=fit["q"],
        q_df=fit["q_df"],
        q_pval=fit["q_pval"],
        converged=fit["converged"],
        add=add,
        to=to,
        drop00=drop00,
        k_corrected=s_rows(corrected).astype(int),
        k_double_zero=s_rows(double_zero).astype(int),
        note=notes.joined(),
    )
    yi_lo, yi_hi = y - crit_z * np.sqrt(v), y + crit_z * np.sqrt(v)
    n_study = None if n_harmonic is None else n_harmonic[codes]
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = 100 * weight / s_rows(np.nan_to_num(weight))[codes]
    rows = es.assign(
        ci_low=to_natural(info.code, yi_lo, n_study),
        ci_high=to_natural(info.code, yi_hi, n_study),
        weight=weight,
    )
    return result, rows


def _fit_iv(y, v, codes, n_groups, method, test, alpha, single_study, max_iter, threshold, data, by, notes):
    """Inverse-variance pooling (metafor's rma.uni, intercept only) for all analyses at once."""
    use = np.isfinite(y)  # rows set to NaN by drop00 are left out, as metafor omits NA outcomes
    y, v, g = y[use], v[use], codes[use]
    s = _summer(g, n_groups)
    k = np.bincount(g, minlength=n_groups)
    multi = k >= 2
    notes.add(k == 0, "no studies left after dropping double-zero studies")
    if method in RANDOM_EFFECTS and single_study == "error" and np.any(k == 1):
        lonely = np.flatnonzero(k == 1)
        where = _describe_groups(data, by, codes, lonely)
        raise ReviewError(
            f"{where} has a single study (k = 1), and method {method} needs k >= 2 to estimate tau^2: "
            "pool it with method EE, remove it, or keep metafor's single-study result (single_study='keep', "
            "--single-study keep)."
        )
    notes.add((k == 1) & (method in RANDOM_EFFECTS), "k = 1: tau2 set to 0 and test z, as metafor")

    # heterogeneity (always from the common-effect weights, as metafor)
    w0 = 1 / v
    sw0 = s(w0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean0 = s(w0 * y) / sw0
        q = np.maximum(0.0, s(w0 * (y - mean0[g]) ** 2))
        tr_p0 = sw0 - s(w0 * w0) / sw0
    df = k - 1.0

    converged = k >= 1
    tau2 = np.zeros(n_groups)
    if method == "DL":
        with np.errstate(divide="ignore", invalid="ignore"):
            tau2 = np.where(multi, np.maximum(0.0, (q - df) / tr_p0), 0.0)
    elif method == "REML":
        tau2, ok, local = _tau2_reml(y, v, g, n_groups, k, max_iter, threshold)
        converged = np.where(multi, ok, converged)
        notes.add(
            multi & ~ok,
            f"REML (Fisher scoring) did not converge in {max_iter} iterations: try method PM or DL",
        )
        notes.add(local, "Fisher scoring may have stopped at a local maximum: tau2 set to 0, as metafor")
    elif method == "PM":
        tau2, ok, unfinished = _tau2_pm(y, v, g, n_groups, k, max_iter)
        converged = np.where(multi, ok, converged)
        notes.add(multi & ~ok, "Paule-Mandel: Q stays above k - 1 at tau2 = max(100, 10 mad(yi)^2): try REML")
        notes.add(
            unfinished, f"Paule-Mandel root search stopped after {max_iter} iterations (metafor warns too)"
        )
    tau2 = np.where(converged, tau2, np.nan)

    w = 1 / (v + tau2[g])
    sw = s(w)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = s(w * y) / sw
        vb = 1 / sw
    crit = np.full(n_groups, stats.norm.isf(alpha / 2))
    ddf = np.full(n_groups, np.nan)
    if test == "knha":  # metafor sets test = "z" when k = 1
        with np.errstate(divide="ignore", invalid="ignore"):
            rss = s(w * (y - theta[g]) ** 2)
            s2w = np.where(rss <= np.finfo(float).eps, 0.0, rss / df)
        vb = np.where(multi, vb * s2w, vb)
        ddf = np.where(multi, df, np.nan)
        crit = np.where(multi, stats.t.isf(alpha / 2, np.maximum(df, 1)), crit)
    with np.errstate(divide="ignore", invalid="ignore"):
        vt = df / tr_p0  # metafor's "typical" within-study variance
        if method == "EE":
            i2 = np.maximum(0.0, 100 * (q - df) / q)
            h2 = q / df
        else:
            i2 = 100 * tau2 / (vt + tau2)
            h2 = tau2 / vt + 1
    fit = {
        "k": k,
        "theta": theta,
        "se": np.sqrt(vb),
        "crit": crit,
        "ddf": ddf,
        "tau2": np.where(k >= 1, tau2, np.nan),
        "q": np.where(multi, q, np.where(k == 1, 0.0, np.nan)),
        "q_df": np.where(k >= 1, df, np.nan),
        "q_pval": np.where(multi, stats.chi2.sf(q, np.maximum(df, 1)), np.where(k == 1, 1.0, np.nan)),
        "i2": np.where(multi, i2, np.where(k == 1, 0.0, np.nan)),
        "h2": np.where(multi, h2, np.where(k == 1, 1.0, np.nan)),
        "converged": converged,
    }
    weight = np.full(len(codes), np.nan)
    weight[use] = w
    return fit, weight


def _tau2_reml(y, v, g, n_groups, k, max_iter, threshold):
    """REML tau^2 by metafor's Fisher scoring, every analysis in one array; returns (tau2, converged, reset).

    Same start (the Hedges estimate, floored at 0), step, step-halving, stopping rule (change <= threshold
    within max_iter steps) and check against tau^2 = 0 as rma.uni, so the iterates are metafor's.
    """
    s = _summer(g, n_groups)
    active = k >= 2
    kk = np.where(active, k, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ybar = s(y) / kk
        tau2 = (s((y - ybar[g]) ** 2) - s(v) * (kk - 1) / kk) / (kk - 1)  # Hedges: (RSS - tr(PV)) / (k - p)
    tau2 = np.where(active, np.maximum(0.0, tau2), 0.0)
    converged = np.zeros(n_groups, dtype=bool)
    studies = _Studies(y, v, g, n_groups)
    for step in range(1, max_iter + 2):
        if not active.any():
            break
        studies.keep(active)
        w = 1 / (studies.v + tau2[studies.g])
        sw, sw2, sw3 = studies.sum(w), studies.sum(w * w), studies.sum(w**3)
        with np.errstate(divide="ignore", invalid="ignore"):  # analyses already dropped from `studies`: 0/0
            r = studies.y - (studies.sum(w * studies.y) / sw)[studies.g]
            tr_p = sw - sw2 / sw
            tr_pp = sw2 - 2 * sw3 / sw + (sw2 / sw) ** 2
            adj = (studies.sum(w * w * r * r) - tr_p) / tr_pp  # (Y'PPY - tr P) / tr PP
        adj = np.where(np.isnan(adj) | ~active, 0.0, adj)
        adj = _halve_into_range(tau2, adj)
        new = tau2 + adj
        change = np.abs(tau2 - new)
        tau2 = new
        if step > max_iter:  # metafor gives up after maxiter steps, whatever the last change
            break
        done = active & (change <= threshold)
        converged |= done
        active &= ~done

    # metafor's ll0check: if tau^2 = 0 has the higher restricted likelihood, take it
    def loglik(t):
        w = 1 / (v + t[g])
        sw = s(w)
        r = y - (s(w * y) / sw)[g]
        return -0.5 * s(np.log(v + t[g])) - 0.5 * np.log(sw) - 0.5 * s(w * r * r)

    with np.errstate(divide="ignore", invalid="ignore"):
        reset = converged & (tau2 > threshold) & (loglik(np.zeros(n_groups)) - loglik(tau2) > TOL)
    tau2 = np.where(reset, 0.0, np.maximum(0.0, tau2))
    return tau2, converged, reset


def _halve_into_range(tau2, adj):
    """metafor's step-halving: `while (tau2 + adj < 0) adj <- adj / 2`, for every analysis."""
    adj = np.where((tau2 == 0) & (adj < 0), 0.0, adj)  # R halves until the step underflows to zero
    low = tau2 + adj < 0
    while low.any():
        adj = np.where(low, adj / 2, adj)
        low = tau2 + adj < 0
    return adj


def _tau2_pm(y, v, g, n_groups, k, max_iter):
    """Paule-Mandel tau^2 as metafor: R's uniroot on Q(tau^2) - (k - 1) over [0, max(100, 10 mad(yi)^2)].

    Returns (tau2, found, unfinished): `found` is False where Q(tau2_max) is still above k - 1 (metafor stops
    with "tau2.max too low"); `unfinished` marks a root search that hit max_iter (metafor warns, keeps it).
    """
    estimable = k >= 2
    studies = _Studies(y, v, g, n_groups)

    def excess(t, live):
        studies.keep(live)
        w = 1 / (studies.v + t[studies.g])
        with np.errstate(divide="ignore", invalid="ignore"):
            r = studies.y - (studies.sum(w * studies.y) / studies.sum(w))[studies.g]
            return studies.sum(w * r * r) - (k - 1)

    lower = np.zeros(n_groups)
    upper = np.maximum(TAU2_MAX, 10 * _mad(y, g, k, n_groups) ** 2)
    f_lower, f_upper = excess(lower, estimable), excess(upper, estimable)
    at_zero = estimable & (f_lower < 0)
    found = estimable & ~at_zero & ~(f_upper > 0)
    search = found & ~at_zero
    root, finished = _zeroin(excess, lower, upper, f_lower, f_upper, TOL, max_iter, search)
    tau2 = np.where(search, np.maximum(0.0, root), 0.0)
    return tau2, found | at_zero | ~estimable, search & ~finished


def _zeroin(f, a, b, fa, fb, tol, max_iter, live):
    """R's uniroot (Brent's zeroin, R_zeroin2 in stats/src/zeroin.c) for many brackets at once.

    Transcribed branch by branch so that each analysis takes the same steps as in R: metafor's tolerance
    (2^-13 on tau^2) leaves the root up to ~1e-4 from the exact one, so matching metafor to 1e-6 means
    following R's iterates, not solving more precisely. `f(x, live)` evaluates f at x (one per bracket) where
    `live`.
    """
    eps = np.finfo(float).eps
    a, b, fa, fb = a.copy(), b.copy(), fa.copy(), fb.copy()
    c, fc = a.copy(), fa.copy()
    root = np.where(fa == 0, a, b)
    live = live & (fa != 0) & (fb != 0)
    finished = ~live
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(max_iter + 1):
            if not live.any():
                break
            prev_step = b - a
            swap = live & (np.abs(fc) < np.abs(fb))
            a, b, c = np.where(swap, b, a), np.where(swap, c, b), np.where(swap, b, c)
            fa, fb, fc = np.where(swap, fb, fa), np.where(swap, fc, fb), np.where(swap, fb, fc)
            tol_act = 2 * eps * np.abs(b) + tol / 2
            new_step = (c - b) / 2
            done = live & ((np.abs(new_step) <= tol_act) | (fb == 0))
            root = np.where(done, b, root)
            finished |= done
            live &= ~done
            # interpolation (secant if only two distinct points, else inverse quadratic)
            cb = c - b
            t1 = fb / fa
            p_lin, q_lin = cb * t1, 1.0 - t1
            qq, t1q, t2q = fa / fc, fb / fc, fb / fa
            p_quad = t2q * (cb * qq * (qq - t1q) - (b - a) * (t1q - 1.0))
            q_quad = (qq - 1.0) * (t1q - 1.0) * (t2q - 1.0)
            p = np.where(a == c, p_lin, p_quad)
            q = np.where(a == c, q_lin, q_quad)
            q = np.where(p > 0, -q, q)
            p = np.abs(p)
            accept = (
                live
                & (np.abs(prev_step) >= tol_act)
                & (np.abs(fa) > np.abs(fb))
                & (p < 0.75 * cb * q - np.abs(tol_act * q) / 2)
                & (p < np.abs(prev_step * q / 2))
            )
            new_step = np.where(accept, p / q, new_step)
            new_step = np.where(
                np.abs(new_step) < tol_act, np.where(new_step > 0, tol_act, -tol_act), new_step
            )
            a, fa = np.where(live, b, a), np.where(live, fb, fa)
            b = np.where(live, b + new_step, b)
            fb = np.where(live, f(b, live), fb)
            opposite = live & (((fb > 0) & (fc > 0)) | ((fb < 0) & (fc < 0)))
            c, fc = np.where(opposite, a, c), np.where(opposite, fa, fc)
    root = np.where(live, b, root)  # out of iterations: R returns the last iterate
    return root, finished


def _fit_counts(es, codes, n_groups, method, measure, notes):
    """Mantel-Haenszel (OR, RR, RD) or Peto pooling on the exact counts, as metafor's rma.mh and rma.peto."""
    a, n1 = es["events_e"].to_numpy(float), es["n_e"].to_numpy(float)
    c, n2 = es["events_c"].to_numpy(float), es["n_c"].to_numpy(float)
    b, d = n1 - a, n2 - c
    n = n1 + n2
    s = _summer(codes, n_groups)
    k = np.bincount(codes, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "PETO":
            events, non_events = a + c, b + d
            expected = events * n1 / n
            weight = events * non_events * (n1 / n) * (n2 / n) / (n - 1)
            sum_v = s(weight)
            theta = s(a - expected) / sum_v
            se = np.sqrt(1 / sum_v)
            defined = sum_v > 0
            notes.add(~defined, "no events (or no non-events) in any study: Peto's OR is undefined")
            informative = weight > 0
            q = np.maximum(
                0.0,
                s(np.where(informative, (a - expected) ** 2 / weight, 0.0)) - s(a - expected) ** 2 / sum_v,
            )
            k_pos = s(informative.astype(float))
        elif measure == "OR":
            p_, q_ = a / n + d / n, b / n + c / n
            r_, s_ = (a / n) * d, (b / n) * c
            big_r, big_s = s(r_), s(s_)
            defined = (big_r > 0) & (big_s > 0)
            theta = np.log(big_r / big_s)
            se = np.sqrt(
                0.5 * (s(p_ * r_) / big_r**2 + s(p_ * s_ + q_ * r_) / (big_r * big_s) + s(q_ * s_) / big_s**2)
            )
            weight = (b / n) * c
            notes.add(~defined, "the Mantel-Haenszel OR is undefined (no events or no non-events in one arm)")
        elif measure == "RR":
            big_r, big_s = s(a * (n2 / n)), s(c * (n1 / n))
            defined = (s(a) > 0) & (s(c) > 0)
            theta = np.log(big_r / big_s)
            se = np.sqrt(s((n1 / n) * (n2 / n) * (a + c) - (a / n) * c) / (big_r * big_s))
            weight = (c / n) * n1
            notes.add(~defined, "the Mantel-Haenszel RR is undefined (no events in one arm)")
        else:  # RD, with the variance of Greenland and Robins / Sato as in rma.mh
            weight = n1 * (n2 / n)
            sum_w = s(weight)
            theta = s(a * (n2 / n) - c * (n1 / n)) / sum_w
            se = np.sqrt(
                (
                    theta * s(c * (n1 / n) ** 2 - a * (n2 / n) ** 2 + (n1 / n) * (n2 / n) * (n2 - n1) / 2)
                    + s(a * (n2 - c) / n + c * (n1 - a) / n) / 2
                )
                / sum_w**2
            )
            defined = np.ones(n_groups, dtype=bool)
    theta, se = np.where(defined, theta, np.nan), np.where(defined, se, np.nan)

    # heterogeneity from escalc's (corrected) yi, vi; double zeros are NA there by default (drop00)
    y, v = es["yi"].to_numpy(float), es["vi"].to_numpy(float)
    has_y = np.isfinite(y)
    k_y = np.bincount(codes[has_y], minlength=n_groups)
    if method != "PETO":
        q = np.maximum(0.0, s(np.where(has_y, (y - theta[codes]) ** 2 / np.where(has_y, v, 1.0), 0.0)))
        q = np.where(defined, q, np.nan)
        multi = k_y > 1
    else:
        multi = k_pos > 1
    df = k_y - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = {
            "k": k,
            "theta": theta,
            "se": se,
            "tau2": np.zeros(n_groups),
            "q": np.where(method == "PETO", q, np.where(multi, q, 0.0)),
            "q_df": np.where(k_y >= 1, df, np.nan),
            "q_pval": np.where(multi, stats.chi2.sf(q, np.maximum(df, 1)), 1.0),
            "i2": np.where(multi, np.maximum(0.0, 100 * (q - df) / q), 0.0),
            "h2": np.where(multi, q / df, 1.0),
            "converged": defined,
        }
    return fit, weight


# --- helpers -----------------------------------------------------------------------------------------------


def _summer(codes: np.ndarray, n_groups: int) -> Callable[[np.ndarray], np.ndarray]:
    """Per-analysis sums of a per-row array."""
    return lambda x: np.bincount(codes, weights=x, minlength=n_groups)


class _Studies:
    """The studies (yi, vi, analysis code) of the analyses still iterating.

    An iterative estimator touches every study each step; once most analyses have converged (Fisher scoring
    oscillates in ~1% of random analyses until maxiter, as in metafor) the rest run on a shrunken copy. This
    cut REML on 10,000 analyses from 410 to 130 ms in benchmarks/bench_pool.py.
    """

    def __init__(self, y: np.ndarray, v: np.ndarray, g: np.ndarray, n_groups: int):
        self.y, self.v, self.g, self.n_groups = y, v, g, n_groups

    def keep(self, live: np.ndarray) -> None:
        rows = live[self.g]
        if rows.mean() < 0.5:
            self.y, self.v, self.g = self.y[rows], self.v[rows], self.g[rows]

    def sum(self, x: np.ndarray) -> np.ndarray:
        return np.bincount(self.g, weights=x, minlength=self.n_groups)


def _mad(y, g, k, n_groups):
    """R's mad(): 1.4826 times the median absolute deviation from the median, per analysis."""
    median = _group_median(y, g, k, n_groups)
    return 1.4826 * _group_median(np.abs(y - median[g]), g, k, n_groups)


def _group_median(x, g, k, n_groups):
    ordered = x[np.lexsort((x, g))]
    start = np.cumsum(k) - k
    last = max(len(x) - 1, 0)
    lo = np.minimum(start + (k - 1) // 2, last)
    hi = np.minimum(start + k // 2, last)
    return np.where(k > 0, (ordered[lo] + ordered[hi]) / 2, np.nan) if len(x) else np.full(n_groups, np.nan)


def _columns(data: pd.DataFrame, by: Sequence[str] | str | None) -> list[str]:
    by = [by] if isinstance(by, str) else list(by or [])
    missing = [c for c in by if c not in data.columns]
    if missing:
        columns = ", ".join(map(str, data.columns))
        raise ReviewError(f"grouping column {', '.join(missing)} is not in the data; columns are {columns}.")
    return by


def _keys(data: pd.DataFrame, by: list[str], codes: np.ndarray, n_groups: int) -> pd.DataFrame:
    """The `by` values of each analysis, in order of first appearance."""
    first = np.full(n_groups, len(codes))
    np.minimum.at(first, codes, np.arange(len(codes)))
    return data[by].iloc[first].reset_index(drop=True) if by else pd.DataFrame(index=range(n_groups))


def _describe_groups(data, by, codes, groups) -> str:
    if not by:
        return "the analysis"
    keys = _keys(data, by, codes, int(codes.max()) + 1).iloc[groups]
    first = ", ".join(f"{c}={keys[c].iloc[0]}" for c in by)
    return f"analysis {first}" + (f" (and {len(groups) - 1} more)" if len(groups) > 1 else "")


class _Notes:
    """Short per-analysis remarks, joined with '; '."""

    def __init__(self, n_groups: int):
        self._parts: list[list[str]] = [[] for _ in range(n_groups)]

    def add(self, mask: np.ndarray, text: str) -> None:
        for i in np.flatnonzero(mask):
            self._parts[i].append(text)

    def joined(self) -> list[str]:
        return ["; ".join(p) for p in self._parts]
