"""Compare two reviewers' extractions and reconcile them, with the values every reviewer typed alike taken
column by column, against the value-by-value way (every value a Unit, every consensus row built alone), in the
same run on the same synthetic review.

    python benchmarks/bench_compare.py REVIEW_FOLDER [--repeat 1] [--skip-alternative]

REVIEW_FOLDER is one benchmarks/make_review.py made (review.toml, two reviewers' workbooks, adjudication.xlsx);
nothing is written into it (the discrepancy workbook goes to a temporary folder). The workbooks are read once,
untimed. Timed: `compare`, `read_decisions` of the adjudication file, `reconcile` reusing the comparison,
`write_discrepancies` (the workbook `review run` writes); then compare + reconcile again with the shortcut off
(review.lineup._FAST = False), the obvious alternative, and the two results checked equal. Seconds are wall
time, best of --repeat; CPU seconds beside them tell a busy machine from a slow stage.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

import review.lineup as lineup
from review.compare import compare
from review.project import load_review
from review.reconcile import read_decisions, reconcile, write_discrepancies
from review.workbook import read_extraction


def timed(repeat: int, fn):
    """(best wall seconds, CPU seconds of that run, result) of `repeat` calls of fn."""
    best = None
    for _ in range(max(1, repeat)):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if best is None or wall < best[0]:
            best = (wall, cpu, result)
    assert best is not None
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--skip-alternative", action="store_true")
    args = parser.parse_args(argv)
    review = load_review(args.folder)
    a, b = (read_extraction(path, review.form) for path in review.reviewers[:2])
    rows = sum(len(t.data) for t in a.tables.values())
    print(f"{args.folder}: {rows:,} rows per workbook")
    results = {}
    results["compare"] = timed(args.repeat, lambda: compare([a, b]))
    comparison = results["compare"][2]
    results["read_decisions"] = timed(args.repeat, lambda: read_decisions(review.adjudication))
    decisions = results["read_decisions"][2]
    results["reconcile"] = timed(args.repeat, lambda: reconcile([a, b], decisions, comparison=comparison))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "discrepancies.xlsx"
        results["write_discrepancies"] = timed(args.repeat, lambda: write_discrepancies(comparison, out))
    print(f"{len(comparison)} discrepancies")
    if not args.skip_alternative:
        lineup._FAST = False
        try:
            results["compare, value by value"] = timed(args.repeat, lambda: compare([a, b]))
            slow = results["compare, value by value"][2]
            results["reconcile, value by value"] = timed(
                args.repeat, lambda: reconcile([a, b], decisions, comparison=slow)
            )
        finally:
            lineup._FAST = True
        fast, by_value = results["reconcile"][2], results["reconcile, value by value"][2]
        pd.testing.assert_frame_equal(comparison.discrepancies, slow.discrepancies)
        pd.testing.assert_frame_equal(comparison.agreement, slow.agreement)
        pd.testing.assert_frame_equal(fast.trail, by_value.trail)
        for name, frame in fast.tables.items():
            pd.testing.assert_frame_equal(frame, by_value.tables[name])
        print("the two ways give the same discrepancies, agreement, consensus tables and trail")
    print(f"{'stage':<28}{'seconds':>10}{'CPU s':>10}")
    for stage, (wall, cpu, _) in results.items():
        print(f"{stage:<28}{wall:>10.2f}{cpu:>10.2f}")
    for stage in ("compare", "reconcile"):
        if f"{stage}, value by value" in results:
            ratio = results[f"{stage}, value by value"][0] / results[stage][0]
            print(f"{stage}: {ratio:.1f}x faster than value by value")
    return 0


if __name__ == "__main__":
    sys.exit(main())
