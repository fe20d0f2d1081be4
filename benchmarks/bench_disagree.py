"""Compare and reconcile two extractions that disagree on most rows: reviewer A of the synthetic review made with
seed 1 against reviewer B of the one made with seed 2 (other arms, other adverse-event terms, other numbers).

    python benchmarks/bench_disagree.py WORK_DIR [--studies 100] [--former]

Writes WORK_DIR/disagree_N/reviewer_a.xlsx and reviewer_b.xlsx once (made with the toolkit's writer, as
make_review.py makes them) and reads them, untimed. Timed: `compare`, then `reconcile` reusing the comparison
with every discrepancy decided for A (decisions made in memory, not timed). --former also times compare with the
former pairing of rows no key matches (tests/lineup_oracle.py: every pair of loose rows one key field apart
scored), in the same run, and checks both comparisons equal; it grows with the square of the review (minutes at
100 studies on a busy machine, hours at 1,000). Seconds are wall time with CPU seconds beside them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from make_review import reviewer_a, reviewer_b  # noqa: E402

from review.adjudication import Decision, Decisions  # noqa: E402
from review.compare import compare  # noqa: E402
from review.forms import default_form_path, load_form  # noqa: E402
from review.reconcile import reconcile  # noqa: E402
from review.workbook import make_workbook, read_extraction  # noqa: E402


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path)
    parser.add_argument("--studies", type=int, default=100)
    parser.add_argument("--former", action="store_true", help="also time the former pairing (slow)")
    args = parser.parse_args(argv)
    form = load_form(default_form_path())
    folder = args.work / f"disagree_{args.studies}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "reviewer_a.xlsx", folder / "reviewer_b.xlsx"]
    if not all(p.exists() for p in paths):
        make_workbook(form, paths[0], reviewer="A. Synthetic", data=reviewer_a(args.studies, 1))
        other = reviewer_a(args.studies, 2)
        make_workbook(form, paths[1], reviewer="B. Synthetic", data=reviewer_b(other, 2))
    a, b = (read_extraction(p, form) for p in paths)
    print(
        f"{folder}: {sum(len(t.data) for t in a.tables.values()):,} and "
        f"{sum(len(t.data) for t in b.tables.values()):,} rows"
    )
    results = {"compare": timed(lambda: compare([a, b]))}
    comparison = results["compare"][2]
    items = {
        (u.table, u.key, u.field): Decision(
            u.id,
            u.table,
            u.key,
            u.field,
            "A",
            None,
            "benchmark",
            "2026-01-01",
            "",
            {r.letter: e.shown for r, e in zip(comparison.reviewers, u.entries, strict=False)},
            "",
        )
        for u in comparison.disagreements
    }
    decisions = Decisions(folder / "in-memory.xlsx", "", form.name, "", comparison.reviewers, items)
    results["reconcile"] = timed(lambda: reconcile([a, b], decisions, comparison=comparison))
    if args.former:
        import lineup_oracle

        import review.lineup as lineup

        new_align = lineup._align
        lineup._align = lineup_oracle._align
        try:
            results["compare, former pairing"] = timed(lambda: compare([a, b]))
        finally:
            lineup._align = new_align
        former = results["compare, former pairing"][2]
        assert former.discrepancies.equals(comparison.discrepancies)
        assert former.agreement.equals(comparison.agreement)
        print("the former pairing gives the same discrepancies and agreement")
    print(f"{len(comparison):,} discrepancies")
    print(f"{'stage':<26}{'seconds':>9}{'CPU s':>9}")
    for stage, (wall, cpu, _) in results.items():
        print(f"{stage:<26}{wall:>9.2f}{cpu:>9.2f}")
    if args.former:
        print(
            f"compare: {results['compare, former pairing'][1] / results['compare'][1]:.1f}x the former pairing (CPU)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
