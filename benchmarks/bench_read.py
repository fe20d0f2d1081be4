"""Reading a large reviewer workbook: review.workbook.read_workbook (python-calamine, typed, with cell provenance
and reading issues) against pandas.read_excel with the openpyxl and the calamine engines (untyped, no provenance,
no issues), against calamine's own parse of the same sheets (the floor: what reading costs before any typing),
against fastexcel (calamine to Apache Arrow, one type per column: every cell read as text, which the reader cannot
use: see below), and the sheet-XML scan alone, all measured in the same run. With two workbooks (reviewer_a and
reviewer_b side by side), it also times reading both one after the other against read_extractions (both at once,
as `review run` reads them).

fastexcel gives one Arrow type per column, so a column mixing numbers and text (20, NR, '12 (5%)') is read either
as text (numbers formatted with 9 decimals: 0.1234567891 becomes '0.123456789') or as numbers (the text '1e5' and
'007' silently become 100000 and 7); telling a number from numeric text, a date or a boolean cell needs several
parses of the sheet. The reader keeps python-calamine, whose cells carry their type.

    python benchmarks/bench_read.py [--workbook benchmarks/.work/review_1000/reviewer_a.xlsx] [--repeat 3]
    python benchmarks/bench_read.py --rows 20000        # a generated workbook of adverse-event rows

fastexcel is in the bench extra (pip install -e '.[bench]'); without it its line is left out.

Each line gives the best wall-clock seconds of --repeat runs and that run's CPU seconds: on a shared machine CPU
time is the steadier figure. The ratios divide the alternatives' times by read_workbook's, both ways.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import python_calamine

from review.forms import default_form_path, load_form
from review.sheetscan import scan
from review.workbook import make_workbook, read_extraction, read_extractions, read_workbook

try:
    import fastexcel
except ImportError:  # the bench extra
    fastexcel = None


def _events(rows: int) -> pd.DataFrame:
    terms = [f"term {i}" for i in range(rows // 4)]
    grades = ["any", "1-2", "3-4", "5"]
    return pd.DataFrame(
        {
            "study_id": "S1",
            "arm_id": "a",
            "term": [t for t in terms for _ in grades],
            "grade": grades * len(terms),
            "patients": [i % 40 for i in range(len(terms) * 4)],
            "at_risk": 100,
            "source": "S1",
            "location": "Table 3",
        }
    )


def _timed(repeat: int, fn) -> tuple[float, float]:
    """(wall, cpu) seconds of the fastest of `repeat` calls."""
    best = (float("inf"), float("inf"))
    for _ in range(max(1, repeat)):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def _calamine_only(path: Path, sheets: list[str]) -> None:
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    for name in sheets:
        book.get_sheet_by_name(name).to_python(skip_empty_area=False)


def _fastexcel(path: Path, sheets: list[str]) -> None:
    reader = fastexcel.read_excel(str(path))
    for name in sheets:
        reader.load_sheet(name, header_row=None, dtypes="string").to_polars()  # Arrow to polars, no pyarrow


def _read_peak(path: Path) -> float:
    """Peak resident memory (MB) of a fresh Python process that reads the workbook once."""
    # VmHWM, not ru_maxrss: a child's ru_maxrss starts from the parent's size at the fork
    code = (
        "import sys; from pathlib import Path; from review.forms import default_form_path, load_form; "
        "from review.workbook import read_workbook; read_workbook(sys.argv[1], load_form(default_form_path())); "
        "print([l for l in Path('/proc/self/status').read_text().splitlines() if l.startswith('VmHWM')][0])"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-2]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workbook", type=Path, help="a reviewer workbook of the default form to read")
    parser.add_argument("--rows", type=int, default=20000, help="adverse-event rows of a generated workbook")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--openpyxl-repeat", type=int, default=1, help="openpyxl is slow: fewer runs")
    args = parser.parse_args()
    form = load_form(default_form_path())
    with tempfile.TemporaryDirectory() as tmp:
        path = args.workbook
        if path is None:
            data = {
                "studies": pd.DataFrame([{"study_id": "S1", "citation": "x", "design": "single-arm"}]),
                "arms": pd.DataFrame([{"study_id": "S1", "arm_id": "a", "label": "a", "intervention": "x"}]),
                "adverse_events": _events(args.rows),
            }
            path = make_workbook(form, Path(tmp) / "big.xlsx", data=data)
        extraction = read_workbook(path, form)
        rows = sum(len(t.data) for t in extraction.tables.values())
        sheets = [t.sheet for t in extraction.tables.values()] + ["Instructions"]
        timings = {
            "review.read_workbook (typed, cell provenance, issues)": _timed(
                args.repeat, lambda: read_workbook(path, form)
            ),
            "  of which the sheet-XML scan (facts and limits)": _timed(
                args.repeat, lambda: scan(Path(path), set(sheets))
            ),
            "calamine's parse of the same sheets (the floor)": _timed(
                args.repeat, lambda: _calamine_only(path, sheets)
            ),
        }
        if fastexcel is not None:
            timings["fastexcel to Arrow, every cell as text (unusable)"] = _timed(
                args.repeat, lambda: _fastexcel(path, sheets)
            )
        timings["pandas.read_excel(engine='calamine'), untyped"] = _timed(
            args.repeat, lambda: pd.read_excel(path, sheet_name=None, engine="calamine")
        )
        timings["pandas.read_excel(engine='openpyxl'), untyped"] = _timed(
            args.openpyxl_repeat, lambda: pd.read_excel(path, sheet_name=None, engine="openpyxl")
        )
        other = Path(path).with_name("reviewer_b.xlsx")
        if Path(path).name == "reviewer_a.xlsx" and other.exists():
            pair = [Path(path), other]
            timings["two workbooks, one after the other"] = _timed(
                args.repeat, lambda: [read_extraction(p, form) for p in pair]
            )
            timings["two workbooks at once (read_extractions, as review run)"] = _timed(
                args.repeat, lambda: read_extractions(pair, form)
            )
    ours_wall, ours_cpu = next(iter(timings.values()))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{path.name}: {rows:,} rows in {len(extraction.tables)} tables; best of {args.repeat}; load {load}"
    )
    print(f"  {'':58s} {'wall s':>8s} {'cpu s':>8s} {'cpu / review':>13s}")
    for label, (wall, cpu) in timings.items():
        print(f"  {label:58s} {wall:8.2f} {cpu:8.2f} {cpu / ours_cpu:12.1f}x")
    openpyxl = timings["pandas.read_excel(engine='openpyxl'), untyped"]
    calamine = timings["pandas.read_excel(engine='calamine'), untyped"]
    print(
        f"  review is {openpyxl[1] / ours_cpu:.1f}x faster than pandas+openpyxl and "
        f"{calamine[1] / ours_cpu:.1f}x pandas+calamine in CPU time "
        f"({openpyxl[0] / ours_wall:.1f}x and {calamine[0] / ours_wall:.1f}x in wall time)"
    )
    if "two workbooks at once (read_extractions, as review run)" in timings:
        one, both = (
            timings["two workbooks, one after the other"],
            timings["two workbooks at once (read_extractions, as review run)"],
        )
        print(f"  two workbooks at once: {one[0] / both[0]:.2f}x as fast in wall time as one after the other")
    print(f"  peak memory of read_workbook alone, in a fresh process: {_read_peak(Path(path)):,.0f} MB")


if __name__ == "__main__":
    main()
