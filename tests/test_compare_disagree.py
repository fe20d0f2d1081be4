"""Extractions that disagree on most rows: the pairing of rows no key matches (one reviewer filed a row under
another term, category, arm or study) finds its candidates by a join on shared values instead of scoring every
pair of loose rows. On small random extractions that disagree almost everywhere, or file many rows under other
keys (some repeating another row's key), the comparison and the consensus must be the same as with the former
pairing (tests/lineup_oracle.py, scoring all pairs)."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT
from lineup_oracle import _align as oracle_align
from test_compare_fast import _assert_same, _decide, _snapshot

import review.lineup as lineup
from review.compare import compare
from review.errors import ReviewError
from review.reconcile import read_decisions, reconcile, write_discrepancies
from review.workbook import make_workbook, read_workbook

sys.path.insert(0, str(ROOT / "benchmarks"))
from make_review import reviewer_a  # noqa: E402


def refiled(a: dict[str, pd.DataFrame], seed: int) -> dict[str, pd.DataFrame]:
    """Another reviewer's tables with many rows filed under another key: an adverse-event term or grade, a
    response category or a safety item taken from the next row (so the key repeats that row's), a row moved to
    another study, some values changed, some rows dropped; each row touched once, so every repeated key can be
    paired."""
    rng = np.random.default_rng(seed)
    b = {name: frame.copy().astype(object) for name, frame in a.items()}
    studies = list(a["studies"]["study_id"])
    touched: dict[str, set[int]] = {name: set() for name in b}
    ae = b["adverse_events"]
    keys = set(map(tuple, ae[["study_id", "arm_id", "term", "grade"]].to_numpy().tolist()))
    for i in ae.index:
        if i in touched["adverse_events"]:
            continue
        r = rng.random()
        if r < 0.15:
            ae.at[i, "term"] = f"{ae.at[i, 'term']} {int(rng.integers(0, 3))}"  # a new term, maybe shared
        elif r < 0.25 and i + 2 in ae.index:
            ae.at[i, "term"] = ae.at[i + 2, "term"]  # the term of the row after next (same grade)
            touched["adverse_events"] |= {i + 1, i + 2}
        elif r < 0.3:
            ae.at[i, "grade"] = "3 or higher"
        elif r < 0.35:
            study = studies[int(rng.integers(0, len(studies)))]
            if (study, *ae.loc[i, ["arm_id", "term", "grade"]]) not in keys:
                ae.at[i, "study_id"] = study
        elif r < 0.45 and pd.notna(ae.at[i, "patients"]):
            ae.at[i, "patients"] = int(ae.at[i, "patients"]) + int(rng.integers(1, 3))
        elif r < 0.5:
            ae.at[i, "percent"] = "NR"
        else:
            continue
        touched["adverse_events"].add(i)
    response = b["response"]
    for i in response.index:
        if i in touched["response"]:
            continue
        r = rng.random()
        if r < 0.1 and i + 1 in response.index and response.at[i, "arm_id"] == response.at[i + 1, "arm_id"]:
            response.at[i, "category"] = response.at[i + 1, "category"]
            touched["response"] |= {i, i + 1}
        elif r < 0.2:
            response.at[i, "timepoint"] = "final report"
            touched["response"].add(i)
    safety = b["safety"]
    for i in safety.index:
        if rng.random() < 0.2:
            safety.at[i, "item"] = "other toxicity"
            touched["safety"].add(i)
    return {
        name: frame.drop(index=[i for i in frame.index if i not in touched[name] and rng.random() < 0.05])
        for name, frame in b.items()
    }


@pytest.fixture(scope="module")
def disagreeing(form, tmp_path_factory):
    """Extractions of three studies: three refilings of one truth, and two unrelated reviews (other seeds)."""
    folder = tmp_path_factory.mktemp("disagree")
    truth = reviewer_a(3, seed=5)
    made = {
        "truth": truth,
        "refiled_1": refiled(truth, 2),
        "refiled_2": refiled(truth, 3),
        "unpaired": refiled(truth, 1),  # a repeated key none of the loose rows agrees with
        "seed_6": reviewer_a(3, seed=6),
        "seed_7": reviewer_a(3, seed=7),
    }
    return {
        name: read_workbook(make_workbook(form, folder / f"{name}.xlsx", reviewer=name, data=data), form)
        for name, data in made.items()
    }


def _compared(extractions):
    try:
        return compare(extractions), None
    except ReviewError as error:
        return None, str(error)


CASES = [
    ("truth", "seed_6"),
    ("seed_7", "seed_6"),
    ("truth", "refiled_1"),
    ("refiled_2", "truth"),
    ("refiled_1", "refiled_2"),
    ("truth", "refiled_1", "refiled_2"),
    ("truth", "seed_6", "seed_7"),
    ("refiled_1", "seed_6", "truth"),
    ("truth", "unpaired"),
]


@pytest.mark.parametrize("names", CASES)
def test_the_join_pairs_as_scoring_every_pair_did(disagreeing, monkeypatch, names):
    extractions = [disagreeing[n] for n in names]
    new, new_error = _compared(extractions)
    monkeypatch.setattr(lineup, "_align", oracle_align)
    old, old_error = _compared(extractions)
    assert new_error == old_error
    if new is None:  # a repeated key no row pairs with: refused alike
        assert "have the same key" in str(new_error)
        return
    assert old is not None
    rekeyed = sum(len(lt.rekeyed) for lt in new.lined.values())
    assert rekeyed == sum(len(lt.rekeyed) for lt in old.lined.values())
    if "truth" in names and any(n.startswith("refiled") for n in names):
        assert rekeyed > 20  # many rows paired across keys, so a different pairing would show
    assert len(new) > 100
    _assert_same(_snapshot(new), _snapshot(old))


def test_some_refilings_repeat_a_key_and_still_pair(disagreeing, monkeypatch):
    """The refiled extractions repeat keys (a term taken from the next row); those rows pair as before."""
    b = disagreeing["refiled_1"]
    ae = b.tables["adverse_events"].data
    assert ae.duplicated(["study_id", "arm_id", "term", "grade"]).any()
    comparison = compare([disagreeing["truth"], b])
    assert {"key", "moved"} <= set(comparison.discrepancies["type"])


@pytest.mark.parametrize("names", [("truth", "refiled_1"), ("seed_6", "truth")])
def test_the_consensus_is_the_same(disagreeing, monkeypatch, tmp_path, names):
    extractions = [disagreeing[n] for n in names]
    new = compare(extractions)
    blank = write_discrepancies(new, tmp_path / "d.xlsx")
    decisions = read_decisions(_decide(blank, tmp_path / "decided.xlsx", seed=3))
    made_new = _snapshot(new, reconcile(extractions, decisions, comparison=new))
    monkeypatch.setattr(lineup, "_align", oracle_align)
    old = compare(extractions)
    made_old = _snapshot(old, reconcile(extractions, decisions, comparison=old))
    _assert_same(made_new, made_old)


def test_two_rows_refiled_under_one_new_key_both_pair(form, tmp_path, monkeypatch):
    """Two of B's rows filed under the same new term: the first pairs with A's first row, the repeated one with
    A's other row. The former pairing raised KeyError here (the repeated key's first row was paired away)."""
    truth = reviewer_a(1, seed=5)
    b = {name: frame.copy() for name, frame in truth.items()}
    ae = b["adverse_events"]
    assert (ae.loc[[0, 4], "grade"] == "any").all() and ae.at[0, "arm_id"] == ae.at[4, "arm_id"]
    old_terms = list(ae.loc[[0, 4], "term"])
    ae.loc[[0, 4], "term"] = "Renamed"
    x = [
        read_workbook(make_workbook(form, tmp_path / f"{n}.xlsx", reviewer=n, data=d), form)
        for n, d in (("a", truth), ("b", b))
    ]
    comparison = compare(x)
    frame = comparison.discrepancies
    assert frame[["table", "field", "type", "A_value", "B_value"]].values.tolist() == [
        ["adverse_events", "term", "key", old_terms[0], "Renamed"],
        ["adverse_events", "term", "key", old_terms[1], "Renamed"],
    ]
    monkeypatch.setattr(lineup, "_align", _former_align_unfixed)
    with pytest.raises(KeyError):
        compare(x)


def _former_align_unfixed(tables, columns, annotations=()):
    """The oracle without its fix, as it was: scoring the repeated key's first row after it was paired away."""
    import inspect

    import lineup_oracle

    source = inspect.getsource(lineup_oracle._align).replace(" and k2 in aligned:", ":")
    namespace = dict(vars(lineup_oracle))
    exec(compile(source, lineup_oracle.__file__, "exec"), namespace)
    return namespace["_align"](tables, columns, annotations)
