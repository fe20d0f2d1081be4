"""Forest plots of 10 and 100 studies saved as PNG the toolkit's way (review.plots.save_figure: drawn once, the
tight box cut out of the pixels) against matplotlib's own `savefig(..., bbox_inches="tight")` (which lays every
text out twice and encodes at zlib's default level), in the same run on the same figures.

    python benchmarks/bench_plots.py [--plots 20] [--sizes 10 100] [--out DIR]

Each size is drawn with short study labels and with long ones (every third label 60 characters). --out keeps
the first plot of each size and way as PNG, to look at side by side. Seconds are wall time with CPU seconds
beside them (a busy machine shows as wall well above CPU).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from review.plots import forest_plot, save_figure


def studies(k: int, long: bool, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_e, n_c = rng.integers(40, 300, k), rng.integers(40, 300, k)
    tail = " Very-long-author et al. 2019 (extension cohort, final)"
    return pd.DataFrame(
        {
            "study_id": [f"S{i:04d}" + (tail if long and i % 3 == 0 else "") for i in range(1, k + 1)],
            "events_e": rng.binomial(n_e, 0.3),
            "n_e": n_e,
            "events_c": rng.binomial(n_c, 0.25),
            "n_c": n_c,
        }
    )


def draw(data: pd.DataFrame, plots: int, folder: Path, keep: Path | None, way: str) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(plots):
        fig = forest_plot(
            data, "RR", "REML", study="study_id", title=f"Analysis {i + 1}, experimental vs control"
        )
        path = keep if keep is not None and i == 0 else folder / "plot.png"
        if way == "toolkit":
            save_figure(fig, path)
        else:
            fig.savefig(path, format="png", dpi=150, bbox_inches="tight")
        fig.clear()
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plots", type=int, default=20)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--out", type=Path, help="keep the first plot of each size and way here")
    args = parser.parse_args(argv)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    print(f"{'studies':>8} {'labels':>7} {'way':>9} {'plots':>6} {'seconds':>8} {'CPU s':>7} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for k in args.sizes:
            for long in (False, True):
                data = studies(k, long)
                times = {}
                for way in ("savefig", "toolkit"):
                    keep = (
                        args.out / f"forest_{k}_{'long' if long else 'short'}_{way}.png" if args.out else None
                    )
                    times[way] = draw(data, args.plots, Path(tmp), keep, way)
                for way, (wall, cpu) in times.items():
                    ratio = times["savefig"][0] / wall
                    print(
                        f"{k:>8} {'long' if long else 'short':>7} {way:>9} {args.plots:>6} {wall:>8.2f} "
                        f"{cpu:>7.2f} {ratio:>5.1f}x"
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
