"""What `review run` writes after pooling, at scale: the streamed collaborator workbook equals the one built in
memory (the writer used before streaming) cell by cell; long sheets show their first rows and name the CSV with
every row; forest and risk-of-bias plots of many studies are compact. Nothing is timed here."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import openpyxl
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_review import make_review  # noqa: E402
from workbook_diff import workbook_differences  # noqa: E402

from review import project  # noqa: E402
from review.analyses import pool_analyses  # noqa: E402
from review.compare import compare  # noqa: E402
from review.export import collaborator_workbook, forest_plots, rob_figures  # noqa: E402
from review.reconcile import read_decisions, reconcile  # noqa: E402
from review.tables import analysis_tables  # noqa: E402
from review.validate import validate  # noqa: E402
from review.workbook import read_extraction  # noqa: E402

matplotlib.use("Agg")
EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "gist_imatinib"


def _workbooks(folder: Path, out: Path, **options) -> tuple[Path, Path]:
    """The collaborator workbook of the review in `folder`, streamed and in memory."""
    review = project.load_review(folder)
    extractions = [read_extraction(p, review.form) for p in review.reviewers]
    report = validate(extractions[0])
    for x in extractions[1:]:
        report = report + validate(x)
    comparison = compare(extractions)
    consensus = reconcile(extractions, read_decisions(review.adjudication), comparison=comparison)
    tables = analysis_tables(consensus.tables, review.form, settings=review.settings)
    results = pool_analyses(review, tables)
    plots = forest_plots(review, results, out / "plots")
    figures = rob_figures(consensus.tables, out / "plots")
    paths = []
    for streamed in (True, False):
        paths.append(
            collaborator_workbook(
                review,
                out / f"review_{'streamed' if streamed else 'memory'}.xlsx",
                report=report,
                comparison=comparison,
                consensus=consensus,
                tables=tables,
                pooled=results.pooled,
                plots=plots,
                made="test",
                figures=figures,
                extras=results.extras(),
                streamed=streamed,
                **options,
            )
        )
    return paths[0], paths[1]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("synthetic") / "review"
    make_review(folder, 4, seed=3)
    return folder


def test_streamed_workbook_equals_in_memory_on_the_example(tmp_path):
    folder = tmp_path / "data" / "gist_imatinib"
    shutil.copytree(EXAMPLE, folder)  # the example is an input: never written into
    shutil.copytree(EXAMPLE.parents[1] / "extraction_forms", tmp_path / "extraction_forms")  # its form
    streamed, memory = _workbooks(folder, tmp_path / "out")
    assert workbook_differences(streamed, memory) == []
    wb = openpyxl.load_workbook(streamed)
    assert {"README", "Arm outcomes", "Pooled results", "Forest plots", "Data dictionary"} <= set(
        wb.sheetnames
    )
    assert wb["Forest plots"]._images  # the pictures came through the streamed sheet


def test_streamed_workbook_equals_in_memory_on_a_synthetic_review(synthetic, tmp_path):
    streamed, memory = _workbooks(synthetic, tmp_path)
    assert workbook_differences(streamed, memory) == []
    # the comparison itself sees a changed style, width or header
    wb = openpyxl.load_workbook(memory)
    ws = wb["Arm outcomes"]
    ws["A2"].font = openpyxl.styles.Font(italic=True)
    ws.column_dimensions["B"].width = 3
    wb["README"].oddHeader.left.text = "changed"
    wb.save(tmp_path / "changed.xlsx")
    found = "\n".join(workbook_differences(streamed, tmp_path / "changed.xlsx", limit=100))
    assert "Arm outcomes widths" in found and "Arm outcomes!A2" in found and "README print" in found


def test_long_sheets_show_their_first_rows_and_name_the_csv(synthetic, tmp_path):
    streamed, memory = _workbooks(synthetic, tmp_path, max_rows=5)
    assert workbook_differences(streamed, memory) == []
    wb = openpyxl.load_workbook(streamed)
    ae = wb["Adverse events"]
    assert ae.max_row == 8  # the header, the first 5 rows, an empty row, and below it what was left out
    note = ae["A8"].value
    assert note.startswith("This sheet shows the first 5 of") and ae["A8"].font.italic
    assert note.endswith("rows; consensus/adverse_events.csv holds every row.")
    assert [c.value for c in ae[7]] == [None] * ae.max_column
    (table,) = ae.tables.values()
    assert table.ref.endswith("6")  # the filterable table is the rows alone, not the note
    consensus = pd.read_excel(streamed, sheet_name="Adverse events", engine="calamine", nrows=5)
    assert len(consensus) == 5 and consensus.notna().any(axis=1).all()
    readme = {r[0]: r[1] for r in wb["README"].iter_rows(min_row=3, values_only=True) if r[0]}
    assert "This sheet shows the first 5 of" in readme["Adverse events"]
    assert "consensus/adverse_events.csv holds every row" in readme["Adverse events"]
    assert (
        "validation-issues.csv" in readme["Validation issues"] or "first 5" not in readme["Validation issues"]
    )
    assert "first 5" not in readme["Pooled results"]  # one row per analysis: never cut


def _study_rows(k: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = rng.integers(40, 200, size=(k, 2))
    return pd.DataFrame(
        {
            "study_id": [f"S{i:04d}" for i in range(k)],
            "events_e": rng.binomial(n[:, 0], 0.3),
            "n_e": n[:, 0],
            "events_c": rng.binomial(n[:, 1], 0.25),
            "n_c": n[:, 1],
        }
    )


def test_forest_plot_is_compact_past_100_studies():
    from review.plots import COMPACT_STUDIES, forest_plot

    full = forest_plot(_study_rows(COMPACT_STUDIES), "RR", "REML")
    compact = forest_plot(_study_rows(COMPACT_STUDIES + 50), "RR", "REML")
    texts = [t.get_text() for t in full.axes[0].texts]
    assert "S0000" in texts and full.get_figheight() == pytest.approx(0.32 * (COMPACT_STUDIES + 6) + 0.8)
    shown = [t.get_text() for t in compact.axes[0].texts]
    assert not any(t.startswith("S0") for t in shown)  # no per-study labels
    assert f"{COMPACT_STUDIES + 50} studies" in shown
    assert compact.get_figheight() < 13  # one page
    # no empty columns headed
    assert "Weight" not in shown and not any(t.startswith("Estimate") for t in shown)
    assert any("the analysis CSV" in t for t in shown)
    named = forest_plot(_study_rows(1200), "RR", "REML", listed_in="analyses/objective_response_a_vs_b.csv")
    shown = [t.get_text() for t in named.axes[0].texts]
    assert "1,200 studies" in shown
    note = next(t for t in shown if "lists each study" in t)
    assert "analyses/objective_\nresponse_a_vs_b.csv" in note  # the file named, cut at '_' not inside a word
    # every study is still drawn: one CI line each
    segments = sum(len(c.get_segments()) for c in compact.axes[0].collections if hasattr(c, "get_segments"))
    assert segments >= COMPACT_STUDIES + 50


def test_traffic_light_plot_is_compact_past_100_studies():
    from review.robplots import COMPACT_STUDIES, traffic_light_plot

    def rob(k: int) -> pd.DataFrame:
        judgements = ["low", "some concerns", "high"]
        return pd.DataFrame(
            [
                {"study_id": f"S{i:04d}", "domain": d, "judgement": judgements[(i + j) % 3]}
                for i in range(k)
                for j, d in enumerate(["randomisation process", "overall"])
            ]
        )

    small = traffic_light_plot(rob(3))
    assert [t.get_text() for t in small.axes[0].get_yticklabels()] == ["S0000", "S0001", "S0002"]
    assert len(small.axes[0].texts) == 6  # a symbol per study and domain
    big = traffic_light_plot(rob(COMPACT_STUDIES + 1))
    assert big.axes[0].images and not big.axes[0].texts and not big.axes[0].get_yticklabels()
    assert big.get_figheight() < 20
    assert "revman/risk-of-bias.csv lists them" in big.axes[0].get_ylabel()
    # rows sorted by the overall judgement: bands of colour, not a pixel-thin stripe per study
    grid = big.axes[0].images[0].get_array()
    overall = np.asarray(grid[:, -1])
    assert list(overall) == sorted(overall) and len(set(overall)) == 3


def _csv_reference(frame: pd.DataFrame, show=None) -> bytes:
    """The CSV writer before its per-column fast path: every value through csv_text."""
    import csv
    import io

    from review.csvs import csv_text
    from review.sheets import neutral

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([neutral(str(c)) for c in frame.columns])
    for record in frame.itertuples(index=False):
        writer.writerow([csv_text(show(v) if show else v) for v in record])
    return buffer.getvalue().encode("utf-8")


TEXT = [
    "",
    "NR",
    "=1+2",
    "+3",
    "-1.5",
    "@x",
    "\tx",
    "'=a",
    "''+b",
    "'plain",
    "a,b",
    'q"uote',
    "line\nbreak",
    "é",
]


@pytest.mark.parametrize("seed", range(6))
def test_csv_fast_path_equals_value_by_value(seed):
    from review.csvs import csv_bytes

    rng = np.random.default_rng(seed)
    n = 40
    floats = rng.normal(size=n) * 10.0 ** rng.integers(-8, 8, size=n)
    floats[rng.random(n) < 0.2] = np.nan
    floats[:3] = [np.inf, -0.0, 0.1 + 0.2]
    frame = pd.DataFrame(
        {
            "f": floats,
            "f32": floats.astype(np.float32),
            "i": rng.integers(-(10**12), 10**12, size=n),
            "b": rng.random(n) < 0.5,
            "text": rng.choice(TEXT, size=n),
            "mixed": pd.Series(
                [[1, 2.5, None, "NR", True, np.nan, "=x", np.int64(4)][k] for k in rng.integers(0, 8, n)],
                dtype=object,
            ),
            "Int64": pd.array([None if k % 3 == 0 else k for k in range(n)], dtype="Int64"),
            "string": pd.array(
                [None if k % 4 == 0 else TEXT[k % len(TEXT)] for k in range(n)], dtype="string"
            ),
            "=head": rng.choice(TEXT, size=n),
        }
    )
    assert csv_bytes(frame) == _csv_reference(frame)
    assert csv_bytes(frame.iloc[:0]) == _csv_reference(frame.iloc[:0])
    from review.compare import show  # as the consensus CSVs are written

    assert csv_bytes(frame, show) == _csv_reference(frame, show)


def test_forest_plots_drawn_in_processes_are_the_same_files(synthetic, tmp_path, monkeypatch):
    from review import drawing

    review = project.load_review(synthetic)
    extractions = [read_extraction(p, review.form) for p in review.reviewers]
    consensus = reconcile(extractions, read_decisions(review.adjudication), comparison=compare(extractions))
    results = pool_analyses(review, analysis_tables(consensus.tables, review.form, settings=review.settings))
    alone = forest_plots(review, results, tmp_path / "alone", processes=1)
    started = []

    class Spy(subprocess.Popen):
        def __init__(self, args, **kwargs):
            started.append(args)
            super().__init__(args, **kwargs)

    monkeypatch.setattr(drawing.subprocess, "Popen", Spy)
    monkeypatch.setattr(drawing, "PARALLEL_ROWS", 0)  # a small review: drawn in two processes all the same
    shared = forest_plots(review, results, tmp_path / "shared", processes=2)
    assert len(started) == 1 and started[0][1:3] == ["-m", "review.drawing"]
    assert len(alone) >= 3 and {k: p.name for k, p in alone.items()} == {k: p.name for k, p in shared.items()}
    for name, path in alone.items():
        assert path.read_bytes() == shared[name].read_bytes(), name
    # a child that fails at once leaves its share to this process: every plot is drawn all the same
    monkeypatch.setattr(drawing.sys, "executable", sys.executable)
    monkeypatch.setenv("PYTHONPATH", "")
    monkeypatch.setattr(
        drawing, "_start", lambda share, file: Spy([sys.executable, "-c", "raise SystemExit(3)"])
    )
    again = forest_plots(review, results, tmp_path / "again", processes=2)
    for name, path in alone.items():
        assert path.read_bytes() == again[name].read_bytes(), name
    # a small review is drawn here, one plot after another
    started.clear()
    monkeypatch.setattr(drawing, "PARALLEL_ROWS", 10**9)
    forest_plots(review, results, tmp_path / "small", processes=2)
    assert started == []


def test_a_plot_that_fails_in_the_child_raises_its_error_here(tmp_path, monkeypatch):
    from review import drawing
    from review.errors import ReviewError

    monkeypatch.setattr(drawing, "PARALLEL_ROWS", 0)
    good = _study_rows(5)
    bad = good.assign(n_e=-1)  # no effect size: forest_plot refuses it with a ReviewError
    jobs = [
        (tmp_path / f"p{i}.png", "forest", frame, {"measure": "RR", "study": "study_id"})
        for i, frame in enumerate([good, good, bad, good])
    ]
    with pytest.raises(ReviewError) as raised:
        drawing.draw_all(jobs, processes=2)
    with pytest.raises(ReviewError) as alone:
        drawing.draw(jobs[2])
    assert str(raised.value) == str(alone.value)
