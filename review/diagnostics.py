"""Small-study effects and sensitivity of every analysis at once: metafor's ranktest, trimfill, cumul,
influence and the numbers of its Baujat plot.

Like pool(), each function takes the long table and the `by` columns and works on all analyses together:
leave-one-out and cumulative fits are one rma pass over copies of the studies (meta.copies), trim-and-fill
iterates every analysis's trimming as one array, and Kendall's tau is computed over all within-analysis
pairs at once. Names of output columns are metafor's (rstudent, cook.d, tau2.del, k0, se.k0...).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from . import rma
from .errors import ReviewError
from .meta import (
    Options,
    _analyse,
    _columns,
    _keys,
    copies,
    group_codes,
    options,
    prepare,
    study_labels,
)


def ranktest(
    data: pd.DataFrame,
    measure: str | Options,
    *,
    by: Sequence[str] | None = None,
    add: float | None = None,
    to: str = "only0",
    drop00: bool = False,
) -> pd.DataFrame:
    """Begg and Mazumdar's rank correlation test for funnel-plot asymmetry (metafor's ranktest).

    Kendall's tau between the standardised deviates (yi - theta) / sqrt(vi - vb) (theta the common-effect
    estimate) and vi; the p-value is exact (R's cor.test(exact=TRUE)) unless there are ties, then the normal
    approximation with the tie correction, as R. Columns: the `by` values, k, tau, pval, exact.
    """
    opts = options(measure, "EE", "z", level=95.0, add=add, to=to, drop00=drop00, single_study="keep")
    by, es, codes, n_groups = prepare(data, opts, by)
    y, v = es["yi"].to_numpy(dtype=float), es["vi"].to_numpy(dtype=float)
    use = np.isfinite(y)
    y, v, g = y[use], v[use], codes[use]
    k = np.bincount(g, minlength=n_groups)
    w = 1 / v
    sw = np.bincount(g, w, n_groups)
    theta = np.bincount(g, w * y, n_groups) / sw
    with np.errstate(divide="ignore", invalid="ignore"):
        y_star = (y - theta[g]) / np.sqrt(v - 1 / sw[g])
    tau, pval, exact = _kendall(y_star, v, g, n_groups)
    few = k < 3
    return _keys(data, by, codes, n_groups).assign(
        measure=opts.measure,
        k=k,
        tau=np.where(few, np.nan, tau),
        pval=np.where(few, np.nan, pval),
        exact=exact & ~few,
        note=np.where(few, "the rank correlation test needs k >= 3", ""),
    )


def _kendall(x, y, g, n_groups):
    """Kendall's tau-b and R's cor.test p-value for each analysis, from all within-analysis pairs at once."""
    i, j = _pairs(g)
    sx, sy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    s = np.bincount(g[i], sx * sy, n_groups)
    n = np.bincount(g, minlength=n_groups).astype(float)
    t0 = n * (n - 1) / 2
    t1, t2 = np.bincount(g[i], sx == 0, n_groups), np.bincount(g[i], sy == 0, n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = s / np.sqrt((t0 - t1) * (t0 - t2))
    ties = (t1 > 0) | (t2 > 0)
    # exact: the number of concordant pairs, against the distribution of inversions of a permutation
    q = np.round((tau + 1) * n * (n - 1) / 4)
    pval = np.full(n_groups, np.nan)
    for size in np.unique(n[~ties & (n >= 2)]).astype(int):
        at = ~ties & (n == size) & np.isfinite(tau)
        cdf = _kendall_cdf(size)
        qa = q[at].astype(int)
        upper = qa > size * (size - 1) / 4
        p = np.where(upper, 1 - cdf[np.maximum(qa - 1, 0)], cdf[np.minimum(qa, len(cdf) - 1)])
        pval[at] = np.minimum(2 * p, 1.0)
    # with ties: the normal approximation, R's variance with tie corrections
    xt, yt = _tie_sums(x, g, n_groups), _tie_sums(y, g, n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        var_s = (
            (n * (n - 1) * (2 * n + 5) - xt[2] - yt[2]) / 18
            + xt[0] * yt[0] / (2 * n * (n - 1))
            + xt[1] * yt[1] / (9 * n * (n - 1) * (n - 2))
        )
        z = tau * np.sqrt((t0 - t1) * (t0 - t2)) / np.sqrt(var_s)
    pval = np.where(ties, 2 * stats.norm.sf(np.abs(z)), pval)
    return tau, np.where(np.isfinite(tau), pval, np.nan), ~ties


def _pairs(g):
    """All (i, j), i < j, of rows in the same analysis."""
    order = np.argsort(g, kind="stable")
    sizes = np.bincount(g)
    starts = np.cumsum(sizes) - sizes
    per_row = sizes[g[order]]
    pos = np.arange(len(g)) - starts[g[order]]
    # row at position pos pairs with those after it in its analysis
    count = per_row - pos - 1
    first = np.repeat(np.arange(len(g)), count)
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count) + 1
    return order[first], order[first + offset]


def _tie_sums(x, g, n_groups):
    """Per analysis: sum t(t-1), sum t(t-1)(t-2), sum t(t-1)(2t+5) over groups of t tied values."""
    t = pd.DataFrame({"g": g, "x": x}).groupby(["g", "x"]).size()
    gi = t.index.get_level_values(0).to_numpy()
    t = t.to_numpy(dtype=float)
    return (
        np.bincount(gi, t * (t - 1), n_groups),
        np.bincount(gi, t * (t - 1) * (t - 2), n_groups),
        np.bincount(gi, t * (t - 1) * (2 * t + 5), n_groups),
    )


@cache
def _kendall_cdf(n: int) -> np.ndarray:
    """P(T <= q), q = 0..n(n-1)/2, T the number of inversions of a random permutation of n (R's pkendall)."""
    p = np.ones(1)
    for m in range(2, n + 1):  # inserting element m adds 0..m-1 inversions, each with probability 1/m
        c = np.cumsum(np.concatenate([p, np.zeros(m - 1)]))
        p = (c - np.concatenate([np.zeros(m), c[:-m]])) / m
    return np.cumsum(p)


class TrimFill(NamedTuple):
    """Result of `trimfill`: one row per analysis (the filled model), and the filled (imputed) studies."""

    result: pd.DataFrame
    filled: pd.DataFrame


def trimfill(
    data: pd.DataFrame,
    measure: str | Options,
    method: str = "REML",
    test: str = "z",
    *,
    by: Sequence[str] | None = None,
    side: str | None = None,
    estimator: str = "L0",
    level: float = 95.0,
    add: float | None = None,
    to: str = "only0",
    drop00: bool | None = None,
    max_iter: int = 100,
) -> TrimFill:
    """Duval and Tweedie's trim and fill (metafor's trimfill, estimators L0 and R0), for every analysis.

    `side` ("left"/"right") is where studies are missing; by default, as metafor, the side opposite to the
    sign of the slope of yi on sqrt(vi). The result rows are pool() on the studies plus the filled ones
    (the analysis itself where k0 = 0), with k0, se.k0 and side; `filled` lists each imputed study (yi, vi).
    The filled model is fitted with the analysis's `test` (metafor's trimfill(res, test=res$test)).
    """
    opts = options(measure, method, test, level=level, add=add, to=to, drop00=drop00, single_study="keep")
    if opts.method in ("MH", "PETO"):
        raise ReviewError(
            f"trim and fill refits inverse-variance models: use a method other than {opts.method}."
        )
    if side not in (None, "left", "right") or estimator not in ("L0", "R0"):
        raise ReviewError("trimfill: side is 'left', 'right' or None (estimated); estimator 'L0' or 'R0'.")
    by, es, codes, n_groups = prepare(data, opts, by)
    y0, v0 = es["yi"].to_numpy(dtype=float), es["vi"].to_numpy(dtype=float)
    use = np.isfinite(y0)
    rows = np.flatnonzero(use)
    y, v, g = y0[use], v0[use], codes[use]
    k = np.bincount(g, minlength=n_groups)

    def fit(mask, X=None):
        X = np.ones((int(mask.sum()), 1)) if X is None else X[mask]
        d = rma.Design(y[mask] * flip[g[mask]], v[mask], X, g[mask], n_groups)
        return rma.fit(d, opts.method, opts.test, opts.alpha, opts.max_iter, opts.threshold).beta

    flip = np.ones(n_groups)
    if side is None:
        slope = fit(np.ones(len(y), bool), np.column_stack([np.ones(len(y)), np.sqrt(v)]))[:, 1]
        right = slope < 0
    else:
        right = np.full(n_groups, side == "right")
    flip = np.where(right, -1.0, 1.0)
    ys = y * flip[g]
    order = np.lexsort((ys, g))  # sorted within each analysis (R's sort: stable)
    rank_in = np.empty(len(y), dtype=np.intp)
    starts = np.cumsum(k) - k
    rank_in[order] = np.arange(len(y)) - starts[g[order]]
    k0 = np.zeros(n_groups)
    done = k < 2
    se_k0 = np.full(n_groups, np.nan)
    beta = np.full(n_groups, np.nan)
    for _ in range(max_iter):
        beta_now = fit(rank_in < (k - k0)[g])[:, 0]
        beta = np.where(done, beta, beta_now)
        yc = ys - beta[g]
        # rank of |yc| within the analysis, ties in sorted order (R's rank(ties.method = "first"))
        by_abs = np.lexsort((rank_in, np.abs(yc), g))
        r = np.empty(len(y))
        r[by_abs] = np.arange(len(y)) - starts[g[by_abs]] + 1
        signed = np.sign(yc) * r
        if estimator == "L0":
            sr = np.bincount(g, np.where(signed > 0, signed, 0.0), n_groups)
            raw = (4 * sr - k * (k + 1)) / (2 * k - 1)
            var_sr = (
                k * (k + 1) * (2 * k + 1)
                + 10 * raw**3
                + 27 * raw**2
                + 17 * raw
                - 18 * k * raw**2
                - 18 * k * raw
                + 6 * k**2 * raw
            ) / 24
            with np.errstate(invalid="ignore"):
                se = 4 * np.sqrt(var_sr) / (2 * k - 1)
        else:
            neg = np.full(n_groups, -np.inf)
            np.maximum.at(neg, g, np.where(signed < 0, -signed, -np.inf))
            raw = (k - neg) - 1
            se = np.sqrt(2 * np.maximum(0, raw) + 2)
        new = np.where(np.round(raw) > 0, np.round(raw), 0.0)  # no -0.0
        se_k0 = np.where(done, se_k0, np.maximum(0.0, se))
        changed = ~done & (new != k0)
        k0 = np.where(done, k0, new)
        done |= ~changed
        if done.all():
            break
    unfinished = ~done
    k0 = np.where(k >= 2, k0, np.nan)
    # the filled studies: the k0 most extreme on the chosen side, mirrored about the last estimate
    fill = np.isfinite(k0[g]) & (rank_in >= (k - np.nan_to_num(k0))[g])
    fill = order[fill[order]]  # the filled studies in sorted order, as metafor lists them
    beta_orig = beta * flip
    filled = es.iloc[rows[fill]][by].reset_index(drop=True) if by else pd.DataFrame(index=range(len(fill)))
    filled = filled.assign(yi=2 * beta_orig[g[fill]] - y[fill], vi=v[fill])
    original = pd.DataFrame({"yi": y, "vi": v})
    for c in by:
        original[c] = es[c].to_numpy()[use]
    combined = pd.concat([original, filled], ignore_index=True)
    result = _analyse(combined, opts.replace(single_study="keep"), by, studies=False)[0]
    result.insert(len(by), "k0", k0)
    result.insert(len(by) + 1, "se.k0", se_k0)
    result.insert(len(by) + 2, "side", np.where(right, "right", "left"))
    if unfinished.any():
        result.loc[unfinished, "note"] = "trim and fill did not converge in max_iter iterations"
    return TrimFill(result, filled)


def cumulative(
    data: pd.DataFrame,
    measure: str | Options,
    method: str = "REML",
    test: str = "z",
    *,
    by: Sequence[str] | None = None,
    order: str | None = None,
    study: str | None = None,
    level: float = 95.0,
    add: float | None = None,
    to: str = "only0",
    drop00: bool | None = None,
) -> pd.DataFrame:
    """Cumulative meta-analysis (metafor's cumul): each analysis refitted as its studies are added one by one.

    Studies are added in data order, or by increasing `order` (a column such as the publication year; ties
    keep data order, as R's order()). One pool() row per analysis and study added; column `added` is the
    label of the study added at that step (`study` column, default study_id or study, else 1, 2, ...).
    """
    opts = options(measure, method, test, level=level, add=add, to=to, drop00=drop00, single_study="keep")
    by = _columns(data, by)
    labels = study_labels(data, study)
    if order is not None:
        if order not in data.columns:
            raise ReviewError(f"order column {order!r} is not in the data.")
        rank = np.argsort(data[order].to_numpy(), kind="stable")
        data, labels = data.iloc[rank].reset_index(drop=True), labels[rank]
    member, current = copies(group_codes(data, by), cumulative=True)
    frame = data.iloc[member].reset_index(drop=True)
    frame["added"] = labels[current]
    frame["_step"] = current
    result = _analyse(frame, opts.replace(single_study="keep"), [*by, "_step"], studies=False)[0]
    return (
        result.drop(columns="_step")
        .assign(added=labels[np.sort(np.unique(current))])
        .pipe(lambda r: r[[*by, "added", *[c for c in r.columns if c not in (*by, "added")]]])
    )


def influence(
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
    """Case-deletion diagnostics of each study (metafor's influence.rma.uni), all analyses in one pass.

    Columns: the `by` values, study, rstudent, dffits, cook.d, cov.r, tau2.del, QE.del, hat, weight, dfbs,
    inf ("*" where metafor flags the study as influential), and the two coordinates of the Baujat plot:
    baujat_x (the study's contribution to Q: (yi - theta)^2 / (vi + tau^2)) and baujat_y (its influence on
    theta: (theta - theta_del)^2 / var(theta_del)).
    """
    opts = options(measure, method, test, level=level, add=add, to=to, drop00=drop00, single_study="keep")
    if opts.method in ("MH", "PETO"):
        raise ReviewError(f"influence refits inverse-variance models: use a method other than {opts.method}.")
    by, es, codes, n_groups = prepare(data, opts, by)
    labels = study_labels(data, study)
    y, v = es["yi"].to_numpy(dtype=float), es["vi"].to_numpy(dtype=float)
    use = np.flatnonzero(np.isfinite(y))
    y, v, g = y[use], v[use], codes[use]
    n = len(y)
    full = rma.fit(rma.Design(y, v, np.ones((n, 1)), g, n_groups), opts.method, opts.test, opts.alpha)
    member, current = copies(g, cumulative=False)
    d_del = rma.Design(y[member], v[member], np.ones((len(member), 1)), current, n)
    dele = rma.fit(d_del, opts.method, opts.test, opts.alpha, opts.max_iter, opts.threshold)
    k, tau2 = full.k[g], full.tau2[g]
    beta, vb = full.beta[g, 0], full.vb[g, 0, 0]
    beta_del, vb_del, tau2_del, s2w_del = dele.beta[:, 0], dele.vb[:, 0, 0], dele.tau2, dele.s2w
    w = 1 / (v + tau2)
    sw = np.bincount(g, w, n_groups)[g]
    hat = w / sw
    with np.errstate(divide="ignore", invalid="ignore"):
        resid = y - beta_del
        resid = np.where(np.abs(resid) < 100 * np.finfo(float).eps, 0.0, resid)
        rstudent = resid / np.sqrt(v * s2w_del + vb_del + tau2_del * s2w_del)
        dffits = (beta - beta_del) / np.sqrt(s2w_del * hat * (tau2_del + v))
        vb_all = 1 / _sum_over_analysis(g, v, tau2_del, n_groups)
        dfbs = (beta - beta_del) / np.sqrt(s2w_del * vb_all)
        cook = (beta - beta_del) ** 2 / vb
        cov_r = vb_del / vb
        flagged = (
            (np.abs(dffits) > 3 * np.sqrt(1 / (k - 1)))
            | (stats.chi2.cdf(cook, 1) > 0.5)
            | (hat > 3 / k)
            | (np.abs(dfbs) > 1)
        )
        baujat_x = (y - beta) ** 2 / (tau2 + v)
        baujat_y = (beta_del - beta) ** 2 / vb_del
    few = k < 2
    keys = es.iloc[use][by].reset_index(drop=True) if by else pd.DataFrame(index=range(n))

    def nan_if_few(x):
        return np.where(few, np.nan, x)

    return keys.assign(
        study=labels[use],
        rstudent=nan_if_few(rstudent),
        dffits=nan_if_few(dffits),
        **{"cook.d": nan_if_few(cook), "cov.r": nan_if_few(cov_r)},
        **{"tau2.del": nan_if_few(tau2_del), "QE.del": nan_if_few(dele.qe)},
        hat=hat,
        weight=100 * hat,
        dfbs=nan_if_few(dfbs),
        inf=np.where(flagged & ~few, "*", ""),
        baujat_x=baujat_x,
        baujat_y=nan_if_few(baujat_y),
    )


def _sum_over_analysis(g, v, tau2_del, n_groups):
    """For each study i: sum over all studies j of i's analysis of 1 / (v_j + tau2_del[i])."""
    order = np.argsort(g, kind="stable")
    sizes = np.bincount(g, minlength=n_groups)
    rep = sizes[g]
    owner = np.repeat(np.arange(len(g)), rep)
    starts = np.cumsum(sizes) - sizes
    within = np.arange(rep.sum()) - np.repeat(np.cumsum(rep) - rep, rep)
    other = order[starts[g[owner]] + within]
    return np.bincount(owner, 1 / (v[other] + tau2_del[owner]), len(g))
