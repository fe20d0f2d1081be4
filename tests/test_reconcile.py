"""Adjudication and consensus: the discrepancy workbook, decisions read back, stale and open decisions, and the
round trip A + B + decisions -> consensus whose every value traces back to its inputs."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
from conftest import ROOT, complete_study, edited, write
from openpyxl import load_workbook
from typer.testing import CliRunner

from review.cli import app
from review.compare import ROW, compare
from review.errors import ReviewError, UnreadableInput
from review.reconcile import (
    SHEET,
    ConsensusBlocked,
    read_decisions,
    reconcile,
    write_consensus,
    write_discrepancies,
)
from review.validate import validate
from review.workbook import read_csv_folder, read_workbook


def extraction(form, path, data=None, reviewer=""):
    return read_workbook(write(form, path, data, reviewer=reviewer), form)


def b_data(randomised=101, funding="Novartis", drop_not_evaluable=True) -> dict[str, pd.DataFrame]:
    """Reviewer B's version of the complete study: another arm size, a funding source A has as NR, a missing
    response row, and a title with a formula-like text."""
    data = complete_study()
    arms = data["arms"].astype(object)
    arms.at[0, "randomised"] = randomised
    data["arms"] = arms
    studies = data["studies"].astype(object)
    studies.at[0, "funding"] = funding
    studies.at[0, "comment"] = '=HYPERLINK("http://x")'
    data["studies"] = studies
    if drop_not_evaluable:
        data["response"] = data["response"].iloc[:-1]
    return data


@pytest.fixture
def two(form, tmp_path):
    a = extraction(form, tmp_path / "a.xlsx", reviewer="Ann")
    b = extraction(form, tmp_path / "b.xlsx", b_data(), reviewer="Ben")
    return a, b


def decide(path, out, decisions: dict[str, dict[str, object]]):
    """Fill in the Discrepancies sheet as an adjudicator would: {discrepancy id: {column header: value}}."""
    wb = load_workbook(path)
    ws = wb[SHEET]
    headers = {c.value: c.column for c in ws[1]}
    for row in range(2, ws.max_row + 1):
        for header, value in decisions.get(ws.cell(row, headers["ID"]).value, {}).items():
            ws.cell(row, headers[header]).value = value
    wb.save(out)
    return out


def by(choice, other=None, reason="checked the report"):
    return {
        "Decision": choice,
        "Other value": other,
        "Adjudicator": "Cleo",
        "Date": "2024-05-02",
        "Reason": reason,
    }


def ids(comparison):
    return {(u.table, u.field): u.id for u in comparison.disagreements}


def test_discrepancy_workbook_layout(form, tmp_path, two):
    comparison = compare(two)
    path = write_discrepancies(comparison, tmp_path / "d.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == ["README", "Discrepancies", "Agreement", "_review"]
    assert wb["_review"].sheet_state == "hidden"
    ws = wb[SHEET]
    headers = [c.value for c in ws[1]]
    assert headers[:7] == ["ID", "Table", "Row", "Field", "Type", "A value", "B value"]
    assert headers.index("Decision") < headers.index("A where")
    rows = {ws.cell(r, 4).value: [c.value for c in ws[r]] for r in range(2, ws.max_row + 1)}
    assert set(rows) == {"randomised", "funding", ROW}
    randomised = dict(zip(headers, rows["randomised"], strict=False))
    assert (randomised["Type"], randomised["A value"], randomised["B value"]) == ("numeric", "100", "101")
    assert randomised["A where"] == f"{tmp_path / 'a.xlsx'}:Arms!H2"
    assert all(
        ws.cell(r, c).data_type == "s"
        for r in range(2, ws.max_row + 1)
        for c in range(1, len(headers))
        if ws.cell(r, c).value is not None
    )  # text stays text: nothing becomes a formula
    validations = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    decision = validations[
        f"{chr(ord('A') + headers.index('Decision'))}2:{chr(ord('A') + headers.index('Decision'))}4"
    ]
    assert decision.type == "list" and decision.formula1 == '"A,B,other"'
    assert ws.column_dimensions[chr(ord("A") + headers.index("Key"))].hidden
    agreement = pd.read_excel(path, sheet_name="Agreement", engine="calamine")
    assert agreement.query("table.isna()")["pair"].tolist() == ["A-B"]


def test_undecided_disagreements_block_the_consensus(form, tmp_path, two):
    comparison = compare(two)
    path = write_discrepancies(comparison, tmp_path / "d.xlsx")
    d = ids(comparison)
    decide(path, path, {d[("arms", "randomised")]: by("A")})
    with pytest.raises(ConsensusBlocked) as blocked:
        reconcile(two, read_decisions(path))
    assert [u.id for u in blocked.value.open] == [d[("studies", "funding")], d[("response", ROW)]]
    assert "2 undecided (D1 studies T1 funding, D3 response T1 | low | primary | not evaluable (row))" in str(
        blocked.value
    )
    assert blocked.value.exit_code == 1


def test_round_trip_values_trace_back_to_their_inputs(form, tmp_path, two):
    comparison = compare(two)
    path = write_discrepancies(comparison, tmp_path / "d.xlsx")
    d = ids(comparison)
    decide(
        path,
        path,
        {
            d[("arms", "randomised")]: by("B", reason="registry flow"),
            d[("studies", "funding")]: by("other", "NA", reason="industry funding not applicable?"),
            d[("response", ROW)]: by("A"),
        },
    )
    consensus = reconcile(two, read_decisions(path))
    arms = consensus["arms"].set_index("arm_id")
    assert arms.loc["low", "randomised"] == 101 and arms.loc["high", "randomised"] == 100
    assert consensus["studies"].at[0, "funding"] == "NA"
    assert len(consensus["response"]) == 5  # the row only A has, kept by decision A
    # annotations of both reviewers are kept, each with its letter when they differ
    assert consensus["studies"].at[0, "comment"] == 'B: =HYPERLINK("http://x")'
    trail = consensus.trail.set_index(["table", "field"])
    randomised = trail.loc[("arms", "randomised")].set_index("arm_id").loc["low"]
    assert (
        randomised["value"],
        randomised["basis"],
        randomised["decision"],
        randomised["adjudicator"],
        randomised["decided_on"],
        randomised["reason"],
    ) == ("101", "decided", "B", "Cleo", "2024-05-02", "registry flow")
    assert (randomised["A_value"], randomised["B_value"]) == ("100", "101")
    assert randomised["B_where"] == f"{tmp_path / 'b.xlsx'}:Arms!H2"
    # every consensus value is in the trail, and each agreed one is what a reviewer typed at the cell named
    for name, frame in consensus.tables.items():
        table = form.tables[name]
        compared = [
            f
            for f in table.fields
            if f not in table.key and f not in ("source", "location", "comment", "notes")
        ]
        for _, row in frame.iterrows():
            for f in compared:
                if row[f] is None:
                    continue
                rows = consensus.trail[(consensus.trail["table"] == name) & (consensus.trail["field"] == f)]
                for k in table.key:
                    rows = rows[rows[k] == str(row[k])]
                assert len(rows) == 1, (name, f)
                record = rows.iloc[0]
                if record["basis"] == "agreed":
                    assert record["A_value"] == record["value"]
    single = consensus.trail[(consensus.trail["basis"] == "single")]
    assert set(single["discrepancy"]) == {d[("response", ROW)]} and set(single["B_value"]) == {"(no row)"}


def test_consensus_folder_is_a_valid_extraction_and_byte_identical(form, tmp_path, two):
    comparison = compare(two)
    path = write_discrepancies(comparison, tmp_path / "d.xlsx")
    decide(path, path, {u.id: by("A") for u in comparison.disagreements})
    before = {p.name: p.read_bytes() for p in (tmp_path / "a.xlsx", tmp_path / "b.xlsx", path)}
    first = write_consensus(reconcile(two, read_decisions(path)), tmp_path / "one")
    second = write_consensus(reconcile(two, read_decisions(path)), tmp_path / "two")
    assert [p.name for p in first] == [*(f"{t}.csv" for t in form.tables), "trail.csv", "manifest.json"]
    assert all(p.read_bytes() == q.read_bytes() for p, q in zip(first, second, strict=False))
    assert {p.name: p.read_bytes() for p in (tmp_path / "a.xlsx", tmp_path / "b.xlsx", path)} == before
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text(encoding="utf-8"))
    assert [(i["letter"], i["reviewer"], i["sha256"]) for i in manifest["inputs"]] == [
        ("A", "Ann", hashlib.sha256(before["a.xlsx"]).hexdigest()),
        ("B", "Ben", hashlib.sha256(before["b.xlsx"]).hexdigest()),
    ]
    assert manifest["decisions"]["sha256"] == hashlib.sha256(before["d.xlsx"]).hexdigest()
    assert (
        manifest["files"]["arms.csv"]["sha256"]
        == hashlib.sha256((tmp_path / "one" / "arms.csv").read_bytes()).hexdigest()
    )
    assert manifest["values"]["decided"] == 2 and manifest["files"]["response.csv"]["rows"] == 5
    consensus = read_csv_folder(tmp_path / "one", form)
    assert validate(consensus).ok
    assert consensus["response"]["percent"].tolist() == [0, 50, 30.6, 15.3, 4.1]
    assert (
        (tmp_path / "one" / "arms.csv")
        .read_text(encoding="utf-8")
        .splitlines()[1]
        .startswith("T1,low,Low dose,drug,400,mg,once daily,100,99,98,99,FALSE,")
    )


def test_changed_input_makes_its_decisions_stale(form, tmp_path, two):
    a, _ = two
    comparison = compare(two)
    path = write_discrepancies(comparison, tmp_path / "d.xlsx")
    d = ids(comparison)
    decide(path, path, {u.id: by("B") for u in comparison.disagreements})
    # B corrects the arm size after adjudication: the decision on it was made on 101 and is stale now
    b = extraction(form, tmp_path / "b.xlsx", b_data(randomised=102), reviewer="Ben")
    with pytest.raises(ConsensusBlocked) as blocked:
        reconcile([a, b], read_decisions(path))
    assert [(u.id, why) for u, why in blocked.value.stale] == [
        (d[("arms", "randomised")], "B was 101, now 102")
    ]
    assert blocked.value.open == [] and "1 stale (D2 arms T1 | low randomised: B was 101, now 102)" in str(
        blocked.value
    )
    # carried over into a new discrepancy workbook: still-valid decisions kept, the stale one to decide again
    again = write_discrepancies(compare([a, b]), tmp_path / "d2.xlsx", previous=read_decisions(path))
    ws = load_workbook(again)[SHEET]
    headers = {c.value: c.column - 1 for c in ws[1]}
    rows = {r[headers["Field"]].value: r for r in ws.iter_rows(min_row=2)}
    assert rows["randomised"][headers["Decision"]].value is None
    assert rows["randomised"][headers["Status"]].value.startswith(
        "STALE (B was 101, now 102); earlier: B by Cleo"
    )
    assert rows["funding"][headers["Decision"]].value == "B"
    assert rows["funding"][headers["Status"]].value == "carried over from d.xlsx"


def test_changed_input_with_unchanged_values_is_noted(form, tmp_path, two):
    a, _ = two
    comparison = compare(two)
    path = write_discrepancies(comparison, tmp_path / "d.xlsx")
    decide(path, path, {u.id: by("A") for u in comparison.disagreements})
    data = b_data()
    data["arms"]["comment"] = [None, "checked again"]
    b = extraction(form, tmp_path / "b.xlsx", data, reviewer="Ben")
    consensus = reconcile([a, b], read_decisions(path))
    assert consensus.notes == [
        (
            "B changed since the discrepancies were written; every decision still matches "
            "the values it was made on"
        )
    ]


def test_dropping_a_row_by_decision(form, tmp_path, two):
    comparison = compare(two)
    path = write_discrepancies(comparison, tmp_path / "d.xlsx")
    decide(path, path, {u.id: by("B") for u in comparison.disagreements})
    consensus = reconcile(two, read_decisions(path))
    assert consensus["response"]["category"].tolist() == [
        "complete response",
        "partial response",
        "stable disease",
        "progressive disease",
    ]
    dropped = consensus.trail[(consensus.trail["field"] == ROW)].iloc[0]
    assert (dropped["value"], dropped["decision"], dropped["category"]) == ("dropped", "B", "not evaluable")


@pytest.mark.parametrize(
    "decision, message",
    [
        (by("C"), r"Discrepancies!\w+2: decision 'C' is not one of A, B, other"),
        (by("other"), r"'other' needs the value in Other value"),
        (by("A", 7), r"decision A and an Other value too"),
        ({**by("A"), "Date": "03/04/2024"}, r"'03/04/2024' is not a date; type YYYY-MM-DD"),
    ],
)
def test_unusable_decisions_name_their_cell(form, tmp_path, two, decision, message):
    comparison = compare(two)
    path = write_discrepancies(comparison, tmp_path / "d.xlsx")
    decide(path, path, {"D1": decision})
    with pytest.raises(ReviewError, match=message):
        read_decisions(path)


def test_other_value_must_fit_the_field(form, tmp_path, two):
    comparison = compare(two)
    path = write_discrepancies(comparison, tmp_path / "d.xlsx")
    decide(
        path,
        path,
        {u.id: by("A") for u in comparison.disagreements}
        | {ids(comparison)[("arms", "randomised")]: by("other", "about 100")},
    )
    with pytest.raises(
        ReviewError, match=r"Discrepancies!\w+3: Other value 'about 100' is not a valid integer"
    ):
        reconcile(two, read_decisions(path))


def test_a_value_typed_without_picking_other_means_other(form, tmp_path, two):
    comparison = compare(two)
    path = write_discrepancies(comparison, tmp_path / "d.xlsx")
    decide(
        path,
        path,
        {u.id: by("A") for u in comparison.disagreements}
        | {ids(comparison)[("arms", "randomised")]: {"Decision": None, "Other value": 99}},
    )
    consensus = reconcile(two, read_decisions(path))
    assert consensus["arms"].at[0, "randomised"] == 99


def test_inputs_must_be_those_compared(form, tmp_path, two):
    a, b = two
    path = write_discrepancies(compare(two), tmp_path / "d.xlsx")
    with pytest.raises(
        ReviewError, match=r"was made from A = a.xlsx \(Ann\), B = b.xlsx \(Ben\); give the same"
    ):
        reconcile([b, a], read_decisions(path))


def test_a_reviewer_workbook_is_not_a_decisions_file(form, tmp_path, two):
    with pytest.raises(UnreadableInput, match=r"b.xlsx: is not a discrepancy workbook"):
        read_decisions(tmp_path / "b.xlsx")


def test_outputs_never_overwrite_inputs(form, tmp_path, two):
    comparison = compare(two)
    with pytest.raises(ReviewError, match="is one of the extractions"):
        write_discrepancies(comparison, tmp_path / "a.xlsx")


def test_the_example_review_reconciles(form, tmp_path):
    """data/gist_imatinib: two reviewers of the same studies, where the sources disagree each took another
    source; the adjudication file decides every disagreement, with reasons."""
    folder = ROOT / "data" / "gist_imatinib"
    extractions = [read_workbook(folder / f"reviewer_{x}.xlsx", form) for x in "ab"]
    comparison = compare(extractions)
    found = {
        (u.table, u.row, u.field): (u.type, *(e.shown for e in u.entries)) for u in comparison.disagreements
    }
    assert found[("studies", "B2222", "randomised_total")] == ("numeric", "147", "148")  # S3 vs S5
    assert found[("arms", "B2222 | 400mg", "randomised")] == ("numeric", "73", "74")  # S3 vs S4
    assert found[("studies", "B2222", "centres")] == ("omission", "NR", "5")  # S6 site list
    decisions = read_decisions(folder / "adjudication.xlsx")
    assert decisions.decided == len(decisions) == len(comparison)
    assert {d.adjudicator for d in decisions.items.values()} == {"Adjudicator C"}
    assert all(d.reason and d.date for d in decisions.items.values())
    consensus = reconcile(extractions, decisions)
    assert consensus.notes == []
    arms = consensus["arms"].set_index(["study_id", "arm_id"])
    assert (
        arms.loc[("B2222", "400mg"), "randomised"] == 73
        and consensus["studies"].at[0, "randomised_total"] == 147
    )
    response = consensus["response"].set_index(["study_id", "arm_id", "category"])
    assert (
        response.loc[("EORTC 62005", "400mg qd", "complete response"), "percent"] == 5
    )  # S17, fits S14's 52 CRs
    write_consensus(consensus, tmp_path / "consensus")
    assert validate(read_csv_folder(tmp_path / "consensus", form)).ok


# --- the commands ---------------------------------------------------------------------------------------------

EXAMPLE = [
    str(p)
    for p in (
        ROOT / "data" / "gist_imatinib" / "reviewer_a.xlsx",
        ROOT / "data" / "gist_imatinib" / "reviewer_b.xlsx",
    )
]
ADJUDICATION = str(ROOT / "data" / "gist_imatinib" / "adjudication.xlsx")
runner = CliRunner()


def test_cli_compare_shows_discrepancies_and_agreement(tmp_path):
    out = tmp_path / "d.xlsx"
    result = runner.invoke(app, ["compare", *EXAMPLE, "-o", str(out), "--by-field"])
    assert result.exit_code == 0, result.output
    assert "31 discrepancies" in result.output and "randomised_total" in result.output
    assert (
        "all tables" in result.output and "93.0%" in result.output and "0.97 (0.94 to 1.00)" in result.output
    )
    assert read_decisions(out).decided == 0 and len(read_decisions(out)) == 31
    carried = runner.invoke(
        app, ["compare", *EXAMPLE, "--decisions", ADJUDICATION, "-o", str(tmp_path / "e.xlsx")]
    )
    assert "31 decisions carried over from adjudication.xlsx, 0 stale" in carried.output


def test_cli_reconcile_blocks_then_writes(tmp_path):
    blank = tmp_path / "d.xlsx"
    runner.invoke(app, ["compare", *EXAMPLE, "-o", str(blank)])
    result = runner.invoke(app, ["reconcile", *EXAMPLE, str(blank), "-o", str(tmp_path / "c")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "undecided" in result.output and "31 undecided (D1 studies B2222 centres" in result.output
    assert not (tmp_path / "c").exists()
    result = runner.invoke(app, ["reconcile", *EXAMPLE, ADJUDICATION, "-o", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert "21 decided" in result.output and (tmp_path / "c" / "trail.csv").exists()


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["reconcile", *EXAMPLE, EXAMPLE[1], "-o", "c"], 2, "is not a discrepancy workbook"),
        (["reconcile", *EXAMPLE, "-o", "c"], 1, "two or more extractions and then the decisions"),
        (["compare", EXAMPLE[0], "missing.xlsx"], 2, "missing.xlsx: file not found"),
        (["compare", EXAMPLE[0], EXAMPLE[0]], 1, "the same file is given twice"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, args, code, message):
    result = runner.invoke(app, args)
    assert result.exit_code == code and message in result.output and "Traceback" not in result.output


def test_nothing_to_adjudicate_gives_the_agreed_values(form, tmp_path):
    a = extraction(form, tmp_path / "a.xlsx", reviewer="Ann")
    b = extraction(form, tmp_path / "b.xlsx", reviewer="Ben")
    path = write_discrepancies(compare([a, b]), tmp_path / "d.xlsx")
    decisions = read_decisions(path)
    assert len(decisions) == 0
    consensus = reconcile([a, b], decisions)
    assert set(consensus.trail["basis"]) == {"agreed"}
    assert consensus["arms"]["randomised"].tolist() == [100, 100]
    assert consensus["studies"].at[0, "funding"] == "NR" and consensus["survival"].at[0, "rate"] == "NA"


@pytest.mark.parametrize(
    "choices, source, location",
    [
        # B's value taken: the row cites B's source only, not A's, which states 100
        ({"randomised": "B", "treated": "B"}, "registry", "record"),
        ({"randomised": "A", "treated": "A"}, "main", "T1"),
        # each reviewer lost once: each source is cited with the fields taken from it
        ({"randomised": "A", "treated": "B"}, "A for randomised: main | B for treated: registry", None),
        ({"randomised": "other", "treated": "A"}, None, None),
    ],
)
def test_a_consensus_value_cites_the_source_of_the_value_chosen(form, tmp_path, choices, source, location):
    a = extraction(form, tmp_path / "a.xlsx", reviewer="Ann")
    b_arms = {"randomised": 101, "treated": 97, "source": "registry", "location": "record"}
    b = extraction(form, tmp_path / "b.xlsx", edited("arms", 0, **b_arms), reviewer="Ben")
    comparison = compare([a, b])
    path = write_discrepancies(comparison, tmp_path / "d.xlsx")
    d = {u.field: u.id for u in comparison.disagreements}
    assert set(d) == {"randomised", "treated"}
    decide(path, path, {d[f]: by(c, 102 if c == "other" else None) for f, c in choices.items()})
    consensus = reconcile([a, b], read_decisions(path))
    low = consensus["arms"].set_index("arm_id").loc["low"]
    high = consensus["arms"].set_index("arm_id").loc["high"]
    assert (high["source"], high["location"]) == ("main", "T1")  # agreed everywhere: unchanged
    if source is not None:
        assert low["source"] == source
    if location is not None:
        assert low["location"] == location
    if choices["randomised"] == "other":
        assert low["source"] == "A for treated: main | adjudicator for randomised: see the decision's reason"
    trail = consensus.trail[(consensus.trail["table"] == "arms") & (consensus.trail["arm_id"] == "low")]
    trail = trail.set_index("field")
    for f, c in choices.items():
        row = trail.loc[f]
        expected = {
            "A": ("A", "main", "T1"),
            "B": ("B", "registry", "record"),
            "other": ("adjudicator", "", ""),
        }
        assert (row["from"], row["source"], row["location"]) == expected[c]
        assert row["decision"] == c and row["reason"] == "checked the report"
    agreed = trail.loc["label"]
    assert (agreed["from"], agreed["source"], agreed["location"]) == (
        "A, B",
        "A: main | B: registry",
        "A: T1 | B: record",
    )


@pytest.mark.parametrize(("choice", "grade"), [("A", "3-4"), ("B", "3 or higher")])
def test_a_key_discrepancy_is_decided_like_a_value(form, tmp_path, choice, grade):
    a = extraction(form, tmp_path / "a.xlsx", reviewer="Ann")
    data = complete_study()
    data["adverse_events"] = data["adverse_events"].astype(object)
    data["adverse_events"].at[1, "grade"] = "3 or higher"
    b = extraction(form, tmp_path / "b.xlsx", data, reviewer="Ben")
    comparison = compare([a, b])
    (u,) = comparison.disagreements
    assert (u.field, u.type) == ("grade", "key")
    path = write_discrepancies(comparison, tmp_path / "d.xlsx")
    decide(path, path, {u.id: by(choice)})
    consensus = reconcile([a, b], read_decisions(path))
    assert consensus["adverse_events"]["grade"].tolist() == ["any", grade]
    trail = consensus.trail[consensus.trail["field"] == "grade"].iloc[0]
    assert (trail["value"], trail["type"], trail["decision"]) == (grade, "key", choice)


def test_one_decision_on_an_inverted_ratio_decides_its_ci_too(form, tmp_path):
    a = extraction(form, tmp_path / "a.xlsx", reviewer="Ann")
    data = complete_study()
    data["hazard_ratios"] = data["hazard_ratios"].astype(object)
    data["hazard_ratios"].loc[0, ["hr", "ci_low", "ci_high"]] = [1.22, 1.06, 1.41]
    b = extraction(form, tmp_path / "b.xlsx", data, reviewer="Ben")
    comparison = compare([a, b])
    assert len(comparison) == 1 and {u.id for u in comparison.disagreements} == {"D1"}
    path = write_discrepancies(comparison, tmp_path / "d.xlsx")
    decide(path, path, {"D1": by("A", reason="the report gives high versus low")})
    consensus = reconcile([a, b], read_decisions(path))
    assert consensus["hazard_ratios"][["hr", "ci_low", "ci_high"]].values.tolist() == [[0.82, 0.71, 0.94]]
    trail = consensus.trail[consensus.trail["field"].isin(["hr", "ci_low", "ci_high"])]
    assert set(trail["type"]) == {"inverted"} and set(trail["discrepancy"]) == {"D1"}
