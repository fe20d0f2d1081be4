"""Meta-regression (metafor's `rma(yi, vi, mods = ...)`) and subgroups with a common tau^2, for every analysis.

The moderators are columns of the data: numbers enter as they are, anything else as a factor with R's
treatment coding (the first level, in sorted order, is the reference; a dummy per other level, named as
model.matrix names it, e.g. `allocrandom`). The levels of a factor are those present in each analysis, as
when metafor fits that analysis alone. All analyses are fitted together by review/rma.py.

Output names are metafor's: coefficients `estimate, se, zval, pval, ci.lb, ci.ub` (zval holds the t value
under test t, knha and adhoc, as in metafor's object); the model `k, p, m, tau2, I2, H2, R2, QE, QEdf, QEp,
QM, QMdf, ddf, QMp` and the Q-profile interval `tau2.lb, tau2.ub, I2.lb, I2.ub` (confint).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from . import rma
from .effects import group_codes, row_label, to_natural
from .errors import ReviewError
from .meta import MAX_ITER, THRESHOLD, Options, _keys, _Notes, harmonic_n, options, prepare

INTERCEPT = "intrcpt"


class MetaRegression(NamedTuple):
    """Result of `metareg`: one row per analysis and coefficient, and one row per analysis."""

    coefficients: pd.DataFrame
    model: pd.DataFrame


class _Moderators(NamedTuple):
    X: np.ndarray  # (n studies, p columns); column 0 the intercept
    terms: np.ndarray  # (n analyses, p) the term each column is in each analysis ("" if absent there)
    level_rank: dict[
        str, np.ndarray
    ]  # factor -> each study's level number within its analysis (0: reference)


def metareg(
    data: pd.DataFrame,
    measure: str | Options,
    mods: Sequence[str] | str,
    method: str = "REML",
    test: str = "z",
    *,
    by: Sequence[str] | None = None,
    level: float = 95.0,
    add: float | None = None,
    to: str = "only0",
    drop00: bool | None = None,
    max_iter: int = MAX_ITER,
    threshold: float = THRESHOLD,
) -> MetaRegression:
    """Mixed-effects meta-regression of each analysis on the moderator columns `mods` (with an intercept).

    As metafor's `rma(yi, vi, mods = ~ m1 + m2, method, test)` on each analysis: coefficients with their
    tests and intervals; QM (omnibus test of the moderators: chi^2 on m df, or F on m and k - p df for test
    t, knha, adhoc), QE (residual heterogeneity), tau^2 (residual), I^2, H^2, and R^2 (the proportional
    reduction of tau^2 against the same model without moderators; for EE the adjusted R^2 of weighted
    least squares, as metafor). Methods EE, DL, HE, HS, SJ, ML, REML, EB, PM.
    """
    opts = options(
        measure,
        method,
        test,
        level=level,
        add=add,
        to=to,
        drop00=drop00,
        single_study="keep",
        max_iter=max_iter,
        threshold=threshold,
    )
    mods = [mods] if isinstance(mods, str) else list(mods)
    if not mods:
        raise ReviewError("metareg needs at least one moderator column (mods=...); use pool() without.")
    return _metareg(data, opts, mods, by)


def _metareg(data: pd.DataFrame, opts: Options, mods: list[str], by) -> MetaRegression:
    if opts.method in ("MH", "PETO"):
        raise ReviewError(f"meta-regression is inverse-variance: use a method other than {opts.method}.")
    missing = [c for c in mods if c not in data.columns]
    if missing:
        raise ReviewError(
            f"moderator column {', '.join(missing)} is not in the data; columns are {', '.join(data.columns)}."
        )
    by, es, codes, n_groups = prepare(data, opts, by)
    y, v = es["yi"].to_numpy(dtype=float), es["vi"].to_numpy(dtype=float)
    use = np.isfinite(y)
    moderators = design_matrix(data, mods, codes, n_groups)
    X = moderators.X
    d = rma.Design(y[use], v[use], X[use], codes[use], n_groups)
    d, fitted, notes = _fit(d, opts)
    k, p = np.bincount(codes[use], minlength=n_groups), fitted.p  # k: also where the fit was left out
    m = np.maximum(p - 1, 0)
    beta, vb = fitted.beta, fitted.vb
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(np.diagonal(vb, axis1=1, axis2=2))
        zval = beta / se
        t_based = np.isfinite(fitted.ddf)
        ddf = np.where(t_based, fitted.ddf, 1.0)[:, None]
        pval = np.where(t_based[:, None], 2 * stats.t.sf(np.abs(zval), ddf), 2 * stats.norm.sf(np.abs(zval)))
        ci_lb, ci_ub = beta - fitted.crit[:, None] * se, beta + fitted.crit[:, None] * se
        qm = _wald(beta[:, 1:], vb[:, 1:, 1:], d.present[:, 1:])
        qm = np.where(m >= 1, qm, np.nan)
        qm = np.where(t_based, qm / m, qm)
        qmp = np.where(
            t_based,
            stats.f.sf(qm, np.maximum(m, 1), np.nan_to_num(fitted.ddf, nan=1)),
            stats.chi2.sf(qm, np.maximum(m, 1)),
        )
    r2 = _r2(d, fitted, opts)
    tau2_lb, tau2_ub, i2_lb, i2_ub = (
        rma.q_profile(d, fitted, opts.alpha) if opts.method != "EE" else [np.full(n_groups, np.nan)] * 4
    )
    keys = _keys(data, by, codes, n_groups)
    model = keys.assign(
        measure=opts.measure,
        method=opts.method,
        test=opts.test,
        mods=" + ".join(mods),
        k=k,
        p=p,
        m=m,
        tau2=fitted.tau2,
        **{"tau2.lb": tau2_lb, "tau2.ub": tau2_ub},
        I2=fitted.i2,
        **{"I2.lb": i2_lb, "I2.ub": i2_ub},
        H2=fitted.h2,
        R2=np.where(m >= 1, r2, np.nan),
        QE=fitted.qe,
        QEdf=fitted.qe_df,
        QEp=fitted.qe_pval,
        QM=qm,
        QMdf=np.where(m >= 1, m, np.nan),
        ddf=fitted.ddf,
        QMp=np.where(m >= 1, qmp, np.nan),
        converged=fitted.converged,
        note=notes.joined(),
    )
    present = d.present
    g_idx, col = np.nonzero(present)
    coefficients = keys.iloc[g_idx].reset_index(drop=True)
    coefficients = coefficients.assign(
        term=moderators.terms[g_idx, col],
        estimate=beta[g_idx, col],
        se=se[g_idx, col],
        zval=zval[g_idx, col],
        pval=pval[g_idx, col],
        **{"ci.lb": ci_lb[g_idx, col], "ci.ub": ci_ub[g_idx, col]},
        ddf=fitted.ddf[g_idx],
    )
    return MetaRegression(coefficients, model)


def _fit(d: rma.Design, opts: Options):
    """(design, fit, notes): an analysis whose moderators are collinear is left out, with a note."""
    notes = _Notes(d.n_groups)
    rank = np.linalg.matrix_rank(d.cross(np.ones(d.n)) + d.absent)
    deficient = (rank < d.p) & (d.k > 0)
    if deficient.any():
        # metafor drops redundant moderators; here the analysis is reported without numbers, and why
        notes.add(deficient, "moderators are collinear in this analysis (metafor drops redundant ones)")
        keep = ~deficient[d.g]
        d = rma.Design(d.y[keep], d.v[keep], d.X[keep], d.g[keep], d.n_groups)
    fitted = rma.fit(d, opts.method, opts.test, opts.alpha, opts.max_iter, opts.threshold)
    for text, mask in fitted.notes.items():
        notes.add(mask, text)
    notes.add((d.k > 0) & (d.k <= d.p_eff), "k <= p: no residual degrees of freedom (QE, tau2 not estimable)")
    return d, fitted, notes


def _wald(b: np.ndarray, vb: np.ndarray, present: np.ndarray) -> np.ndarray:
    """b' vb^-1 b over the columns present in each analysis (absent ones: identity, b = 0)."""
    q = present.shape[1]
    if q == 0:
        return np.full(len(b), np.nan)
    both = present[:, :, None] & present[:, None, :]
    idx = np.arange(q)
    eye = np.zeros_like(vb)
    eye[:, idx, idx] = ~present
    vb = np.where(both, vb, 0.0) + eye
    b = np.where(present, b, 0.0)
    ok = np.all(np.isfinite(vb), axis=(1, 2)) & np.all(np.isfinite(b), axis=1)
    vb = np.where(ok[:, None, None], vb, np.eye(q))
    sol = np.linalg.solve(vb, np.where(ok[:, None], b, 0.0)[:, :, None])[:, :, 0]
    return np.where(ok, np.einsum("gi,gi->g", b, sol), np.nan)


def _r2(d: rma.Design, fitted: rma.Fit, opts: Options) -> np.ndarray:
    """metafor's R^2 (percent): (tau2_RE - tau2) / tau2_RE against the intercept-only fit, floored at 0."""
    base = rma.Design(d.y, d.v, d.X[:, :1], d.g, d.n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        if opts.method == "EE":  # adjusted R^2 of lm(yi ~ X, weights = 1/vi)
            q0 = rma.fit(base, "EE").qe
            df = d.k - fitted.p
            r2 = 1 - (fitted.qe / q0) * (d.k - 1) / df
            r2 = np.where(q0 == 0, 0.0, r2)
        else:
            tau2_re = rma.fit(base, opts.method, opts.test, opts.alpha, opts.max_iter, opts.threshold).tau2
            r2 = np.where(tau2_re == 0, 0.0, (tau2_re - fitted.tau2) / tau2_re)
    return np.maximum(0.0, 100 * r2)


def design_matrix(data: pd.DataFrame, mods: list[str], codes: np.ndarray, n_groups: int) -> _Moderators:
    """The intercept and moderator columns, factors coded per analysis as R's model.matrix would there."""
    n = len(data)
    columns = [np.ones(n)]
    terms = [np.full(n_groups, INTERCEPT, dtype=object)]
    ranks = {}
    for name in mods:
        raw = data[name]
        if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
            values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
            bad = ~np.isfinite(values)
            if bad.any():
                raise ReviewError(
                    f"moderator {name!r} has no value in {row_label(data, int(np.flatnonzero(bad)[0]))}: "
                    "fill it in, or leave that study out of the meta-regression."
                )
            columns.append(values)
            terms.append(np.full(n_groups, name, dtype=object))
            continue
        if raw.isna().any():
            i = int(np.flatnonzero(raw.isna().to_numpy())[0])
            raise ReviewError(
                f"moderator {name!r} has no value in {row_label(data, i)}: fill it in, or leave that study out."
            )
        labels = raw.map(lambda x: ("TRUE" if x else "FALSE") if isinstance(x, (bool, np.bool_)) else str(x))
        levels, level = np.unique(labels.to_numpy(dtype=str), return_inverse=True)
        seen = np.zeros((n_groups, len(levels)), dtype=bool)
        seen[codes, level] = True
        rank = np.cumsum(seen, axis=1) - 1  # each level's number among those present in the analysis
        row_rank = rank[codes, level]
        ranks[name] = row_rank
        for j in range(1, int(seen.sum(axis=1).max())):
            columns.append((row_rank == j).astype(float))
            term = np.full(n_groups, "", dtype=object)
            g, lv = np.nonzero(seen & (rank == j))
            term[g] = [f"{name}{levels[i]}" for i in lv]
            terms.append(term)
    return _Moderators(np.column_stack(columns), np.column_stack(terms), ranks)


def common_tau2_subgroups(data: pd.DataFrame, subgroup: str, opts: Options, by: list[str]) -> pd.DataFrame:
    """Subgroups sharing one tau^2: rma(yi, vi, mods = ~ factor(subgroup)) in each analysis (meta.subgroups)."""
    by, es, codes, n_groups = prepare(data, opts, by)
    y, v = es["yi"].to_numpy(dtype=float), es["vi"].to_numpy(dtype=float)
    use = np.isfinite(y)
    moderators = design_matrix(data, [subgroup], codes, n_groups)
    d = rma.Design(y[use], v[use], moderators.X[use], codes[use], n_groups)
    d, fitted, notes = _fit(d, opts)
    # the rows: each (analysis, subgroup) in order of first appearance, as pool(by=[*by, subgroup])
    rows_code = group_codes(data, [*by, subgroup])
    n_rows = int(rows_code.max()) + 1
    first = np.full(n_rows, len(data))
    np.minimum.at(first, rows_code, np.arange(len(data)))
    g = codes[first]
    j = moderators.level_rank[subgroup][first]
    k_rows = np.bincount(rows_code[use], minlength=n_rows)
    # the subgroup's fitted value: intercept + its dummy (the reference level: the intercept alone)
    beta, vb = np.nan_to_num(fitted.beta), np.nan_to_num(fitted.vb)
    theta = beta[g, 0] + np.where(j > 0, beta[g, j], 0.0)
    var = vb[g, 0, 0] + np.where(j > 0, vb[g, j, j] + 2 * vb[g, 0, j], 0.0)
    bad = ~np.isfinite(fitted.beta[g, 0]) | (k_rows == 0)
    theta, se = np.where(bad, np.nan, theta), np.where(bad, np.nan, np.sqrt(var))
    crit, ddf, tau2 = fitted.crit[g], fitted.ddf[g], fitted.tau2[g]
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = theta / se
        pval = np.where(
            np.isfinite(ddf),
            2 * stats.t.sf(np.abs(stat), np.nan_to_num(ddf, nan=1)),
            2 * stats.norm.sf(np.abs(stat)),
        )
        m = np.maximum(fitted.p - 1, 0)
        t_based = np.isfinite(fitted.ddf)
        qm = _wald(fitted.beta[:, 1:], fitted.vb[:, 1:, 1:], d.present[:, 1:])
        qm = np.where(m >= 1, np.where(t_based, qm / m, qm), np.nan)
        qmp = np.where(
            t_based,
            stats.f.sf(qm, np.maximum(m, 1), np.nan_to_num(fitted.ddf, nan=1)),
            stats.chi2.sf(qm, np.maximum(m, 1)),
        )
    ci = rma.q_profile(d, fitted, opts.alpha) if opts.method != "EE" else [np.full(n_groups, np.nan)] * 4
    tau2_lb, tau2_ub, i2_lb, i2_ub = (x[g] for x in ci)
    n_harmonic = harmonic_n(data, opts.measure, codes, n_groups)
    nh = None if n_harmonic is None else n_harmonic[g]

    def natural(x):
        return to_natural(opts.measure, x, nh)

    half_pi = crit * np.sqrt(se**2 + tau2) if opts.method != "EE" else np.full(n_rows, np.nan)
    keys = data[[*by, subgroup]].iloc[first].reset_index(drop=True)
    model = f"common tau2 (rma mods = ~ factor({subgroup}))"
    return keys.assign(
        model=model,
        measure=opts.measure,
        method=opts.method,
        test=opts.test,
        k=k_rows,
        theta=theta,
        se=se,
        stat=stat,
        ddf=ddf,
        pval=pval,
        estimate=natural(theta),
        ci_low=natural(theta - crit * se),
        ci_high=natural(theta + crit * se),
        pi_low=natural(theta - half_pi),
        pi_high=natural(theta + half_pi),
        tau2=tau2,
        tau2_ci_low=tau2_lb,
        tau2_ci_high=tau2_ub,
        i2=fitted.i2[g],
        i2_ci_low=i2_lb,
        i2_ci_high=i2_ub,
        h2=fitted.h2[g],
        q=fitted.qe[g],
        q_df=fitted.qe_df[g],
        q_pval=fitted.qe_pval[g],
        converged=fitted.converged[g],
        note=np.asarray(notes.joined(), dtype=object)[g],
        q_between=qm[g],
        q_between_df=np.where(m >= 1, m, np.nan)[g],
        q_between_ddf=np.where(m >= 1, fitted.ddf, np.nan)[g],
        q_between_pval=np.where(m >= 1, qmp, np.nan)[g],
    )
