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

    studies = pd.read_csv(
        result.review.output / "consensus" / "studies.csv", dtype=str, keep_default_na=False
    )
    assert (studies["design"] == "NR").any()  # the case that used to fail
    report = frictionless.validate(result.review.output / "datapackage.json")
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
