"""The inverse-variance model of metafor's `rma.uni`, with or without moderators, for many analyses at once.

Every analysis (a group code per study) has its own design matrix rows `X` (an intercept, numbers, dummies of
categories); cross-products per analysis are one `np.bincount` over (analysis, column, column) and the small
p x p systems are solved as one stacked array. A column that is all zero in an analysis (a category level the
analysis lacks) gets a 1 on its diagonal, so the stacked systems stay regular and that coefficient is reported
as missing: the result equals metafor's on that analysis alone, where the column does not exist.

Each tau^2 estimator follows rma.uni's code path (start values, Fisher-scoring steps and step-halving, the
ll0check, R's uniroot iterates for Paule-Mandel and the Q-profile interval), so the numbers agree to rounding:

- EE: tau^2 = 0.  DL: (QE - (k-p)) / tr(P).  HE: (RSS_ols - tr(P_ols V)) / (k-p).  HS: (QE - k) / sum(w).
- SJ: tau0 * RSS(tau0) / (k-p), tau0 = var(yi) (k-1)/k.  PM: root of RSS(tau^2) = k - p.
- ML, REML, EB: Fisher scoring from the HE estimate (floored at 0), metafor's adjustments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

ESTIMATORS = ("EE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM")
ITERATIVE = ("ML", "REML", "EB")
TESTS = ("z", "t", "knha", "adhoc")

# metafor's rma.uni control defaults: Fisher scoring stops when tau^2 changes by <= threshold, after at most
# maxiter steps; uniroot (Paule-Mandel) searches [0, max(100, 10 mad(yi)^2)] to tol = eps^(1/4), which is also
# the log-likelihood margin of the ll0check. confint's Q-profile search: [0, max(100, 10 tau^2)], maxiter 1000.
THRESHOLD = 1e-5
MAX_ITER = 100
TOL = np.finfo(float).eps ** 0.25
TAU2_MAX = 100.0
CI_MAX_ITER = 1000


class Design:
    """Studies (yi, vi, design rows X, analysis code g) of n_groups analyses; per-analysis cross-products."""

    def __init__(self, y: np.ndarray, v: np.ndarray, X: np.ndarray, g: np.ndarray, n_groups: int):
        self.y, self.v, self.X, self.g, self.n_groups = y, v, X, g, n_groups
        self.n, self.p = X.shape
        self.intercept_only = self.p == 1 and bool(np.all(X == 1))
        self.k = np.bincount(g, minlength=n_groups)
        nonzero = self.sum_cols((X != 0).astype(float)) > 0
        self.present = nonzero if len(g) else np.zeros((n_groups, self.p), dtype=bool)
        self.p_eff = self.present.sum(axis=1)
        self.absent = np.zeros((n_groups, self.p, self.p))
        idx = np.arange(self.p)
        self.absent[:, idx, idx] = ~self.present

    def select(self, idx: np.ndarray) -> Design:
        """Analyses `idx` (an analysis may come twice), numbered 0, 1, ... in that order; each keeps its rows
        in their order, so its sums are the same."""
        order = np.argsort(self.g, kind="stable")
        counts = self.k[idx]
        first = (np.cumsum(self.k) - self.k)[idx]
        rows = order[np.repeat(first - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())]
        g = np.repeat(np.arange(len(idx)), counts)
        return Design(self.y[rows], self.v[rows], self.X[rows], g, len(idx))

    def compact(self, live: np.ndarray) -> Design:
        """Only the `live` analyses, numbered 0, 1, ... in their order."""
        return self.select(np.flatnonzero(live))

    def sum(self, x: np.ndarray) -> np.ndarray:
        return np.bincount(self.g, weights=x, minlength=self.n_groups)

    def dot(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Per-analysis sums of a * b."""
        return self.sum(a * b)

    def at(self, per_analysis: np.ndarray) -> np.ndarray:
        """A per-analysis array spread over the studies (to combine with y, v, w)."""
        return per_analysis[self.g]

    def ones(self) -> np.ndarray:
        return np.ones(self.n)

    def sum_v(self) -> np.ndarray:
        return self.sum(self.v)

    def sum_log_var(self, tau2: np.ndarray) -> np.ndarray:
        """Per-analysis sum of log(vi + tau^2)."""
        return self.sum(np.log(self.v + self.at(tau2)))

    def mostly_done(self, live: np.ndarray) -> bool:
        """True when fewer than half the studies belong to analyses still iterating: then work on a smaller copy.

        Fisher scoring oscillates in ~1% of random analyses until maxiter (as in metafor); shrinking the studies
        to those still running cut REML on 10,000 analyses from 410 to 130 ms (benchmarks/bench_pool.py).
        """
        return len(self.g) > 0 and 2 * int(live[self.g].sum()) < len(self.g)

    def sum_cols(self, x: np.ndarray) -> np.ndarray:
        """Per-analysis column sums of an (n, c) array: (n_groups, c)."""
        c = x.shape[1]
        idx = (self.g[:, None] * c + np.arange(c)).ravel()
        return np.bincount(idx, weights=x.ravel(), minlength=self.n_groups * c).reshape(self.n_groups, c)

    def cross(self, w: np.ndarray, other: np.ndarray | None = None) -> np.ndarray:
        """Per-analysis X' diag(w) X (or X' diag(w) other): (n_groups, p, p)."""
        B = self.X if other is None else other
        outer = (self.X[:, :, None] * B[:, None, :]).reshape(self.n, self.p * B.shape[1]) * w[:, None]
        return self.sum_cols(outer).reshape(self.n_groups, self.p, B.shape[1])

    def wls(self, w: np.ndarray, y: np.ndarray | None = None):
        """Weighted least squares per analysis: (beta, (X'WX)^-1, residuals, log det X'WX)."""
        y = self.y if y is None else y
        if self.intercept_only:  # the weighted mean, without stacked linear algebra
            sw = np.where(self.present[:, 0], self.sum(w), 1.0)
            beta = (self.dot(w, y) / sw)[:, None]
            return beta, (1 / sw)[:, None, None], y - self.at(beta[:, 0]), np.log(sw)
        xwx = self.cross(w) + self.absent
        xwy = self.sum_cols(self.X * (w * y)[:, None])
        if self.p == 1:  # one column: scalars
            inv = 1 / xwx
            beta = inv[:, :, 0] * xwy
            return beta, inv, y - self.X[:, 0] * beta[self.g, 0], np.log(xwx[:, 0, 0])
        inv = np.linalg.inv(xwx)  # type: ignore[assignment]  # numpy stubs say floating[Any]; it is float64
        beta = np.einsum("gij,gj->gi", inv, xwy)
        r = y - np.einsum("ij,ij->i", self.X, beta[self.g])
        return beta, inv, r, np.linalg.slogdet(xwx)[1]

    def traces(self, w: np.ndarray, inv: np.ndarray):
        """tr(P) and tr(PP) for P = W - W X (X'WX)^-1 X' W."""
        if self.intercept_only:
            w2 = w * w
            sw, sw2 = self.sum(w), self.sum(w2)
            with np.errstate(divide="ignore", invalid="ignore"):
                return sw - sw2 / sw, sw2 - 2 * self.dot(w2, w) / sw + (sw2 / sw) ** 2
        a2 = inv @ self.cross(w * w)
        tr_p = self.sum(w) - np.trace(a2, axis1=1, axis2=2)
        tr_pp = (
            self.sum(w * w)
            - 2 * np.trace(inv @ self.cross(w**3), axis1=1, axis2=2)
            + np.trace(a2 @ a2, axis1=1, axis2=2)
        )
        return tr_p, tr_pp

    def rss(self, tau2: np.ndarray) -> np.ndarray:
        """Y'PY at tau^2 (metafor's .QE.func with objective 0), per analysis."""
        w = 1 / (self.v + self.at(tau2))
        r = self.wls(w)[2]
        return self.dot(w * r, r)


class PaddedDesign(Design):
    """Intercept-only analyses stored as (k_max, analyses) arrays: a per-analysis sum is a column sum.

    The rows of each analysis fill the top of its column; below them vi = inf (weight 0) and yi = 0, so the
    padding adds nothing to any sum. Column sums of a block cost about a tenth of `np.bincount` over group
    codes, which was most of Fisher scoring's time. `pool` uses it where the padding stays small.
    """

    def __init__(self, y: np.ndarray, v: np.ndarray, g: np.ndarray, n_groups: int):
        k = np.bincount(g, minlength=n_groups)
        k_max = int(k.max())
        ordered = len(g) < 2 or bool(np.all(g[1:] >= g[:-1]))  # usually: analyses one after another
        if ordered and k_max * n_groups == len(g):  # all of one size: a reshape
            padded_y = np.ascontiguousarray(y.reshape(n_groups, k_max).T)
            padded_v = np.ascontiguousarray(v.reshape(n_groups, k_max).T)
        else:
            order = np.arange(len(g)) if ordered else np.argsort(g, kind="stable")
            row = np.arange(len(g)) - (np.cumsum(k) - k)[g[order]]
            padded_y, padded_v = np.zeros((k_max, n_groups)), np.full((k_max, n_groups), np.inf)
            padded_y[row, g[order]], padded_v[row, g[order]] = y[order], v[order]
        self._set(padded_y, padded_v, k, np.bincount(g, weights=v, minlength=n_groups))

    def _set(self, y, v, k, sum_v) -> None:
        self.y, self.v, self.k, self._sum_v = y, v, k, sum_v
        self._work: tuple[np.ndarray, np.ndarray] | None = None
        self.n_groups, self.p, self.intercept_only = len(k), 1, True
        self.n = int(k.sum())
        self.present = (k > 0)[:, None]
        self.p_eff = self.present.sum(axis=1)
        self.absent = (~self.present).astype(float)[:, :, None]

    @staticmethod
    def fits(g: np.ndarray, n_groups: int) -> bool:
        """Whether the padding stays small (no more padded cells than studies)."""
        k = np.bincount(g, minlength=n_groups)
        return len(g) > 0 and int(k.max()) * n_groups <= 2 * len(g)

    def select(self, idx: np.ndarray) -> PaddedDesign:
        """Columns `idx`, without the padding rows none of them needs."""
        k = self.k[idx]
        k_max = int(k.max()) if len(k) else 0
        out = PaddedDesign.__new__(PaddedDesign)
        out._set(self.y[:k_max].take(idx, axis=1), self.v[:k_max].take(idx, axis=1), k, self._sum_v[idx])
        return out

    def sum(self, x: np.ndarray) -> np.ndarray:
        return np.add.reduce(x, axis=0)

    def dot(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->j", a, b)  # no temporary a * b: three times faster than multiply and sum

    def at(self, per_analysis: np.ndarray) -> np.ndarray:
        return per_analysis

    def ones(self) -> np.ndarray:
        return np.isfinite(self.v).astype(float)

    def sum_v(self) -> np.ndarray:
        return self._sum_v

    def rss(self, tau2: np.ndarray) -> np.ndarray:
        """`Design.rss` with fewer passes, in scratch arrays kept with the design (root searches call it
        a few dozen times)."""
        if self._work is None:
            self._work = np.empty(self.y.shape), np.empty(self.y.shape)
        w, r = self._work
        np.divide(1.0, np.add(self.v, tau2, out=w), out=w)
        sw = np.where(self.present[:, 0], np.add.reduce(w, axis=0), 1.0)
        np.subtract(self.y, np.einsum("ij,ij->j", w, self.y) / sw, out=r)
        return np.einsum("ij,ij->j", np.multiply(w, r, out=w), r)

    def mad(self) -> np.ndarray:
        """`mad` of each column's yi: the same order statistics, from a sort of each column."""
        rows = np.arange(self.y.shape[0])[:, None] < self.k  # the padding sorts last
        median = _column_median(np.where(rows, self.y, np.inf), self.k)
        return 1.4826 * _column_median(np.where(rows, np.abs(self.y - median), np.inf), self.k)

    def sum_log_var(self, tau2: np.ndarray) -> np.ndarray:
        var = self.v + tau2
        return self.sum(np.log(var, out=np.zeros_like(var), where=np.isfinite(var)))


@dataclass
class Fit:
    """One rma.uni fit per analysis: arrays over analyses (beta, vb: over columns too)."""

    k: np.ndarray
    p: np.ndarray
    beta: np.ndarray
    vb: np.ndarray
    tau2: np.ndarray
    converged: np.ndarray
    ddf: np.ndarray
    crit: np.ndarray
    s2w: np.ndarray
    qe: np.ndarray
    qe_df: np.ndarray
    qe_pval: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    vt: np.ndarray
    notes: dict[str, np.ndarray]


def fit(
    d: Design,
    method: str,
    test: str = "z",
    alpha: float = 0.05,
    max_iter: int = MAX_ITER,
    threshold: float = THRESHOLD,
) -> Fit:
    """Fit rma.uni(yi, vi, mods = X, intercept = FALSE, method, test) to every analysis of `d`."""
    k, p = d.k, d.p_eff
    df = (k - p).astype(float)
    estimable = df >= 1
    notes: dict[str, np.ndarray] = {}
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # heterogeneity: always from the common-effect weights
        w0 = 1 / d.v
        beta0, inv0, r0, logdet0 = d.wls(w0)
        qe = np.maximum(0.0, d.sum(w0 * r0 * r0))
        tr_p0 = d.traces(w0, inv0)[0]
        converged = np.ones(d.n_groups, dtype=bool)
        tau2 = np.zeros(d.n_groups)
        if method == "DL":
            tau2 = (qe - df) / tr_p0
        elif method == "HS":
            tau2 = (qe - k) / d.sum(w0)
        elif method in ("HE", *ITERATIVE):
            tau2 = _hedges(d)
        elif method == "SJ":
            mean = d.sum(d.y) / k
            tau0 = d.sum((d.y - mean[d.g]) ** 2) / k  # var(yi) (k-1)/k
            w = 1 / (d.v + tau0[d.g])
            r = d.wls(w)[2]
            tau2 = tau0 * d.sum(w * r * r) / df
        elif method == "PM":
            tau2, found, unfinished = _tau2_pm(d, df, estimable, max_iter)
            converged = found
            notes["Paule-Mandel: Q stays above k - p at tau2 = max(100, 10 mad(yi)^2): try REML"] = (
                estimable & ~found
            )
            notes[f"Paule-Mandel root search stopped after {max_iter} iterations (metafor warns too)"] = (
                unfinished
            )
        if method in ITERATIVE:
            tau2, ok, reset = _fisher_scoring(
                d, method, np.maximum(0.0, tau2), estimable, max_iter, threshold
            )
            converged = ok | ~estimable
            notes[
                f"{method} (Fisher scoring) did not converge in {max_iter} iterations: try method PM or DL"
            ] = estimable & ~ok
            notes["Fisher scoring may have stopped at a local maximum: tau2 set to 0, as metafor"] = reset
        tau2 = np.where(estimable, np.maximum(0.0, np.nan_to_num(tau2)), 0.0)
        tau2 = np.where(converged, tau2, np.nan)

        w = 1 / (d.v + d.at(tau2))
        beta, vb, r, _ = d.wls(w)
        s2w = np.ones(d.n_groups)
        if test in ("knha", "adhoc"):
            rss = d.sum(w * r * r)
            s2w = np.where(rss <= np.finfo(float).eps, 0.0, rss / df)
            if test == "adhoc":
                s2w = np.maximum(s2w, 1.0)
        single = k <= p  # metafor: k = 1 (intercept only) falls back to test z
        s2w = np.where(single, 1.0, s2w)
        vb = vb * s2w[:, None, None]
        vb = np.where(d.present[:, :, None] & d.present[:, None, :], vb, np.nan)
        beta = np.where(d.present, beta, np.nan)
        t_based = test != "z"
        ddf = np.where(t_based & ~single, df, np.nan)
        crit = np.where(
            np.isfinite(ddf), per_value(lambda x: stats.t.isf(alpha / 2, x), ddf), stats.norm.isf(alpha / 2)
        )
        vt = df / tr_p0  # metafor's "typical" within-study variance
        if method == "EE":
            i2, h2 = np.maximum(0.0, 100 * (qe - df) / qe), qe / df
        else:
            i2, h2 = 100 * tau2 / (vt + tau2), tau2 / vt + 1
    return Fit(
        k=k,
        p=p,
        beta=beta,
        vb=vb,
        tau2=np.where(k >= 1, tau2, np.nan),
        converged=converged & (k >= 1),
        ddf=ddf,
        crit=crit,
        s2w=s2w,
        qe=np.where(estimable, qe, np.where(k == p, 0.0, np.nan)),
        qe_df=np.where(k >= 1, df, np.nan),
        # chdtrc: what stats.chi2.sf computes, without its argument handling
        qe_pval=np.where(estimable, special.chdtrc(np.maximum(df, 1), qe), np.where(k == p, 1.0, np.nan)),
        i2=np.where(estimable, i2, np.where(k == p, 0.0, np.nan)),
        h2=np.where(estimable, h2, np.where(k == p, 1.0, np.nan)),
        vt=np.where(estimable, vt, np.where(k == p, 0.0, np.nan)),
        notes=notes,
    )


def _hedges(d: Design) -> np.ndarray:
    """The Hedges (HE) estimate: (RSS - tr(PV)) / (k - p) with P the ordinary least-squares residual maker."""
    ones = d.ones()
    _, inv, r, _ = d.wls(ones)
    if d.intercept_only:  # X'VX is the sum of vi
        sum_v = d.sum_v()
        tr_pv = sum_v - inv[:, 0, 0] * sum_v
    else:
        tr_pv = d.sum(d.v) - np.trace(inv @ d.cross(d.v), axis1=1, axis2=2)
    return (d.sum(ones * r * r) - tr_pv) / (d.k - d.p_eff)  # ones: 0 on a padded design's padding


def _fisher_scoring(d, method, tau2, active, max_iter, threshold):
    """ML, REML or EB by metafor's Fisher scoring, every analysis in one array: (tau2, converged, reset).

    When fewer than half the studies belong to analyses still iterating, the design is compacted to those
    (`ids`: their numbers among all analyses), so the last steps of the few slow analyses cost little:
    Fisher scoring oscillates in ~1% of random analyses until maxiter, as in metafor.
    """
    if isinstance(d, PaddedDesign):
        tau2, converged = _padded_scoring(d, method, np.array(tau2, dtype=float), active, max_iter, threshold)
        return _ll0check(d, method, tau2, converged, threshold)
    full = d
    tau2 = np.array(tau2, dtype=float)
    converged = np.zeros(d.n_groups, dtype=bool)
    ids = np.arange(d.n_groups)
    t, live = tau2.copy(), active.copy()
    ratio = (d.k / np.maximum(d.k - d.p_eff, 1)).astype(float)
    for step in range(1, max_iter + 2):
        if not live.any():
            break
        if d.mostly_done(live):  # iterate on the analyses still running only
            tau2[ids] = t
            d, ids, t, ratio = d.compact(live), ids[live], t[live], ratio[live]
            live = np.ones(len(ids), dtype=bool)
        adj = _step(d, method, t, ratio)
        adj = np.where(np.isnan(adj) | ~live, 0.0, adj)
        new = _halve_into_range(t, adj)
        change = np.abs(t - new)
        t = new
        if step > max_iter:  # metafor gives up after maxiter steps, whatever the last change
            break
        done = live & (change <= threshold)
        converged[ids[done]] = True
        live &= ~done
    tau2[ids] = t
    return _ll0check(full, method, tau2, converged, threshold)


def _ll0check(d: Design, method, tau2, converged, threshold):
    """metafor's ll0check: where tau^2 = 0 has the higher (restricted) likelihood, take it. Only the analyses
    that may be reset are evaluated (each analysis's likelihood is its own sums)."""
    reset = np.zeros(d.n_groups, dtype=bool)
    idx = np.flatnonzero(converged & (tau2 > threshold))
    if method in ("ML", "REML") and len(idx):
        part = d.select(idx)

        def loglik(t):
            w = 1 / (part.v + part.at(t))
            _, _, r, logdet = part.wls(w)
            ll = -0.5 * part.sum_log_var(t) - 0.5 * part.sum(w * r * r)
            return ll - 0.5 * logdet if method == "REML" else ll

        reset[idx] = loglik(np.zeros(len(idx))) - loglik(tau2[idx]) > TOL
    return np.where(reset, 0.0, np.maximum(0.0, tau2)), converged, reset


def _padded_scoring(d: PaddedDesign, method, tau2, active, max_iter, threshold):
    """`_fisher_scoring`'s loop on a padded design: (tau2, converged).

    Only the analyses still iterating stay in the arrays: a step drops the columns that converged (once they
    are a fifth of the columns, or at once where the arrays are small and each numpy call costs its overhead
    rather than its data) and the padding rows no remaining analysis needs. An analysis's arithmetic is its
    column's whatever the other columns, so it takes the iterates of `_step` (to rounding: sums over a
    column's rows in another order). The flat loop's extra step past max_iter is skipped: it moves only the
    tau^2 of analyses then reported as not converged (NaN).
    """
    converged = np.zeros(d.n_groups, dtype=bool)
    ids = np.flatnonzero(active)
    k = d.k[ids]
    k_max = int(k.max()) if len(ids) else 0
    if len(ids) == d.n_groups:
        y, v = d.y[:k_max], d.v[:k_max]
    else:
        y, v = d.y[:k_max].take(ids, axis=1), d.v[:k_max].take(ids, axis=1)
    t = tau2[ids]
    ratio = k / np.maximum(k - 1, 1) if method == "EB" else None
    live = np.ones(len(ids), dtype=bool)  # a converged column stays (adj 0) until the columns are dropped
    n_done = 0
    buffers = np.empty(y.size), np.empty(y.size)  # fresh temporaries this size would cost page faults
    work = _views(buffers, y.shape)
    for _ in range(max_iter):
        if n_done == len(t):
            break
        adj = _padded_adj(y, v, t, method, k, ratio, *work)
        if n_done:
            adj[~live] = 0.0
        new = _halve_into_range(t, adj)
        done = np.abs(t - new) <= threshold
        t = new
        if n_done:
            done &= live
        if not done.any():
            continue
        live &= ~done
        n_done += int(done.sum())
        if 5 * n_done >= len(t):  # drop the converged columns and the padding the others do not need
            converged[ids[~live]] = True
            tau2[ids[~live]] = t[~live]
            ids, t, k = ids[live], t[live], k[live]
            ratio = None if ratio is None else ratio[live]
            k_max = int(k.max()) if len(k) else 0
            y, v = np.compress(live, y[:k_max], axis=1), np.compress(live, v[:k_max], axis=1)
            work = _views(buffers, y.shape)
            live = np.ones(len(ids), dtype=bool)
            n_done = 0
    converged[ids[~live]] = True
    tau2[ids] = t
    return tau2, converged


def _views(buffers, shape):
    """Scratch arrays of `shape` at the start of flat `buffers`."""
    size = shape[0] * shape[1]
    return tuple(b[:size].reshape(shape) for b in buffers)


def _padded_adj(y, v, t, method, k, ratio, w, r):
    """`_step` on padded (k_max, analyses) arrays, each sum computed once with the fewest array operations
    (w and r: scratch arrays of y's shape), NaN set to 0. In the last steps a few oscillating analyses are
    left, and a step costs its count of numpy calls."""
    np.add(v, t, out=w)
    np.divide(1.0, w, out=w)
    sw = np.add.reduce(w, axis=0)
    np.subtract(y, np.einsum("ij,ij->j", w, y) / sw, out=r)
    if method == "EB":
        adj = (np.einsum("ij,ij,ij->j", w, r, r) * ratio - k) / sw
    else:
        wr = np.multiply(w, r, out=r)
        yppy = np.einsum("ij,ij->j", wr, wr)
        w2 = np.multiply(w, w, out=r)
        sw2 = np.add.reduce(w2, axis=0)
        if method == "ML":
            adj = (yppy - sw) / sw2
        else:
            q = sw2 / sw
            adj = (yppy - (sw - q)) / (sw2 - 2 * np.einsum("ij,ij->j", w2, w) / sw + q**2)
    adj[np.isnan(adj)] = 0.0
    return adj


def _step(d: Design, method, t, ratio):
    """One Fisher-scoring step's change of tau^2 (metafor's `adj`) for every analysis of `d`."""
    w = 1 / (d.v + d.at(t))
    _, inv, r, _ = d.wls(w)
    if method == "EB":
        return (d.sum(w * r * r) * ratio - d.k) / d.sum(w)
    wr = w * r
    yppy = d.dot(wr, wr)
    if method == "ML":
        return (yppy - d.sum(w)) / d.sum(w * w)
    tr_p, tr_pp = d.traces(w, inv)
    return (yppy - tr_p) / tr_pp


def _halve_into_range(tau2, adj):
    """tau^2 + adj after metafor's step-halving, `while (tau2 + adj < 0) adj <- adj / 2`, for every analysis.

    A few analyses (the last steps) halve as Python floats, the same doubles without the cost of numpy
    calls; many start a few halvings short of the last (2^-n scales a float exactly while it stays normal),
    so that a step 10^6 times too large takes three rounds, not twenty."""
    new = tau2 + adj
    below = new < 0
    if not below.any():
        return new
    low = below.nonzero()[0]
    if len(low) <= 16:
        for i in low.tolist():
            t, a = float(tau2[i]), 0.0 if tau2[i] == 0 else float(adj[i])  # R halves a step at 0 to nothing
            while t + a < 0:
                a /= 2
            new[i] = t + a
    else:
        t, a = tau2[low], adj[low]
        a[t == 0] = 0.0
        with np.errstate(divide="ignore", invalid="ignore"):  # (a = 0 where t = 0: no skip)
            skip = np.minimum(np.floor(np.log2(-a / t)) - 2, np.floor(np.log2(np.abs(a))) + 1000)
        skip[~(skip > 0)] = 0
        a = np.ldexp(a, -skip.astype(int))
        out = t + a < 0
        while out.any():
            a = np.where(out, a / 2, a)
            out = t + a < 0
        new[low] = t + a
    return new


def _tau2_pm(d: Design, df, estimable, max_iter):
    """Paule-Mandel as metafor: R's uniroot on RSS(tau^2) - (k - p) over [0, max(100, 10 mad(yi)^2)].

    Returns (tau2, found, unfinished): `found` is False where RSS(tau2_max) is still above k - p (metafor
    stops with "tau2.max too low"); `unfinished` marks a root search that hit max_iter (metafor warns).
    """
    spread = d.mad() if isinstance(d, PaddedDesign) else mad(d.y, d.g, d.k, d.n_groups)
    upper = np.maximum(TAU2_MAX, 10 * spread**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        f_lower, f_upper = d.rss(np.zeros(d.n_groups)) - df, d.rss(upper) - df
    at_zero = estimable & (f_lower < 0)
    search = estimable & ~at_zero & ~(f_upper > 0)
    idx = np.flatnonzero(search)
    root, finished = zeroin(
        _Excess(d, idx, df[idx]), np.zeros(len(idx)), upper[idx], f_lower[idx], f_upper[idx], TOL, max_iter
    )
    tau2 = np.full(d.n_groups, np.nan)
    tau2[idx] = np.maximum(0.0, root)
    tau2 = np.where(at_zero, 0.0, tau2)
    unfinished = np.zeros(d.n_groups, dtype=bool)
    unfinished[idx] = ~finished
    return tau2, search | at_zero | ~estimable, unfinished


class _Excess:
    """RSS(tau^2) - target for the root searches of analyses `idx` of a design: `f(x, keep)` evaluates at x,
    after dropping the columns `keep` marks False (the searches zeroin has just dropped; None: none)."""

    def __init__(self, d: Design, idx: np.ndarray, target: np.ndarray):
        self.d, self.target = d.select(idx), target

    def __call__(self, x: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
        if keep is not None:
            at = np.flatnonzero(keep)
            self.d, self.target = self.d.select(at), self.target[at]
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.d.rss(x) - self.target


def q_profile(d: Design, fitted: Fit, alpha: float = 0.05):
    """Q-profile confidence interval of tau^2 (metafor's confint(type="QP")), then I^2's at its ends.

    Each end is a root of RSS(tau^2) = a chi^2 quantile, found by R's uniroot on [0, max(100, 10 tau^2)];
    both ends of all analyses are searched in one array. Returns (tau2_lb, tau2_ub, i2_lb, i2_ub), NaN where
    the model has no tau^2 (k - p < 1).
    """
    df = (d.k - d.p_eff).astype(float)
    live = (df >= 1) & np.isfinite(fitted.tau2)
    dfs = np.where(live, df, 1.0)
    crit_u = per_value(lambda x: stats.chi2.isf(alpha / 2, x), dfs)
    crit_l = per_value(lambda x: stats.chi2.ppf(alpha / 2, x), dfs)
    lower = np.zeros(d.n_groups)
    upper = np.maximum(TAU2_MAX, 10 * np.nan_to_num(fitted.tau2))
    with np.errstate(divide="ignore", invalid="ignore"):
        q_min, q_max = d.rss(lower), d.rss(upper)
    # upper bound: where RSS falls to the lower chi^2 quantile; lower bound: to the upper one
    ub_idx = np.flatnonzero(live & ~(q_min < crit_l) & ~(q_max > crit_l))
    lb_idx = np.flatnonzero(live & ~(q_max > crit_u) & ~(q_min < crit_u))
    idx = np.concatenate([ub_idx, lb_idx])
    target = np.concatenate([crit_l[ub_idx], crit_u[lb_idx]])
    root, _ = zeroin(
        _Excess(d, idx, target),
        lower[idx],
        upper[idx],
        q_min[idx] - target,
        q_max[idx] - target,
        TOL,
        CI_MAX_ITER,
    )
    root = np.maximum(0.0, root)
    ub_root, lb_root = np.full(d.n_groups, np.nan), np.full(d.n_groups, np.nan)
    ub_root[ub_idx], lb_root[lb_idx] = root[: len(ub_idx)], root[len(ub_idx) :]
    ub = np.where(q_min < crit_l, lower, np.where(q_max > crit_l, upper, ub_root))
    lb = np.where(q_max > crit_u, upper, np.where(q_min < crit_u, lower, lb_root))
    ub = np.where(q_max > crit_u, upper, ub)
    lb, ub = np.where(live, lb, np.nan), np.where(live, ub, np.nan)
    vt = fitted.vt
    with np.errstate(divide="ignore", invalid="ignore"):
        return lb, ub, 100 * lb / (vt + lb), 100 * ub / (vt + ub)


def zeroin(f: Callable, a, b, fa, fb, tol, max_iter):
    """R's uniroot (Brent's zeroin, R_zeroin2 in stats/src/zeroin.c) for many brackets at once.

    Transcribed branch by branch so that each bracket takes the same steps as in R: metafor's tolerance
    (2^-13 on tau^2) leaves the root up to ~1e-4 from the exact one, so matching metafor to 1e-6 means
    following R's iterates, not solving more precisely. A finished search stays in the arrays (its root
    already taken) until a quarter are finished; then the arrays, and f's, drop them: `f(x, keep)` evaluates
    at x (one per bracket in the arrays) after dropping the brackets `keep` marks False (None: none).
    Returns (root, finished).
    """
    eps = np.finfo(float).eps
    root = np.where(fa == 0, a, b)
    finished = (fa == 0) | (fb == 0)
    pos = np.flatnonzero(~finished)
    keep = None if len(pos) == len(a) else ~finished
    a, b, fa, fb = a[pos], b[pos], fa[pos], fb[pos]
    c, fc = a, fa
    live, n_done = np.ones(len(pos), dtype=bool), 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(max_iter + 1):
            if n_done == len(pos):
                break
            prev_step = b - a
            swap = np.abs(fc) < np.abs(fb)
            if swap.any():
                a, b, c = np.where(swap, b, a), np.where(swap, c, b), np.where(swap, b, c)
                fa, fb, fc = np.where(swap, fb, fa), np.where(swap, fc, fb), np.where(swap, fb, fc)
            tol_act = 2 * eps * np.abs(b) + tol / 2
            new_step = (c - b) / 2
            done = (np.abs(new_step) <= tol_act) | (fb == 0)
            if n_done:
                done &= live
            if done.any():
                root[pos[done]] = b[done]
                finished[pos[done]] = True
                live &= ~done
                n_done += int(done.sum())
                if n_done == len(pos):
                    break
                if 4 * n_done >= len(pos):  # drop the finished searches
                    keep = live if keep is None else _chain(keep, live)
                    pos, a, b, c, fa, fb, fc = (
                        pos[live],
                        a[live],
                        b[live],
                        c[live],
                        fa[live],
                        fb[live],
                        fc[live],
                    )
                    prev_step, tol_act, new_step = prev_step[live], tol_act[live], new_step[live]
                    live, n_done = np.ones(len(pos), dtype=bool), 0
            # interpolation (secant if only two distinct points, else inverse quadratic)
            cb = c - b
            t1 = fb / fa  # R's t2 of the quadratic step is the same fb / fa
            secant = a == c
            if secant.all():
                p, q = cb * t1, 1.0 - t1
            else:
                qq, t1q = fa / fc, fb / fc
                t1q_1 = t1q - 1.0
                p = t1 * (cb * qq * (qq - t1q) - (b - a) * t1q_1)
                q = (qq - 1.0) * t1q_1 * (t1 - 1.0)
                if secant.any():
                    p, q = np.where(secant, cb * t1, p), np.where(secant, 1.0 - t1, q)
            q = np.where(p > 0, -q, q)
            p = np.abs(p)
            accept = (
                (np.abs(prev_step) >= tol_act)
                & (np.abs(fa) > np.abs(fb))
                & (p < 0.75 * cb * q - np.abs(tol_act * q) / 2)
                & (p < np.abs(prev_step * q / 2))
            )
            new_step = np.where(accept, p / q, new_step)
            new_step = np.where(
                np.abs(new_step) < tol_act, np.where(new_step > 0, tol_act, -tol_act), new_step
            )
            a, fa = b, fb
            b = b + new_step
            fb = f(b, keep)
            keep = None
            opposite = ((fb > 0) & (fc > 0)) | ((fb < 0) & (fc < 0))
            c, fc = np.where(opposite, a, c), np.where(opposite, fa, fc)
    root[pos[live]] = b[live]  # out of iterations: R returns the last iterate
    return root, finished


def _chain(keep: np.ndarray, live: np.ndarray) -> np.ndarray:
    """Two successive drops as one: `live` marks which of the brackets `keep` kept stay."""
    out = keep.copy()
    out[keep] = live
    return out


def per_value(fn: Callable, x: np.ndarray) -> np.ndarray:
    """fn(x) computed once per distinct finite value of x (NaN elsewhere): a quantile of t or chi^2 costs
    ~1 ms per thousand values, and 10,000 analyses have a handful of distinct degrees of freedom."""
    out = np.full(len(x), np.nan)
    finite = np.isfinite(x)
    if finite.any():
        values, where = np.unique(x[finite], return_inverse=True)
        out[finite] = np.asarray(fn(values), dtype=float)[where]
    return out


def mad(y, g, k, n_groups):
    """R's mad(): 1.4826 times the median absolute deviation from the median, per analysis."""
    median = group_median(y, g, k, n_groups)
    return 1.4826 * group_median(np.abs(y - median[g]), g, k, n_groups)


def _column_median(x, k):
    ordered = np.sort(x, axis=0)
    cols = np.arange(x.shape[1])
    with np.errstate(invalid="ignore"):
        return np.where(k > 0, (ordered[(k - 1) // 2, cols] + ordered[k // 2, cols]) / 2, np.nan)


def group_median(x, g, k, n_groups):
    ordered = x[np.lexsort((x, g))]
    start = np.cumsum(k) - k
    last = max(len(x) - 1, 0)
    lo = np.minimum(start + (k - 1) // 2, last)
    hi = np.minimum(start + k // 2, last)
    return np.where(k > 0, (ordered[lo] + ordered[hi]) / 2, np.nan) if len(x) else np.full(n_groups, np.nan)
