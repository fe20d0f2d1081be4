"""compare and reconcile take values every reviewer typed alike column by column and build the rows made only of
them in bulk; the rest go value by value. With that shortcut turned off (review.lineup._FAST) every value goes
the value-by-value way, which is the original algorithm: on randomly perturbed extractions of the synthetic
review, both ways must give the same units, discrepancies, agreement figures, consensus tables and trail."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT
from openpyxl import load_workbook

import review.lineup as lineup
from review.compare import compare
from review.reconcile import SHEET, read_decisions, reconcile, write_discrepancies
from review.workbook import make_workbook, read_workbook

sys.path.insert(0, str(ROOT / "benchmarks"))
from make_review import reviewer_a  # noqa: E402


def perturbed(a: dict[str, pd.DataFrame], seed: int) -> dict[str, pd.DataFrame]:
    """Another reviewer's tables: each kind of slip compare knows, at random places (about one row in six)."""
    rng = np.random.default_rng(seed)
    b = {name: frame.copy().astype(object) for name, frame in a.items()}

    def some(frame: pd.DataFrame, share: float = 0.15) -> list[int]:
        return [i for i in frame.index if rng.random() < share]

    ae = b["adverse_events"]
    for i in some(ae):
        slip = rng.integers(0, 7)
        if slip == 0 and pd.notna(ae.at[i, "patients"]):
            ae.at[i, "patients"] = int(ae.at[i, "patients"]) + 1  # numeric
        elif slip == 1:
            ae.at[i, "patients"] = "NR"  # omission or zero-vs-nr
        elif slip == 2:
            ae.at[i, "percent"] = None  # omission (or a count derived from the percentage)
        elif slip == 3 and isinstance(ae.at[i, "percent"], float) and pd.notna(ae.at[i, "percent"]):
            ae.at[i, "percent"] = round(float(ae.at[i, "percent"]))  # within rounding: equivalent
        elif slip == 4:
            ae.at[i, "ctcae_term"] = f"  {str(ae.at[i, 'term']).upper()} "  # text equivalent after folding
        elif slip == 5:
            ae.at[i, "term"] = f"{ae.at[i, 'term']} (renamed)"  # filed under another key
        else:
            ae.at[i, "location"] = "Table 9"  # an annotation only
    b["adverse_events"] = ae.drop(
        index=[i for i in ae.index if rng.random() < 0.02]
    )  # rows one reviewer lacks
    response = b["response"]
    for i in some(response, 0.1):
        j = i + 1 if i + 1 in response.index else i - 1
        for col in ("count", "percent"):  # arms or categories crossed
            response.at[i, col], response.at[j, col] = response.at[j, col], response.at[i, col]
    hr = b["hazard_ratios"]
    for i in some(hr, 0.3):
        if rng.random() < 0.5:  # the reciprocal, CI inverted and exchanged
            est, low, high = (float(hr.at[i, c]) for c in ("hr", "ci_low", "ci_high"))
            hr.at[i, "hr"], hr.at[i, "ci_low"], hr.at[i, "ci_high"] = (
                round(1 / est, 2),
                round(1 / high, 2),
                round(1 / low, 2),
            )
        else:
            hr.at[i, "experimental_arm"], hr.at[i, "control_arm"] = (
                hr.at[i, "control_arm"],
                hr.at[i, "experimental_arm"],
            )
    arms = b["arms"]
    for i in some(arms, 0.3):
        arms.at[i, "dose"] = None if rng.random() < 0.5 else float(arms.at[i, "dose"]) * 2
    studies = b["studies"]
    for i in some(studies, 0.5):
        studies.at[i, "multicentre"] = not studies.at[i, "multicentre"]
        studies.at[i, "source"] = "registry"
    return b


def _snapshot(comparison, consensus=None) -> dict:
    units = [
        (u.table, u.key, u.field, u.entries, u.status, u.type, u.id, u.agreeing, u.link)
        for u in comparison.units
    ]
    out = {
        "units": units,
        "aligned": comparison.aligned,
        "discrepancies": comparison.discrepancies,
        "agreement": comparison.agreement,
    }
    if consensus is not None:
        out |= {"tables": consensus.tables, "trail": consensus.trail, "notes": consensus.notes}
    return out


def _assert_same(fast: dict, slow: dict) -> None:
    assert fast["units"] == slow["units"]
    assert fast["aligned"] == slow["aligned"]
    for name in ("discrepancies", "agreement", "trail"):
        if name in fast:
            pd.testing.assert_frame_equal(fast[name], slow[name], check_exact=True)
    for table, frame in fast.get("tables", {}).items():
        pd.testing.assert_frame_equal(frame, slow["tables"][table], check_exact=True)
        for column in frame.columns:  # the same Python values, not merely equal ones (1 and 1.0, True and 1)
            assert [type(v) for v in frame[column]] == [type(v) for v in slow["tables"][table][column]]
    assert fast.get("notes") == slow.get("notes")


def _decide(path: Path, out: Path, seed: int) -> Path:
    """Decide every disagreement at random: a reviewer's letter, or 'other' with the first reviewer's value."""
    rng = np.random.default_rng(seed)
    wb = load_workbook(path)
    ws = wb[SHEET]
    header = {c.value: c.column for c in ws[1]}
    for r in range(2, ws.max_row + 1):
        if not ws.cell(r, header["Key"]).value:
            continue
        field = ws.cell(r, header["Field"]).value
        value = ws.cell(r, header["A value"]).value
        if field != "(row)" and value not in (None, "(no row)") and rng.random() < 0.2:
            ws.cell(r, header["Decision"], "other")
            ws.cell(r, header["Other value"], value)
        else:
            ws.cell(r, header["Decision"], "A" if rng.random() < 0.5 else "B")
        ws.cell(r, header["Adjudicator"], "test")
        ws.cell(r, header["Date"], "2026-01-02")
        ws.cell(r, header["Reason"], "random")
    wb.save(out)
    return out


@pytest.fixture(scope="module")
def perturbed_review(form, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fast")
    truth = reviewer_a(6, seed=11)
    paths = [make_workbook(form, folder / "a.xlsx", reviewer="A", data=truth)]
    paths += [
        make_workbook(form, folder / f"{x}.xlsx", reviewer=x.upper(), data=perturbed(truth, seed))
        for x, seed in (("b", 1), ("c", 2))
    ]
    return folder, [read_workbook(p, form) for p in paths]


@pytest.mark.parametrize("reviewers", [(0, 1), (1, 0), (0, 2), (0, 1, 2)])
def test_the_shortcut_changes_no_comparison(perturbed_review, monkeypatch, reviewers):
    _, extractions = perturbed_review
    chosen = [extractions[i] for i in reviewers]
    fast = compare(chosen)
    assert len(fast) > 10 and len(fast.type_counts()) >= 5  # the perturbations reach most discrepancy types
    monkeypatch.setattr(lineup, "_FAST", False)
    slow = compare(chosen)
    assert sum(lt.agreed[f.name].sum() for lt in slow.lined.values() for f in lt.compared) == 0
    _assert_same(_snapshot(fast), _snapshot(slow))


@pytest.mark.parametrize("reviewers", [(0, 1), (0, 1, 2)])
def test_the_shortcut_changes_no_consensus(perturbed_review, monkeypatch, tmp_path, reviewers):
    _, extractions = perturbed_review
    chosen = [extractions[i] for i in reviewers]
    fast = compare(chosen)
    blank = write_discrepancies(fast, tmp_path / "d.xlsx")
    decisions = read_decisions(_decide(blank, tmp_path / "decided.xlsx", seed=len(reviewers)))
    made_fast = _snapshot(fast, reconcile(chosen, decisions, comparison=fast))
    monkeypatch.setattr(lineup, "_FAST", False)
    slow = compare(chosen)
    made_slow = _snapshot(slow, reconcile(chosen, decisions, comparison=slow))
    assert {"agreed", "decided"} <= set(made_fast["trail"]["basis"])
    _assert_same(made_fast, made_slow)
