"""RevMan Web study data from the example review: arm-level rows, a contrast-level hazard ratio, the review's
intervention names, footnotes from source, location and derivation, a UTF-8 byte-order mark; and the robvis
risk-of-bias table."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from conftest import ROOT

from review.errors import ReviewError
from review.project import load_review, run
from review.revman import BOM, RESULT_COLUMNS, ROB_COLUMNS, risk_of_bias


@pytest.fixture(scope="module")
def revman(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    run(ROOT / "data" / "gist_imatinib", out / "output")
    return out / "output" / "revman"


def _read(path):
    return pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)


def test_files_have_a_bom_and_the_results_layout(revman):
    for name in ("study-arms.csv", "study-results.csv", "risk-of-bias.csv"):
        assert (revman / name).read_bytes().startswith(BOM), name
    results = _read(revman / "study-results.csv")
    assert list(results.columns) == RESULT_COLUMNS and len(RESULT_COLUMNS) == 41
    assert RESULT_COLUMNS[:8] == [
        "Study",
        "Outcome",
        "Data type",
        "Effect measure",
        "Arm",
        "Reference arm",
        "Sample size",
        "Cases",
    ]
    assert RESULT_COLUMNS[-1] == "Footnotes"
    assert set(results["Data type"]) == {"Dichotomous"}  # the example has counts and one hazard ratio


def test_arm_level_rows_carry_counts_and_provenance(revman):
    results = _read(revman / "study-results.csv")
    row = results[
        (results["Study"] == "B2222")
        & (results["Outcome"] == "partial response")
        & (results["Arm"] == "400mg")
    ]
    assert row[["Data type", "Effect measure", "Sample size", "Cases"]].values.tolist() == [
        ["Dichotomous", "", "73", "36"]
    ]
    assert row["Footnotes"].iloc[0] == (
        "Timepoint: primary report. Source: S1 (secondary review); Table 2. "
        "Derived: percent x total / 100, rounded (percent=49.3, total=73)"
    )
    # single-arm analyses (PLO) have no RevMan comparison: left out
    assert not results["Study"].isin(["EORTC 62001", "STI571B1202"]).any()


def test_hazard_ratio_is_contrast_level(revman):
    results = _read(revman / "study-results.csv")
    hr = results[results["Reference arm"] != ""]
    assert len(hr) == 1
    row = hr.iloc[0]
    assert (row["Study"], row["Outcome"], row["Effect measure"]) == (
        "EORTC 62005",
        "progression-free survival",
        "HR",
    )
    assert (row["Arm"], row["Reference arm"]) == ("400mg bid", "400mg qd")
    # the ratio as reported, and ln(HR) with its SE from the 95% CI (tables.hazard_ratios' derivation)
    assert (row["Exp mean"], row["Exp CI start"], row["Exp CI end"], row["CI level"], row["P value"]) == (
        "0.82",
        "0.69",
        "0.98",
        "95",
        "0.026",
    )
    assert float(row["Mean"]) == pytest.approx(math.log(0.82), abs=1e-12)
    assert float(row["SE"]) == pytest.approx(
        (math.log(0.98) - math.log(0.69)) / (2 * 1.959963984540054), abs=1e-4
    )
    assert row["Sample size"] == row["Cases"] == ""
    assert row["Footnotes"] == "Source: S14; abstract. Derived: ln(HR) and its SE from the reported CI"


def test_arms_take_the_reviews_intervention_names(revman):
    arms = _read(revman / "study-arms.csv")
    assert list(arms.columns) == ["Study", "Arm", "Description", "Intervention"]
    b2222 = arms[arms["Study"] == "B2222"].set_index("Arm")
    assert b2222.loc["600mg", "Intervention"] == "High-dose imatinib"
    assert b2222.loc["400mg", "Intervention"] == "Standard-dose imatinib"
    assert b2222.loc["400mg", "Description"] == "arm A (imatinib 400 mg/d)"


def test_revman_names_are_checked(tmp_path):
    text = (ROOT / "data" / "gist_imatinib" / "review.toml").read_text(encoding="utf-8")
    folder = tmp_path / "r"
    folder.mkdir()
    for name in ("reviewer_a.xlsx", "reviewer_b.xlsx"):
        (folder / name).write_bytes((ROOT / "data" / "gist_imatinib" / name).read_bytes())
    text = text.replace('form = "../../extraction_forms/oncology_trial.yaml"\n', "")
    (folder / "review.toml").write_text(text.replace("comparison = ", "control = "), encoding="utf-8")
    with pytest.raises(ReviewError, match=r"\[revman\] takes intervention and comparison"):
        load_review(folder)


class _Consensus:
    def __init__(self, tables):
        self.tables = tables


def test_robvis_table_has_rob2_domains():
    rob = pd.DataFrame(
        [
            {"study_id": "T1", "domain": "randomisation process", "judgement": "low"},
            {"study_id": "T1", "domain": "missing outcome data", "judgement": "some concerns"},
            {"study_id": "T1", "domain": "overall", "judgement": "high"},
            {"study_id": "T2", "domain": "overall", "judgement": "NR"},
        ]
    )
    table = risk_of_bias(_Consensus({"risk_of_bias": rob}))
    assert list(table.columns) == ROB_COLUMNS
    assert table.iloc[0].tolist() == [
        "T1",
        "Low",
        "No information",
        "Some concerns",
        "No information",
        "No information",
        "High",
        1,
    ]
    assert table.iloc[1].tolist() == ["T2", *["No information"] * 6, 1]


def test_continuous_arm_rows_from_means():
    from types import SimpleNamespace

    from review.outcomes import ARM_OUTCOME_COLUMNS
    from review.project import Analysis
    from review.revman import study_results

    analysis = Analysis(
        name="QoL",
        outcome="quality of life",
        measure="MD",
        method="REML",
        test="z",
        arms={"T1": ("hi", "lo")},
        timepoint="12 weeks",
    )
    review = SimpleNamespace(
        analyses=(analysis,), revman={"intervention": "High dose", "comparison": "Low dose"}
    )
    data = pd.DataFrame(
        [
            {
                "study_id": "T1",
                "experimental_arm": "hi",
                "control_arm": "lo",
                "mean_e": 61.25,
                "sd_e": 9.5,
                "n_e": 90,
                "mean_c": 58.0,
                "sd_c": 10.0,
                "n_c": 88,
            }
        ]
    )
    continuous = pd.DataFrame(
        [
            {
                "study_id": "T1",
                "arm_id": a,
                "outcome": "quality of life",
                "timepoint": "12 weeks",
                "source": "main",
                "location": "Fig 2",
            }
            for a in ("hi", "lo")
        ]
    )
    # no count outcome at all (a review of continuous outcomes only), and the SD of one arm derived
    derived = continuous[["study_id", "arm_id", "outcome", "timepoint"]].assign(
        domain="continuous", derivation=["SD = SE x sqrt(n)", "reported"], inputs=["SE=1, n=90", ""]
    )
    tables = SimpleNamespace(
        frames_={"arm_outcomes": pd.DataFrame(columns=ARM_OUTCOME_COLUMNS), "continuous": derived}
    )
    consensus = _Consensus(
        {"continuous": continuous, "arms": pd.DataFrame(columns=["study_id", "arm_id", "label"])}
    )
    arms, results = study_results(review, {analysis.slug: data}, tables, consensus)
    assert results[["Data type", "Arm", "Mean", "SD", "Sample size"]].values.tolist() == [
        ["Continuous", "hi", 61.25, 9.5, 90],
        ["Continuous", "lo", 58.0, 10.0, 88],
    ]
    assert results["Footnotes"].tolist() == [
        "Timepoint: 12 weeks. Source: main; Fig 2. Derived: SD = SE x sqrt(n) (SE=1, n=90)",
        "Timepoint: 12 weeks. Source: main; Fig 2",
    ]
    assert arms["Intervention"].tolist() == ["High dose", "Low dose"]
