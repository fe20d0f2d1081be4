"""RevMan Web study data and a robvis risk-of-bias table, from a run's consensus and analyses.

RevMan Web's study-centric data management imports study data as CSV files (Cochrane RevMan knowledge base,
"Populate study data" and "Data extraction templates": study information, study arms, study results, risk of
bias), where outcome and intervention names must match the review's own exactly. What is written here:

- `study-arms.csv`: one row per arm used by an analysis: Study, Arm, Description (the arm as the report names
  it), Intervention (the review's intervention or comparison name, from review.toml's `revman` table).
- `study-results.csv`: the 41 columns of RevMan Web's study results layout (`RESULT_COLUMNS`) as the one public
  writer of it names and fills them (a "Study Results ... deterministic RevMan projections" module): arm-level
  rows with Data type "Dichotomous" (Cases, Sample size) or "Continuous" (Mean, SD, Sample size), and
  contrast-level rows with an Effect measure and a Reference arm; for a hazard ratio Mean and SE hold ln(HR) and
  its standard error and Exp mean / Exp CI start / Exp CI end the ratio as reported (RevMan's calculator inputs),
  Data type "Dichotomous" as that writer files every contrast that is not MD or SMD.
- `risk-of-bias.csv`: robvis's RoB 2 layout (Study, D1..D5, Overall, Weight) for `robvis::rob_summary` and
  `rob_traffic_light`.

No RevMan Web import could be run here to confirm the files, so the README calls them unverified. Files are UTF-8
with a byte-order mark, which Excel and RevMan's CSV reader need to keep non-ASCII names intact.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .csvs import csv_bytes
from .files import atomic_path

if TYPE_CHECKING:
    from .project import Analysis, Review
    from .reconcile import Consensus
    from .tables import AnalysisTables

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


def _plain_columns(frame: pd.DataFrame) -> list[list[Any]]:
    """Each column as a list of Python values, None for missing (what `frame.astype(object)` holds)."""
    if not frame.shape[1]:
        return []
    values = frame.to_numpy(dtype=object, copy=True)
    values[frame.isna().to_numpy()] = None
    return values.T.tolist()


def _rows(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    """A frame's rows as dicts of Python values, None for missing."""
    if frame is None or frame.empty:
        return []
    names = list(frame.columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*_plain_columns(frame), strict=True)]


# Role names of the outcome kinds (outcomes.KINDS) -> the names this module reads rows by.
_CANONICAL = {
    "study": "study_id",
    "arm": "arm_id",
    "arm_e": "experimental_arm",
    "arm_c": "control_arm",
    "estimate": "hr",
}


def _renames(review: Any, table: str) -> dict[str, str]:
    """The table's role fields -> canonical names (study_id, arm_id, hr...); none for a table without roles."""
    form = getattr(review, "form", None)
    spec = getattr(form.tables.get(table), "outcome", None) if form is not None else None
    if spec is None:
        return {}
    return {f: _CANONICAL.get(role, role) for role, f in spec.roles.items() if f}


def _table_rows(review: Any, consensus: Consensus, table: str | None) -> list[dict[str, Any]]:
    """A consensus table's rows with each role's field under its canonical name (study_id, arm_id, hr...), so
    a form whose fields are named otherwise reads the same; provenance fields (source, location) as they are."""
    if not table or table not in consensus.tables:
        return []
    rows = _rows(consensus.tables[table])
    renames = _renames(review, table)
    if not renames:
        return rows
    return [{renames.get(k, k): v for k, v in r.items()} for r in rows]


def _positions(keys: list[list[Any]]) -> dict[object, list[int]]:
    """Row positions by key (the values of `keys`' columns at that row; a tuple for more than one column), in
    row order. (A plain loop: pandas' groupby costs more for hundreds of thousands of small groups.)"""
    groups: dict[object, list[int]] = {}
    for i, key in enumerate(keys[0] if len(keys) == 1 else zip(*keys, strict=True)):
        groups.setdefault(key, []).append(i)
    return groups


class _Grouped:
    """A table's rows grouped by key columns, each row made (as a dict of `_rows`' values, under `names`) only
    when its group is first asked for: the export needs a few rows of each study from tables of 300,000."""

    def __init__(self, frame: pd.DataFrame | None, names: list[str], keys: list[tuple[str, ...]]) -> None:
        self.names = names
        self.columns = _plain_columns(frame) if frame is not None and not frame.empty else []
        n = len(self.columns[0]) if self.columns else 0
        self.at = at = {name: i for i, name in enumerate(names)}  # the last of equal names, as a row's dict
        self.groups: dict[object, Any] = {}
        for key in keys if n else ():
            self.groups |= _positions([self.columns[at[k]] if k in at else [None] * n for k in key])
        self.made: dict[object, list[dict[str, Any]]] = {}

    def first(self, key: object, where: Mapping[str, object]) -> dict[str, Any]:
        """The first row of the group whose columns equal `where`'s values (None: any value), or {}."""
        if not self.columns:
            return {}
        n = len(self.columns[0])
        checks = [
            (self.columns[self.at[k]] if k in self.at else [None] * n, v)
            for k, v in where.items()
            if v is not None
        ]
        found = self.groups.get(key, ())
        for column, v in checks:
            found = [i for i in found if column[i] == v]
        if not found:
            return {}
        return dict(zip(self.names, (column[found[0]] for column in self.columns), strict=True))

    def get(self, key: object) -> list[dict[str, Any]]:
        rows = self.made.get(key)
        if rows is None:
            rows = self.made[key] = [
                dict(zip(self.names, (column[i] for column in self.columns), strict=True))
                for i in self.groups.get(key, ())
            ]
        return rows


def _kind_table(review: Any, kind: str, default: str) -> str:
    form = getattr(review, "form", None)
    if form is None:
        return default
    from .outcomes import table_of_kind

    return table_of_kind(form, kind) or default


@functools.lru_cache(maxsize=1 << 16, typed=True)  # typed: True and 1 are written apart
def _where(source: object, location: object) -> str:
    """'source; location' as a footnote cites them (NR and NA left out)."""
    return "; ".join(p for p in (_text(source), _text(location)) if p and p not in ("NR", "NA"))


def _footnote(
    sources: Iterable[dict[str, Any]], timepoint: str | None, derivation: str = "", inputs: str = ""
) -> str:
    """Where the numbers come from: timepoint, the rows' sources and locations, and any derivation."""
    parts = [f"Timepoint: {timepoint}"] if timepoint else []
    seen: list[str] = []
    for row in sources:
        where = _where(row.get("source"), row.get("location"))
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
    """The consensus tables' rows (canonical names) grouped by study and by study and arm, and the arm outcomes
    grouped by study, arm and outcome: each analysis row looks its sources up instead of scanning every table
    (which made the export quadratic in studies). Rows keep their table order within a group."""

    def __init__(self, review: Any, consensus: Consensus, tables: AnalysisTables) -> None:
        self.review, self.consensus = review, consensus
        self.tables: dict[str | None, _Grouped] = {}
        self.sources: dict[str, _Sources] = {}
        analysed = {a.outcome for a in getattr(review, "analyses", ())}
        parts = [  # the arm-level frames (counts, continuous), only the outcomes analysed: of 300,000 rows, a few
            frame.loc[frame["outcome"].isin(analysed), [c for c in _DERIVED if c in frame.columns]]
            for frame in tables.frames_.values()
            if {"study_id", "arm_id", "outcome"} <= set(frame.columns)
        ]
        derived = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(_DERIVED))
        self.derived = _Grouped(derived, list(derived.columns), [("study_id", "arm_id", "outcome")])

    def _frame(self, table: str | None) -> tuple[pd.DataFrame | None, list[str]]:
        """The consensus table and its columns' canonical names."""
        frame = self.consensus.tables.get(table) if table else None
        if frame is None:
            return None, []
        renames = _renames(self.review, table) if table else {}
        return frame, [renames.get(c, c) for c in frame.columns]

    def of_study(self, table: str | None, study: object, arm: object = _ANY) -> list[dict[str, Any]]:
        """The rows of `table` for `study` (and `arm`, when given), in table order."""
        if table not in self.tables:
            frame, names = self._frame(table)
            self.tables[table] = _Grouped(frame, names, [("study_id",), ("study_id", "arm_id")])
        return self.tables[table].get(study if arm is _ANY else (study, arm))

    def arm_sources(
        self, table: str, study: str, arm: str, outcome: str, timepoint: str | None
    ) -> list[dict[str, Any]]:
        """The source and location of the consensus rows an arm's count came from: the arm's rows of `table`
        at `timepoint` (or without one) that name `outcome` (as outcome, category, term or item), else all of
        them (all categories of the arm, for a derived response)."""
        if table not in self.sources:
            wanted = {str(a.outcome) for a in getattr(self.review, "analyses", ()) if a.outcome is not None}
            self.sources[table] = _Sources(*self._frame(table), wanted)
        return self.sources[table].of_arm(study, arm, outcome, timepoint)


# The columns of an arm outcome that `_arm_rows` reads; of a consensus row, those that find and cite its sources.
_DERIVED = ("study_id", "arm_id", "outcome", "timepoint", "domain", "grade", "derivation", "inputs")
_NAMED_BY = ("outcome", "category", "term", "item")


class _Sources:
    """One consensus table's rows indexed by study, arm and each name they give (outcome, category, term, item)
    that an analysis asks for, with the columns `_footnote` cites: a lookup per analysis row instead of a scan of
    the arm's rows (an arm has up to hundreds of adverse-event rows, looked up once per adverse-event analysis).
    Every row of an arm, for an outcome no row names (a response derived from its categories), is indexed the
    first time it is needed."""

    def __init__(self, frame: pd.DataFrame | None, names: list[str], wanted: set[str]) -> None:
        n = 0 if frame is None else len(frame)
        at = {name: i for i, name in enumerate(names)}  # the last of equal names, as a row's dict keeps

        def column(name: str) -> list[Any]:
            if frame is None or name not in at:
                return [None] * n
            return _plain_columns(frame.iloc[:, [at[name]]])[0] if n else []

        self.study, self.arm = column("study_id"), column("arm_id")
        self.timepoint, self.source, self.location = column("timepoint"), column("source"), column("location")
        named: dict[tuple[object, object, object], dict[int, None]] = {}
        for name in _NAMED_BY:
            if frame is None or name not in at or not n:
                continue
            values = frame.iloc[:, at[name]]
            given = column(name)
            for i in np.flatnonzero(values.isin(wanted).to_numpy()).tolist():
                named.setdefault((self.study[i], self.arm[i], given[i]), {})[i] = None
        self.named = {key: sorted(rows) for key, rows in named.items()}
        self.by_arm: dict[object, list[int]] | None = None

    def of_arm(self, study: str, arm: str, outcome: str, timepoint: str | None) -> list[dict[str, Any]]:
        def at_time(rows: Iterable[int]) -> list[int]:
            if timepoint is None:
                return list(rows)
            return [i for i in rows if self.timepoint[i] in (None, timepoint)]

        rows = at_time(self.named.get((study, arm, outcome), ()))
        if not rows:
            if self.by_arm is None:
                self.by_arm = _positions([self.study, self.arm])
            rows = at_time(self.by_arm.get((study, arm), ()))
        return [{"source": self.source[i], "location": self.location[i]} for i in rows]


def study_results(
    review: Review, datasets: Mapping[str, pd.DataFrame], tables: AnalysisTables, consensus: Consensus
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(study arms, study results) for every two-arm analysis of the review."""
    arms, results = _study_results(review, datasets, tables, consensus)
    return (
        pd.DataFrame(arms, columns=ARM_COLUMNS),
        pd.DataFrame(results, columns=RESULT_COLUMNS, dtype=object),
    )


def _study_results(
    review: Review, datasets: Mapping[str, pd.DataFrame], tables: AnalysisTables, consensus: Consensus
) -> tuple[list[dict[str, str]], list[dict[str, object]]]:
    intervention, comparison = _names(review)
    lookup = _Lookup(review, consensus, tables)
    arms_table = _kind_table(review, "arms", "arms")
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
                described = lookup.of_study(arms_table, study, arm)
                info = described[-1] if described else {}  # the arm's last row, as a dict by arm kept it
                arms[(study, arm)] = {
                    "Study": study,
                    "Arm": arm,
                    "Description": _text(info.get("label")),
                    "Intervention": name,
                }
    return list(arms.values()), results


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
        where = {"timepoint": a.timepoint, "domain": a.domain, "grade": a.grade}
        hit = lookup.derived.first((study, arm, a.outcome), where)
        domain = str(hit.get("domain") or ("continuous" if continuous else "dichotomous"))
        sources = lookup.arm_sources(domain, study, arm, str(a.outcome), a.timepoint)
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
    arms, results = _study_results(review, datasets, tables, consensus)
    # column by column, a value the row does not give as empty text (the CSV writer's fast path)
    layout = pd.DataFrame({c: [r.get(c, "") for r in results] for c in RESULT_COLUMNS}, dtype=object)
    return [
        write_bom_csv(pd.DataFrame(arms, columns=ARM_COLUMNS), folder / "study-arms.csv"),
        write_bom_csv(layout, folder / "study-results.csv"),
        write_bom_csv(risk_of_bias(consensus, review), folder / "risk-of-bias.csv"),
    ]
