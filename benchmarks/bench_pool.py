"""Pool 10,000 random-effects meta-analyses at once, against a loop of statsmodels' combine_effects.

    python benchmarks/bench_pool.py [--n 10000] [--k 10] [--seed 1] [--repeat 7]

The data are n random analyses of k studies each (log odds ratio-like yi, vi; a third of the analyses
homogeneous), in one long table, the shape `review meta` reads.

What is timed, in this run, on the same data (best of --repeat; the machine is shared, so the load average
is printed before and after):
- `review.meta.pool(data, "GEN", method, by=["analysis"])`: DataFrame in, DataFrame out, every analysis in one
  call, for REML (the task) and DL, each with and without (`tau2_ci=False`) the Q-profile CI of tau^2 and I^2,
  and PM with it;
- the engine alone (review.rma: fit and q_profile on the padded arrays) against the engine as it was before
  it was tuned (tests/rma_oracle.py, when run from a source checkout), on the same design;
- when numba is installed: a compiled per-analysis loop doing the same arithmetic (benchmarks/pool_numba.py),
  checked to give the same numbers bit for bit: the floor a compiled loop reaches (numba is not a dependency);
- the obvious alternative: a Python loop calling statsmodels' `combine_effects(yi, vi, method_re=...)` once
  per analysis on arrays split beforehand (the split is not timed). statsmodels has no REML; its iterative
  estimator is Paule-Mandel ("iterated"), so REML and PM are both compared with that loop, and DL with "dl".
Also: `pool` on a handful of analyses, to show that 10,000 cost about as much as a few; and the REML calls again in
a child process whose C allocator keeps the memory numpy frees (glibc's MALLOC_MMAP_THRESHOLD_ and
MALLOC_TRIM_THRESHOLD_): the difference is the page faults of faulting those temporaries in again at each call.

Agreement, where the two compute the same thing: DL's theta and tau^2 wherever statsmodels' tau^2 is >= 0 (it
does not floor the DL moment estimate at 0; we count how often that matters), and PM's tau^2 to within
statsmodels' own stopping rule (|Q - (k-1)| < 1e-5, not metafor's root search).
Needs the bench extra: pip install -e '.[bench]'.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from timing import best_of

from review import rma
from review.meta import pool

HERE = Path(__file__).resolve().parent


def analyses(n: int, k: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    analysis = np.repeat(np.arange(n), k)
    vi = rng.uniform(0.02, 0.6, n * k)
    tau = rng.choice([0.0, 0.3, 0.7], n)[analysis]
    yi = rng.normal(rng.normal(-0.3, 0.5, n)[analysis], np.sqrt(vi + tau**2))
    return pd.DataFrame({"analysis": analysis, "yi": yi, "vi": vi})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="number of analyses (default 10000)")
    parser.add_argument("--k", type=int, default=10, help="studies per analysis (default 10)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=7, help="timing runs of `pool`; the best is reported")
    parser.add_argument("--reml-only", action="store_true", help=argparse.SUPPRESS)  # the allocator's line
    args = parser.parse_args(argv)
    if args.reml_only:
        data = analyses(args.n, args.k, args.seed)
        for ci in (True, False):
            elapsed, cpu, _ = _best(
                args.repeat, lambda c=ci: pool(data, "GEN", "REML", by=["analysis"], tau2_ci=c)
            )
            print(f"{elapsed * 1e3:.1f} {cpu * 1e3:.1f}")
        return 0
    try:
        from statsmodels.stats.meta_analysis import combine_effects
    except ImportError:
        print("statsmodels is needed for the comparison: pip install -e '.[bench]'", file=sys.stderr)
        return 2

    data = analyses(args.n, args.k, args.seed)
    groups = [(g["yi"].to_numpy(), g["vi"].to_numpy()) for _, g in data.groupby("analysis", sort=True)]
    print(f"{args.n:,} analyses x k = {args.k} ({len(data):,} rows)")

    def statsmodels_loop(method_re: str) -> pd.DataFrame:
        rows = []
        with warnings.catch_warnings():  # its sqrt of a negative DL tau^2 warns; that is counted below
            warnings.simplefilter("ignore", RuntimeWarning)
            for yi, vi in groups:
                res = combine_effects(yi, vi, method_re=method_re)
                rows.append((res.mean_effect_re, res.tau2))
        return pd.DataFrame(rows, columns=["theta", "tau2"])

    print(f"load average before: {_load()}")
    few = data[data["analysis"] < 5]
    t_few, _ = best_of(args.repeat, lambda: pool(few, "GEN", "REML", by=["analysis"]))
    print(f"pool REML, 5 analyses:                          {t_few * 1e3:8.1f} ms")
    print("(best of the runs; in brackets the best CPU time, what an idle machine's run would take)")

    results = {}
    for method, ci in (("REML", True), ("REML", False), ("DL", True), ("DL", False), ("PM", True)):
        elapsed, cpu, results[method, ci] = _best(
            args.repeat, lambda m=method, c=ci: pool(data, "GEN", m, by=["analysis"], tau2_ci=c)
        )
        results[method, ci, "time"] = elapsed
        label = "with the tau^2 CI" if ci else "no tau^2 CI (tau2_ci=False)"
        print(
            f"pool {method:<4}, all {args.n:,} analyses, {label:<28} {elapsed * 1e3:8.1f} ms  "
            f"({cpu * 1e3:.1f} ms CPU)"
        )
    for ci in (True, False):
        ratio = results["REML", ci, "time"] / results["DL", ci, "time"]
        print(f"REML / DL {'with' if ci else 'without'} the CI: {ratio:.2f}")
    _allocator(args)
    print()
    _engine(data, args.repeat)
    print()
    t_pm, sm_pm = best_of(1, lambda: statsmodels_loop("iterated"))
    t_dl, sm_dl = best_of(1, lambda: statsmodels_loop("dl"))
    print(f"statsmodels combine_effects loop, iterated (PM): {t_pm * 1e3:8.1f} ms")
    print(f"statsmodels combine_effects loop, dl:            {t_dl * 1e3:8.1f} ms")
    print()
    print(
        f"REML with CI, pool vs statsmodels PM loop:    {t_pm / results['REML', True, 'time']:6.0f}x faster"
    )
    print(
        f"REML without CI, pool vs statsmodels PM loop: {t_pm / results['REML', False, 'time']:6.0f}x faster"
    )
    print(f"PM with CI, pool vs statsmodels PM loop:      {t_pm / results['PM', True, 'time']:6.0f}x faster")
    print(f"DL with CI, pool vs statsmodels DL loop:      {t_dl / results['DL', True, 'time']:6.0f}x faster")
    print(f"DL without CI, pool vs statsmodels DL loop:   {t_dl / results['DL', False, 'time']:6.0f}x faster")
    print()
    dl = results["DL", True]
    negative = sm_dl["tau2"].to_numpy() < 0
    same = ~negative
    print(
        f"DL: statsmodels reports tau2 < 0 in {negative.sum():,} of {args.n:,} analyses "
        "(metafor floors it at 0);"
    )
    print(
        f"    elsewhere max |theta diff| = {np.max(np.abs(dl['theta'][same] - sm_dl['theta'][same])):.1e}, "
        f"max |tau2 diff| = {np.max(np.abs(dl['tau2'][same] - sm_dl['tau2'][same])):.1e}"
    )
    pm = results["PM", True]
    print(
        f"PM: max |tau2 diff| = {np.max(np.abs(pm['tau2'] - sm_pm['tau2'])):.1e} "
        "(statsmodels stops at |Q - (k-1)| < 1e-5; we follow metafor's uniroot)"
    )
    reml = results["REML", True]
    print(
        f"REML: {int(reml['converged'].sum()):,} of {args.n:,} analyses converged "
        "(Fisher scoring oscillates on the others, in metafor too: see tests/test_meta.py)"
    )
    print(f"load average after: {_load()}")
    return 0


def _best(repeat: int, fn):
    """(best wall seconds, best CPU seconds, last result) of `repeat` calls: on a shared machine the CPU time
    of a single-threaded call is what it would take alone."""
    wall, cpu, result = [], [], None
    for _ in range(max(1, repeat)):
        w, c = time.perf_counter(), time.process_time()
        result = fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return min(wall), min(cpu), result


def _allocator(args) -> None:
    """The same REML calls in a process whose C allocator keeps freed memory: numpy's temporaries of a pooling
    (several MB) are otherwise handed back to the system and faulted in again, page by page, at the next call.
    The difference is what those page faults cost (glibc's malloc, read from its environment variables)."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}
    argv = [sys.executable, __file__, "--reml-only", f"--n={args.n}", f"--k={args.k}", f"--seed={args.seed}"]
    done = subprocess.run([*argv, f"--repeat={args.repeat}"], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        print(f"(the allocator's line failed: {done.stderr.strip()[-200:]})")
        return
    (ci, ci_cpu), (no_ci, no_ci_cpu) = (map(float, line.split()) for line in done.stdout.split("\n")[:2])
    print(
        f"pool REML with glibc keeping freed memory (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ = 1 GiB): "
        f"{ci:.1f} ms with the CI ({ci_cpu:.1f} CPU), {no_ci:.1f} ms without ({no_ci_cpu:.1f} CPU): the "
        "difference from the lines above is page faults"
    )


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _engine(data: pd.DataFrame, repeat: int) -> None:
    """review.rma alone (REML fit, Q-profile CI), against the former engine and a compiled loop if present."""
    y, v = data["yi"].to_numpy(float), data["vi"].to_numpy(float)
    g, n = data["analysis"].to_numpy(), int(data["analysis"].max()) + 1
    d = rma.PaddedDesign(y, v, g, n)
    t_fit, c_fit, fitted = _best(repeat, lambda: rma.fit(d, "REML"))
    t_ci, c_ci, ci = _best(repeat, lambda: rma.q_profile(d, fitted))
    print(
        f"engine: REML fit {t_fit * 1e3:6.1f} ms ({c_fit * 1e3:.1f} CPU), "
        f"Q-profile CI {t_ci * 1e3:6.1f} ms ({c_ci * 1e3:.1f} CPU) (review.rma)"
    )
    oracle_path = HERE.parent / "tests" / "rma_oracle.py"
    if oracle_path.exists():
        sys.path.insert(0, str(oracle_path.parent))
        import rma_oracle

        d0 = rma_oracle.PaddedDesign(y, v, g, n)
        t_fit0, c_fit0, fitted0 = _best(repeat, lambda: rma_oracle.fit(d0, "REML"))
        t_ci0, c_ci0, ci0 = _best(repeat, lambda: rma_oracle.q_profile(d0, fitted0))
        print(
            f"        former engine (tests/rma_oracle.py): fit {t_fit0 * 1e3:6.1f} ms ({c_fit0 * 1e3:.1f} CPU; "
            f"{c_fit0 / c_fit:.1f}x), CI {t_ci0 * 1e3:6.1f} ms ({c_ci0 * 1e3:.1f} CPU; {c_ci0 / c_ci:.1f}x); "
            "max |difference| of tau^2 "
            f"{np.nanmax(np.abs(fitted.tau2 - fitted0.tau2)):.1e}, of the CI "
            f"{max(np.nanmax(np.abs(a - b)) for a, b in zip(ci, ci0, strict=True)):.1e}"
        )
    try:
        import pool_numba
    except ImportError:
        print("        numba not installed: the compiled per-analysis loop is not timed (pip install numba)")
        return
    compiled = _numba_reml(d, pool_numba)  # the first call compiles (or loads numba's cache)
    t_nb, c_nb, compiled = _best(repeat, lambda: _numba_reml(d, pool_numba))
    same = np.array_equal(compiled[0], fitted.tau2, equal_nan=True) and all(
        np.array_equal(a, b, equal_nan=True) for a, b in zip(compiled[1], ci[:2], strict=True)
    )
    print(
        f"        numba per-analysis loop, fit and CI: {t_nb * 1e3:6.1f} ms ({c_nb * 1e3:.1f} CPU; the numpy "
        f"engine {(c_fit + c_ci) / c_nb:.1f}x slower); the same tau^2 and CI bit for bit: {same}"
    )


def _numba_reml(d: rma.PaddedDesign, kernels):
    """REML tau^2 and its Q-profile CI with the compiled loops where rma iterates (the rest as rma does)."""
    from scipy import stats

    start = np.maximum(0.0, rma._hedges(d))
    active = d.k - 1 >= 1
    tau2, converged = kernels.fisher(d.y, d.v, d.k, start, active, 1, rma.MAX_ITER, rma.THRESHOLD)
    tau2, converged, _ = rma._ll0check(d, "REML", tau2, converged, rma.THRESHOLD)
    tau2 = np.where(active & converged, tau2, np.where(active, np.nan, 0.0))
    df = (d.k - 1).astype(float)
    live = (df >= 1) & np.isfinite(tau2)
    dfs = np.where(live, df, 1.0)
    crit_u = rma.per_value(lambda x: stats.chi2.isf(0.025, x), dfs)
    crit_l = rma.per_value(lambda x: stats.chi2.ppf(0.025, x), dfs)
    lower, upper = np.zeros(d.n_groups), np.maximum(rma.TAU2_MAX, 10 * np.nan_to_num(tau2))
    q_min, q_max = d.rss(lower), d.rss(upper)
    ends = []
    for crit, low_end in ((crit_l, False), (crit_u, True)):
        idx = np.flatnonzero(live & ~(q_min < crit) & ~(q_max > crit))
        root, _ = kernels.zeroin_rss(
            d.y,
            d.v,
            d.k,
            idx,
            crit[idx],
            lower[idx],
            upper[idx],
            q_min[idx] - crit[idx],
            q_max[idx] - crit[idx],
            rma.TOL,
            rma.CI_MAX_ITER,
        )
        end = np.full(d.n_groups, np.nan)
        end[idx] = np.maximum(0.0, root)
        if low_end:
            end = np.where(q_max > crit, upper, np.where(q_min < crit, lower, end))
        else:
            end = np.where(q_min < crit, lower, np.where(q_max > crit, upper, end))
        ends.append(end)
    ub, lb = ends
    ub = np.where(q_max > crit_u, upper, ub)
    return tau2, (np.where(live, lb, np.nan), np.where(live, ub, np.nan))


if __name__ == "__main__":
    sys.exit(main())
