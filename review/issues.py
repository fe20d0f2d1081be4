"""Validation issues: the record, the report, and the one catalogue of issue codes.

Every problem the toolkit finds in a reviewer's data is an `Issue` with a stable kebab-case `code` from `CODES`
and the place to fix it (file, sheet, A1 cell). Tests and users rely on codes, not on message wording.
`review rules` prints the catalogue; docs/validation-rules.md is generated from it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field

import pandas as pd

from .words import counted

FATAL, ERROR, WARNING = "fatal", "error", "warning"
SEVERITY_ORDER = {FATAL: 0, ERROR: 1, WARNING: 2}


@dataclass(frozen=True)
class Code:
    code: str
    severity: str
    title: str
    fix: str
    stage: str  # reading, field, table or rule


_CODES = [
    # Files that cannot be read at all (exit code 2).
    Code(
        "unreadable-file",
        FATAL,
        "The file is not a readable .xlsx workbook (or CSV folder).",
        "Save it as .xlsx from Excel or LibreOffice; remove any password.",
        "reading",
    ),
    Code(
        "missing-sheet",
        FATAL,
        "A sheet the form needs is missing from the workbook.",
        "Regenerate the workbook with `review workbook FORM -o OUT.xlsx` and copy the data over, or add the sheet.",
        "reading",
    ),
    Code(
        "missing-column",
        FATAL,
        "A sheet lacks a column the form defines.",
        "Regenerate the workbook with `review workbook`, or add the column with the header shown.",
        "reading",
    ),
    # What reviewers type: accepted with a warning when the meaning is clear, refused when ambiguous.
    Code(
        "unknown-column",
        WARNING,
        "A column header matches no field of the form; its values are ignored.",
        "Rename the header to the field's label, or move the content to Comment.",
        "reading",
    ),
    Code(
        "form-version-mismatch",
        WARNING,
        "The workbook was made from another version of the form.",
        "Validate with the form version the workbook was made from, or regenerate the workbook.",
        "reading",
    ),
    Code(
        "number-as-text",
        WARNING,
        "A number was stored as text; it was read as the number.",
        "Re-type the cell as a number.",
        "reading",
    ),
    Code(
        "count-prefix",
        WARNING,
        "A count was typed with a prefix such as 'n=' and read as the number.",
        "Type the number alone.",
        "reading",
    ),
    Code(
        "thousands-separator",
        WARNING,
        "A number with thousands separators was read without them.",
        "Type the number without separators.",
        "reading",
    ),
    Code(
        "percent-sign",
        WARNING,
        "A percentage was typed with a % sign and read as the number of percent.",
        "Type the number of percent alone, e.g. 49.3.",
        "reading",
    ),
    Code(
        "extra-spaces",
        WARNING,
        "Leading, trailing or doubled spaces were removed.",
        "Remove the spaces.",
        "reading",
    ),
    Code(
        "missing-code-variant",
        WARNING,
        "A variant of NR or NA (e.g. 'n/r', 'not reported') was read as the code.",
        "Type NR or NA exactly.",
        "reading",
    ),
    Code(
        "vocabulary-case",
        WARNING,
        "A category matched an allowed value only when ignoring case or spacing.",
        "Pick the value from the dropdown.",
        "reading",
    ),
    Code(
        "date-serial",
        WARNING,
        "A date was typed as an Excel serial number and converted.",
        "Type the date as YYYY-MM-DD (or YYYY-MM when the report gives only the month).",
        "reading",
    ),
    Code(
        "date-as-text",
        WARNING,
        "A date typed as text was read unambiguously.",
        "Type the date as YYYY-MM-DD (or YYYY-MM).",
        "reading",
    ),
    # Cells the reader cannot carry over faithfully: each an issue at its cell, never a silent loss.
    Code(
        "duplicate-column",
        ERROR,
        "Two columns stand for the same field; only the first is read, so the second's values would be lost.",
        "Keep one column: move any values into it and delete the other.",
        "reading",
    ),
    Code(
        "merged-cells",
        ERROR,
        "Cells are merged; only the first holds the value and the others read as empty.",
        "Unmerge the cells (Excel: Home > Merge & Center > Unmerge; LibreOffice: Format > Merge and Unmerge "
        "Cells) and type the value in every cell it belongs to.",
        "reading",
    ),
    Code(
        "error-value",
        ERROR,
        "The cell holds a spreadsheet error (#DIV/0!, #N/A, #VALUE!, #REF!...), not a value.",
        "Type the value the report gives (or NR); put any calculation in Comment.",
        "reading",
    ),
    Code(
        "formula-without-value",
        ERROR,
        "The cell holds a formula with no saved result (the file was written by a program that does not "
        "calculate), so it has no value to read.",
        "Type the value itself; or open the workbook in Excel or LibreOffice, recalculate and save it.",
        "reading",
    ),
    Code(
        "text-too-long",
        ERROR,
        "The text is longer than the 32,767 characters a spreadsheet cell holds; Excel and LibreOffice cut it "
        "short.",
        "Shorten it to the facts needed; cite the report's location for the rest.",
        "reading",
    ),
    Code(
        "number-too-large",
        ERROR,
        "A whole number beyond 2^53 (9,007,199,254,740,992): no spreadsheet or CSV reader stores it exactly.",
        "Check the value against the report; type the count it gives.",
        "reading",
    ),
    Code(
        "percent-format",
        WARNING,
        "A cell formatted as a percentage (stored as 0.151, shown as 15.1%) was read as the percentage shown.",
        "Nothing, if the value shown is right; or type the number of percent in a cell without % format.",
        "reading",
    ),
    Code(
        "formula-cell",
        WARNING,
        "A cell holds a formula; its saved result was used and the formula never run.",
        "Type the value itself; put any calculation in Comment.",
        "reading",
    ),
    Code(
        "not-a-number",
        ERROR,
        "A numeric field holds text that is not a number.",
        "Type the number, or NR if the report does not give it, or NA if it does not apply.",
        "reading",
    ),
    Code(
        "ambiguous-number",
        ERROR,
        "The value could mean more than one number (a range, '<5', '~50', '1,5').",
        "Type the single number the report gives and explain in Comment; NR if none.",
        "reading",
    ),
    Code(
        "not-a-whole-number",
        ERROR,
        "A count has decimals.",
        "Type a whole number of patients; if the report gives a percentage, use the Percent column.",
        "reading",
    ),
    Code(
        "not-a-date",
        ERROR,
        "A date field holds text that is not a date.",
        "Type the date as YYYY-MM-DD, YYYY-MM or YYYY.",
        "reading",
    ),
    Code(
        "ambiguous-date",
        ERROR,
        "A date such as 03/04/2002 could be day/month or month/day.",
        "Type the date as YYYY-MM-DD.",
        "reading",
    ),
    Code(
        "not-a-boolean",
        ERROR,
        "A yes/no field holds something other than TRUE/FALSE (or yes/no).",
        "Type TRUE or FALSE, or NR/NA.",
        "reading",
    ),
    Code(
        "not-in-vocabulary",
        ERROR,
        "A category field holds a value outside its allowed values.",
        "Pick a value from the dropdown; if none fits, use the closest and explain in Comment.",
        "field",
    ),
    # Field checks, generated from the form as pandera schemas.
    Code(
        "required-empty",
        ERROR,
        "A required cell is empty.",
        "Extract the value, or type NR (not reported) or NA (not applicable).",
        "field",
    ),
    Code(
        "missing-code-in-key",
        ERROR,
        "NR or NA was typed in an identifying (key) column.",
        "Key columns identify the row and must be filled in.",
        "field",
    ),
    Code(
        "out-of-range",
        ERROR,
        "A number is outside the field's allowed minimum and maximum.",
        "Check the value against the report.",
        "field",
    ),
    Code(
        "percent-looks-like-fraction",
        WARNING,
        "A percentage between 0 and 1 looks like a fraction.",
        "If the report says 49.3%, type 49.3, not 0.493.",
        "field",
    ),
    Code(
        "doi-format",
        ERROR,
        "A DOI does not look like 10.NNNN/suffix.",
        "Copy the DOI without 'https://doi.org/' or 'doi:'.",
        "field",
    ),
    Code("pmid-format", ERROR, "A PMID is not 1 to 8 digits.", "Type the digits only.", "field"),
    Code(
        "nct-format",
        ERROR,
        "A registration id is not NCT followed by 8 digits.",
        "Copy the id from ClinicalTrials.gov; put other registries' ids in Notes.",
        "field",
    ),
    Code("year-implausible", ERROR, "A year is before 1900 or after next year.", "Check the year.", "field"),
    Code(
        "zero-without-location",
        ERROR,
        "A zero count has no source location.",
        "A zero must say where the report states it (Location); if the report is silent, type NR.",
        "field",
    ),
    Code(
        "not-extracted",
        WARNING,
        "A number is left empty (not yet extracted) in a row that holds other values.",
        "Type the value, or NR if the report does not give it, or NA if it does not apply.",
        "field",
    ),
    Code(
        "zero-not-stated",
        WARNING,
        "A zero whose Location and Comment do not say the report states it (no 'no', 'none', 0...).",
        "Quote the report's words for the zero in Comment; if the report is silent, type NR instead of 0.",
        "field",
    ),
    # Table checks.
    Code(
        "duplicate-key",
        ERROR,
        "Two rows have the same key (e.g. the same study and arm twice).",
        "Merge the rows or correct the id.",
        "table",
    ),
    Code(
        "unknown-reference",
        ERROR,
        "An id refers to a row that does not exist (e.g. an arm not on Arms).",
        "Add the referenced row, or correct the id to one that exists.",
        "table",
    ),
    # Named rules, applied where the form says (see RULE_KINDS).
    Code(
        "sum-mismatch",
        ERROR,
        "Parts do not add up to their stated whole (e.g. arm sizes vs study total).",
        "Check both numbers against the report; note a real discrepancy in Comment.",
        "rule",
    ),
    Code(
        "count-exceeds-total",
        ERROR,
        "A count is larger than its total (e.g. events > patients at risk).",
        "Check both numbers; a swapped pair of columns is common.",
        "rule",
    ),
    Code(
        "categories-sum-mismatch",
        WARNING,
        "Response categories of an arm do not add up to its evaluable count; the difference is shown.",
        "Check for a missing category (often not evaluable) or a wrong denominator.",
        "rule",
    ),
    Code(
        "categories-exceed-denominator",
        ERROR,
        "Categories of one group add up to more than their denominator (or their percentages to more than 100 "
        "beyond rounding), whatever categories are NR.",
        "Check each category's count or percentage and the denominator; one is usually another arm's or mistyped.",
        "rule",
    ),
    Code(
        "percent-mismatch",
        ERROR,
        "A reported percentage disagrees with count/total beyond its rounding.",
        "Check the count, the total and the percentage against the report.",
        "rule",
    ),
    Code(
        "percent-no-whole-count",
        WARNING,
        "No whole number of patients out of the denominator gives the percentage.",
        "Check the denominator the report's percentages refer to.",
        "rule",
    ),
    Code(
        "percent-without-denominator",
        ERROR,
        "A percentage was typed without its denominator.",
        "Type the number of patients the percentage refers to.",
        "rule",
    ),
    Code(
        "grade-exceeds-any",
        ERROR,
        "A grade band has more patients than the any-grade row of the same term and arm.",
        "Check both rows against the report.",
        "rule",
    ),
    Code(
        "ci-excludes-estimate",
        ERROR,
        "A confidence interval is reversed or does not contain its estimate.",
        "Check the estimate and both limits; a transposed digit is common.",
        "rule",
    ),
    Code(
        "interval-incomplete",
        WARNING,
        "One end of an interval (a CI, the quartiles, the range) is typed and the other left empty.",
        "Type the other end from the report, or NR where the report gives only one.",
        "rule",
    ),
    Code(
        "spread-excludes-value",
        ERROR,
        "A spread is reversed or does not hold its value (quartiles around a median, quartiles within the range).",
        "Check the values and their columns against the report; a swapped pair is common.",
        "rule",
    ),
    Code(
        "not-positive",
        ERROR,
        "A ratio (e.g. a hazard ratio) is zero or negative.",
        "Ratios are positive; check whether a log value or a difference was typed.",
        "rule",
    ),
    Code("dates-out-of-order", ERROR, "An end date is before its start date.", "Check both dates.", "rule"),
    Code(
        "same-arm-twice",
        ERROR,
        "A comparison names the same arm on both sides.",
        "Pick the experimental and the control arm.",
        "rule",
    ),
    # Consistency across arms, tables and fields (review/consistency.py).
    Code(
        "sibling-value-missing",
        WARNING,
        "A value given as a number on one arm of a study is NR or empty on a sibling arm of the same row.",
        "Look for the sibling arm's value in the report (same table or figure); type NR only if it is not there.",
        "rule",
    ),
    Code(
        "sibling-row-missing",
        WARNING,
        "One arm of a study has a row (outcome, category, timepoint...) that a sibling arm lacks.",
        "Add the sibling arm's row from the report, with NR where the report gives no number.",
        "rule",
    ),
    Code(
        "unit-differs-between-arms",
        WARNING,
        "The arms of one study give the same quantity in different units (months and weeks, mg and g).",
        "Check the unit each arm's value is reported in; a mis-picked unit is common.",
        "rule",
    ),
    Code(
        "rates-over-time",
        WARNING,
        "Landmark rates of one arm and outcome rise with time, or sit on the wrong side of 50% for its median.",
        "Check the rates, their timepoints and the median against the report (and the time units).",
        "rule",
    ),
    Code(
        "denominator-differs",
        WARNING,
        "Rows of one arm and timepoint use different denominators (in one table or two), or one lacks it.",
        "Check the odd denominator against the report; it is often a neighbouring arm's or the study's.",
        "rule",
    ),
    Code(
        "exceeds-arm-total",
        WARNING,
        "A count or denominator is larger than its arm's randomised (or treated) number.",
        "Check both against the report; a registry and a paper may count differently, say so in Comment.",
        "rule",
    ),
    Code(
        "comparison-label-reversed",
        ERROR,
        "The comparison's label names the control arm first: experimental and control look swapped.",
        "Make Experimental arm the arm named first in the comparison (or correct the label).",
        "rule",
    ),
    Code(
        "ratio-against-medians",
        WARNING,
        "A hazard ratio favours one arm while the two arms' medians favour the other.",
        "Check whether the report gives control versus experimental (invert the HR and its CI) or the arms are swapped.",
        "rule",
    ),
    Code(
        "dispersion-contradicts-ci",
        WARNING,
        "An SD or SE and the CI of the mean on its row imply SDs more than a factor of 2 apart (often an SE typed "
        "as the SD).",
        "Check which the report gives (SE = SD / sqrt(n)) and its column; keep what the report states.",
        "rule",
    ),
]
CODES: dict[str, Code] = {c.code: c for c in _CODES}


@dataclass(frozen=True)
class RuleKind:
    """A rule a form can apply to its own fields: which code it reports and which fields it takes."""

    name: str
    summary: str
    params: dict[str, str]
    optional: dict[str, str] = field(default_factory=dict)

    @property
    def code(self) -> Code:
        return CODES[self.name]


# Codes that say a cell is empty: not said at a cell whose typed value could not be read (its error says why).
SAYS_EMPTY = frozenset({"not-extracted", "sibling-value-missing", "interval-incomplete"})

RULE_KINDS: dict[str, RuleKind] = {
    r.name: r
    for r in [
        RuleKind(
            "sum-mismatch",
            "The parts in `table` add up to `whole` (a field of the table they belong to).",
            {"part": "the field summed", "whole": "table.field holding the stated total"},
            {"unless": "a boolean field; rows where it is TRUE are left out of the sum"},
        ),
        RuleKind(
            "count-exceeds-total",
            "`count` <= `total` on each row.",
            {"count": "the count field", "total": "the total field"},
        ),
        RuleKind(
            "categories-sum-mismatch",
            "Categories of a group add up to its `whole`; a warning shows the gap. With or without a whole, they "
            "add up to at most their own `denominator` (`categories-exceed-denominator`).",
            {
                "category": "the category field",
                "count": "the count field",
                "whole": "table.field holding the group's total",
            },
            {
                "percent": "percentage field used when the count is empty",
                "denominator": "denominator of the percentage",
            },
        ),
        RuleKind(
            "percent-mismatch",
            "A reported `percent` equals 100 x `count` / `total` within its rounding.",
            {"count": "the count field", "total": "the total field", "percent": "the percentage field"},
        ),
        RuleKind(
            "grade-exceeds-any",
            "Each grade band's `count` <= the 'any' band's for the same term and arm.",
            {"grade": "the grade band field (with an 'any' value)", "count": "the count field"},
        ),
        RuleKind(
            "ci-excludes-estimate",
            "`low` < `high` and `low` <= `estimate` <= `high`.",
            {"estimate": "the point estimate", "low": "lower limit", "high": "upper limit"},
        ),
        RuleKind(
            "spread-excludes-value",
            "`low` <= `estimate` <= `high`, the ends possibly equal: quartiles or a range around a median.",
            {"estimate": "the value inside", "low": "lower end", "high": "upper end"},
        ),
        RuleKind("not-positive", "`value` > 0.", {"value": "the field that must be positive"}),
        RuleKind("dates-out-of-order", "`start` <= `end`.", {"start": "start date", "end": "end date"}),
        RuleKind(
            "same-arm-twice", "`first` and `second` differ.", {"first": "a field", "second": "another field"}
        ),
        RuleKind(
            "sibling-value-missing",
            "Sibling arms of a study have the same rows, with a number or NR on both (also reports "
            "`sibling-row-missing`).",
            {"arm": "the arm field of the table's key"},
            {"unless": "table.field, a boolean of the arms table: arms pooling others are left out"},
        ),
        RuleKind(
            "unit-differs-between-arms",
            "Rows that differ only in their arm give `unit` the same value.",
            {"arm": "the arm field of the table's key", "unit": "the unit field"},
        ),
        RuleKind(
            "rates-over-time",
            "Rows differing only in `timepoint` ('1 year', '36 months') have `rate`s that do not rise with "
            "time, and above 50% before the `median`, below it after.",
            {"rate": "the rate field (percent)", "timepoint": "the key field holding the time"},
            {"median": "the median field", "unit": "the median's time unit field"},
        ),
        RuleKind(
            "denominator-differs",
            "Rows that differ only in `across` share one `denominator`, with the rows of another table that "
            "share their key fields (`with`); a row with a count but no denominator where the others give one.",
            {
                "denominator": "the denominator field",
                "across": "the key field that varies (category, outcome)",
            },
            {"with": "table.field: the denominator of another table with the same arm and timepoint"},
        ),
        RuleKind(
            "exceeds-arm-total",
            "`count` <= the arm's `whole` (or `also`, whichever is larger), joined on the arm's key.",
            {
                "count": "the count or denominator field",
                "whole": "table.field of the arm's size (randomised)",
            },
            {"also": "table.field of another size (treated)"},
        ),
        RuleKind(
            "comparison-label-reversed",
            "A `label` such as 'X vs Y' names `experimental` first and `control` second.",
            {"label": "the comparison's label", "experimental": "experimental arm", "control": "control arm"},
        ),
        RuleKind(
            "dispersion-contradicts-ci",
            "The SD given by `dispersion` (an SE times sqrt(`n`) where `type` says SE) is within a factor of 2 of "
            "the SD the CI `low` to `high` (at `level`, 95 when empty) implies for `n` patients.",
            {
                "dispersion": "the SD or SE",
                "n": "the arm's n",
                "low": "CI lower limit",
                "high": "CI upper limit",
            },
            {"type": "the field saying SD or SE (SD when left out)", "level": "the CI level field"},
        ),
        RuleKind(
            "ratio-against-medians",
            "A ratio `estimate` < 1 goes with a longer `experimental` median than `control`'s, > 1 with a "
            "shorter one (medians of the same study and outcome).",
            {
                "estimate": "the hazard ratio",
                "experimental": "experimental arm",
                "control": "control arm",
                "outcome": "the outcome field",
                "median": "table.field of each arm's median",
                "median_arm": "table.field of the median's arm",
                "median_outcome": "table.field of the median's outcome",
            },
            {"median_unit": "table.field of the median's time unit (different units are not compared)"},
        ),
    ]
}
# Codes that a reading pass reports extra to these (percent-no-whole-count, percent-without-denominator) come
# from the same rule kinds and are listed in CODES.


@dataclass(frozen=True)
class Issue:
    """One problem in one place. `cell` is an A1 reference on `sheet` of `file` (a CSV's line and column too)."""

    severity: str
    code: str
    message: str
    file: str = ""
    sheet: str = ""
    cell: str = ""
    table: str = ""
    study_id: str = ""
    field: str = ""
    value: str = ""

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown issue code {self.code!r}: add it to review.issues.CODES")

    @property
    def where(self) -> str:
        place = f"{self.sheet}!{self.cell}" if self.sheet and self.cell else self.sheet or self.cell
        return f"{self.file}:{place}" if self.file and place else self.file or place

    @property
    def fix(self) -> str:
        return CODES[self.code].fix


COLUMNS = ["severity", "code", "message", "file", "sheet", "cell", "table", "study_id", "field", "value"]
assert COLUMNS == list(Issue.__dataclass_fields__)  # issues_from relies on it


def issues_from(rows: Iterable[tuple]) -> list[Issue]:
    """Issues from tuples of their fields in COLUMNS order, codes checked once: the dataclass __init__ sets
    each field of a frozen instance separately, which doubled the cost of the hundreds of thousands of issues
    a large review can have."""
    rows = list(rows)
    unknown = {r[1] for r in rows} - CODES.keys()
    if unknown:
        raise ValueError(f"unknown issue codes {sorted(unknown)}: add them to review.issues.CODES")
    new, out = object.__new__, []
    for r in rows:
        issue = new(Issue)
        d = issue.__dict__  # the fields in COLUMNS order, unpacked (twice as fast as dict.update(zip(...)))
        d["severity"], d["code"], d["message"], d["file"], d["sheet"], d["cell"], d["table"], d["study_id"], \
            d["field"], d["value"] = r  # fmt: skip
        out.append(issue)
    return out


class Report:
    """The issues found in one or more inputs: iterable, filterable, a DataFrame on demand."""

    def __init__(self, issues: Iterable[Issue] = ()):
        self.issues: list[Issue] = sorted(issues, key=_sort_key)

    def __iter__(self) -> Iterator[Issue]:
        return iter(self.issues)

    def __len__(self) -> int:
        return len(self.issues)

    def __add__(self, other: Report) -> Report:
        return Report([*self.issues, *other.issues])

    @property
    def fatal(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == FATAL]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == WARNING]

    @property
    def ok(self) -> bool:
        """True when nothing blocks the data: no fatal issue and no error (warnings allowed)."""
        return not self.fatal and not self.errors

    @property
    def exit_code(self) -> int:
        """The `review validate` contract: 2 unreadable input, 1 errors, 0 otherwise."""
        return 2 if self.fatal else 1 if self.errors else 0

    def codes(self) -> list[str]:
        return [i.code for i in self.issues]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(i) for i in self.issues], columns=COLUMNS).astype("string")

    def summary(self) -> str:
        return (
            f"{len(self.fatal)} unreadable, {counted(len(self.errors), 'error')}, {counted(len(self.warnings), 'warning')}"
            if self.fatal
            else f"{counted(len(self.errors), 'error')}, {counted(len(self.warnings), 'warning')}"
        )

    def __repr__(self) -> str:
        lines = [f"Report: {self.summary()}"]
        lines += [f"  {i.severity:<7} {i.code:<26} {i.where:<40} {i.message}" for i in self.issues[:50]]
        if len(self.issues) > 50:
            lines.append(f"  ... {len(self.issues) - 50} more (Report.to_frame() has them all)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = f"<p><b>Validation report</b>: {html.escape(self.summary())}</p>"
        if not self.issues:
            return head
        frame = self.to_frame()[
            ["severity", "code", "file", "sheet", "cell", "study_id", "field", "value", "message"]
        ]
        return head + frame.to_html(index=False, escape=True, na_rep="")


def _sort_key(issue: Issue) -> tuple:
    return (issue.file, SEVERITY_ORDER[issue.severity], issue.sheet, _cell_order(issue.cell), issue.code)


_A1 = re.compile(r"([A-Z]{0,3})(\d+)")


def _cell_order(cell: str) -> tuple[int, str]:
    a1 = _A1.fullmatch(cell)
    if a1:  # the usual case, parsed once instead of character by character
        return (int(a1[2]), a1[1].rjust(3))
    digits = "".join(ch for ch in cell if ch.isdigit())
    letters = "".join(ch for ch in cell if ch.isalpha())
    return (int(digits) if digits else 0, letters.rjust(3))


def catalogue_markdown() -> str:
    """The documented table of every code (docs/validation-rules.md is this text)."""
    lines = [
        "# Validation issue codes",
        "",
        "Generated by `review rules --markdown` from `review/issues.py`; do not edit by hand.",
        "Severity: *fatal* means the file cannot be read (exit code 2), *error* blocks the data (exit code 1),",
        "*warning* is shown but lets the data through. Codes are stable: scripts and tests may rely on them.",
        "",
        "| code | severity | stage | what it means | how to fix |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| `{c.code}` | {c.severity} | {c.stage} | {c.title} | {c.fix} |" for c in _CODES]
    lines += [
        "",
        "## Rules a form can apply",
        "",
        "Named in a form's `rules:` list (see extraction_forms/README.md) with the fields they take.",
        "",
        "| rule | checks | takes |",
        "|---|---|---|",
    ]
    for r in RULE_KINDS.values():
        takes = ", ".join(
            [f"`{p}` ({d})" for p, d in r.params.items()]
            + [f"optional `{p}` ({d})" for p, d in r.optional.items()]
        )
        lines.append(f"| `{r.name}` | {r.summary} | {takes} |")
    return "\n".join(lines) + "\n"
