"""A review folder end to end: review.toml errors, the run's stages and stops, and the exports' contents."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from review.cli import app
from review.errors import ReviewError
from review.forms import default_form_path, load_form
from review.project import init_review, load_review, run
from review.workbook import make_workbook

TOML = """\
title = "Test review"
question = "Does a high dose improve response?"
reviewers = ["reviewer_a.xlsx", "reviewer_b.xlsx"]
adjudication = "adjudication.xlsx"

[[analysis]]
name = "Response, high vs low"
outcome = "response"
timepoint = "12 weeks"
measure = "RR"
method = "REML"
arms = { S1 = ["hi", "lo"], S2 = ["hi", "lo"] }
"""


def _data(s1_hi_events: int) -> dict[str, pd.DataFrame]:
    studies = pd.DataFrame(
        [
            {
                "study_id": s,
                "citation": f"Study {s}",
                "design": "randomised controlled",
                "source": "report",
                "location": "p. 1",
            }
            for s in ("S1", "S2")
        ]
    )
    arms = pd.DataFrame(
        [
            {
                "study_id": s,
                "arm_id": a,
                "label": f"{a} dose",
                "intervention": "drug",
                "randomised": n,
                "source": "report",
                "location": "p. 2",
            }
            for s, n in (("S1", 50), ("S2", 60))
            for a in ("hi", "lo")
        ]
    )
    events = {("S1", "hi"): s1_hi_events, ("S1", "lo"): 8, ("S2", "hi"): 20, ("S2", "lo"): 15}
    dichotomous = pd.DataFrame(
        [
            {
                "study_id": s,
                "arm_id": a,
                "outcome": "response",
                "timepoint": "12 weeks",
                "events": e,
                "total": 50 if s == "S1" else 60,
                "source": "report",
                "location": "Table 2",
            }
            for (s, a), e in events.items()
        ]
    )
    return {"studies": studies, "arms": arms, "dichotomous": dichotomous}


@pytest.fixture(scope="module")
def review_dir(tmp_path_factory) -> Path:
    """Two reviewers who disagree on one count, and an adjudicator who decided for A."""
    from review.compare import compare
    from review.reconcile import write_discrepancies
    from review.workbook import read_workbook

    folder = tmp_path_factory.mktemp("review")
    form = load_form(default_form_path())
    make_workbook(form, folder / "reviewer_a.xlsx", reviewer="A", data=_data(10))
    make_workbook(form, folder / "reviewer_b.xlsx", reviewer="B", data=_data(11))
    comparison = compare([read_workbook(folder / f"reviewer_{r}.xlsx", form) for r in "ab"])
    write_discrepancies(comparison, folder / "adjudication.xlsx")
    wb = openpyxl.load_workbook(folder / "adjudication.xlsx")
    ws = wb["Discrepancies"]
    header = [c.value for c in ws[1]]
    for name, value in (
        ("Decision", "A"),
        ("Adjudicator", "C"),
        ("Date", "2026-11-25"),
        ("Reason", "Table 2 gives 10"),
    ):
        ws.cell(row=2, column=header.index(name) + 1, value=value)
    wb.save(folder / "adjudication.xlsx")
    (folder / "review.toml").write_text(TOML, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def result(review_dir):
    return run(review_dir, progress=None)


def test_pooled_result_equals_metafor(result):
    row = result.pooled.iloc[0]
    # R 4.2 / metafor 3.8-1: rma(measure="RR", ai=c(10,20), n1i=c(50,60), ci=c(8,15), n2i=c(50,60),
    #   method="REML"); predict(res, transf=exp)  (the adjudicated value 10, not reviewer B's 11)
    assert row["k"] == 2
    assert row["theta"] == pytest.approx(0.267639053465, abs=1e-9)
    assert row["se"] == pytest.approx(0.239694422440, abs=1e-9)
    assert row["tau2"] == pytest.approx(0.0, abs=1e-12)
    assert row["ci_low"] == pytest.approx(0.816969610051, abs=1e-9)
    assert row["ci_high"] == pytest.approx(2.090558988322, abs=1e-9)


def test_run_writes_every_output(result):
    out = result.review.output
    for name in (
        "review.xlsx",
        "pooled.csv",
        "datapackage.json",
        "methods.md",
        "discrepancies.xlsx",
        "consensus/arms.csv",
        "consensus/trail.csv",
        "consensus/manifest.json",
        "tables/arm_outcomes.csv",
        "plots/response_high_vs_low.png",
        "r/response_high_vs_low_metafor.csv",
        "r/response_high_vs_low_meta.csv",
        "r/analyses.R",
        "revman/study-arms.csv",
        "revman/study-results.csv",
    ):
        assert (out / name).exists(), name
    assert (out / "plots/response_high_vs_low.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_r_ready_csvs_use_metafor_and_meta_argument_names(result):
    r = result.review.output / "r"
    metafor = pd.read_csv(r / "response_high_vs_low_metafor.csv")
    assert metafor.columns.tolist() == ["study", "ai", "n1i", "ci", "n2i"]
    assert metafor.values.tolist() == [["S1", 10, 50, 8, 50], ["S2", 20, 60, 15, 60]]
    meta = pd.read_csv(r / "response_high_vs_low_meta.csv")
    assert meta.columns.tolist() == ["studlab", "event.e", "n.e", "event.c", "n.c"]
    script = (r / "analyses.R").read_text(encoding="utf-8")
    assert (
        'rma(measure="RR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=dat, slab=study, method="REML", test="z")'
        in script
    )


def test_revman_csvs_one_row_per_arm(result):
    results = pd.read_csv(result.review.output / "revman/study-results.csv", encoding="utf-8-sig")
    assert results[["Study", "Outcome", "Arm", "Cases", "Sample size"]].values.tolist() == [
        ["S1", "response", "hi", 10, 50],
        ["S1", "response", "lo", 8, 50],
        ["S2", "response", "hi", 20, 60],
        ["S2", "response", "lo", 15, 60],
    ]
    assert set(results["Data type"]) == {"Dichotomous"} and results["Effect measure"].isna().all()
    assert results.loc[0, "Footnotes"] == "Timepoint: 12 weeks. Source: report; Table 2"
    arms = pd.read_csv(result.review.output / "revman/study-arms.csv", encoding="utf-8-sig")
    # no [revman] names in review.toml: RevMan's default group labels
    assert arms.loc[0].tolist() == ["S1", "hi", "hi dose", "Experimental"]


def test_data_package_schema_is_made_from_the_form(result):
    package = json.loads((result.review.output / "datapackage.json").read_text(encoding="utf-8"))
    resources = {r["name"]: r for r in package["resources"]}
    arms = resources["arms"]["schema"]
    assert arms["primaryKey"] == ["study_id", "arm_id"] and arms["missingValues"] == ["", "NR", "NA"]
    fields = {f["name"]: f for f in arms["fields"]}
    assert fields["randomised"]["type"] == "integer" and fields["randomised"]["constraints"]["minimum"] == 0
    assert fields["dose_unit"]["constraints"]["enum"] == ["mg", "mg/m2", "mg/kg", "g", "IU"]
    assert {"fields": ["study_id"], "reference": {"resource": "studies", "fields": ["study_id"]}} in arms[
        "foreignKeys"
    ]


def test_data_package_validates_with_frictionless(result):
    frictionless = pytest.importorskip("frictionless")
    report = frictionless.validate(result.review.output / "datapackage.json")
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_methods_paragraph_says_what_was_done(result):
    text = (result.review.output / "methods.md").read_text(encoding="utf-8")
    assert "from 2 studies independently by 2 reviewers" in text
    assert "form oncology_trial version 1.0.0" in text
    assert "1 disagreement (1 numeric) were resolved by C" in text
    assert "RR with a random-effects model (REML tau^2)" in text


def test_collaborator_workbook(result):
    wb = openpyxl.load_workbook(result.review.output / "review.xlsx")
    for sheet in (
        "README",
        "Studies",
        "Arms",
        "Dichotomous outcomes",
        "Arm outcomes",
        "Pooled results",
        "Forest plots",
        "Validation issues",
        "Discrepancies",
        "Data dictionary",
    ):
        assert sheet in wb.sheetnames, sheet
    readme = {r[0]: r[1] for r in wb["README"].iter_rows(values_only=True) if r[0]}
    assert readme["Question"] == "Does a high dose improve response?"
    assert readme["Form"] == "oncology_trial version 1.0.0"
    assert len(wb["Forest plots"]._images) == 1
    arms = wb["Arms"]
    assert arms.freeze_panes == "A2" and arms.tables
    dictionary = pd.DataFrame(wb["Data dictionary"].values)
    assert "Patients randomised (or enrolled) to the arm." in dictionary[11].tolist()
    pooled = wb["Pooled results"]
    header = [c.value for c in pooled[1]]
    assert pooled.cell(row=2, column=header.index("i2") + 1).number_format == "0.0%"


def test_consensus_takes_the_decision(result):
    arms = pd.read_csv(result.review.output / "tables" / "arm_outcomes.csv")
    s1_hi = arms[(arms["study_id"] == "S1") & (arms["arm_id"] == "hi")]
    assert s1_hi["events"].tolist() == [10]


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (("reviewer_b.xlsx", "reviewer_c.xlsx"), "reviewer_c.xlsx does not exist"),
        (
            ('outcome = "response"', 'outcome = "remission"'),
            "outcome 'remission' is not in the consensus data",
        ),
        (('S2 = ["hi", "lo"]', 'S3 = ["hi", "lo"]'), "study 'S3' is not in the consensus data"),
        (('S2 = ["hi", "lo"]', 'S2 = ["hi", "mid"]'), "study 'S2' has no arm 'mid'"),
        (('measure = "RR"', 'measure = "XR"'), "measure 'XR' is not one of"),
        (("title =", 'derive_counts = "closest"\ntitle ='), "derive_counts must be"),
        (('S2 = ["hi", "lo"]', 'S2 = "hi"'), "needs [experimental, control]"),
        (("title", "titel"), "unknown key 'titel'; valid keys are title, question"),
        (('S2 = ["hi", "lo"]', "S2 = 5"), "needs [experimental, control]"),
        (
            ('timepoint = "12 weeks"', "timepoint = 12"),
            'timepoint must be text in quotes, e.g. timepoint = "12"',
        ),
        (("[[analysis]]", "[analysis]"), "each analysis is a [[analysis]] table"),
    ],
)
def test_review_toml_errors(review_dir, tmp_path, edit, words):
    folder = tmp_path / "r"
    shutil.copytree(review_dir, folder, ignore=shutil.ignore_patterns("output"))
    (folder / "review.toml").write_text(TOML.replace(*edit), encoding="utf-8")
    with pytest.raises(ReviewError) as exc:
        run(folder)
    assert words in str(exc.value)


def test_run_stops_at_validation_errors_and_open_disagreements(review_dir, tmp_path):
    folder = tmp_path / "r"
    shutil.copytree(review_dir, folder, ignore=shutil.ignore_patterns("output"))
    form = load_form(default_form_path())
    bad = _data(10)
    bad["dichotomous"].loc[0, "events"] = 70  # more than 50 at risk
    make_workbook(form, folder / "reviewer_b.xlsx", reviewer="B", data=bad)
    with pytest.raises(ReviewError, match=r"stopped at validation: 1 error: .*count-exceeds-total"):
        run(folder)
    (folder / "adjudication.xlsx").unlink()
    make_workbook(form, folder / "reviewer_b.xlsx", reviewer="B", data=_data(11))
    with pytest.raises(ReviewError, match="stopped at reconcile: 1 disagreement and no adjudication file"):
        run(folder)


def test_init_then_run_and_cli(tmp_path):
    written = init_review(tmp_path / "new", ("A", "B"))
    assert [p.name for p in written] == ["review.toml", "reviewer_a.xlsx", "reviewer_b.xlsx"]
    assert load_review(tmp_path / "new").reviewers[1].name == "reviewer_b.xlsx"
    with pytest.raises(ReviewError, match="already exists"):
        init_review(tmp_path / "new")
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(tmp_path / "new")])
    assert result.exit_code == 0, result.output
    assert "review.xlsx" in result.output
    result = runner.invoke(app, ["run", str(tmp_path / "nothing")])
    assert result.exit_code == 1 and "review init" in result.output and "Traceback" not in result.output


def test_hazard_ratio_analysis_orients_each_study_experimental_versus_control():
    from review.project import Analysis, analysis_data
    from review.tables import analysis_tables

    hrs = pd.DataFrame(
        [
            {
                "study_id": "S1",
                "outcome": "progression-free survival",
                "comparison": "hi vs lo",
                "experimental_arm": "hi",
                "control_arm": "lo",
                "hr": 0.82,
                "ci_low": 0.69,
                "ci_high": 0.98,
                "ci_level": 95,
            },
            {
                "study_id": "S2",
                "outcome": "progression-free survival",
                "comparison": "lo vs hi",
                "experimental_arm": "lo",
                "control_arm": "hi",
                "hr": 1.25,
                "ci_low": 1.0,
                "ci_high": 1.5625,
                "ci_level": 95,
            },
        ]
    )
    tables = analysis_tables({"hazard_ratios": hrs})
    analysis = Analysis(
        "PFS",
        "progression-free survival",
        "HR",
        "REML",
        "z",
        {"S1": ("hi", "lo"), "S2": ("hi", "lo"), "S3": ("hi", "lo")},
    )
    data = analysis_data(analysis, tables)
    assert data.loc[0, "yi"] == pytest.approx(math.log(0.82))
    assert data.loc[1, "yi"] == pytest.approx(-math.log(1.25)) and "inverted" in data.loc[1, "note"]
    assert pd.isna(data.loc[2, "yi"]) and data.loc[2, "note"] == "no hazard ratio of hi versus lo"
    twice = pd.concat(
        [hrs, hrs.iloc[[0]].assign(comparison="hi vs lo, long-term", hr=0.91)], ignore_index=True
    )
    tables2 = analysis_tables({"hazard_ratios": twice})
    with pytest.raises(ReviewError, match="study 'S1' has 2 hazard ratios .* choose one with comparisons"):
        analysis_data(analysis, tables2)
    chosen = Analysis(
        "PFS",
        "progression-free survival",
        "HR",
        "REML",
        "z",
        {"S1": ("hi", "lo")},
        comparisons={"S1": "hi vs lo, long-term"},
    )
    assert analysis_data(chosen, tables2).loc[0, "yi"] == pytest.approx(math.log(0.91))
    with pytest.raises(ReviewError, match="no hazard ratio for outcome 'overall survival'"):
        analysis_data(Analysis("OS", "overall survival", "HR", "REML", "z", {"S1": ("hi", "lo")}), tables)
