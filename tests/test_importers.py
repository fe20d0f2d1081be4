"""Imports from Covidence, SRDR+ and REDCap: each fixture is built here from the tool's documented layout (the
source of each layout is in its recipe), imported with a map, compared with a reviewer workbook, and the planted
disagreements - and only those - are found. Values are invented (tests only), not data from data/."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from review.cli import app
from review.compare import compare
from review.dictionary import redcap_choices
from review.errors import ReviewError
from review.importers import import_export, load_map, parse_map, write_import
from review.workbook import make_workbook, read_extraction, read_workbook

runner = CliRunner()

# The reviewer workbook every import is compared with (reviewer "B"): one study, two arms, one response outcome.
STUDY = {
    "study_id": "T1",
    "citation": "Doe J. A trial. J Test 2020;1:3-4.",
    "design": "randomised controlled",
}
ARMS = [
    {"study_id": "T1", "arm_id": "low", "label": "Low dose", "intervention": "drug", "randomised": 100},
    {"study_id": "T1", "arm_id": "high", "label": "High dose", "intervention": "drug", "randomised": 100},
]
OUTCOMES = [
    {
        "study_id": "T1",
        "arm_id": "low",
        "outcome": "objective response",
        "timepoint": "primary",
        "events": 0,
        "total": 98,
    },
    {
        "study_id": "T1",
        "arm_id": "high",
        "outcome": "objective response",
        "timepoint": "primary",
        "events": 45,
        "total": 100,
    },
]
# What the other tool's reviewer typed differently: (table, row key, field) -> (their value, type expected)
PLANTED = {
    ("arms", "T1 | high", "randomised"): "numeric",  # 101 against 100
    ("dichotomous", "T1 | low | objective response | primary", "events"): "zero-vs-nr",  # NR against 0
}


@pytest.fixture
def workbook_b(form, tmp_path) -> Path:
    data = {
        "studies": pd.DataFrame([STUDY]),
        "arms": pd.DataFrame(ARMS),
        "dichotomous": pd.DataFrame(OUTCOMES),
    }
    return make_workbook(form, tmp_path / "reviewer_b.xlsx", reviewer="B", data=data)


def _their_values(planted: bool) -> dict:
    """The values the other tool's reviewer entered: as the workbook, or with the planted disagreements."""
    return {
        "design": "RCT",  # their vocabulary, recoded by the map
        "low_n": "100",
        "high_n": "101" if planted else "100",
        "low_events": "NR" if planted else "0",
        "low_total": "98",
        "high_events": "45",
        "high_total": "100",
    }


def _found(comparison) -> dict:
    frame = comparison.to_frame()
    return {(r["table"], r["row"], r["field"]): r["type"] for _, r in frame.iterrows()}


# --- Covidence ----------------------------------------------------------------------------------------------------
# Recipe. Layout: Covidence's extraction export, "Single sheet (CSV)" (support.covidence.org, "How to do single
# reviewer extraction in Extraction 1" > Export data), with two reviewers and a consensus reviewer per study ("How to
# complete data extraction for a study"): one row per reviewer per study plus the "Consensus" row, a "Study ID" and
# a "Reviewer Name" column, then one column per template field; Extraction 2 templates hold text, single-choice,
# checkbox and table fields whose rows and columns the team names ("Overview of Extraction 2"), exported here as
# "<table> <row> <column>". The exact header words of a real export were not available: the reader looks for the
# study and reviewer columns by name and says which it needs; everything else goes through the map.

COVIDENCE_MAP = """
tool: covidence
tables:
  studies:
    - columns: {citation: Title, design: Study design}
  arms:
    - columns: {arm_id: "=low", label: "=Low dose", intervention: "=drug", randomised: "Arms Low dose Randomised"}
    - columns: {arm_id: "=high", label: "=High dose", intervention: "=drug", randomised: "Arms High dose Randomised"}
  dichotomous:
    - columns: {arm_id: "=low", outcome: "=objective response", timepoint: "=primary",
                events: "Response Low dose Events", total: "Response Low dose Total"}
    - columns: {arm_id: "=high", outcome: "=objective response", timepoint: "=primary",
                events: "Response High dose Events", total: "Response High dose Total"}
values:
  studies.design: {RCT: randomised controlled}
"""


def covidence_csv(path: Path) -> Path:
    header = [
        "Covidence #",
        "Study ID",
        "Title",
        "Reviewer Name",
        "Study design",
        "Arms Low dose Randomised",
        "Arms High dose Randomised",
        "Response Low dose Events",
        "Response Low dose Total",
        "Response High dose Events",
        "Response High dose Total",
        "Sponsor",
    ]
    rows = []
    for reviewer, planted in (("Anna Smith", True), ("Consensus", False)):
        v = _their_values(planted)
        rows.append(
            [
                "#12",
                "T1",
                STUDY["citation"],
                reviewer,
                v["design"],
                v["low_n"],
                v["high_n"],
                v["low_events"],
                v["low_total"],
                v["high_events"],
                v["high_total"],
                "Acme",
            ]
        )
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


def test_covidence_import_finds_the_planted_disagreements(form, tmp_path, workbook_b):
    source = covidence_csv(tmp_path / "covidence.csv")
    (tmp_path / "map.yaml").write_text(COVIDENCE_MAP, encoding="utf-8")
    result = import_export("covidence", source, form, load_map(tmp_path / "map.yaml", form, "covidence"))
    assert [r.reviewer for r in result.reviewers] == ["Anna Smith", "Consensus"]
    assert list(result.unmapped["column"]) == ["Sponsor"]
    write_import(result, tmp_path / "imported")
    anna = read_extraction(tmp_path / "imported" / "Anna_Smith", form)
    b = read_workbook(workbook_b, form)
    comparison = compare([anna, b])
    assert _found(comparison) == PLANTED
    # compare (and so the discrepancy workbook and reconcile's trail) shows where the value was in the export
    frame = comparison.to_frame().set_index("field")
    assert frame.loc["randomised", "A_where"] == f"{source}: row 2, column 'Arms High dose Randomised'"
    assert frame.loc["randomised", "B_where"].endswith("reviewer_b.xlsx:Arms!H3")
    consensus = read_extraction(tmp_path / "imported" / "Consensus", form)
    assert _found(compare([consensus, b])) == {}
    # every value keeps its origin: file, row and column of the export
    origins = pd.read_csv(tmp_path / "imported" / "Anna_Smith" / "origins.csv", dtype=str)
    hit = origins[(origins["table"] == "arms") & (origins["field"] == "randomised")]
    assert list(hit["column"]) == ["Arms Low dose Randomised", "Arms High dose Randomised"]
    assert set(hit["source_row"]) == {"2"} and set(hit["row"]) == {"2", "3"}
    assert anna["arms"]["comment"].iloc[0] == "imported from covidence.csv row 2"


def test_covidence_cli_make_map_then_import(form, tmp_path, workbook_b):
    source = covidence_csv(tmp_path / "covidence.csv")
    made = runner.invoke(
        app, ["import", "covidence", str(source), "--make-map", str(tmp_path / "start.yaml")]
    )
    assert made.exit_code == 0, made.output
    start = (tmp_path / "start.yaml").read_text(encoding="utf-8")
    assert "#   'Title'" in start and "#   'Arms Low dose Randomised'" in start and "tables: {}" in start
    (tmp_path / "map.yaml").write_text(COVIDENCE_MAP, encoding="utf-8")
    args = [
        "import",
        "covidence",
        str(source),
        "--map",
        str(tmp_path / "map.yaml"),
        "-o",
        str(tmp_path / "out"),
    ]
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    assert "2 extractions (Anna Smith, Consensus), 10 rows; 1 column not mapped" in done.output
    assert runner.invoke(app, args).exit_code == 0  # a re-run replaces what the import wrote
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("the team's own file", encoding="utf-8")
    elsewhere = [*args[:-1], str(tmp_path / "mine")]
    refused = runner.invoke(app, elsewhere)
    assert refused.exit_code == 2 and "--force" in refused.output
    assert runner.invoke(app, [*elsewhere, "--force"]).exit_code == 0
    assert (tmp_path / "mine" / "notes.txt").exists()
    inside = runner.invoke(app, [*args[:-1], str(tmp_path)])  # the folder holding the export
    assert inside.exit_code == 2 and "holds the input" in inside.output
    cmp = runner.invoke(app, ["compare", str(tmp_path / "out" / "Anna_Smith"), str(workbook_b)])
    assert cmp.exit_code == 0 and "2 discrepancies" in cmp.output


def test_map_errors_name_the_map_and_the_fix(form, tmp_path):
    source = covidence_csv(tmp_path / "covidence.csv")
    with pytest.raises(
        ReviewError,
        match="m.yaml: tables.arms row 1: 'randomized' is not a field of arms; did you mean randomised",
    ):
        parse_map(
            {"tables": {"arms": [{"columns": {"randomized": "Study design"}}]}}, form, "covidence", "m.yaml"
        )
    bad_column = parse_map(
        {"tables": {"arms": [{"columns": {"randomised": "Arms Low Randomised"}}]}},
        form,
        "covidence",
        "m.yaml",
    )
    with pytest.raises(
        ReviewError,
        match="m.yaml: tables.arms.randomised: column 'Arms Low Randomised' is not in covidence.csv; did you mean 'Arms Low dose Randomised'",
    ):
        import_export("covidence", source, form, bad_column)
    with pytest.raises(ReviewError, match="is a map for srdr"):
        parse_map({"tool": "srdr", "tables": {}}, form, "covidence")
    no_reviewer = tmp_path / "plain.csv"
    no_reviewer.write_text("Study ID,Title\nT1,x\n", encoding="utf-8")
    with pytest.raises(ReviewError, match="no reviewer column \\('Reviewer Name' or 'Reviewer'\\)"):
        import_export("covidence", no_reviewer, form)


# --- SRDR+ --------------------------------------------------------------------------------------------------------
# Recipe. Layout: SRDR+'s Excel export, from its source (github.com/jensjap/srdrPLUS,
# app/jobs/simple_export_job/sheet_info.rb and section_templates/type1_sections_compact.rb): one sheet per
# extraction-form section; every row starts with 'Extraction ID', 'Consolidated' ("true" for the consolidated
# extraction, else "false"), 'Username', 'Citation ID', 'Citation Name', 'RefMan', 'PMID', 'Authors',
# 'Publication Date', 'Key Questions'; a type-1 section (Arms) adds '<Section> Name' and '<Section> Description'
# ("Arm Name", "Arm Description") and has one row per arm; questions are further columns. The results sheet here
# is simplified to one row per arm and measure column (SRDR+'s own result sheets are wider).

SRDR_HEADER = [
    "Extraction ID",
    "Consolidated",
    "Username",
    "Citation ID",
    "Citation Name",
    "RefMan",
    "PMID",
    "Authors",
    "Publication Date",
    "Key Questions",
]

SRDR_MAP = """
tool: srdr
tables:
  studies:
    - from: Design Details
      columns: {citation: Citation, design: Study design}
  arms:
    - from: Arms
      columns: {arm_id: Arm Name, label: Arm Description, intervention: Intervention, randomised: N randomized}
  dichotomous:
    - from: Results
      columns: {arm_id: Arm Name, outcome: "=objective response", timepoint: Timepoint, events: Events, total: Total}
values:
  studies.design: {RCT: randomised controlled}
"""


def srdr_xlsx(path: Path) -> Path:
    wb = Workbook()
    wb.remove(wb.active)
    who = [("asmith", "false", True), ("bjones", "true", False)]

    def lead(i: int, user: str, consolidated: str) -> list:
        return [i + 1, consolidated, user, 501, "T1", "", "", "Doe J", "2020", "KQ1"]

    ws = wb.create_sheet("Design Details")
    ws.append([*SRDR_HEADER, "Citation", "Study design", "Setting"])
    for i, (user, cons, planted) in enumerate(who):
        ws.append([*lead(i, user, cons), STUDY["citation"], _their_values(planted)["design"], "hospital"])
    ws = wb.create_sheet("Arms")
    ws.append([*SRDR_HEADER, "Arm Name", "Arm Description", "Intervention", "N randomized"])
    for i, (user, cons, planted) in enumerate(who):
        v = _their_values(planted)
        ws.append([*lead(i, user, cons), "low", "Low dose", "drug", int(v["low_n"])])
        ws.append([*lead(i, user, cons), "high", "High dose", "drug", int(v["high_n"])])
    ws = wb.create_sheet("Results")
    ws.append([*SRDR_HEADER, "Arm Name", "Timepoint", "Events", "Total"])
    for i, (user, cons, planted) in enumerate(who):
        v = _their_values(planted)
        events = v["low_events"] if v["low_events"] == "NR" else int(v["low_events"])
        ws.append([*lead(i, user, cons), "low", "primary", events, int(v["low_total"])])
        ws.append([*lead(i, user, cons), "high", "primary", int(v["high_events"]), int(v["high_total"])])
    wb.save(path)
    return path


def test_srdr_import_finds_the_planted_disagreements(form, tmp_path, workbook_b):
    source = srdr_xlsx(tmp_path / "srdr.xlsx")
    (tmp_path / "map.yaml").write_text(SRDR_MAP, encoding="utf-8")
    result = import_export("srdr", source, form, load_map(tmp_path / "map.yaml", form, "srdr"))
    assert [r.reviewer for r in result.reviewers] == ["asmith", "Consolidated"]
    assert list(result.unmapped["column"]) == ["Setting"]
    write_import(result, tmp_path / "imported")
    b = read_workbook(workbook_b, form)
    assert _found(compare([read_extraction(tmp_path / "imported" / "asmith", form), b])) == PLANTED
    assert _found(compare([read_extraction(tmp_path / "imported" / "Consolidated", form), b])) == {}
    origins = pd.read_csv(tmp_path / "imported" / "asmith" / "origins.csv", dtype=str)
    events = origins[(origins["table"] == "dichotomous") & (origins["field"] == "events")]
    assert list(zip(events["sheet"], events["source_row"], events["column"], strict=True)) == [
        ("Results", "2", "Events"),
        ("Results", "3", "Events"),
    ]


# --- REDCap -------------------------------------------------------------------------------------------------------
# Recipe. Layout: a REDCap project built from `review dictionary --format redcap` (variables <table>_<field>,
# repeating instruments per table), exported as "CSV / Microsoft Excel (raw data)": "record_id",
# "redcap_repeat_instrument", "redcap_repeat_instance", then the variables, "<instrument>_complete" per form;
# double data entry (REDCap Double Data Entry module): entry persons' records are "<id>--1" and "<id>--2", the
# merged record has the plain id. Choice fields hold their codes (dictionary: 1..n, yes/no 1/0).


def redcap_csv(path: Path, form) -> Path:

    cols = [
        "record_id",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        "studies_citation",
        "studies_design",
        "studies_complete",
        "arms_arm_id",
        "arms_label",
        "arms_intervention",
        "arms_randomised",
        "arms_complete",
        "dichotomous_arm_id",
        "dichotomous_outcome",
        "dichotomous_timepoint",
        "dichotomous_events",
        "dichotomous_total",
        "dichotomous_complete",
        "studies_funding_source_old",
    ]
    design_code = dict((v, c) for c, v in redcap_choices(form.table("studies").fields["design"]))
    rows = []
    for record, planted in (("T1--1", True), ("T1--2", False), ("T1", False)):
        v = _their_values(planted)
        rows.append(
            {
                "record_id": record,
                "studies_citation": STUDY["citation"],
                "studies_design": design_code["randomised controlled"],
                "studies_complete": "2",
                "studies_funding_source_old": "x",
            }
        )
        for i, arm in enumerate(("low", "high"), start=1):
            rows.append(
                {
                    "record_id": record,
                    "redcap_repeat_instrument": "arms",
                    "redcap_repeat_instance": str(i),
                    "arms_arm_id": arm,
                    "arms_label": f"{arm.capitalize()} dose",
                    "arms_intervention": "drug",
                    "arms_randomised": v[f"{arm}_n"],
                    "arms_complete": "2",
                }
            )
            rows.append(
                {
                    "record_id": record,
                    "redcap_repeat_instrument": "dichotomous",
                    "redcap_repeat_instance": str(i),
                    "dichotomous_arm_id": arm,
                    "dichotomous_outcome": "objective response",
                    "dichotomous_timepoint": "primary",
                    "dichotomous_events": v[f"{arm}_events"],
                    "dichotomous_total": v[f"{arm}_total"],
                    "dichotomous_complete": "2",
                }
            )
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=cols)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_redcap_double_entry_imports_without_a_map(form, tmp_path, workbook_b):
    source = redcap_csv(tmp_path / "records.csv", form)
    result = import_export("redcap", source, form)  # the dictionary's names and codes: no map needed
    assert [r.reviewer for r in result.reviewers] == ["entry 1", "entry 2", "merged"]
    assert list(result.unmapped["column"]) == ["studies_funding_source_old"]
    write_import(result, tmp_path / "imported")
    b = read_workbook(workbook_b, form)
    entry1 = read_extraction(tmp_path / "imported" / "entry_1", form)
    assert entry1["studies"]["design"].iloc[0] == "randomised controlled"  # code 1 decoded
    assert _found(compare([entry1, b])) == PLANTED
    assert _found(compare([read_extraction(tmp_path / "imported" / "entry_2", form), b])) == {}
    assert _found(compare([read_extraction(tmp_path / "imported" / "merged", form), b])) == {}


def test_redcap_dictionary_round_trip_names(form):
    # the importer's default map reads exactly the variables the dictionary defines
    from review.dictionary import redcap_dictionary

    names = {r["Variable / Field Name"] for r in redcap_dictionary(form)}
    assert {"record_id", "arms_randomised", "dichotomous_events", "studies_design"} <= names
    assert "arms_study_id" not in names  # the record id is the study
