"""review/revman.py as it was before its lookups were made columnar (issue 12), kept as the oracle for
tests/test_export_writers.py: the export must write the same files byte for byte."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from review.csvs import csv_bytes
from review.files import atomic_path

if TYPE_CHECKING:
    from review.project import Analysis, Review
    from review.reconcile import Consensus
    from review.tables import AnalysisTables

BOM = b"\xef\xbb\xbf"
ARM_COLUMNS = ["Study", "Arm", "Description", "Intervention"]
RESULT_COLUMNS = [
    "Study",
    "Outcome",
    "Data type",
    "Effect measure",
    "Arm",
    "Reference arm",
    "Sample size",
    "Cases",
    "Mean",
    "SD",
    "SE",
    "Variance",
    "CI level",
    "CI start",
    "CI end",
    "Exp mean",
    "Exp CI start",
    "Exp CI end",
    "t-test",
    "z-test",
    "P value",
    "Covariance method",
    "Covariance",
    "Other arm 1",
    "Other arm 2",
    "Correlation arm 1",
    "Correlation arm 2",
    "Correlation",
    "Other mean",
    "Other SE",
    "Other variance",
    "Other CI level",
    "Other CI start",
    "Other CI end",
    "Other exp mean",
    "Other exp CI start",
    "Other exp CI end",
    "Other t-test",
    "Other z-test",
    "Other P value",
    "Footnotes",
]
ROB_COLUMNS = ["Study", "D1", "D2", "D3", "D4", "D5", "Overall", "Weight"]

DICHOTOMOUS, CONTINUOUS = "Dichotomous", "Continuous"

# RoB 2 domains in robvis's order (D1..D5, Overall) and its judgement words.
ROB2_DOMAINS = {
    "randomisation process": "D1",
    "deviations from intended interventions": "D2",
    "missing outcome data": "D3",
    "measurement of the outcome": "D4",
    "selection of the reported result": "D5",
    "overall": "Overall",
}
ROB2_JUDGEMENTS = {"low": "Low", "some concerns": "Some concerns", "high": "High"}


def _text(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _rows(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    if frame is None or frame.empty:
        return []
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


# Role names of the outcome kinds (outcomes.KINDS) -> the names this module reads rows by.
_CANONICAL = {
    "study": "study_id",
    "arm": "arm_id",
    "arm_e": "experimental_arm",
    "arm_c": "control_arm",
    "estimate": "hr",
}


def _table_rows(review: Any, consensus: Consensus, table: str | None) -> list[dict[str, Any]]:
    """A consensus table's rows with each role's field under its canonical name (study_id, arm_id, hr...), so
    a form whose fields are named otherwise reads the same; provenance fields (source, location) as they are."""
    if not table or table not in consensus.tables:
        return []
    rows = _rows(consensus.tables[table])
    form = getattr(review, "form", None)
    spec = getattr(form.tables.get(table), "outcome", None) if form is not None else None
    if spec is None:
        return rows
    renames = {f: _CANONICAL.get(role, role) for role, f in spec.roles.items() if f}
    return [{renames.get(k, k): v for k, v in r.items()} for r in rows]


def _kind_table(review: Any, kind: str, default: str) -> str:
    form = getattr(review, "form", None)
    if form is None:
        return default
    from review.outcomes import table_of_kind

    return table_of_kind(form, kind) or default


def _footnote(
    sources: Iterable[dict[str, Any]], timepoint: str | None, derivation: str = "", inputs: str = ""
) -> str:
    """Where the numbers come from: timepoint, the rows' sources and locations, and any derivation."""
    parts = [f"Timepoint: {timepoint}"] if timepoint else []
    seen: list[str] = []
    for row in sources:
        where = "; ".join(
            p for p in (_text(row.get("source")), _text(row.get("location"))) if p and p not in ("NR", "NA")
        )
        if where and where not in seen:
            seen.append(where)
    if seen:
        parts.append("Source: " + " | ".join(seen))
    if derivation and derivation != "reported":
        parts.append(f"Derived: {derivation}" + (f" ({inputs})" if inputs else ""))
    return ". ".join(parts)


def _names(review: Review) -> tuple[str, str]:
    names = getattr(review, "revman", None) or {}
    return str(names.get("intervention") or "Experimental"), str(names.get("comparison") or "Control")


_ANY = object()  # no arm given: every arm's rows


class _Lookup:
    """The consensus tables' rows (canonical names) converted once and grouped by study, and the arm outcomes
    grouped by study, arm and outcome: each analysis row looks its sources up instead of scanning every table
    (which made the export quadratic in studies). Rows keep their table order within a group."""

    def __init__(self, review: Any, consensus: Consensus, derived: pd.DataFrame) -> None:
        self.review, self.consensus = review, consensus
        self.tables: dict[str | None, dict[object, list[dict[str, Any]]]] = {}
        self.derived: dict[tuple[object, object, object], list[dict[str, Any]]] = {}
        for d in _rows(derived):
            self.derived.setdefault((d["study_id"], d["arm_id"], d["outcome"]), []).append(d)

    def of_study(self, table: str | None, study: object, arm: object = _ANY) -> list[dict[str, Any]]:
        """The rows of `table` for `study` (and `arm`, when given), in table order."""
        if table not in self.tables:
            groups: dict[object, list[dict[str, Any]]] = {}
            for r in _table_rows(self.review, self.consensus, table):
                groups.setdefault(r.get("study_id"), []).append(r)
                groups.setdefault((r.get("study_id"), r.get("arm_id")), []).append(r)
            self.tables[table] = groups
        return self.tables[table].get(study if arm is _ANY else (study, arm), [])


def _arm_sources(
    lookup: _Lookup, domain: str, study: str, arm: str, outcome: str, timepoint: str | None
) -> list[dict[str, Any]]:
    """The consensus rows an arm's count came from (all categories of the arm, for a derived response)."""
    rows = [
        r
        for r in lookup.of_study(domain, study, arm)
        if (timepoint is None or r.get("timepoint") in (None, timepoint))
    ]
    named = [
        r for r in rows if outcome in (r.get("outcome"), r.get("category"), r.get("term"), r.get("item"))
    ]
    return named or rows


def study_results(
    review: Review, datasets: Mapping[str, pd.DataFrame], tables: AnalysisTables, consensus: Consensus
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(study arms, study results) for every two-arm analysis of the review."""
    intervention, comparison = _names(review)
    arm_rows = _table_rows(review, consensus, _kind_table(review, "arms", "arms"))
    arm_info = {(r.get("study_id"), r.get("arm_id")): r for r in arm_rows}
    lookup = _Lookup(review, consensus, tables.arm_outcomes)
    arms: dict[tuple[str, str], dict[str, str]] = {}
    results: list[dict[str, object]] = []
    for a in review.analyses:
        data = datasets.get(a.slug)
        if a.one_arm or a.outcome is None or data is None or "experimental_arm" not in data.columns:
            continue  # RevMan analyses compare two named interventions: no single-arm or all-terms analyses
        contrast = "yi" in data.columns and "events_e" not in data.columns and "mean_e" not in data.columns
        for r in _rows(data):
            study, exp, ctl = r["study_id"], r["experimental_arm"], r["control_arm"]
            if contrast:
                row = _contrast_row(lookup, a, r)
                if row is None:
                    continue
                results.append(row)
            else:
                new = _arm_rows(lookup, a, r)
                if not new:
                    continue
                results += new
            for arm, name in ((exp, intervention), (ctl, comparison)):
                info = arm_info.get((study, arm), {})
                arms[(study, arm)] = {
                    "Study": study,
                    "Arm": arm,
                    "Description": _text(info.get("label")),
                    "Intervention": name,
                }
    return (
        pd.DataFrame(list(arms.values()), columns=ARM_COLUMNS),
        pd.DataFrame(results, columns=RESULT_COLUMNS, dtype=object),
    )


def _arm_rows(lookup: _Lookup, a: Analysis, r: dict[str, Any]) -> list[dict[str, object]]:
    study, exp, ctl = r["study_id"], r["experimental_arm"], r["control_arm"]
    continuous = a.measure in ("MD", "SMD")
    base = {"Study": study, "Outcome": a.outcome, "Data type": CONTINUOUS if continuous else DICHOTOMOUS}
    out: list[dict[str, object]] = []
    needed = ("mean", "sd", "n") if continuous else ("events", "n")
    for side, arm in (("e", exp), ("c", ctl)):
        numbers = {k: _number(r.get(f"{k}_{side}")) for k in needed}
        values = {k: v for k, v in numbers.items() if v is not None}
        if len(values) < len(needed):
            return []  # a study without usable numbers is left out, as in the analysis itself
        match = [
            d
            for d in lookup.derived.get((study, arm, a.outcome), [])
            if (a.timepoint is None or d.get("timepoint") == a.timepoint)
            and (a.domain is None or d.get("domain") == a.domain)
            and (a.grade is None or d.get("grade") == a.grade)
        ]
        hit = match[0] if match else {}
        domain = str(hit.get("domain") or ("continuous" if continuous else "dichotomous"))
        sources = _arm_sources(lookup, domain, study, arm, str(a.outcome), a.timepoint)
        note = _footnote(sources, a.timepoint, _text(hit.get("derivation")), _text(hit.get("inputs")))
        row: dict[str, object] = {**base, "Arm": arm, "Reference arm": "", "Footnotes": note}
        if continuous:
            row.update({"Sample size": int(values["n"]), "Mean": values["mean"], "SD": values["sd"]})
        else:
            row.update({"Sample size": int(values["n"]), "Cases": int(values["events"])})
        out.append(row)
    return out


def _contrast_row(lookup: _Lookup, a: Analysis, r: dict[str, Any]) -> dict[str, object] | None:
    """A hazard ratio as contrast-level data: ln(HR) and its SE (Mean, SE), the reported ratio and CI (Exp ...)."""
    yi, vi = _number(r.get("yi")), _number(r.get("vi"))
    if yi is None or vi is None:
        return None
    study, exp, ctl = r["study_id"], r["experimental_arm"], r["control_arm"]
    found = [
        h
        for h in lookup.of_study(a.domain or _kind_table(lookup.review, "contrast", "hazard_ratios"), study)
        if h.get("outcome") == a.outcome
        and {h.get("experimental_arm"), h.get("control_arm")} == {exp, ctl}
        and (study not in a.comparisons or h.get("comparison") == a.comparisons[study])
    ]
    hit = found[0] if found else {}
    level = _number(hit.get("ci_level")) or 95.0
    se = math.sqrt(vi)
    inverted = bool(hit) and hit.get("experimental_arm") != exp
    derivation = "ln(HR) and its SE from the reported CI" + (
        "; inverted to experimental vs control" if inverted else ""
    )
    return {
        "Study": study,
        "Outcome": a.outcome,
        "Data type": DICHOTOMOUS,  # as the public writer files every contrast but MD and SMD
        "Effect measure": a.measure,
        "Arm": exp,
        "Reference arm": ctl,
        "Mean": yi,
        "SE": se,
        "CI level": int(level) if level.is_integer() else level,
        "Exp mean": _ratio(hit, "hr", "hr", inverted) if hit else math.exp(yi),
        "Exp CI start": _ratio(hit, "ci_low", "ci_high", inverted),
        "Exp CI end": _ratio(hit, "ci_high", "ci_low", inverted),
        "P value": _text(hit.get("p_value")) if _number(hit.get("p_value")) is not None else "",
        "Footnotes": _footnote([hit] if hit else [], a.timepoint, derivation),
    }


def _ratio(hit: dict[str, Any], key: str, other: str, inverted: bool) -> float | str:
    value = _number(hit.get(other if inverted else key))
    if value is None:
        return ""
    return round(1 / value, 10) if inverted else value


def risk_of_bias(consensus: Consensus, review: Any = None) -> pd.DataFrame:
    """robvis's RoB 2 table: one row per study, D1..D5 and Overall as Low / Some concerns / High."""
    studies: dict[str, dict[str, object]] = {}
    for r in _table_rows(review, consensus, _kind_table(review, "risk_of_bias", "risk_of_bias")):
        column = ROB2_DOMAINS.get(str(r.get("domain") or ""))
        judgement = ROB2_JUDGEMENTS.get(str(r.get("judgement") or ""), "No information")
        if column is None:
            continue
        row = studies.setdefault(str(r["study_id"]), {"Study": r["study_id"], "Weight": 1})
        row[column] = judgement
    frame = pd.DataFrame(list(studies.values()), columns=ROB_COLUMNS, dtype=object)
    domains = [c for c in ROB_COLUMNS if c not in ("Study", "Weight")]
    frame[domains] = frame[domains].fillna("No information")
    return frame


def write_bom_csv(frame: pd.DataFrame, path: Path) -> Path:
    """The single CSV dialect (csvs.csv_bytes: text never runs as a formula), with a UTF-8 byte-order mark."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(BOM + csv_bytes(frame))
    return path


def revman_exports(
    review: Review,
    datasets: Mapping[str, pd.DataFrame],
    tables: AnalysisTables,
    consensus: Consensus,
    folder: Path,
) -> list[Path]:
    """study-arms.csv, study-results.csv and risk-of-bias.csv in `folder`."""
    arms, results = study_results(review, datasets, tables, consensus)
    return [
        write_bom_csv(arms, folder / "study-arms.csv"),
        write_bom_csv(results, folder / "study-results.csv"),
        write_bom_csv(risk_of_bias(consensus, review), folder / "risk-of-bias.csv"),
    ]
