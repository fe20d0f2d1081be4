"""Pool 10,000 random-effects meta-analyses at once, against a loop of statsmodels' combine_effects.

    python benchmarks/bench_pool.py [--n 10000] [--k 10] [--seed 1] [--repeat 3]

The data are n random analyses of k studies each (log odds ratio-like yi, vi; a third of the analyses
homogeneous), in one long table, the shape `review meta` reads.

What is timed, in this run, on the same data:
- `review.meta.pool(data, "GEN", method, by=["analysis"])`: DataFrame in, DataFrame out, every analysis in one
  call, for REML (the task), PM and DL, with the Q-profile CI of tau^2 and I^2; and REML with `tau2_ci=False`
  (the estimates alone, what statsmodels returns; the CI's two root searches cost more than the fit);
- the obvious alternative: a Python loop calling statsmodels' `combine_effects(yi, vi, method_re=...)` once
  per analysis on arrays split beforehand (the split is not timed). statsmodels has no REML; its iterative
  estimator is Paule-Mandel ("iterated"), so REML and PM are both compared with that loop, and DL with "dl".
Also: `pool` on a handful of analyses, to show that 10,000 cost about as much as a few.

Agreement, where the two compute the same thing: DL's theta and tau^2 wherever statsmodels' tau^2 is >= 0 (it
does not floor the DL moment estimate at 0; we count how often that matters), and PM's tau^2 to within
statsmodels' own stopping rule (|Q - (k-1)| < 1e-5, not metafor's root search).
Needs the bench extra: pip install -e '.[bench]'.
"""

from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np
import pandas as pd
from timing import best_of

from review.meta import pool


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
    parser.add_argument("--repeat", type=int, default=3, help="timing runs of `pool`; the best is reported")
    args = parser.parse_args(argv)
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

    few = data[data["analysis"] < 5]
    t_few, _ = best_of(args.repeat, lambda: pool(few, "GEN", "REML", by=["analysis"]))
    print(f"pool REML, 5 analyses:                      {t_few * 1e3:8.1f} ms")

    results = {}
    elapsed, _ = best_of(args.repeat, lambda: pool(data, "GEN", "REML", by=["analysis"], tau2_ci=False))
    print(f"pool REML, all {args.n:,}, no Q-profile CI:     {elapsed * 1e3:8.1f} ms  (tau2_ci=False)")
    results["REML lean", "time"] = elapsed
    for method in ("REML", "PM", "DL"):
        elapsed, results[method] = best_of(
            args.repeat, lambda m=method: pool(data, "GEN", m, by=["analysis"])
        )
        print(f"pool {method:<4}, all {args.n:,} analyses:             {elapsed * 1e3:8.1f} ms")
        results[method, "time"] = elapsed

    t_pm, sm_pm = best_of(1, lambda: statsmodels_loop("iterated"))
    t_dl, sm_dl = best_of(1, lambda: statsmodels_loop("dl"))
    print(f"statsmodels combine_effects loop, iterated (PM): {t_pm * 1e3:8.1f} ms")
    print(f"statsmodels combine_effects loop, dl:            {t_dl * 1e3:8.1f} ms")
    print()
    print(f"REML, pool vs statsmodels PM loop:  {t_pm / results['REML', 'time']:6.0f}x faster")
    print(f"REML without CI vs statsmodels PM:  {t_pm / results['REML lean', 'time']:6.0f}x faster")
    print(f"PM,   pool vs statsmodels PM loop:  {t_pm / results['PM', 'time']:6.0f}x faster")
    print(f"DL,   pool vs statsmodels DL loop:  {t_dl / results['DL', 'time']:6.0f}x faster")

    print()
    dl = results["DL"]
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
    pm = results["PM"]
    print(
        f"PM: max |tau2 diff| = {np.max(np.abs(pm['tau2'] - sm_pm['tau2'])):.1e} "
        "(statsmodels stops at |Q - (k-1)| < 1e-5; we follow metafor's uniroot)"
    )
    reml = results["REML"]
    print(
        f"REML: {int(reml['converged'].sum()):,} of {args.n:,} analyses converged "
        "(Fisher scoring oscillates on the others, in metafor too: see tests/test_meta.py)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
