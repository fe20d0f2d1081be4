"""A compiled per-analysis loop (numba) for REML and its Q-profile searches: the floor bench_pool.py compares with.

Not used by the library (numba is not a dependency): `python benchmarks/bench_pool.py` times it when numba is
installed (`pip install numba`) and checks that it gives the numpy engine's numbers bit for bit. Each kernel does
per analysis what review/rma.py does per column of the padded (k_max, analyses) arrays, in the same order of
operations: Fisher scoring with metafor's step-halving and stopping rule (`fisher`), R's zeroin on
RSS(tau^2) - target (`zeroin_rss`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

EPS = float(np.finfo(float).eps)
METHOD_CODES = {"ML": 0, "REML": 1, "EB": 2}


@njit(cache=True)
def _adj(y, v, j, kj, t, method):
    sw = 0.0
    swy = 0.0
    for i in range(kj):
        w = 1.0 / (v[i, j] + t)
        sw += w
        swy += w * y[i, j]
    m = swy / sw
    yppy = sw2 = sw3 = wrr = 0.0
    for i in range(kj):
        w = 1.0 / (v[i, j] + t)
        r = y[i, j] - m
        wr = w * r
        yppy += wr * wr
        wrr += wr * r
        w2 = w * w
        sw2 += w2
        sw3 += w2 * w
    if method == 2:  # EB
        return (wrr * (kj / max(kj - 1, 1)) - kj) / sw
    if method == 0:  # ML
        return (yppy - sw) / sw2
    q = sw2 / sw
    return (yppy - (sw - q)) / (sw2 - 2 * sw3 / sw + q * q)


@njit(cache=True)
def fisher(y, v, k, tau2, active, method, max_iter, threshold):
    """(tau2, converged) per analysis: metafor's Fisher scoring from tau2 where `active`."""
    out = tau2.copy()
    converged = np.zeros(len(k), dtype=np.bool_)
    for j in range(len(k)):
        if not active[j]:
            continue
        t = tau2[j]
        for _ in range(max_iter):
            adj = _adj(y, v, j, k[j], t, method)
            if adj != adj:
                adj = 0.0
            new = t + adj
            if new < 0:
                if t == 0:
                    adj = 0.0
                while t + adj < 0:
                    adj = adj / 2
                new = t + adj
            change = abs(t - new)
            t = new
            if change <= threshold:
                converged[j] = True
                break
        out[j] = t
    return out, converged


@njit(cache=True)
def _rss(y, v, j, kj, t):
    sw = 0.0
    swy = 0.0
    for i in range(kj):
        w = 1.0 / (v[i, j] + t)
        sw += w
        swy += w * y[i, j]
    m = swy / sw
    s = 0.0
    for i in range(kj):
        w = 1.0 / (v[i, j] + t)
        r = y[i, j] - m
        s += (w * r) * r
    return s


@njit(cache=True)
def zeroin_rss(y, v, k, cols, target, a0, b0, fa0, fb0, tol, max_iter):
    """(root, finished) of RSS(tau^2) = target for analysis cols[s] in [a0[s], b0[s]]: R_zeroin2."""
    n = len(cols)
    root = np.empty(n)
    finished = np.zeros(n, dtype=np.bool_)
    for s in range(n):
        j = cols[s]
        a, b, fa, fb = a0[s], b0[s], fa0[s], fb0[s]
        c, fc = a, fa
        if fa == 0 or fb == 0:
            root[s] = a if fa == 0 else b
            finished[s] = True
            continue
        for _ in range(max_iter + 1):
            prev_step = b - a
            if abs(fc) < abs(fb):
                a, b, c = b, c, b
                fa, fb, fc = fb, fc, fb
            tol_act = 2 * EPS * abs(b) + tol / 2
            new_step = (c - b) / 2
            if abs(new_step) <= tol_act or fb == 0:
                finished[s] = True
                break
            if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
                cb = c - b
                if a == c:
                    t1 = fb / fa
                    p = cb * t1
                    q = 1.0 - t1
                else:
                    q = fa / fc
                    t1 = fb / fc
                    t2 = fb / fa
                    p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                    q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
                if p > 0:
                    q = -q
                else:
                    p = -p
                if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                    new_step = p / q
            if abs(new_step) < tol_act:
                new_step = tol_act if new_step > 0 else -tol_act
            a, fa = b, fb
            b += new_step
            fb = _rss(y, v, j, k[j], b) - target[s]
            if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
                c, fc = a, fa
        root[s] = b
    return root, finished
