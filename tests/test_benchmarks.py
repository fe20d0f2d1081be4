"""benchmarks/make_review.py makes a valid review: a smoke test at 3 studies (nothing is timed here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from make_review import ANALYSES, make_review, reviewer_a, reviewer_b  # noqa: E402

from review.project import run  # noqa: E402


def test_reviewers_differ_in_a_few_percent_of_rows():
    a = reviewer_a(20, seed=1)
    b = reviewer_b(a, seed=1)
    assert a.keys() == b.keys()
    changed = sum(int((a[t].fillna(-1) != b[t].fillna(-1)).any(axis=1).sum()) for t in a)
    rows = sum(len(f) for f in a.values())
    assert 0.01 * rows < changed < 0.05 * rows
    assert reviewer_a(20, seed=1)["adverse_events"].equals(a["adverse_events"])  # seeded: the same again


def test_synthetic_review_runs_end_to_end(tmp_path):
    rows = make_review(tmp_path / "review", 3, seed=1)
    assert 30 * 2 * 3 <= rows["adverse_events"] <= 150 * 4 * 3
    result = run(tmp_path / "review", tmp_path / "out")
    assert result.report.ok  # no validation errors: the run went through every stage
    assert len(result.pooled) == len(ANALYSES) + 3  # the RR analyses, one proportion, two hazard ratios
    assert (result.pooled["k"] == 3).all()
    assert (tmp_path / "out" / "review.xlsx").exists()
    with pytest.raises(SystemExit, match="--force"):
        make_review(tmp_path / "review", 3, seed=1)  # never replaces files unless forced


def test_plot_benchmark_runs_and_keeps_both_ways(tmp_path, capsys):
    from bench_plots import main

    assert main(["--plots", "1", "--sizes", "3", "--out", str(tmp_path)]) == 0
    kept = sorted(p.name for p in tmp_path.glob("*.png"))
    assert kept == [
        f"forest_3_{labels}_{way}.png" for labels in ("long", "short") for way in ("savefig", "toolkit")
    ]
    assert "toolkit" in capsys.readouterr().out


def test_disagree_benchmark_runs_and_both_pairings_agree(tmp_path, capsys):
    from bench_disagree import main

    assert main([str(tmp_path), "--studies", "2", "--former"]) == 0
    out = capsys.readouterr().out
    assert "the former pairing gives the same discrepancies and agreement" in out and "reconcile" in out
