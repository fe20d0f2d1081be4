"""Meta-analysis: pool every analysis of a long table at once, with the numbers of R's metafor 3.8.

`pool()` takes one row per study and pools each group of rows that the `by` columns define (an adverse-event
term and grade, a response category, a comparison or subgroup...). All groups are computed together: sums over
studies are `np.bincount` over a group code, and the iterative tau^2 estimators (Fisher scoring for ML, REML
and EB; Paule-Mandel's root search; the Q-profile interval) update every analysis's tau^2 as one array, each
analysis stopping at its own convergence. The inverse-variance model itself is review/rma.py (shared with
meta-regression, review/regression.py); diagnostics (ranktest, trimfill, cumulative, influence) are
review/diagnostics.py.

Each estimator follows metafor's code path, not just its formula, so the numbers agree to rounding:
`rma.uni` (EE, DL, HE, HS, SJ, ML, REML, EB, PM; tests z, t, knha, adhoc; Q, I^2, H^2; predict's prediction
interval; confint's Q-profile interval of tau^2 and I^2), `rma.mh` and `rma.peto` (exact counts; the
continuity correction only enters the heterogeneity statistics) and `escalc` (effect sizes, review/effects.py).

Options are one frozen, keyword-only `Options` object, checked once when it is made; the public functions keep
their keyword arguments (`pool(data, "RR", "REML", test="knha", by=["outcome"])`) and build it.

Why numpy rather than statsmodels or PyMARE, measured on the same 10,000 random analyses of k = 10
(benchmarks/bench_pool.py, 2-core machine):
- statsmodels' `combine_effects` pools one analysis per call: a loop of it was 28x slower than `pool`
  (which also computes the Q-profile intervals of tau^2 and I^2 that statsmodels lacks), 61x with
  `tau2_ci=False`. It has no REML, MH or Peto; it leaves DL's tau^2 negative (30% of those analyses; metafor
  floors it at 0) and stops Paule-Mandel at |Q - (k-1)| < 1e-5, which moved tau^2 by up to 3e-5 from
  metafor's.
- PyMARE 0.0.13 fits equal-k analyses in one call (REML 0.21 s) but by numerical optimisation: its tau^2
  differed from metafor's by more than 1e-6 in a third of them (up to 1.3e-4). It needs every analysis to
  have the same k and has neither MH nor Peto.
So the estimators are written here on numpy, each on metafor's code path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from . import rma
from .effects import (
    ONE_ARM,
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
from .rma import MAX_ITER, THRESHOLD

METHODS = ("EE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM", "MH", "PETO")
RANDOM_EFFECTS = ("DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM")
TESTS = rma.TESTS  # z, t, knha (Hartung-Knapp-Sidik-Jonkman), adhoc (knha with s2w >= 1)
SINGLE_STUDY = ("error", "keep")
STUDY_CI = ("wald", "exact")
_ALIASES = {"FE": "EE", "CE": "EE"}


@dataclass(frozen=True, kw_only=True)
class Options:
    """How to pool: metafor's arguments, checked and normalised once when the object is made.

    `measure` and `method` are metafor's codes (method FE/CE read as EE); `test` z, t, knha or adhoc;
    `level` a percentage (0.95 reads as 95, as in metafor); `add`, `to`, `drop00` escalc's continuity
    correction (None: metafor's default, resolved here); `single_study` "error" or "keep" (a random-effects
    analysis of one study); `max_iter` and `threshold` rma.uni's Fisher-scoring controls; `study_ci` "wald"
    or "exact" (Clopper-Pearson, for the study rows of a single proportion, as meta's metaprop shows them);
    `tau2_ci` False skips the Q-profile interval of tau^2 and I^2 (its root searches cost more than the fit).
    """

    measure: str
    method: str = "REML"
    test: str = "z"
    level: float = 95.0
    add: float | None = None
    to: str = "only0"
    drop00: bool | None = None
    single_study: str = "error"
    max_iter: int = MAX_ITER
    threshold: float = THRESHOLD
    study_ci: str = "wald"
    tau2_ci: bool = True

    def __post_init__(self) -> None:
        info = measure_info(self.measure)
        method = _ALIASES.get(str(self.method).upper(), str(self.method).upper())
        if method not in METHODS:
            raise ReviewError(f"unknown method {self.method!r}: use one of {', '.join(METHODS)}.")
        test = str(self.test).lower()
        if test not in TESTS:
            raise ReviewError(f"unknown test {self.test!r}: use one of {', '.join(TESTS)}.")
        if self.single_study not in SINGLE_STUDY:
            raise ReviewError(f"single_study={self.single_study!r}: use 'error' or 'keep'.")
        if self.study_ci not in STUDY_CI:
            raise ReviewError(f"study_ci={self.study_ci!r}: use 'wald' or 'exact'.")
        try:
            level = float(self.level)
        except (TypeError, ValueError):
            level = float("nan")
        if not 0 < level < 100:
            raise ReviewError(f"level={self.level} is not a confidence level; use a percentage such as 95.")
        if method in ("MH", "PETO"):
            allowed = ("OR", "RR", "RD") if method == "MH" else ("OR", "PETO")
            if info.code not in allowed:
                raise ReviewError(
                    f"method {method} pools only {', '.join(allowed)}; use method REML, DL, PM or EE."
                )
            if test != "z":
                raise ReviewError(f"test {test} applies to inverse-variance methods; {method} uses z.")
        if int(self.max_iter) < 1 or not float(self.threshold) > 0:
            raise ReviewError("max_iter must be >= 1 and threshold > 0 (metafor's maxiter and threshold).")
        escalc = "PETO" if method == "PETO" else info.code
        normal = {
            "measure": info.code,
            "method": method,
            "test": test,
            "level": level * 100 if level < 1 else level,  # metafor also reads 0.95 as 95%
            "add": default_add(escalc) if self.add is None else float(self.add),
            "drop00": method in ("MH", "PETO") if self.drop00 is None else bool(self.drop00),
            "max_iter": int(self.max_iter),
            "threshold": float(self.threshold),
            "tau2_ci": bool(self.tau2_ci),
        }
        for name, value in normal.items():
            object.__setattr__(self, name, value)

    @property
    def alpha(self) -> float:
        return (100 - self.level) / 100

    @property
    def escalc_measure(self) -> str:
        return "PETO" if self.method == "PETO" else self.measure

    def replace(self, **changes) -> Options:
        return dataclasses.replace(self, **changes)


def options(measure: str | Options, method: str = "REML", test: str = "z", **kwargs) -> Options:
    """An `Options` from the public functions' arguments; a given `Options` is used as it is."""
    if isinstance(measure, Options):
        return measure
    return Options(measure=measure, method=method, test=test, **kwargs)


def pool(
    data: pd.DataFrame,
    measure: str | Options,
    method: str = "REML",
    test: str = "z",
    *,
    by: Sequence[str] | None = None,
    level: float = 95.0,
    add: float | None = None,
    to: str = "only0",
    drop00: bool | None = None,
    single_study: str = "error",
    max_iter: int = MAX_ITER,
    threshold: float = THRESHOLD,
    tau2_ci: bool = True,
) -> pd.DataFrame:
    """Pool each analysis (group of rows sharing the `by` values) of `data`; one result row per analysis.

    `measure` and `method` are metafor's codes (OR, RR, RD, PETO, PLO, PR, PAS, PFT, MD, SMD, HR, GEN; EE, DL,
    HE, HS, SJ, ML, REML, EB, PM, MH, PETO); `test` is z, t, knha (Hartung-Knapp-Sidik-Jonkman) or adhoc
    (knha, never narrower than z's variance). `add`, `to` and `drop00` are escalc's continuity correction;
    their defaults are metafor's (add 1/2, or 0 for PAS and PFT; drop00 False for inverse-variance methods,
    True for MH and Peto, whose pooled estimate always uses the exact counts). A random-effects analysis with
    one study is an error unless `single_study="keep"`, which reports what metafor does (the study itself,
    tau^2 = 0). `max_iter` and `threshold` are metafor's Fisher-scoring controls. `tau2_ci=False` leaves the
    Q-profile interval columns (tau2_ci_*, i2_ci_*) empty: metafor's confint is a separate call, and its
    root searches take longer than the fit itself. `measure` may also be an `Options` (then the other
    arguments are ignored).

    Columns: the `by` values, measure, method, test, k, theta and se (analysis scale), stat, ddf, pval,
    estimate, ci_low, ci_high, pi_low, pi_high (natural scale), tau2, tau2_ci_low, tau2_ci_high, i2,
    i2_ci_low, i2_ci_high (Q-profile, metafor's confint), h2, q, q_df, q_pval, converged, add, to, drop00,
    k_corrected, k_double_zero and note (why a value is missing, or what was adjusted).
    """
    opts = options(
        measure,
        method,
        test,
        level=level,
        add=add,
        to=to,
        drop00=drop00,
        single_study=single_study,
        max_iter=max_iter,
        threshold=threshold,
        tau2_ci=tau2_ci,
    )
    return _analyse(data, opts, by, studies=False)[0]


def study_weights(
    data: pd.DataFrame,
    measure: str | Options,
    method: str = "REML",
    *,
    by: Sequence[str] | None = None,
    level: float = 95.0,
    add: float | None = None,
    to: str = "only0",
    drop00: bool | None = None,
    single_study: str = "error",
    study_ci: str = "wald",
) -> pd.DataFrame:
    """Each study's yi, vi, its interval on the natural scale and its weight in percent (as weights()).

    Weights are those of the pooled estimate: 1/(vi + tau^2) for inverse-variance methods, the Mantel-Haenszel
    or Peto weights otherwise. A study left out of its analysis (a dropped double zero) has weight NaN. The
    interval is Wald's on the analysis scale (metafor's), or with `study_ci="exact"` the Clopper-Pearson
    interval of a single proportion (PR, PLO, PAS, PFT from events and n; R's binom.test, meta's "CP").
    """
    opts = options(
        measure, method, "z", level=level, add=add, to=to, drop00=drop00, single_study=single_study
    )
    if study_ci != "wald":
        opts = opts.replace(study_ci=study_ci)
    return _analyse(data, opts, by)[1]


def subgroups(
    data: pd.DataFrame,
    subgroup: str,
    measure: str | Options,
    method: str = "REML",
    test: str = "z",
    *,
    by: Sequence[str] | None = None,
    tau2: str = "common",
    level: float = 95.0,
    add: float | None = None,
    to: str = "only0",
    drop00: bool | None = None,
    single_study: str = "error",
) -> pd.DataFrame:
    """Pool each level of `subgroup` within each analysis and test for subgroup differences.

    `tau2="common"` (metafor's usual model, the default): one tau^2 shared by the subgroups, the mixed-effects
    model `rma(yi, vi, mods = ~ factor(subgroup))`; each subgroup's estimate is its fitted value and the test
    of differences is the model's QM (an F test for test t, knha, adhoc). `tau2="separate"`: each subgroup
    pooled on its own (`pool(by=[*by, subgroup])`), tested with the Q statistic between the subgroup
    estimates (metafor's `rma(theta, sei=se, method="EE")` on the subgroup fits); MH and Peto, which have no
    tau^2, always pool the subgroups separately. The `model` column names which. Rows: one per analysis and subgroup, with the test repeated on each row of its analysis as
    q_between, q_between_df (and q_between_ddf for an F test) and q_between_pval.
    """
    opts = options(
        measure, method, test, level=level, add=add, to=to, drop00=drop00, single_study=single_study
    )
    by = _columns(data, by)
    if subgroup not in data.columns:
        raise ReviewError(
            f"subgroup column {subgroup!r} is not in the data; columns are {', '.join(data.columns)}."
        )
    if tau2 not in ("common", "separate"):
        raise ReviewError(f"tau2={tau2!r}: use 'common' (one tau^2 for all subgroups) or 'separate'.")
    fixed = opts.method in ("MH", "PETO")  # no tau^2 to share: the subgroups are pooled separately
    if tau2 == "common" and not fixed:
        from .regression import common_tau2_subgroups

        return common_tau2_subgroups(data, subgroup, opts, by)
    result = _analyse(data, opts, [*by, subgroup], studies=False)[0]
    codes = group_codes(result, by)
    theta, se = result["theta"].to_numpy(), result["se"].to_numpy()
    ok = np.isfinite(theta) & np.isfinite(se) & (se > 0)
    w = np.where(ok, 1 / np.where(ok, se, 1.0) ** 2, 0.0)
    g_sum = _summer(codes, int(codes.max()) + 1 if len(codes) else 0)
    n_ok = g_sum(ok.astype(float))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = g_sum(w * np.where(ok, theta, 0.0)) / g_sum(w)
    q = g_sum(np.where(ok, w * (theta - mean[codes]) ** 2, 0.0))
    valid = n_ok >= 2
    df = np.where(valid, n_ok - 1, np.nan)
    result.insert(len(by) + 1, "model", f"separate fits ({opts.method})" if fixed else "separate tau2")
    result["q_between"] = np.where(valid, q, np.nan)[codes]
    result["q_between_df"] = df[codes]
    result["q_between_ddf"] = np.nan
    result["q_between_pval"] = np.where(valid, stats.chi2.sf(q, np.where(valid, df, 1)), np.nan)[codes]
    return result


def leave_one_out(
    data: pd.DataFrame,
    measure: str | Options,
    method: str = "REML",
    test: str = "z",
    *,
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
    opts = options(measure, method, test, level=level, add=add, to=to, drop00=drop00, single_study="keep")
    by = _columns(data, by)
    frame = expand(data, by, "omitted", study_labels(data, study), cumulative=False)
    return _analyse(frame, opts.replace(single_study="keep"), [*by, "omitted"], studies=False)[0]


def study_labels(data: pd.DataFrame, study: str | None) -> np.ndarray:
    """The study labels: column `study` (default study_id or study when present), else 1, 2, ..."""
    if study is None:
        study = next((c for c in ("study_id", "study") if c in data.columns), None)
    elif study not in data.columns:
        raise ReviewError(f"study label column {study!r} is not in the data.")
    return data[study].to_numpy() if study else np.arange(1, len(data) + 1)


def expand(data: pd.DataFrame, by: list[str], name: str, labels, cumulative: bool) -> pd.DataFrame:
    """Copies of each analysis's rows, one copy per study, in one frame for one vectorised pass.

    Leave-one-out (`cumulative=False`): copy i holds every study but the i-th. Cumulative: copy i holds the
    studies up to the i-th, in data order. Column `name` holds the label of study i (the copy's key).
    """
    member, current = copies(group_codes(data, by), cumulative)
    frame = data.iloc[member].reset_index(drop=True)
    frame[name] = np.asarray(labels)[current]
    return frame


def copies(codes: np.ndarray, cumulative: bool) -> tuple[np.ndarray, np.ndarray]:
    """(member, current): row `member[j]` belongs to the copy made for row `current[j]` (see `expand`)."""
    if len(codes) == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes)
    starts = np.cumsum(sizes) - sizes
    # for each row (the omitted or last one), all rows of its analysis; then keep those the copy holds
    rep = sizes[codes[order]]
    current = np.repeat(order, rep)
    within = np.arange(rep.sum()) - np.repeat(np.cumsum(rep) - rep, rep)
    position = np.repeat(np.arange(len(order)) - starts[codes[order]], rep)
    member = order[starts[codes[current]] + within]
    keep = within <= position if cumulative else member != current
    return member[keep], current[keep]


def egger_test(
    data: pd.DataFrame,
    measure: str,
    *,
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


def prepare(
    data: pd.DataFrame, opts: Options, by: Sequence[str] | None
) -> tuple[list[str], pd.DataFrame, np.ndarray, int]:
    """Effect sizes and analysis codes: (by, es, codes, n_groups); one-line errors for unusable input."""
    by = _columns(data, by)
    if len(data) == 0:
        raise ReviewError("the input has no rows: add one row per study.")
    if opts.method in ("MH", "PETO") and input_kind(data, opts.measure) != "raw":
        raise ReviewError(f"method {opts.method} needs the counts {', '.join(TWO_ARM)}, not yi and vi.")
    assert opts.drop00 is not None  # Options sets it to a bool
    es = effect_sizes(data, opts.escalc_measure, opts.add, opts.to, opts.drop00, by)
    codes = analysis_codes(data, by)
    y, v = es["yi"].to_numpy(dtype=float), es["vi"].to_numpy(dtype=float)
    dropped = es["double_zero"].to_numpy() & opts.drop00 if "double_zero" in es else np.zeros(len(es), bool)
    unusable = ~dropped & ~(np.isfinite(y) & np.isfinite(v) & (v > 0))
    if unusable.any():
        i = int(np.flatnonzero(unusable)[0])
        fix = (
            "a zero cell needs a continuity correction: use add > 0 (metafor's default is 0.5)"
            if opts.add == 0 or opts.to == "none"
            else "check its numbers"
        )
        raise ReviewError(
            f"{opts.measure} has no finite effect size or positive variance for {row_label(data, i)}: {fix}."
        )
    return by, es, codes, int(codes.max()) + 1


def _analyse(data: pd.DataFrame, opts: Options, by, *, studies: bool = True):
    """Pool all analyses; return (one row per analysis, one row per study with its weight, or None when
    `studies` is False: pool() alone does not need them)."""
    by, es, codes, n_groups = prepare(data, opts, by)
    y, v = es["yi"].to_numpy(dtype=float), es["vi"].to_numpy(dtype=float)
    method, alpha = opts.method, opts.alpha
    notes = _Notes(n_groups)
    if method in ("MH", "PETO"):
        fit, study_weight = _fit_counts(es, codes, n_groups, method, opts.measure, notes)
        fit["crit"] = np.full(n_groups, stats.norm.isf(alpha / 2))
        fit["ddf"] = np.full(n_groups, np.nan)
        fit["tau2_ci"] = [np.full(n_groups, np.nan)] * 4
    else:
        fit, study_weight = _fit_iv(y, v, codes, n_groups, opts, data, by, notes)
    theta, se, crit, tau2 = fit["theta"], fit["se"], fit["crit"], fit["tau2"]
    with np.errstate(invalid="ignore"):
        stat = theta / se
    t_based = np.isfinite(
        fit["ddf"]
    )  # (a t distribution's tail costs ten times the normal's: only where used)
    pval = 2 * stats.norm.sf(np.abs(stat))
    if t_based.any():
        pval[t_based] = 2 * stats.t.sf(np.abs(stat[t_based]), fit["ddf"][t_based])
    # predict.rma gives a prediction interval for random-effects models only
    half_pi = crit * np.sqrt(se**2 + tau2) if method in RANDOM_EFFECTS else np.full(n_groups, np.nan)

    s_rows = _summer(codes, n_groups)
    n_harmonic = harmonic_n(data, opts.measure, codes, n_groups)

    def natural(x):
        return to_natural(opts.measure, x, n_harmonic)

    corrected = es["corrected"].to_numpy(dtype=float)
    double_zero = es["double_zero"].to_numpy(dtype=float) if "double_zero" in es else np.zeros(len(es))
    tau2_lb, tau2_ub, i2_lb, i2_ub = fit["tau2_ci"]
    columns = dict(
        measure=opts.measure,
        method=method,
        test=opts.test,
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
        tau2_ci_low=tau2_lb,
        tau2_ci_high=tau2_ub,
        i2=fit["i2"],
        i2_ci_low=i2_lb,
        i2_ci_high=i2_ub,
        h2=fit["h2"],
        q=fit["q"],
        q_df=fit["q_df"],
        q_pval=fit["q_pval"],
        converged=fit["converged"],
        add=opts.add,
        to=opts.to,
        drop00=opts.drop00,
        k_corrected=s_rows(corrected).astype(int),
        k_double_zero=s_rows(double_zero).astype(int),
        note=notes.joined(),
    )
    # one frame from a dict: assigning 30 columns one by one cost more than the pooling of one analysis
    result = pd.concat([_keys(data, by, codes, n_groups), pd.DataFrame(columns, copy=False)], axis=1)
    if not studies:
        return result, None
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = study_weight()
        weight = 100 * weight / s_rows(np.nan_to_num(weight))[codes]
    low, high = _study_intervals(data, es, opts, codes, n_harmonic)
    return result, es.assign(ci_low=low, ci_high=high, weight=weight)


def harmonic_n(data, measure, codes, n_groups):
    """PFT back-transforms with the harmonic mean of the sample sizes (metafor's transf.ipft.hm)."""
    if measure_info(measure).natural != "ipft":
        return None
    if "n" not in data.columns:
        raise ReviewError(
            "measure PFT needs column n (the sample sizes) to back-transform the pooled proportion."
        )
    n_col = pd.to_numeric(data["n"], errors="coerce").to_numpy(dtype=float)
    return np.bincount(codes, minlength=n_groups) / _summer(codes, n_groups)(1 / n_col)


def _study_intervals(data, es, opts: Options, codes, n_harmonic):
    """Each study's interval on the natural scale: Wald's on the analysis scale, or Clopper-Pearson's."""
    y, v = es["yi"].to_numpy(dtype=float), es["vi"].to_numpy(dtype=float)
    if opts.study_ci == "exact":
        if measure_info(opts.measure).columns != ONE_ARM or input_kind(data, opts.measure) != "raw":
            raise ReviewError(
                "exact (Clopper-Pearson) study intervals need a single proportion (PR, PLO, PAS, PFT) "
                "given as events and n; use study_ci='wald'."
            )
        x, n = (pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=float) for c in ONE_ARM)
        return clopper_pearson(x, n, opts.level)
    crit = stats.norm.isf(opts.alpha / 2)
    n_study = None if n_harmonic is None else n_harmonic[codes]
    return (
        to_natural(opts.measure, y - crit * np.sqrt(v), n_study),
        to_natural(opts.measure, y + crit * np.sqrt(v), n_study),
    )


def clopper_pearson(events: np.ndarray, n: np.ndarray, level: float = 95.0):
    """Exact binomial interval of events/n (R's binom.test(x, n)$conf.int): beta quantiles, 0 and 1 at the ends."""
    alpha = (100 - level) / 100
    with np.errstate(invalid="ignore"):
        low = np.where(events > 0, stats.beta.ppf(alpha / 2, events, n - events + 1), 0.0)
        high = np.where(events < n, stats.beta.isf(alpha / 2, events + 1, n - events), 1.0)
    return low, high


def _fit_iv(y, v, codes, n_groups, opts: Options, data, by, notes):
    """Inverse-variance pooling (metafor's rma.uni, intercept only) for all analyses at once: (the fit's
    arrays, a function giving each study's weight, computed only when asked for)."""
    method = opts.method
    use = np.isfinite(y)  # rows set to NaN by drop00 are left out, as metafor omits NA outcomes
    every = bool(use.all())  # (then no copies: a fresh array costs its page faults)
    y_use, v_use, g_use = (y, v, codes) if every else (y[use], v[use], codes[use])
    if method != "SJ" and rma.PaddedDesign.fits(g_use, n_groups):  # (SJ's start takes the rows' own means)
        design: rma.Design = rma.PaddedDesign(y_use, v_use, g_use, n_groups)
    else:
        design = rma.Design(y_use, v_use, np.ones((len(y_use), 1)), g_use, n_groups)
    k = design.k
    notes.add(k == 0, "no studies left after dropping double-zero studies")
    if method in RANDOM_EFFECTS and opts.single_study == "error" and np.any(k == 1):
        lonely = np.flatnonzero(k == 1)
        where = _describe_groups(data, by, codes, lonely)
        raise ReviewError(
            f"{where} has a single study (k = 1), and method {method} needs k >= 2 to estimate tau^2: "
            "pool it with method EE, remove it, or keep metafor's single-study result (single_study='keep', "
            "--single-study keep)."
        )
    notes.add((k == 1) & (method in RANDOM_EFFECTS), "k = 1: tau2 set to 0 and test z, as metafor")
    fitted = rma.fit(design, method, opts.test, opts.alpha, opts.max_iter, opts.threshold)
    for text, mask in fitted.notes.items():
        notes.add(mask & (k >= 2), text)
    if method in RANDOM_EFFECTS and opts.tau2_ci:
        tau2_ci = list(rma.q_profile(design, fitted, opts.alpha))
    else:
        tau2_ci = [np.full(n_groups, np.nan)] * 4
    fit = {
        "k": k,
        "theta": fitted.beta[:, 0],
        "se": np.sqrt(fitted.vb[:, 0, 0]),
        "crit": fitted.crit,
        "ddf": fitted.ddf,
        "tau2": fitted.tau2,
        "tau2_ci": tau2_ci,
        "q": fitted.qe,
        "q_df": fitted.qe_df,
        "q_pval": fitted.qe_pval,
        "i2": fitted.i2,
        "h2": fitted.h2,
        "converged": fitted.converged,
    }

    def weight() -> np.ndarray:  # each study's, when asked for (pool() does not need them)
        out = np.full(len(codes), np.nan)
        out[use] = 1 / (v_use + fitted.tau2[g_use])
        return out

    return fit, weight


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
    return fit, lambda: weight  # as _fit_iv's


# --- helpers -----------------------------------------------------------------------------------------------


def _summer(codes: np.ndarray, n_groups: int) -> Callable[[np.ndarray], np.ndarray]:
    """Per-analysis sums of a per-row array."""
    return lambda x: np.bincount(codes, weights=x, minlength=n_groups)


def _columns(data: pd.DataFrame, by: Sequence[str] | str | None) -> list[str]:
    by = [by] if isinstance(by, str) else list(by or [])
    missing = [c for c in by if c not in data.columns]
    if missing:
        columns = ", ".join(map(str, data.columns))
        raise ReviewError(f"grouping column {', '.join(missing)} is not in the data; columns are {columns}.")
    return by


def analysis_codes(data: pd.DataFrame, by: list[str]) -> np.ndarray:
    """effects.group_codes; one column by pd.factorize, which numbers the same way (in order of appearance,
    missing values a group of their own) at a third of groupby's cost."""
    if len(by) == 1:
        return pd.factorize(data[by[0]], use_na_sentinel=False)[0].astype(np.intp, copy=False)
    return group_codes(data, by)


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
        self._n = n_groups
        self._parts: dict[int, list[str]] = {}  # most analyses have none

    def add(self, mask: np.ndarray, text: str) -> None:
        for i in np.flatnonzero(mask).tolist():
            self._parts.setdefault(i, []).append(text)

    def joined(self) -> list[str]:
        out = [""] * self._n
        for i, parts in self._parts.items():
            out[i] = "; ".join(parts)
        return out


# meta-regression and the diagnostics live in their own modules (meta.py stays one stage); reachable from here
_ELSEWHERE = {
    "metareg": "regression",
    "MetaRegression": "regression",
    "ranktest": "diagnostics",
    "TrimFill": "diagnostics",
    "trimfill": "diagnostics",
    "cumulative": "diagnostics",
    "influence": "diagnostics",
}


def __getattr__(name: str):
    if name in _ELSEWHERE:
        import importlib

        return getattr(importlib.import_module(f"{__package__}.{_ELSEWHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
