"""The example review (data/gist_imatinib) end to end: `review run` on the shipped workbooks and adjudication.

Reference values: R 4.2 / metafor 3.8-1, running the analyses.R and CSVs that the run itself writes to
output/r/ (Rscript analyses.R, then res$beta, res$se, res$tau2 for each analysis). Tolerance 1e-9: both sides
compute in double precision; the observed differences were below 1e-13.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import ROOT

from review.project import run

METAFOR = {  # analysis -> (theta, se, tau2)
    "Objective response, high vs standard dose": (0.050195373905, 0.050244349293, 0.0),
    "Partial response, high vs standard dose": (0.071176185750, 0.052132914902, 0.0),
    "Complete response, high vs standard dose": (-0.136623328085, 0.343392325877, 0.129315190577),
    "Progressive disease as best response, high vs standard dose": (-0.287261901540, 0.134912973908, 0.0),
    "Progression-free survival, high vs standard dose": (-0.198450938724, 0.089506995241, 0.0),
    "Objective response, single-arm trials": (0.814327069088, 0.215760999208, 0.0),
    "Partial response, single-arm trials": (0.531360412042, 0.203900583183, 0.034950026980),
}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return run(ROOT / "data" / "gist_imatinib", tmp_path_factory.mktemp("out"))


def test_pooled_results_equal_metafor(result):
    pooled = result.pooled.set_index("analysis")
    assert list(pooled.index) == list(METAFOR)
    for name, (theta, se, tau2) in METAFOR.items():
        row = pooled.loc[name]
        assert row["theta"] == pytest.approx(theta, abs=1e-9), name
        assert row["se"] == pytest.approx(se, abs=1e-9), name
        assert row["tau2"] == pytest.approx(tau2, abs=1e-9), name


def test_studies_left_out_say_why(result):
    pooled = result.pooled.set_index("analysis")
    assert pooled.loc["Complete response, high vs standard dose", "k"] == 2
    assert (
        "B2222 (arm 600mg: complete response: NR"
        in pooled.loc["Complete response, high vs standard dose", "studies_left_out"]
    )
    assert (
        "S0033 (SE not derived: CI NR; not derived from a p-value: number of events not given)"
        in pooled.loc["Progression-free survival, high vs standard dose", "studies_left_out"]
    )


def test_outputs_and_provenance(result):
    out = next(p for p in result.outputs if p.name == "review.xlsx").parent
    manifest = json.loads((out / "consensus" / "manifest.json").read_text(encoding="utf-8"))
    assert "reviewer_a.xlsx" in json.dumps(manifest) and "sha256" in json.dumps(manifest)
    derived = pd.read_csv(out / "tables" / "arm_outcomes.csv")
    pr = derived[
        (derived["study_id"] == "B2222")
        & (derived["arm_id"] == "400mg")
        & (derived["outcome"] == "partial response")
        & (derived["timepoint"] == "primary report")
    ]
    # S1: 49.3% PR of 73 -> 36 (the sources file's own arithmetic: 49.3% x 73 = 35.99)
    assert pr[["events", "total", "derivation"]].values.tolist() == [
        [36, 73, "percent x total / 100, rounded"]
    ]
    methods = (out / "methods.md").read_text(encoding="utf-8")
    assert "independently by 2 reviewers" in methods and "resolved by Adjudicator C" in methods


def test_example_data_package_validates_with_frictionless(result):
    """The example's own output (with NR in required fields, which the form allows), not a synthetic fixture."""
    import frictionless

    out = next(
        p for p in result.outputs if p.name == "datapackage.json"
    ).parent  # this run's, not a stale one
    studies = pd.read_csv(out / "consensus" / "studies.csv", dtype=str, keep_default_na=False)
    assert (studies["design"] == "NR").any()  # the case that used to fail
    report = frictionless.validate(out / "datapackage.json")
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


# Safety analyses of the example (review.toml, "Safety"). Reference values: R 4.2 / metafor 3.8-1, with the counts
# the run derives (tables/arm_outcomes.csv):
#   p <- predict(rma(measure="PLO", xi=c(29,58,27), ni=c(51,74,95), method="REML"), transf=transf.ilogit)
#   (pred, ci.lb, ci.ub and the model's tau2), and exp(coef / ci) of rma.mh(measure="RR", ai, n1i, ci, n2i).
SAFETY = {  # (analysis, term) -> (estimate, ci_low, ci_high, tau2 or None)
    ("Adverse events, single-arm trials", "Nausea"): (
        0.551028728408,
        0.258551959871,
        0.812016198778,
        1.166238840492,
    ),
    ("Adverse events, single-arm trials", "Diarrhea"): (
        0.451693822142,
        0.192227310358,
        0.740379808158,
        1.135362314283,
    ),  # xi=c(24,52,20), ni=c(51,74,95)
    ("Adverse events, single-arm trials", "Fatigue"): (
        0.417062368183,
        0.035750031488,
        0.932460271959,
        4.462436967496,
    ),  # xi=c(39,13), ni=c(51,95)
    ("Adverse events, single-arm trials", "Edema limbs"): (
        0.399788019524,
        0.136421130378,
        0.737427725013,
        1.021636467313,
    ),  # xi=c(43,23), ni=c(74,95)
    ("Safety summary, high vs standard dose", "discontinued for toxicity"): (
        1.333333333333,
        0.309073684237,
        5.751954528785,
        None,
    ),  # rma.mh(measure="RR", ai=4, n1i=74, ci=3, n2i=74): B2222 only
    ("Adverse events, high vs standard dose", "side-effects"): (
        1.002186987425,
        0.989690342309,
        1.014841425471,
        None,
    ),  # rma.mh(measure="RR", ai=468, n1i=472, ci=465, n2i=470): EORTC 62005 only
}


def test_safety_analyses_equal_metafor(result):
    safety = result.safety.set_index(["analysis", "term"])
    for key, (estimate, low, high, tau2) in SAFETY.items():
        row = safety.loc[key]
        assert row["estimate"] == pytest.approx(estimate, abs=1e-9), key
        assert row["ci_low"] == pytest.approx(low, abs=1e-9), key
        assert row["ci_high"] == pytest.approx(high, abs=1e-9), key
        if tau2 is not None:
            assert row["tau2"] == pytest.approx(tau2, abs=1e-9), key
    # terms are matched on the CTCAE term the reviewers coded; the reported terms stay visible
    nausea = safety.loc[("Adverse events, single-arm trials", "Nausea")]
    assert nausea["k"] == 3 and nausea["matched_on"] == "CTCAE term"
    # between doses, only one study gives counts for each item: k = 1, and the others are named with the reason
    row = safety.loc[("Adverse events, high vs standard dose", "side-effects")]
    assert row["k"] == 1


def test_safety_items_no_study_can_pool_are_listed_with_reasons(result):
    safety = result.safety.set_index(["analysis", "term"])
    # S0033 reports grade >= 3 toxicity only as percentages with no denominator (S17): not pooled, and said why
    row = safety.loc[("Adverse events, high vs standard dose", "toxicity")]
    assert row["k"] == 0 and row["note"] == "no study gives usable counts"
    assert "S0033 (arm 400mg bid: patients: 63% without its denominator (NR)" in row["studies_left_out"]
    row = safety.loc[("Safety summary, high vs standard dose", "dose reductions")]
    assert row["k"] == 0 and "EORTC 62005 (arm 400mg bid: patients at risk: NR" in row["studies_left_out"]


def test_example_workbook_prints_each_plot_on_its_own_page(result):
    import openpyxl

    out = next(p for p in result.outputs if p.name == "review.xlsx")
    wb = openpyxl.load_workbook(out)
    forest, safety = wb["Forest plots"], wb["Safety plots"]
    assert forest.page_setup.orientation == "landscape" and len(forest._images) == 7
    assert safety.page_setup.orientation == "portrait" and len(safety._images) == 3  # one-page safety plots
    for ws in (forest, safety):
        assert len(ws.row_breaks.brk) == len(ws._images)
    readme = {r[0]: r[1] for r in wb["README"].iter_rows(values_only=True) if r[0]}
    assert readme["Safety plots"].endswith("(3).") and readme["Forest plots"].endswith("(7).")
