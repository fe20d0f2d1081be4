"""Every stage of a review, timed at 10, 100 and 1,000 studies, and each against the obvious alternative.

    python benchmarks/run_all.py [--sizes 10 100 1000] [--work DIR] [--skip-alternatives]

For each size, a synthetic review (benchmarks/make_review.py, seed 1; made once and kept in --work, default
benchmarks/.work/) is run stage by stage in a fresh Python process, the way `review run` runs it: read one
workbook, validate it, compare the two, write the discrepancy workbook, reconcile (reusing the comparison), build
and pool the analyses, draw the forest plots, write the RevMan files, write the collaborator workbook. Each stage prints its seconds and the process's peak resident
memory during that stage (Linux VmHWM, reset before the stage; it includes what earlier stages hold, as in a
real run). Then `review run` end to end in another fresh process, and the growth factor per 10x studies (1.0
would be constant, 10 linear, 100 quadratic).

Then the alternatives, each in the same run on the same data:
- reading the 1,000-study workbook: `read_workbook` against `pandas.read_excel(sheet_name=None)` with the
  openpyxl and the calamine engines (untyped, no cell provenance, no reading issues);
- validating 1,000,000 adverse-event rows: `validate_frames` (pandera from the form plus the form's rules)
  against a plain pandera schema written by hand with the same checks;
- pooling 10,000 REML analyses in one call against a loop over groups calling the same `pool`;
- the collaborator workbook against `DataFrame.to_excel` of the same tables.
The machine is shared: the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from timing import best_of

HERE = Path(__file__).resolve().parent
VALIDATE_ROWS = int(os.environ.get("REVIEW_BENCH_VALIDATE_ROWS", "1000000"))
STAGES = (
    "read",
    "validate",
    "compare",
    "discrepancies",
    "reconcile",
    "analyses",
    "plots",
    "revman",
    "workbook",
)
LABELS = {
    "read": "read one workbook",
    "validate": "validate one",
    "compare": "compare",
    "discrepancies": "discrepancy workbook",
    "revman": "RevMan export",
    "reconcile": "reconcile",
    "analyses": "build and pool the analyses",
    "plots": "forest plots",
    "workbook": "collaborator workbook",
    "run": "review run, end to end",
}


# ----------------------------------------------------------------------------------------------------------------
# Measuring inside a worker process


def _peak_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
    except OSError:
        pass


class ChildPeak:
    """The largest peak resident memory (VmHWM) of this process's children during a stage: the plots' second
    process (review.drawing). Sampled every 50 ms from /proc, since the kernel's figure for waited children
    counts a child from its fork, when it still maps this whole process."""

    def __init__(self) -> None:
        self.mb, self._stop = 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.05):
            try:
                children = Path(f"/proc/{me}/task/{me}/children").read_text().split()
            except OSError:
                return
            for pid in children:
                try:
                    exe = os.readlink(f"/proc/{pid}/exe")
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                if "python" in Path(exe).name:  # exec'd, not a fork on its way to exec
                    self.mb = max(self.mb, int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024)

    def __enter__(self) -> ChildPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class Timer:
    def __init__(self) -> None:
        self.results: dict[str, dict[str, float]] = {}

    def __call__(self, stage: str, fn, *args, **kwargs):
        _reset_peak()
        with ChildPeak() as children:
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            seconds = time.perf_counter() - start
        self.results[stage] = {"seconds": seconds, "peak_mb": _peak_mb()}
        if children.mb:  # the plots' second process (review.drawing), on its own
            self.results[stage]["child_mb"] = children.mb
        return out


def worker_stages(folder: Path) -> dict:
    """The pipeline of review.project.run, stage by stage, each timed."""
    from review import project
    from review.analyses import pool_analyses
    from review.compare import compare
    from review.export import collaborator_workbook, forest_plots
    from review.reconcile import read_decisions, reconcile, write_discrepancies
    from review.revman import revman_exports
    from review.tables import analysis_tables
    from review.validate import validate
    from review.workbook import read_extraction

    review = project.load_review(folder)
    out = folder / "output-stages"
    timed = Timer()
    a = timed("read", read_extraction, review.reviewers[0], review.form)
    b = read_extraction(review.reviewers[1], review.form)
    report = timed("validate", validate, a)
    report = report + validate(b)
    comparison = timed("compare", compare, [a, b])
    timed("discrepancies", write_discrepancies, comparison, out / "discrepancies.xlsx")

    def _reconcile():
        return reconcile([a, b], read_decisions(review.adjudication), comparison=comparison)

    consensus = timed("reconcile", _reconcile)

    def _analyses():
        tables = analysis_tables(consensus.tables, review.form, settings=review.settings)
        return tables, pool_analyses(review, tables)

    tables, results = timed("analyses", _analyses)
    plots = timed("plots", forest_plots, review, results, out / "plots")
    timed("revman", revman_exports, review, results.datasets, tables, consensus, out / "revman")
    timed(
        "workbook",
        collaborator_workbook,
        review,
        out / "review.xlsx",
        report=report,
        comparison=comparison,
        consensus=consensus,
        tables=tables,
        pooled=results.pooled,
        plots=plots,
        made="benchmark",
        extras=results.extras(),
    )
    rows = sum(len(t.data) for t in a.tables.values())
    return {"rows": rows, "stages": timed.results}


def worker_run(folder: Path) -> dict:
    from review.project import run

    timed = Timer()
    timed("run", run, folder, folder / "output-run", force=True)
    return {"stages": timed.results}


def worker_alternatives(folder: Path) -> dict:
    """Each stage against the obvious alternative, on the same data, in this process."""
    import numpy as np
    import pandas as pd

    from review import project
    from review.analyses import pool_analyses
    from review.compare import compare
    from review.export import collaborator_workbook
    from review.meta import pool
    from review.reconcile import read_decisions, reconcile
    from review.tables import analysis_tables
    from review.validate import validate_frames
    from review.workbook import read_workbook

    review = project.load_review(folder)
    results: dict[str, dict[str, float]] = {}

    def best(fn, repeat: int = 1) -> float:
        return best_of(repeat, fn)[0]

    path = review.reviewers[0]
    a = read_workbook(path, review.form)
    rows = sum(len(t.data) for t in a.tables.values())
    results["read"] = {
        "rows": rows,
        "review": best(lambda: read_workbook(path, review.form)),
        "pandas calamine": best(lambda: pd.read_excel(path, sheet_name=None, engine="calamine")),
        "pandas openpyxl": best(lambda: pd.read_excel(path, sheet_name=None, engine="openpyxl")),
    }

    # Validation of 1,000,000 adverse-event rows: the review's tables repeated with new study ids.
    ae = a["adverse_events"]
    copies = -(-VALIDATE_ROWS // len(ae))

    def repeated(frame: pd.DataFrame, rows: int | None = None) -> pd.DataFrame:
        out = pd.concat([frame] * copies, ignore_index=True)
        copy_no = pd.Series(np.repeat(np.arange(copies), len(frame)))
        out["study_id"] = (out["study_id"].astype(str) + "-" + copy_no.astype(str)).astype(
            frame["study_id"].dtype
        )
        out = out.iloc[:rows] if rows else out
        out.index = pd.RangeIndex(2, len(out) + 2, name="row")
        return out

    big = repeated(ae, VALIDATE_ROWS)
    frames = {"studies": repeated(a["studies"]), "arms": repeated(a["arms"]), "adverse_events": big}
    results["validate"] = {
        "rows": len(big),
        "review": best(lambda: validate_frames(review.form, frames)),
        "plain pandera": best(lambda: _plain_pandera(review.form).validate(big, lazy=True)),
    }

    # Pooling: 10,000 REML analyses of k = 10, in one call against a loop over groups.
    sys.path.insert(0, str(HERE))
    from bench_pool import analyses

    data = analyses(10_000, 10, 1)
    groups = [g for _, g in data.groupby("analysis", sort=True)]
    pool(data, "GEN", "REML", by=["analysis"])  # warm-up
    loop_n = 500
    loop = best(lambda: [pool(g, "GEN", "REML") for g in groups[:loop_n]])
    results["pool"] = {
        "analyses": 10_000,
        "review": best(lambda: pool(data, "GEN", "REML", by=["analysis"]), repeat=5),
        # the estimates alone, as statsmodels gives them: metafor's confint (Q-profile) is a separate call
        "review, no tau2 CI": best(
            lambda: pool(data, "GEN", "REML", by=["analysis"], tau2_ci=False), repeat=5
        ),
        "per-group loop": loop * len(groups) / loop_n,
        "loop measured on": loop_n,
    }

    # The collaborator workbook against DataFrame.to_excel of the same tables.
    b = read_workbook(review.reviewers[1], review.form)
    comparison = compare([a, b])
    consensus = reconcile([a, b], read_decisions(review.adjudication), comparison=comparison)
    tables = analysis_tables(consensus.tables, review.form, settings=review.settings)
    pooled = pool_analyses(review, tables).pooled
    from review.issues import Report

    out = folder / "output-alternatives"
    out.mkdir(exist_ok=True)

    def ours():
        collaborator_workbook(
            review,
            out / "review.xlsx",
            report=Report(),
            comparison=comparison,
            consensus=consensus,
            tables=tables,
            pooled=pooled,
            plots={},
            made="benchmark",
            max_rows=None,  # every row, as to_excel writes them (a run's workbook shows 5,000 rows a sheet)
        )

    def theirs():
        with pd.ExcelWriter(out / "to_excel.xlsx", engine="openpyxl") as writer:
            for name, frame in consensus.tables.items():
                frame.to_excel(writer, sheet_name=review.form.table(name).sheet[:31], index=False)
            tables.arm_outcomes.to_excel(writer, sheet_name="Arm outcomes", index=False)
            pooled.to_excel(writer, sheet_name="Pooled results", index=False)
            comparison.discrepancies.to_excel(writer, sheet_name="Discrepancies", index=False)

    results["workbook"] = {
        "rows": sum(len(f) for f in consensus.tables.values()) + len(tables.arm_outcomes),
        "review": best(ours),
        "pandas to_excel (openpyxl)": best(theirs),
    }
    return results


def _plain_pandera(form):
    """The checks the form declares for adverse events, written by hand as one plain pandera schema."""
    import pandera.pandas as pa

    t = form.table("adverse_events")
    grades = list(t.fields["grade"].values)
    return pa.DataFrameSchema(
        {
            "study_id": pa.Column(str, nullable=False),
            "arm_id": pa.Column(str, nullable=False),
            "term": pa.Column(str, nullable=False),
            "ctcae_term": pa.Column(str, nullable=True),
            "grade": pa.Column(str, pa.Check.isin(grades), nullable=False),
            "patients": pa.Column("Int64", pa.Check.ge(0), nullable=True),
            "at_risk": pa.Column("Int64", pa.Check.ge(1), nullable=True),
            "percent": pa.Column("Float64", [pa.Check.ge(0), pa.Check.le(100)], nullable=True),
        },
        checks=[
            pa.Check(lambda d: ~(d["patients"] > d["at_risk"]).fillna(False), name="count-exceeds-total"),
            pa.Check(
                lambda d: (
                    ~((d["percent"] - 100 * d["patients"] / d["at_risk"]).abs() > 0.05 + 1e-9).fillna(False)
                ),
                name="percent-mismatch",
            ),
        ],
        unique=["study_id", "arm_id", "term", "grade"],
        strict=False,
    )


# ----------------------------------------------------------------------------------------------------------------
# The driver


def _spawn(mode: str, folder: Path, validate_rows: int = VALIDATE_ROWS) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "REVIEW_BENCH_VALIDATE_ROWS": str(validate_rows),
    }
    done = subprocess.run(
        [sys.executable, __file__, "--worker", mode, str(folder)], capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        raise SystemExit(f"worker {mode} {folder} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _review(work: Path, studies: int) -> Path:
    from make_review import make_review

    from review.forms import default_form_path, load_form

    folder = work / f"review_{studies}"
    if not (folder / "review.toml").exists():
        print(f"making the {studies}-study review in {folder} (once) ...", flush=True)
        make_review(folder, studies, seed=1, force=True)
    elif _made_with(folder / "reviewer_a.xlsx") != load_form(default_form_path()).label:
        print(f"making the {studies}-study review in {folder} again: the form has changed ...", flush=True)
        make_review(folder, studies, seed=1, force=True)
    return folder


def _made_with(workbook: Path) -> str:
    """'name vX' of the form a workbook was made from (its Instructions sheet), '' when it cannot be told."""
    import python_calamine

    from review.extraction import INSTRUCTIONS, instructions

    try:
        rows = python_calamine.CalamineWorkbook.from_path(str(workbook)).get_sheet_by_name(INSTRUCTIONS)
        meta = instructions(rows.to_python())
    except (python_calamine.CalamineError, OSError, ValueError):
        return ""
    return f"{meta.get('form', '')} v{meta.get('form version', '')}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--work", type=Path, default=HERE / ".work")
    parser.add_argument("--skip-alternatives", action="store_true")
    parser.add_argument(
        "--skip-run", action="store_true", help="time the stages only, not `review run` again"
    )
    parser.add_argument(
        "--validate-rows", type=int, default=VALIDATE_ROWS, help="adverse-event rows validated (1,000,000)"
    )
    parser.add_argument(
        "--alternatives-only", action="store_true", help="only the comparisons, on the largest size's review"
    )
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        mode, folder = args.worker[0], Path(args.worker[1])
        fn = {"stages": worker_stages, "run": worker_run, "alternatives": worker_alternatives}[mode]
        print(json.dumps(fn(folder)))
        return 0

    sys.path.insert(0, str(HERE))
    args.work.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the start\n")
    measured: dict[int, dict] = {}
    for n in [] if args.alternatives_only else args.sizes:
        folder = _review(args.work, n)
        result = _spawn("stages", folder)
        if not args.skip_run:
            result["stages"] |= _spawn("run", folder)["stages"]
        measured[n] = result
        print(f"{n:>6} studies ({result['rows']:,} rows per workbook): {json.dumps(result)}", flush=True)

    sizes = list(measured)
    if sizes:
        _print_stages(measured, sizes)
    if not args.skip_alternatives:
        _print_alternatives(
            _spawn("alternatives", _review(args.work, max(args.sizes)), args.validate_rows), max(args.sizes)
        )
    load = os.getloadavg()
    print(f"\nload average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the end")
    return 0


def _print_stages(measured: dict[int, dict], sizes: list[int]) -> None:
    print()
    head = "| stage | " + " | ".join(f"{n:,} studies ({measured[n]['rows'] / 1000:.0f}k rows)" for n in sizes)
    growth = [f"x{sizes[i + 1] // sizes[i]}" for i in range(len(sizes) - 1)]
    print(head + "".join(f" | growth {g}" for g in growth) + " |")
    print("|---" * (1 + len(sizes) + len(growth)) + "|")
    for stage in [s for s in (*STAGES, "run") if s in measured[sizes[0]]["stages"]]:
        cells = []
        for n in sizes:
            s = measured[n]["stages"][stage]
            child = f" (+{s['child_mb']:,.0f} MB in a second process)" if "child_mb" in s else ""
            cells.append(f"{s['seconds']:.2f} s, {s['peak_mb']:,.0f} MB{child}")
        ratios = [
            measured[sizes[i + 1]]["stages"][stage]["seconds"]
            / measured[sizes[i]]["stages"][stage]["seconds"]
            for i in range(len(sizes) - 1)
        ]
        print(f"| {LABELS[stage]} | " + " | ".join(cells) + "".join(f" | {r:.1f}" for r in ratios) + " |")
    print(
        "\nseconds: wall clock; MB: peak resident memory of the process during the stage (it holds the earlier "
        "stages' results, as `review run` does). Growth: time at 10x the studies / time."
    )


def _print_alternatives(alt: dict, size: int) -> None:
    r, v, p, w = alt["read"], alt["validate"], alt["pool"], alt["workbook"]
    print(f"\nAgainst the obvious alternative, same run ({size:,}-study review):")
    print("| what | review | alternative | ratio |\n|---|---|---|---|")
    for engine in ("pandas calamine", "pandas openpyxl"):
        print(
            f"| read {r['rows']:,} rows | {r['review']:.2f} s | {engine}: {r[engine]:.2f} s "
            f"| {r[engine] / r['review']:.1f}x |"
        )
    print(
        f"| validate {v['rows']:,} adverse-event rows | {v['review']:.2f} s | plain pandera: "
        f"{v['plain pandera']:.2f} s | {v['plain pandera'] / v['review']:.1f}x |"
    )
    print(
        f"| pool {p['analyses']:,} REML analyses (k = 10) | {p['review'] * 1e3:.1f} ms | per-group loop: "
        f"{p['per-group loop']:.1f} s (timed on {p['loop measured on']}, scaled) "
        f"| {p['per-group loop'] / p['review']:.0f}x |"
    )
    if "review, no tau2 CI" in p:
        print(
            f"| the same without the Q-profile CI of tau^2 (tau2_ci=False) | {p['review, no tau2 CI'] * 1e3:.1f} ms "
            f"| per-group loop: {p['per-group loop']:.1f} s | {p['per-group loop'] / p['review, no tau2 CI']:.0f}x |"
        )
    print(
        f"| collaborator workbook ({w['rows']:,} rows) | {w['review']:.2f} s | DataFrame.to_excel: "
        f"{w['pandas to_excel (openpyxl)']:.2f} s | {w['pandas to_excel (openpyxl)'] / w['review']:.1f}x |"
    )


if __name__ == "__main__":
    sys.exit(main())
