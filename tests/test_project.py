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
    domains = ["randomisation process", "missing outcome data", "overall"]
    risk_of_bias = pd.DataFrame(
        [
            {"study_id": s, "domain": d, "judgement": j, "support": "invented for the test"}
            for s, judgements in (
                ("S1", ("low", "some concerns", "some concerns")),
                ("S2", ("low", "high", "high")),
            )
            for d, j in zip(domains, judgements, strict=True)
        ]
    )
    return {"studies": studies, "arms": arms, "dichotomous": dichotomous, "risk_of_bias": risk_of_bias}


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
    assert fields["arm_id"]["constraints"]["required"] is True
    # required in the form means never empty, NR allowed: stated, not a constraint that would reject NR
    studies = {f["name"]: f for f in resources["studies"]["schema"]["fields"]}
    assert "required" not in studies["design"].get("constraints", {})
    assert studies["design"]["description"].endswith("Required: a value, NR or NA; never empty.")
    assert {"fields": ["study_id"], "reference": {"resource": "studies", "fields": ["study_id"]}} in arms[
        "foreignKeys"
    ]


def test_data_package_validates_with_frictionless(result):
    import frictionless

    report = frictionless.validate(result.review.output / "datapackage.json")
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_methods_paragraph_says_what_was_done(result):
    text = (result.review.output / "methods.md").read_text(encoding="utf-8")
    assert "from 2 studies independently by 2 reviewers" in text
    assert "form oncology_trial version 1.2.0" in text
    assert "1 disagreement (1 numeric) was resolved by C" in text
    assert "risk ratio): 2 studies (S1 and S2) pooled with a random-effects model with the restricted" in text
    assert (
        "Risk of bias was judged with the RoB 2 tool (Sterne et al. 2019) for 2 studies, domain by domain, on the "
        "same forms, and the judgements compared and reconciled like the other data; overall: 1 some concerns, "
        "1 high (consensus/risk_of_bias.csv)." in text
    )


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
    assert readme["Form"] == "oncology_trial version 1.2.0"
    assert len(wb["Forest plots"]._images) == 1
    arms = wb["Arms"]
    assert arms.freeze_panes == "A2" and arms.tables
    dictionary = pd.DataFrame(wb["Data dictionary"].values)
    assert "Patients randomised (or enrolled) to the arm." in dictionary[11].tolist()
    pooled = wb["Pooled results"]
    header = [c.value for c in pooled[1]]
    # what a reader looks for first
    assert header[:6] == ["analysis", "k", "measure", "estimate", "ci_low", "ci_high"]
    assert pooled.cell(row=2, column=header.index("q_df") + 1).number_format == "0"
    assert pooled.cell(row=2, column=header.index("i2") + 1).number_format == "0.0%"
    shown = 0
    # the interval in the estimate's unit (it read 90.937 beside 91.0%)
    for column in ("i2", "i2_ci_low", "i2_ci_high"):
        for row in range(2, pooled.max_row + 1):
            cell = pooled.cell(row=row, column=header.index(column) + 1)
            if cell.value is not None:
                assert cell.number_format == "0.0%" and 0 <= cell.value <= 1, (column, row, cell.value)
                shown += column != "i2"
    assert shown
    # shown rounded, stored in full: the cell keeps metafor's digits
    estimate = pooled.cell(row=2, column=header.index("estimate") + 1)
    assert estimate.number_format == "0.000"
    assert estimate.value == pytest.approx(result.pooled.at[0, "estimate"], abs=0, rel=0)
    # a p-value below 0.0001 shows as <0.0001, not 0.0000
    small = '[=0]0.0000;[<0.0001]"<0.0001";0.0000'
    assert pooled.cell(row=2, column=header.index("pval") + 1).number_format == small
    assert pooled.cell(row=2, column=header.index("k") + 1).number_format == "General"


def test_collaborator_readme_describes_what_the_workbook_holds(result):
    wb = openpyxl.load_workbook(result.review.output / "review.xlsx")
    readme = {r[0]: r[1] for r in wb["README"].iter_rows(values_only=True) if r[0]}
    described = [name for name in wb.sheetnames if name in readme]
    assert described == wb.sheetnames[1:]  # every sheet, in order, and nothing that is not there
    assert readme["Arms"].startswith("Consensus arms: 4 rows.")
    assert readme["Pooled results"].startswith("One row per analysis (1 row)")
    assert (
        "left empty on purpose" in readme["empty cell"] and "derived on Arm outcomes" in readme["empty cell"]
    )
    assert "not extracted" not in readme["empty cell"]
    assert "only the reviewers whose values the consensus kept are cited" in readme["Source, Location"]


def test_collaborator_workbook_prints(result):
    """Page setup of every sheet: A4, orientation by width, fit to width within readable limits, header row
    repeated, margins, header/footer with the review, form version and page; forest plots one per page."""
    from review.sheets import LANDSCAPE_CHARS, MIN_SCALE, PORTRAIT_CHARS, sheet_width

    wb = openpyxl.load_workbook(result.review.output / "review.xlsx")
    for ws in wb.worksheets:
        setup = ws.page_setup
        assert int(setup.paperSize) == int(ws.PAPERSIZE_A4), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage and setup.fitToHeight == 0, ws.title
        assert "form oncology_trial version 1.2.0" in ws.oddHeader.left.text, ws.title
        portrait = ws.page_setup.orientation == "portrait"
        shown = ws.oddFooter.left.text if portrait else ws.oddHeader.center.text
        assert shown == "Test review", ws.title
        assert "Page &P of &N" in (ws.oddFooter.center.text, ws.oddFooter.right.text)
        assert ws.oddHeader.right.text == "&A"
        assert ws.page_margins.left == 0.5 and ws.page_margins.top == 0.75
        if ws.title in ("README", "Forest plots", "Safety plots", "Risk-of-bias plots"):
            continue
        width = sheet_width(ws)
        assert setup.orientation == ("portrait" if width <= PORTRAIT_CHARS else "landscape"), ws.title
        across = PORTRAIT_CHARS if setup.orientation == "portrait" else LANDSCAPE_CHARS
        assert width / int(setup.fitToWidth) <= across / MIN_SCALE, ws.title  # never shrunk below 65%
        assert ws.print_title_rows == "$1:$1", ws.title
    studies = wb["Studies"]
    assert int(studies.page_setup.fitToWidth) > 1 and studies.print_title_cols == "$A:$A"
    assert wb["README"].page_setup.orientation == "portrait"
    forest = wb["Forest plots"]
    breaks = [b.id for b in forest.row_breaks.brk]
    anchors = [image.anchor._from.row + 1 for image in forest._images]  # 1-based row of each plot's top
    assert len(breaks) == len(anchors) == 1 and anchors[0] < breaks[0]  # a page break after each plot
    assert forest.page_setup.orientation == "landscape" and forest.page_setup.fitToWidth == 1
    # wrapped text gets rows tall enough: the README's longest line
    readme = wb["README"]
    row = next(r for r in range(1, readme.max_row + 1) if readme.cell(r, 1).value == "empty cell")
    assert readme.row_dimensions[row].height >= 3 * 15


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
    result = runner.invoke(app, ["run", str(tmp_path / "new")])  # blank workbooks: says what is missing
    assert result.exit_code == 1, result.output
    assert "nothing extracted yet: reviewer_a.xlsx, reviewer_b.xlsx have no rows" in result.output
    assert not (
        tmp_path / "new" / "output" / "pooled.csv"
    ).exists()  # no empty outputs that look like a result
    result = runner.invoke(app, ["run", str(tmp_path / "nothing")])
    assert result.exit_code == 1 and "review init" in result.output and "Traceback" not in result.output


def test_hazard_ratio_analysis_orients_each_study_experimental_versus_control():
    from review.analyses import analysis_data
    from review.project import Analysis
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


def test_risk_of_bias_figures_in_plots_workbook_and_report(result):
    out = result.review.output
    for name in ("risk_of_bias_traffic_light.png", "risk_of_bias_summary.png"):
        assert (out / "plots" / name).read_bytes()[:4] == b"\x89PNG"
    wb = openpyxl.load_workbook(out / "review.xlsx")
    assert len(wb["Risk-of-bias plots"]._images) == 2
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "Risk of bias: traffic-light plot" in report and "Risk of bias: summary" in report
    assert "No risk-of-bias judgements" not in report


def test_half_filled_review_says_what_is_missing(review_dir, tmp_path):
    folder = tmp_path / "r"
    shutil.copytree(review_dir, folder, ignore=shutil.ignore_patterns("output"))
    form = load_form(default_form_path())
    make_workbook(form, folder / "reviewer_b.xlsx", reviewer="B")  # B has not started
    with pytest.raises(
        ReviewError, match=r"reviewer_b.xlsx has no rows yet while reviewer_a.xlsx \(\d+ rows\)"
    ):
        run(folder)
    make_workbook(form, folder / "reviewer_b.xlsx", reviewer="B", data=_data(11))
    # no analysis defined yet: outputs are written, but the run is not complete (exit 1)
    toml = (folder / "review.toml").read_text(encoding="utf-8")
    (folder / "review.toml").write_text(toml.split("[[analysis]]")[0], encoding="utf-8")
    result = run(folder)
    assert not result.complete and "defines no [[analysis]], so nothing was pooled" in result.missing[0]
    cli = CliRunner().invoke(app, ["run", str(folder)])
    assert cli.exit_code == 1 and "Not complete:" in cli.output
    # an analysis whose studies have no usable counts is named with why
    (folder / "review.toml").write_text(
        toml.replace('outcome = "response"', 'outcome = "response"\ngrade = "3-4"'), encoding="utf-8"
    )
    result = run(folder)
    assert result.missing == [
        "analysis 'Response, high vs low': no study has usable data ("
        + result.pooled.at[0, "studies_left_out"]
        + ")."
    ]
    assert "S1 (" in result.pooled.at[0, "studies_left_out"]


MEASURES_TOML = "".join(
    f"""
[[analysis]]
name = "{measure} {method}"
outcome = "response"
timepoint = "12 weeks"
measure = "{measure}"
method = "{method}"
arms = {arms}
"""
    for measure, method, arms in [
        ("RR", "REML", '{ S1 = ["hi", "lo"], S2 = ["hi", "lo"] }'),
        ("OR", "DL", '{ S1 = ["hi", "lo"], S2 = ["hi", "lo"] }'),
        ("RD", "EE", '{ S1 = ["hi", "lo"], S2 = ["hi", "lo"] }'),
        ("RR", "MH", '{ S1 = ["hi", "lo"], S2 = ["hi", "lo"] }'),
        ("OR", "PETO", '{ S1 = ["hi", "lo"], S2 = ["hi", "lo"] }'),
        ("PLO", "REML", '{ S1 = "hi", S2 = "lo" }'),
        ("PR", "PM", '{ S1 = "hi", S2 = "lo" }'),
        ("PAS", "REML", '{ S1 = "hi", S2 = "lo" }'),
        ("PFT", "REML", '{ S1 = "hi", S2 = "lo" }'),
    ]
)


def test_analyses_r_gives_the_numbers_of_pooled_csv_for_every_measure(review_dir, tmp_path):
    """Rscript analyses.R (metafor) on the run's own CSVs: the same estimates, on the same (natural) scale."""
    import subprocess

    if shutil.which("Rscript") is None:
        pytest.skip("Rscript with metafor is needed to run analyses.R")
    folder = tmp_path / "r"
    shutil.copytree(review_dir, folder, ignore=shutil.ignore_patterns("output"))
    toml = (folder / "review.toml").read_text(encoding="utf-8")
    (folder / "review.toml").write_text(toml.split("[[analysis]]")[0] + MEASURES_TOML, encoding="utf-8")
    result = run(folder)
    r_folder = result.review.output / "r"
    done = subprocess.run(
        ["Rscript", "analyses.R"], cwd=r_folder, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    from_r = pd.read_csv(r_folder / "pooled_metafor.csv").set_index("analysis")
    ours = result.pooled.set_index("analysis")
    assert list(from_r.index) == list(ours.index)
    for name in ours.index:
        for column in ("k", "theta", "se", "estimate", "ci_low", "ci_high"):
            assert from_r.at[name, column] == pytest.approx(ours.at[name, column], abs=1e-6), (name, column)
        if ours.at[name, "method"] in ("DL", "REML", "PM"):
            for column in ("pi_low", "pi_high", "tau2"):
                assert from_r.at[name, column] == pytest.approx(ours.at[name, column], abs=1e-6), (
                    name,
                    column,
                )
    # the back-transformation matters: PAS and PFT estimates are proportions, not arcsine values
    assert (
        0 < ours.at["PAS REML", "estimate"] < 1
        and ours.at["PAS REML", "estimate"] != ours.at["PAS REML", "theta"]
    )
