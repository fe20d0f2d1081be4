"""The tau^2 estimators of issue 15 (HE, HS, SJ, ML, EB) on 10,000 analyses in one pass, against a loop.

    python benchmarks/bench_estimators.py [--n 10000] [--k 10] [--loop-n 1000] [--seed 1] [--repeat 3]

Data: n random analyses of k studies (log odds ratio-like yi, vi; a third homogeneous), one long table, as
`review meta` reads it (benchmarks/bench_pool.py's generator).

Timed, in this run, on the same data, for each estimator (and REML, PM for reference):
- vectorised: `pool(data, "GEN", method, by=["analysis"])`, every analysis in one call (estimate, test, Q,
  I^2 and the Q-profile intervals of tau^2 and I^2);
- the obvious alternative, a Python loop over analyses: (a) `pool(rows, "GEN", method)` once per analysis
  on frames split beforehand (the split is not timed), and (b) the bare engine, `review.rma.fit` plus
  `rma.q_profile` on numpy arrays once per analysis (no pandas at all). The loops run over the first
  `--loop-n` analyses and their time is scaled to n (the per-analysis cost does not depend on n); pass
  `--loop-n 10000` to loop over all of them.
The results of the loop and of the single pass are compared (max |difference| of theta, tau^2 and the tau^2
interval), so the speed is not bought with different numbers.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_pool import analyses  # noqa: E402
from timing import best_of  # noqa: E402

from review import rma  # noqa: E402
from review.meta import pool  # noqa: E402

METHODS = ("HE", "HS", "SJ", "ML", "EB", "REML", "PM")
COMPARED = ["theta", "tau2", "tau2_ci_low", "tau2_ci_high"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="number of analyses (default 10000)")
    parser.add_argument("--k", type=int, default=10, help="studies per analysis (default 10)")
    parser.add_argument("--loop-n", type=int, default=1000, help="analyses timed in the loops (default 1000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--repeat", type=int, default=3, help="timing runs of the single pass; the best counts"
    )
    args = parser.parse_args(argv)
    data = analyses(args.n, args.k, args.seed)
    loop_n = min(args.loop_n, args.n)
    frames = [g.reset_index(drop=True) for _, g in data.groupby("analysis", sort=True)][:loop_n]
    arrays = [(f["yi"].to_numpy(), f["vi"].to_numpy()) for f in frames]
    scale = args.n / loop_n
    print(
        f"{args.n:,} analyses x k = {args.k} ({len(data):,} rows); loops timed on {loop_n:,}, scaled to {args.n:,}"
    )
    print(
        f"{'method':<6} {'one pass':>10} {'loop pool':>11} {'loop rma':>10} {'vs pool':>8} {'vs rma':>7}  max |diff|"
    )
    for method in METHODS:
        t_pass, together = best_of(args.repeat, lambda m=method: pool(data, "GEN", m, by=["analysis"]))
        start = time.perf_counter()
        alone = [pool(f, "GEN", method).iloc[0] for f in frames]
        t_pool = (time.perf_counter() - start) * scale

        def engine(y, v, m=method):
            d = rma.Design(y, v, np.ones((len(y), 1)), np.zeros(len(y), dtype=np.intp), 1)
            fitted = rma.fit(d, m)
            return fitted, rma.q_profile(d, fitted)

        start = time.perf_counter()
        for y, v in arrays:
            engine(y, v)
        t_rma = (time.perf_counter() - start) * scale
        got = together.iloc[:loop_n][COMPARED].to_numpy(float)
        expected = np.array([[row[c] for c in COMPARED] for row in alone], dtype=float)
        diff = np.nanmax(np.abs(got - expected))
        print(
            f"{method:<6} {t_pass:9.2f}s {t_pool:10.1f}s {t_rma:9.1f}s {t_pool / t_pass:7.0f}x {t_rma / t_pass:6.0f}x"
            f"  {diff:.1e}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
