"""Reading a large reviewer workbook: review.workbook.read_workbook (python-calamine, typed, with cell
provenance) against the obvious alternative, pandas.read_excel with openpyxl, measured in the same run.

    python benchmarks/bench_read.py [--rows 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd
from timing import best_of

from review.forms import default_form_path, load_form
from review.workbook import make_workbook, read_workbook


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    form = load_form(default_form_path())
    data = {
        "studies": pd.DataFrame([{"study_id": "S1", "citation": "x", "design": "single-arm"}]),
        "arms": pd.DataFrame([{"study_id": "S1", "arm_id": "a", "label": "a", "intervention": "x"}]),
        "adverse_events": _events(args.rows),
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = make_workbook(form, Path(tmp) / "big.xlsx", data=data)
        ours = best_of(args.repeat, lambda: read_workbook(path, form))[0]
        theirs = best_of(args.repeat, lambda: pd.read_excel(path, sheet_name=None, engine="openpyxl"))[0]
        rows = len(read_workbook(path, form)["adverse_events"])
    print(f"workbook with {rows} adverse-event rows, best of {args.repeat}")
    print(f"  review.read_workbook (calamine, typed + cell provenance): {ours:8.3f} s")
    print(f"  pandas.read_excel(engine='openpyxl'), untyped:            {theirs:8.3f} s")
    print(f"  ratio openpyxl / review: {theirs / ours:.1f}x")


if __name__ == "__main__":
    main()
