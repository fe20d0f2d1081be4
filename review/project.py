"""A review folder, described by review.toml, run end to end.

    title = "High-dose versus standard-dose imatinib for advanced GIST"
    question = "Does high-dose imatinib improve response, and at what cost in toxicity?"
    form = "../../extraction_forms/oncology_trial.yaml"     # relative to the folder; omit for the default form
    reviewers = ["reviewer_a.xlsx", "reviewer_b.xlsx"]
    adjudication = "adjudication.xlsx"

    [[analysis]]
    name = "Partial response, high vs standard dose"
    outcome = "partial response"                # an outcome of the meta-analysis-ready arm_outcomes table
    timepoint = "primary report"                # optional; grade = "3-4" for adverse events
    measure = "RR"                              # metafor's codes; PLO/PR/PAS/PFT for one arm
    method = "REML"
    test = "z"                                  # or "knha"
    arms = { B2222 = ["600mg", "400mg"] }       # study -> [experimental, control], or study -> arm for one arm

`run()` validates, compares, reconciles, aggregates, pools, plots and exports, reporting each stage to an
optional progress callback; it stops at the first stage that cannot go on with a ReviewError that says why.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .errors import RefusedOutput, ReviewError
from .files import check_output, claim_folder
from .forms import Form, default_form_path, load_form
from .issues import Report
from .tables import AnalysisTables, count_columns
from .workbook import Extraction, UnreadableWorkbook, make_workbook, read_extraction

CONFIG = "review.toml"
TWO_ARM = ("OR", "RR", "RD", "HR")  # HR: from the hazard_ratios table (log HR and its SE)
ONE_ARM = ("PLO", "PR", "PAS", "PFT")
METHODS = ("EE", "DL", "REML", "PM", "MH", "PETO")


@dataclass(frozen=True)
class Analysis:
    name: str
    outcome: str
    measure: str
    method: str
    test: str
    arms: dict[str, tuple[str, ...]]  # study -> (experimental, control) or (arm,) for one-arm measures
    timepoint: str | None = None
    grade: str | None = None
    comparisons: dict[str, str] = field(default_factory=dict)  # HR: study -> comparison label, where several
    domain: str | None = (
        None  # which table an outcome comes from when several give it (response, dichotomous...)
    )

    @property
    def one_arm(self) -> bool:
        return self.measure in ONE_ARM

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "_", self.name.casefold()).strip("_")


@dataclass(frozen=True)
class Review:
    folder: Path
    title: str
    question: str
    form: Form
    reviewers: tuple[Path, ...]
    adjudication: Path | None
    analyses: tuple[Analysis, ...]
    output: Path
    counts: str = (
        "unique"  # policy for counts derived from percentages: unique or nearest (tables.count_from)
    )


def load_review(folder: str | Path) -> Review:
    """Read and check `folder/review.toml`; every problem names the file, the key and the fix."""
    folder = Path(folder)
    path = folder / CONFIG
    if not path.exists():
        raise ReviewError(f"{path}: not found; make a review folder with `review init {folder}`.")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ReviewError(f"{path}: not valid TOML ({exc}).") from None
    unknown = set(doc) - {
        "title",
        "question",
        "form",
        "reviewers",
        "adjudication",
        "analysis",
        "output",
        "derive_counts",
    }
    if unknown:
        raise ReviewError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}.")

    def file(key: str, value: object) -> Path:
        if not isinstance(value, str) or not value:
            raise ReviewError(f"{path}: {key} must be a file name.")
        p = folder / value
        if not p.exists():
            raise ReviewError(f"{path}: {key} = {value!r}: {p} does not exist; fix the path or add the file.")
        return p

    form = load_form(file("form", doc["form"]) if "form" in doc else default_form_path())
    reviewers = doc.get("reviewers")
    if not isinstance(reviewers, list) or not reviewers:
        raise ReviewError(
            f"{path}: reviewers must list each reviewer's workbook, e.g. "
            'reviewers = ["reviewer_a.xlsx", "reviewer_b.xlsx"].'
        )
    counts = str(doc.get("derive_counts", "unique"))
    if counts not in ("unique", "nearest"):
        raise ReviewError(
            f'{path}: derive_counts must be "unique" (a count only when one whole count fits the '
            'printed percentage) or "nearest" (the nearest, with the ambiguity recorded).'
        )
    return Review(
        folder=folder,
        counts=counts,
        title=str(doc.get("title") or folder.name),
        question=str(doc.get("question") or ""),
        form=form,
        reviewers=tuple(file("reviewers", r) for r in reviewers),
        adjudication=folder / doc["adjudication"] if doc.get("adjudication") else None,
        analyses=tuple(_analysis(path, i, a) for i, a in enumerate(_analyses(path, doc), start=1)),
        output=folder / str(doc.get("output") or "output"),
    )


def _analyses(path: Path, doc: dict) -> list[dict]:
    analyses = doc.get("analysis", [])
    if not isinstance(analyses, list) or not all(isinstance(a, dict) for a in analyses):
        raise ReviewError(
            f"{path}: each analysis is a [[analysis]] table with name, outcome, measure and arms."
        )
    return analyses


def _analysis(path: Path, number: int, doc: dict) -> Analysis:
    where = f"{path}: analysis {number}"
    for key in ("name", "outcome", "measure", "arms"):
        if key not in doc:
            raise ReviewError(f"{where} needs {key} = ...")
    for key in ("name", "outcome", "measure", "method", "test", "timepoint", "grade", "domain"):
        if key in doc and not isinstance(doc[key], str):
            raise ReviewError(f'{where}: {key} must be text in quotes, e.g. {key} = "{doc[key]}".')
    measure = str(doc["measure"]).upper()
    method = str(doc.get("method", "REML")).upper()
    test = str(doc.get("test", "z")).lower()
    if measure not in TWO_ARM + ONE_ARM:
        raise ReviewError(
            f"{where} ({doc['name']}): measure {measure!r} is not one of {', '.join(TWO_ARM + ONE_ARM)}."
        )
    if method not in METHODS:
        raise ReviewError(f"{where} ({doc['name']}): method {method!r} is not one of {', '.join(METHODS)}.")
    if test not in ("z", "knha"):
        raise ReviewError(f"{where} ({doc['name']}): test must be z or knha.")
    arms: dict[str, tuple[str, ...]] = {}
    if not isinstance(doc["arms"], dict) or not doc["arms"]:
        raise ReviewError(f"{where} ({doc['name']}): arms must map each study to its arm(s).")
    for study, value in doc["arms"].items():
        value = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list) else ()
        if len(value) != (1 if measure in ONE_ARM else 2) or not all(isinstance(v, str) for v in value):
            want = "one arm" if measure in ONE_ARM else "[experimental, control]"
            raise ReviewError(f"{where} ({doc['name']}): study {study!r} needs {want} for measure {measure}.")
        arms[str(study)] = value
    comparisons = doc.get("comparisons", {})
    if not isinstance(comparisons, dict):
        raise ReviewError(f"{where} ({doc['name']}): comparisons must map a study to its comparison's label.")
    return Analysis(
        name=str(doc["name"]),
        outcome=str(doc["outcome"]),
        measure=measure,
        method=method,
        test=test,
        arms=arms,
        timepoint=doc.get("timepoint"),
        grade=doc.get("grade"),
        comparisons={str(k): str(v) for k, v in comparisons.items()},
        domain=doc.get("domain"),
    )


def init_review(
    folder: str | Path,
    reviewers: tuple[str, ...] = ("A", "B"),
    form_path: str | Path | None = None,
    *,
    force: bool = False,
) -> list[Path]:
    """Make a new review folder: review.toml and a blank workbook per reviewer. An existing review.toml is
    never replaced; an existing workbook only with `force`."""
    folder = Path(folder)
    if (folder / CONFIG).exists():
        raise RefusedOutput(f"{folder / CONFIG} already exists; choose a new folder.")
    form = load_form(form_path or default_form_path())
    names = [f"reviewer_{r.lower()}.xlsx" for r in reviewers]
    if len(set(names)) < len(names):
        raise ReviewError(
            f"reviewers {', '.join(reviewers)}: two would share a workbook; give distinct initials."
        )
    for n in names:
        check_output(folder / n, [form.path] if form.path else [], force=force)
    folder.mkdir(parents=True, exist_ok=True)
    written = [make_workbook(form, folder / n, reviewer=r) for n, r in zip(names, reviewers, strict=False)]
    form_line = f"form = {json.dumps(str(Path(form_path).resolve()))}\n" if form_path else ""
    (folder / CONFIG).write_text(  # JSON strings and lists of strings are valid TOML
        f'title = {json.dumps(folder.name)}\nquestion = ""\n{form_line}'
        f"reviewers = {json.dumps(names)}\n"
        'adjudication = "adjudication.xlsx"   # written by `review compare`, filled by the adjudicator\n\n'
        '# [[analysis]]\n# name = "Objective response"\n# outcome = "objective response"\n'
        '# measure = "RR"\n# method = "REML"\n# arms = { STUDY_ID = ["experimental arm", "control arm"] }\n',
        encoding="utf-8",
    )
    return [folder / CONFIG, *written]


# --------------------------------------------------------------------------------------------------------------
# Running


def _keep_decisions(path: Path, force: bool) -> None:
    """The discrepancy workbook a run writes is where an adjudicator may have typed decisions: keep them."""
    from .reconcile import read_decisions

    if force or not path.exists():
        return
    try:
        decided = read_decisions(path).decided
    except ReviewError:
        decided = 0  # not readable as decisions: one of ours, left half-written, or damaged; ours to replace
    if decided:
        raise RefusedOutput(
            f"{path}: holds {decided} decisions an adjudicator typed; a re-run would replace them. Move it "
            "into the review folder and name it in review.toml (adjudication = ...), or pass --force."
        )


Progress = Callable[[str], None]


@dataclass
class RunResult:
    review: Review
    report: Report
    outputs: list[Path] = field(default_factory=list)
    pooled: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __repr__(self) -> str:
        return f"RunResult({self.review.title!r}: {len(self.outputs)} outputs, {len(self.pooled)} analyses)"

    def _repr_html_(self) -> str:
        import html

        shown = self.pooled[
            [
                c
                for c in (
                    "analysis",
                    "k",
                    "measure",
                    "estimate",
                    "ci_low",
                    "ci_high",
                    "i2",
                    "studies_left_out",
                )
                if c in self.pooled.columns
            ]
        ]
        return (
            f"<p><b>{html.escape(self.review.title)}</b>: {html.escape(self.report.summary())}; "
            f"{len(self.outputs)} outputs</p>" + shown.to_html(index=False, na_rep="")
        )


STAGES = ("validate", "compare", "reconcile", "aggregate", "pool", "export")


def run(
    folder: str | Path,
    out: str | Path | None = None,
    progress: Progress | None = None,
    *,
    force: bool = False,
) -> RunResult:
    """Run the review in `folder` end to end; outputs go to `out` (default: the review's output folder).

    The output folder must not hold any input, and is written only if the toolkit made it or it is empty
    (or `force`); a discrepancy workbook there that already holds decisions is not replaced unless `force`."""
    from .compare import compare
    from .export import export_all
    from .reconcile import read_decisions, reconcile, write_discrepancies
    from .tables import analysis_tables
    from .validate import validate

    step = progress or (lambda stage: None)
    review = load_review(folder)
    out_dir = Path(out) if out else review.output
    inputs = [
        folder / CONFIG,
        *review.reviewers,
        *([review.adjudication] if review.adjudication else []),
        *([review.form.path] if review.form.path else []),
    ]
    claim_folder(out_dir, inputs, force=force)
    _keep_decisions(out_dir / "discrepancies.xlsx", force)

    step("validate")
    extractions: list[Extraction] = []
    report = Report()
    for path in review.reviewers:
        try:
            extraction = read_extraction(path, review.form)
        except UnreadableWorkbook as exc:
            raise ReviewError(f"stopped at validation: {exc}") from None
        extractions.append(extraction)
        report = report + validate(extraction)
    if not report.ok:
        shown = "; ".join(f"{i.where}: {i.code}" for i in report.errors[:10])
        more = f" (and {len(report.errors) - 10} more)" if len(report.errors) > 10 else ""
        raise ReviewError(
            f"stopped at validation: {len(report.errors)} errors: {shown}{more}. "
            f"See them all with `review validate {' '.join(map(str, review.reviewers))}`."
        )

    step("compare")
    comparison = compare(extractions)
    outputs = [write_discrepancies(comparison, out_dir / "discrepancies.xlsx")]

    step("reconcile")
    if review.adjudication is not None and review.adjudication.exists():
        decisions = read_decisions(review.adjudication)
    elif len(comparison) == 0:
        decisions = read_decisions(outputs[0])  # nothing to adjudicate: the empty discrepancy workbook
    else:
        raise ReviewError(
            f"stopped at reconcile: {len(comparison)} disagreements and no adjudication file; the "
            f"adjudicator fills the Decision, Adjudicator and Reason columns of "
            f"{out_dir / 'discrepancies.xlsx'}, saves it in {review.folder} and review.toml names it "
            "(adjudication = ...)."
        )
    consensus = reconcile(extractions, decisions, comparison=comparison)

    step("aggregate")
    tables = analysis_tables(consensus.tables, counts=review.counts)

    step("pool")
    pooled, datasets = pool_analyses(review, tables)

    step("export")
    outputs += export_all(
        review,
        out_dir,
        report=report,
        comparison=comparison,
        consensus=consensus,
        tables=tables,
        pooled=pooled,
        datasets=datasets,
    )
    return RunResult(review, report, outputs, pooled)


def analysis_data(analysis: Analysis, tables: AnalysisTables) -> pd.DataFrame:
    """The rows one analysis pools, in the contract's columns; refuses an outcome or arm that does not exist."""
    from .tables import comparison_table

    if analysis.measure == "HR":
        return _hazard_ratio_data(analysis, tables.hazard_ratios)
    arm_outcomes = tables.arm_outcomes
    known = sorted(set(arm_outcomes["outcome"].dropna()))
    if analysis.outcome not in known:
        raise ReviewError(
            f"analysis {analysis.name!r}: outcome {analysis.outcome!r} is not in the consensus "
            f"data; outcomes are: {', '.join(known)}."
        )
    arms_of = {s: set(a) for s, a in arm_outcomes.groupby("study_id", sort=False)["arm_id"]}
    for study, arms in analysis.arms.items():
        if study not in arms_of:
            raise ReviewError(f"analysis {analysis.name!r}: study {study!r} is not in the consensus data.")
        for arm in arms:
            if arm not in arms_of[study]:
                raise ReviewError(
                    f"analysis {analysis.name!r}: study {study!r} has no arm {arm!r}; its arms are "
                    f"{', '.join(sorted(arms_of[study]))}."
                )
    if analysis.one_arm:
        two = {s: (a[0], a[0]) for s, a in analysis.arms.items()}
        table = comparison_table(
            arm_outcomes, two, analysis.outcome, analysis.timepoint, analysis.grade, analysis.domain
        )
        table = table.rename(columns={"experimental_arm": "arm_id", "events_e": "events", "n_e": "n"})
        return table[["study_id", "arm_id", "events", "n", "note"]]
    return comparison_table(
        arm_outcomes,
        {s: (a[0], a[1]) for s, a in analysis.arms.items()},
        analysis.outcome,
        analysis.timepoint,
        analysis.grade,
        analysis.domain,
    )


def _hazard_ratio_data(analysis: Analysis, hazard_ratios: pd.DataFrame) -> pd.DataFrame:
    """log HR and its variance per study, oriented experimental versus control as the analysis names them."""
    known = sorted(set(hazard_ratios["outcome"].dropna()))
    if analysis.outcome not in known:
        raise ReviewError(
            f"analysis {analysis.name!r}: no hazard ratio for outcome {analysis.outcome!r}; "
            f"hazard ratios are given for: {', '.join(known) or 'none'}."
        )
    rows = []
    of_outcome = hazard_ratios[hazard_ratios["outcome"] == analysis.outcome]
    at = of_outcome.groupby("study_id", sort=False).indices  # once, not a filter per study
    for study, (exp, ctl) in analysis.arms.items():
        found = of_outcome.iloc[at.get(study, [])]
        same_arms = [
            {e, c} == {exp, ctl}
            for e, c in zip(found["experimental_arm"], found["control_arm"], strict=False)
        ]
        found = found[pd.Series(same_arms, index=found.index, dtype=bool)]
        if study in analysis.comparisons:
            found = found[found["comparison"] == analysis.comparisons[study]]
        if len(found) > 1:
            labels = ", ".join(repr(c) for c in found["comparison"])
            raise ReviewError(
                f"analysis {analysis.name!r}: study {study!r} has {len(found)} hazard ratios of "
                f"{exp} versus {ctl} for {analysis.outcome} ({labels}); choose one with "
                f'comparisons = {{ "{study}" = "..." }}.'
            )
        row = {
            "study_id": study,
            "experimental_arm": exp,
            "control_arm": ctl,
            "yi": None,
            "vi": None,
            "note": "",
        }
        pairs = list(zip(found["experimental_arm"], found["control_arm"], strict=False))
        if (exp, ctl) in pairs:
            hit = found.iloc[pairs.index((exp, ctl))]
            row.update(yi=hit["yi"], vi=hit["vi"], note=hit["note"] or "")
        elif (ctl, exp) in pairs:  # reported the other way round: invert (log HR changes sign)
            hit = found.iloc[pairs.index((ctl, exp))]
            yi = None if pd.isna(hit["yi"]) else -float(hit["yi"])
            row.update(
                yi=yi,
                vi=hit["vi"],
                note="; ".join(n for n in (hit["note"], "inverted to exp vs control") if n),
            )
        else:
            row["note"] = f"no hazard ratio of {exp} versus {ctl}"
        if row["vi"] is None or pd.isna(row["vi"]):
            row["note"] = row["note"] or "no standard error"
        rows.append(row)
    return pd.DataFrame(rows).astype({"yi": "Float64", "vi": "Float64"})


def pool_analyses(review: Review, tables: AnalysisTables) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Pool every analysis of the review; studies without usable data are listed, not silently dropped."""
    from .meta import pool

    rows, datasets = [], {}
    for analysis in review.analyses:
        data = analysis_data(analysis, tables)
        datasets[analysis.slug] = data
        counts = count_columns(data)
        usable = data.dropna(subset=counts)
        left_out = data.loc[~data.index.isin(usable.index)]
        base = {
            "analysis": analysis.name,
            "outcome": analysis.outcome,
            "timepoint": analysis.timepoint or "",
            "studies_left_out": "; ".join(
                f"{r['study_id']} ({r['note']})" if r["note"] else r["study_id"]
                for _, r in left_out.iterrows()
            ),
        }
        if usable.empty:
            rows.append(
                {
                    **base,
                    "measure": analysis.measure,
                    "method": analysis.method,
                    "test": analysis.test,
                    "k": 0,
                    "note": "no study has usable counts",
                }
            )
            continue
        columns = ["study_id", *counts]
        result = pool(
            usable[columns], analysis.measure, analysis.method, test=analysis.test, single_study="keep"
        )
        rows.append({**base, **result.iloc[0].to_dict()})
    return pd.DataFrame(rows), datasets
