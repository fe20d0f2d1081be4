"""review/rma.py as it was before the pooling engine was tuned for speed (issue 12, main c01a1bf): the oracle
that tests/test_rma_fast.py holds the faster Fisher scoring and Q-profile search to, on random analyses.

Kept verbatim apart from its module docstring; not used by the library."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

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

    def subset(self, live: np.ndarray) -> Design:
        """The same analyses with only the studies of `live` analyses (the others then sum to 0)."""
        rows = live[self.g]
        return Design(self.y[rows], self.v[rows], self.X[rows], self.g[rows], self.n_groups)

    def compact(self, live: np.ndarray) -> Design:
        """Only the `live` analyses, numbered 0, 1, ... in their order."""
        rows = live[self.g]
        number = np.cumsum(live) - 1
        return Design(self.y[rows], self.v[rows], self.X[rows], number[self.g[rows]], int(live.sum()))

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
    codes, which was most of Fisher scoring's time. `subset` keeps the columns of the analyses still running
    (`cols`: their numbers among all analyses; None for all) and trims the padding; sums come back over all
    analyses (0 for the others), as from `Design.subset`. `pool` uses it where the padding stays small.
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
        self._set(padded_y, padded_v, None, k, np.bincount(g, weights=v, minlength=n_groups))

    def _set(self, y, v, cols, k, sum_v) -> None:
        self.y, self.v, self.cols, self.k, self._sum_v = y, v, cols, k, sum_v
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

    def subset(self, live: np.ndarray) -> PaddedDesign:
        cols = np.arange(self.n_groups) if self.cols is None else self.cols
        keep = live[cols]
        k = np.where(live, self.k, 0)
        k_max = int(k.max()) if k.any() else 0
        out = PaddedDesign.__new__(PaddedDesign)
        out._set(self.y[:k_max, keep], self.v[:k_max, keep], cols[keep], k, np.where(live, self._sum_v, 0.0))
        return out

    def compact(self, live: np.ndarray) -> PaddedDesign:
        assert self.cols is None  # compact designs number their own analyses
        k = self.k[live]
        k_max = int(k.max()) if len(k) else 0
        out = PaddedDesign.__new__(PaddedDesign)
        out._set(self.y[:k_max, live], self.v[:k_max, live], None, k, self._sum_v[live])
        return out

    def sum(self, x: np.ndarray) -> np.ndarray:
        if self.cols is None:
            return x.sum(axis=0)
        out = np.zeros(self.n_groups)
        out[self.cols] = x.sum(axis=0)
        return out

    def dot(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        col = np.einsum("ij,ij->j", a, b)  # no temporary a * b: three times faster than multiply and sum
        if self.cols is None:
            return col
        out = np.zeros(self.n_groups)
        out[self.cols] = col
        return out

    def at(self, per_analysis: np.ndarray) -> np.ndarray:
        return per_analysis if self.cols is None else per_analysis[self.cols]

    def ones(self) -> np.ndarray:
        return np.isfinite(self.v).astype(float)

    def sum_v(self) -> np.ndarray:
        return self._sum_v

    def sum_log_var(self, tau2: np.ndarray) -> np.ndarray:
        var = self.v + self.at(tau2)
        return self.sum(np.log(var, out=np.zeros_like(var), where=np.isfinite(var)))

    def mostly_done(self, live: np.ndarray) -> bool:
        """True once a quarter of the columns are done: copying the others costs less than two steps on them."""
        n_cols = self.n_groups if self.cols is None else len(self.cols)
        return n_cols > 0 and 4 * int(self.at(live).sum()) < 3 * n_cols


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
            np.isfinite(ddf), stats.t.isf(alpha / 2, np.nan_to_num(ddf, nan=1)), stats.norm.isf(alpha / 2)
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
        qe_pval=np.where(estimable, stats.chi2.sf(qe, np.maximum(df, 1)), np.where(k == p, 1.0, np.nan)),
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
        adj = _padded_step(d, method, t, ratio) if isinstance(d, PaddedDesign) else _step(d, method, t, ratio)
        adj = np.where(np.isnan(adj) | ~live, 0.0, adj)
        adj = _halve_into_range(t, adj)
        new = t + adj
        change = np.abs(t - new)
        t = new
        if step > max_iter:  # metafor gives up after maxiter steps, whatever the last change
            break
        done = live & (change <= threshold)
        converged[ids[done]] = True
        live &= ~done
    tau2[ids] = t
    reset = np.zeros(full.n_groups, dtype=bool)
    if method in ("ML", "REML"):  # metafor's ll0check: if tau^2 = 0 has the higher likelihood, take it

        def loglik(t):
            w = 1 / (full.v + full.at(t))
            _, _, r, logdet = full.wls(w)
            ll = -0.5 * full.sum_log_var(t) - 0.5 * full.sum(w * r * r)
            return ll - 0.5 * logdet if method == "REML" else ll

        reset = converged & (tau2 > threshold) & (loglik(np.zeros(full.n_groups)) - loglik(tau2) > TOL)
    return np.where(reset, 0.0, np.maximum(0.0, tau2)), converged, reset


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


def _padded_step(d: PaddedDesign, method, t, ratio):
    """`_step` on a padded design with no subset: the same sums, each computed once, with the fewest array
    operations (the last steps of a few oscillating analyses cost their count of numpy calls)."""
    w = 1.0 / (d.v + t)
    sw = w.sum(axis=0)
    r = d.y - np.einsum("ij,ij->j", w, d.y) / sw
    wr = w * r
    if method == "EB":
        return (np.einsum("ij,ij->j", wr, r) * ratio - d.k) / sw
    yppy = np.einsum("ij,ij->j", wr, wr)
    w2 = w * w
    sw2 = w2.sum(axis=0)
    if method == "ML":
        return (yppy - sw) / sw2
    q = sw2 / sw
    return (yppy - (sw - q)) / (sw2 - 2 * np.einsum("ij,ij->j", w2, w) / sw + q**2)


def _halve_into_range(tau2, adj):
    """metafor's step-halving: `while (tau2 + adj < 0) adj <- adj / 2`, for every analysis."""
    adj = np.where((tau2 == 0) & (adj < 0), 0.0, adj)  # R halves until the step underflows to zero
    low = np.flatnonzero(tau2 + adj < 0)
    if len(low):  # few analyses: halve those alone
        t, a = tau2[low], adj[low]
        out = t + a < 0
        while out.any():
            a = np.where(out, a / 2, a)
            out = t + a < 0
        adj[low] = a
    return adj


def _tau2_pm(d: Design, df, estimable, max_iter):
    """Paule-Mandel as metafor: R's uniroot on RSS(tau^2) - (k - p) over [0, max(100, 10 mad(yi)^2)].

    Returns (tau2, found, unfinished): `found` is False where RSS(tau2_max) is still above k - p (metafor
    stops with "tau2.max too low"); `unfinished` marks a root search that hit max_iter (metafor warns).
    """
    upper = np.maximum(TAU2_MAX, 10 * mad(d.y, d.g, d.k, d.n_groups) ** 2)
    root, at_zero, found, unfinished = _solve_rss(d, df, np.zeros(d.n_groups), upper, estimable, max_iter)
    tau2 = np.where(at_zero, 0.0, root)
    return tau2, found | at_zero | ~estimable, unfinished


def _solve_rss(d: Design, target, lower, upper, live, max_iter):
    """Root of RSS(tau^2) = target in [lower, upper] by R's uniroot: (root, below, found, unfinished)."""
    shrunk = {"d": d}

    def excess(t, alive):
        if shrunk["d"].mostly_done(alive):
            shrunk["d"] = shrunk["d"].subset(alive)
        with np.errstate(divide="ignore", invalid="ignore"):
            return shrunk["d"].rss(t) - target

    f_lower, f_upper = excess(lower, live), excess(upper, live)
    below = live & (f_lower < 0)
    found = live & ~below & ~(f_upper > 0)
    root, finished = zeroin(excess, lower, upper, f_lower, f_upper, TOL, max_iter, found)
    return np.where(found, np.maximum(0.0, root), np.nan), below, found, found & ~finished


def q_profile(d: Design, fitted: Fit, alpha: float = 0.05):
    """Q-profile confidence interval of tau^2 (metafor's confint(type="QP")), then I^2's at its ends.

    Returns (tau2_lb, tau2_ub, i2_lb, i2_ub), NaN where the model has no tau^2 (k - p < 1).
    """
    df = (d.k - d.p_eff).astype(float)
    live = (df >= 1) & np.isfinite(fitted.tau2)
    dfs = np.where(live, df, 1.0)
    crit_u, crit_l = stats.chi2.isf(alpha / 2, dfs), stats.chi2.ppf(alpha / 2, dfs)
    lower = np.zeros(d.n_groups)
    upper = np.maximum(TAU2_MAX, 10 * np.nan_to_num(fitted.tau2))
    with np.errstate(divide="ignore", invalid="ignore"):
        q_min, q_max = d.rss(lower), d.rss(upper)
    # upper bound: where RSS falls to the lower chi^2 quantile
    ub_root = _solve_rss(d, crit_l, lower, upper, live & ~(q_min < crit_l) & ~(q_max > crit_l), CI_MAX_ITER)
    ub = np.where(q_min < crit_l, lower, np.where(q_max > crit_l, upper, ub_root[0]))
    lb_root = _solve_rss(d, crit_u, lower, upper, live & ~(q_max > crit_u) & ~(q_min < crit_u), CI_MAX_ITER)
    lb = np.where(q_max > crit_u, upper, np.where(q_min < crit_u, lower, lb_root[0]))
    ub = np.where(q_max > crit_u, upper, ub)
    lb, ub = np.where(live, lb, np.nan), np.where(live, ub, np.nan)
    vt = fitted.vt
    with np.errstate(divide="ignore", invalid="ignore"):
        return lb, ub, 100 * lb / (vt + lb), 100 * ub / (vt + ub)


def zeroin(f: Callable, a, b, fa, fb, tol, max_iter, live):
    """R's uniroot (Brent's zeroin, R_zeroin2 in stats/src/zeroin.c) for many brackets at once.

    Transcribed branch by branch so that each analysis takes the same steps as in R: metafor's tolerance
    (2^-13 on tau^2) leaves the root up to ~1e-4 from the exact one, so matching metafor to 1e-6 means
    following R's iterates, not solving more precisely. `f(x, live)` evaluates f at x (one per bracket) where
    `live`. Returns (root, finished).
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


def mad(y, g, k, n_groups):
    """R's mad(): 1.4826 times the median absolute deviation from the median, per analysis."""
    median = group_median(y, g, k, n_groups)
    return 1.4826 * group_median(np.abs(y - median[g]), g, k, n_groups)


def group_median(x, g, k, n_groups):
    ordered = x[np.lexsort((x, g))]
    start = np.cumsum(k) - k
    last = max(len(x) - 1, 0)
    lo = np.minimum(start + (k - 1) // 2, last)
    hi = np.minimum(start + k // 2, last)
    return np.where(k > 0, (ordered[lo] + ordered[hi]) / 2, np.nan) if len(x) else np.full(n_groups, np.nan)
