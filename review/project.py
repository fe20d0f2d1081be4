"""A review folder, described by review.toml, run end to end.

    title = "High-dose versus standard-dose imatinib for advanced GIST"
    question = "Does high-dose imatinib improve response, and at what cost in toxicity?"
    form = "../../extraction_forms/oncology_trial.yaml"     # relative to the folder; omit for the default form
    reviewers = ["reviewer_a.xlsx", "reviewer_b.xlsx"]
    adjudication = "adjudication.xlsx"

    [[analysis]]
    name = "Partial response, high vs standard dose"
    outcome = "partial response"                # omit it with table = an adverse-event or safety table to pool
    timepoint = "primary report"                #   every term x grade; grade = "3-4" filters
    measure = "RR"                              # the engine's measures (effects.MEASURES) and methods
    method = "REML"
    experimental = { dose = ">= 600" }          # arm groups by rule over the arms' and studies' fields...
    control = { dose = 400 }
    arms = { B2222 = ["600mg", "400mg"] }       # ...or listed: study -> [experimental, control] (or one arm)
    subgroup = "design"                         # subgroup_model = "common" (default) or "separate"
    sensitivity = { leave_one_out = true, exclude = { rob_overall = "high" } }

Every key is checked against ANALYSIS_KEYS (and REVIEW_KEYS, SENSITIVITY_KEYS): an unknown one is an error naming
the file, the analysis and the key. Analyses draw on the tables the form's `outcome:` blocks declare
(review/outcomes.py); analyses sharing an engine configuration are pooled in one vectorised call.

`run()` validates, compares, reconciles, aggregates, pools, plots and exports, reporting each stage to an
optional progress callback; it stops at the first stage that cannot go on with a ReviewError that says why.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd

from .derive import CI_DISTRIBUTIONS, COUNT_POLICIES, MEDIAN_METHODS
from .effects import CORRECTIONS, MEASURES, ONE_ARM
from .errors import RefusedOutput, ReviewError, UnreadableInput
from .files import MAX_CONFIG_DEPTH, check_output, claim_folder, read_text
from .forms import Form, default_form_path, load_form
from .issues import Report
from .meta import METHODS, TESTS
from .outcomes import KINDS, Settings, kind_of_measure, specs_of, table_of_kind
from .tables import AnalysisTables, count_columns
from .words import counted
from .workbook import Extraction, UnreadableWorkbook, make_workbook, read_extraction

CONFIG = "review.toml"
REVIEW_KEYS = (
    "title",
    "question",
    "form",
    "reviewers",
    "adjudication",
    "analysis",
    "output",
    "derive_counts",
    "median_method",
    "ci_distribution",
    "revman",
)
ANALYSIS_KEYS = (
    "name",
    "outcome",
    "table",
    "timepoint",
    "grade",
    "measure",
    "method",
    "test",
    "level",
    "add",
    "to",
    "drop00",
    "arms",
    "experimental",
    "control",
    "arm",
    "comparisons",
    "subgroup",
    "subgroup_model",
    "sensitivity",
)
SENSITIVITY_KEYS = ("leave_one_out", "exclude")
SUBGROUP_MODELS = ("common", "separate")  # tau^2 shared by the subgroups (metafor's mods = ~ factor) or not
_OPERATORS = (">=", "<=", "!=", "==", ">", "<")


@dataclass(frozen=True)
class Analysis:
    name: str
    outcome: str | None
    measure: str
    method: str
    test: str
    arms: dict[str, tuple[str, ...]]  # study -> (experimental, control) or (arm,): listed, overriding rules
    timepoint: str | None = None
    grade: str | None = None
    comparisons: dict[str, str] = field(default_factory=dict)  # contrasts: study -> comparison label
    domain: str | None = None  # the form table the outcome comes from (review.toml: table = ...)
    groups: dict[str, dict] = field(default_factory=dict)  # experimental/control/arm -> {field: condition}
    level: float = 95.0
    add: float | None = None
    to: str = "only0"
    drop00: bool | None = None
    subgroup: str | None = None
    subgroup_model: str = "common"
    leave_one_out: bool = False
    exclude: dict = field(default_factory=dict)  # sensitivity: studies matching this rule left out

    @property
    def one_arm(self) -> bool:
        return MEASURES[self.measure].columns == ONE_ARM

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
        "unique"  # policy for counts derived from percentages: unique or nearest (derive.count_from)
    )
    revman: dict[str, str] = field(default_factory=dict)  # revman = { intervention, comparison } names
    median_method: str = "shi2020"
    ci_distribution: str = "auto"

    @property
    def settings(self) -> Settings:
        return Settings(self.counts, self.median_method, self.ci_distribution)


def _unknown(where: str, keys, valid) -> None:
    unknown = [str(k) for k in keys if k not in valid]
    if unknown:
        raise ReviewError(
            f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"valid keys are {', '.join(valid)}."
        )


def load_review(folder: str | Path) -> Review:
    """Read and check `folder/review.toml`; every problem names the file, the analysis, the key and the fix."""
    folder = Path(folder)
    path = folder / CONFIG
    if not path.exists():
        raise ReviewError(f"{path}: not found; make a review folder with `review init {folder}`.")
    text = read_text(path, CONFIG)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ReviewError(f"{path}: not valid TOML ({exc}).") from None
    except RecursionError:
        doc = {"": _too_deep(path)}
    if _depth(doc) > MAX_CONFIG_DEPTH:
        _too_deep(path)
    _unknown(str(path), doc, REVIEW_KEYS)

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
    if counts not in COUNT_POLICIES:
        raise ReviewError(
            f'{path}: derive_counts must be "unique" (a count only when one whole count fits the '
            'printed percentage) or "nearest" (the nearest, with the ambiguity recorded).'
        )
    for key, allowed in (("median_method", tuple(MEDIAN_METHODS)), ("ci_distribution", CI_DISTRIBUTIONS)):
        if key in doc and doc[key] not in allowed:
            raise ReviewError(f"{path}: {key} = {doc[key]!r} is not one of {', '.join(allowed)}.")
    revman = doc.get("revman", {})
    if (
        not isinstance(revman, dict)
        or set(revman) - {"intervention", "comparison"}
        or not all(isinstance(v, str) and v for v in revman.values())
    ):
        raise ReviewError(
            f"{path}: [revman] takes intervention and comparison, the names of the review's interventions "
            'in RevMan, e.g. intervention = "High-dose imatinib".'
        )
    return Review(
        folder=folder,
        counts=counts,
        median_method=str(doc.get("median_method", "shi2020")),
        ci_distribution=str(doc.get("ci_distribution", "auto")),
        revman={str(k): str(v) for k, v in revman.items()},
        title=str(doc.get("title") or folder.name),
        question=str(doc.get("question") or ""),
        form=form,
        reviewers=tuple(file("reviewers", r) for r in reviewers),
        adjudication=folder / doc["adjudication"] if doc.get("adjudication") else None,
        analyses=tuple(_analysis(path, i, a, form) for i, a in enumerate(_analyses(path, doc), start=1)),
        output=folder / str(doc.get("output") or "output"),
    )


def _analyses(path: Path, doc: dict) -> list[dict]:
    analyses = doc.get("analysis", [])
    if not isinstance(analyses, list) or not all(isinstance(a, dict) for a in analyses):
        raise ReviewError(
            f"{path}: each analysis is a [[analysis]] table with name, outcome, measure and arms."
        )
    names = [a.get("name") for a in analyses]
    twice = sorted({str(n) for n in names if names.count(n) > 1})
    if twice:
        raise ReviewError(f"{path}: analysis names must differ; {', '.join(map(repr, twice))} is used twice.")
    return analyses


def attribute_fields(form: Form) -> dict[str, str]:
    """Fields that arm-group rules, subgroups and exclusions may name: field -> where it comes from."""
    out: dict[str, str] = {}
    for kind in ("arms", "studies"):
        table = table_of_kind(form, kind)
        if table:
            for f in form.table(table).fields:
                out.setdefault(f, f"{table}.{f}")
    rob = table_of_kind(form, "risk_of_bias")
    if rob:
        spec = form.table(rob).outcome
        assert spec is not None  # table_of_kind found the table by its outcome block
        domain = form.table(rob).fields[spec.roles["domain"]]
        for value in domain.values:
            out[_rob_column(value)] = f"{rob} ({value})"
    return out


def _rob_column(domain: str) -> str:
    return "rob_" + re.sub(r"[^a-z0-9]+", "_", str(domain).casefold()).strip("_")


def _analysis(path: Path, number: int, doc: dict, form: Form) -> Analysis:
    where = f"{path}: analysis {number}" + (f" ({doc['name']})" if isinstance(doc.get("name"), str) else "")
    _unknown(where, doc, ANALYSIS_KEYS)
    for key in ("name", "measure"):
        if key not in doc:
            raise ReviewError(f"{where} needs {key} = ...")
    for key in (
        "name",
        "outcome",
        "measure",
        "method",
        "test",
        "timepoint",
        "grade",
        "table",
        "to",
        "subgroup",
    ):
        if key in doc and not isinstance(doc[key], str):
            raise ReviewError(f'{where}: {key} must be text in quotes, e.g. {key} = "{doc[key]}".')
    measure = str(doc["measure"]).upper()
    method = str(doc.get("method", "REML")).upper()
    test = str(doc.get("test", "z")).lower()
    if measure not in MEASURES or measure in ("GEN", "PETO"):
        usable = [m for m in MEASURES if m not in ("GEN", "PETO")]
        hint = " (Peto's odds ratio: measure OR with method PETO)" if measure == "PETO" else ""
        raise ReviewError(f"{where}: measure {measure!r} is not one of {', '.join(usable)}{hint}.")
    if method not in METHODS:
        raise ReviewError(f"{where}: method {method!r} is not one of {', '.join(METHODS)}.")
    if test not in TESTS:
        raise ReviewError(f"{where}: test must be one of {', '.join(TESTS)}.")
    tables = [t for t, spec in specs_of(form).items() if measure in KINDS[spec.kind].measures]
    if not tables:
        kinds = ", ".join(kind_of_measure(measure))
        raise ReviewError(
            f"{where}: measure {measure} needs a table of kind {kinds}, and form {form.label} declares none; add an "
            "outcome: block to the table that holds it (extraction_forms/README.md)."
        )
    table = doc.get("table")
    if table is not None and table not in tables:
        raise ReviewError(
            f"{where}: table {table!r} cannot give measure {measure}; tables that can: {', '.join(tables)}."
        )
    many = table is not None and KINDS[specs_of(form)[table].kind].many_outcomes
    if "outcome" not in doc and not many:
        raise ReviewError(
            f"{where} needs outcome = ... (only an analysis of an adverse-event or safety table, named with "
            "table = ..., pools every outcome of it)."
        )
    one_arm = MEASURES[measure].columns == ONE_ARM
    if method in ("MH", "PETO") and (one_arm or measure not in ("OR", "RR", "RD")):
        raise ReviewError(f"{where}: method {method} pools two-arm counts (OR, RR, RD), not {measure}.")
    if method == "PETO" and measure != "OR":
        raise ReviewError(f"{where}: method PETO gives Peto's odds ratio: use measure OR.")
    fields = attribute_fields(form)
    groups = {}
    allowed_groups = ("arm",) if one_arm else ("experimental", "control")
    for key in ("experimental", "control", "arm"):
        if key not in doc:
            continue
        if key not in allowed_groups:
            raise ReviewError(
                f"{where}: {key} = ... is for {'one-arm' if key == 'arm' else 'two-arm'} measures; measure "
                f"{measure} takes {' and '.join(allowed_groups)}."
            )
        groups[key] = _rule(where, key, doc[key], fields)
    if groups and set(groups) != set(allowed_groups):
        raise ReviewError(f"{where}: give both experimental = {{...}} and control = {{...}}.")
    arms: dict[str, tuple[str, ...]] = {}
    raw_arms = doc.get("arms", {})
    if not isinstance(raw_arms, dict) or (not raw_arms and not groups):
        raise ReviewError(
            f"{where}: arms must map each study to its arm(s), or choose arms by a rule, e.g. "
            + (
                'arm = { design = "single-arm" }.'
                if one_arm
                else 'experimental = { dose = ">= 600" }, control = { dose = 400 }.'
            )
        )
    for study, value in raw_arms.items():
        value = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list) else ()
        if len(value) != (1 if one_arm else 2) or not all(isinstance(v, str) for v in value):
            want = "one arm" if one_arm else "[experimental, control]"
            raise ReviewError(f"{where}: study {study!r} needs {want} for measure {measure}.")
        arms[str(study)] = value
    comparisons = doc.get("comparisons", {})
    if not isinstance(comparisons, dict):
        raise ReviewError(f"{where}: comparisons must map a study to its comparison's label.")
    level = doc.get("level", 95)
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 50 <= level < 100:
        raise ReviewError(f"{where}: level must be a confidence level in percent, e.g. level = 95.")
    add = doc.get("add")
    if add is not None and (isinstance(add, bool) or not isinstance(add, (int, float)) or add < 0):
        raise ReviewError(f"{where}: add must be a number >= 0 (the continuity correction), e.g. add = 0.5.")
    to = str(doc.get("to", "only0"))
    if to not in CORRECTIONS:
        raise ReviewError(f"{where}: to must be one of {', '.join(CORRECTIONS)}.")
    drop00 = doc.get("drop00")
    if drop00 is not None and not isinstance(drop00, bool):
        raise ReviewError(f"{where}: drop00 must be true or false.")
    subgroup = doc.get("subgroup")
    if subgroup is not None and subgroup not in fields:
        raise ReviewError(
            f"{where}: subgroup {subgroup!r} is not a field of the arms or studies; fields: {', '.join(fields)}."
        )
    model = str(doc.get("subgroup_model", "common"))
    if model not in SUBGROUP_MODELS:
        raise ReviewError(f"{where}: subgroup_model must be one of {', '.join(SUBGROUP_MODELS)}.")
    sensitivity = doc.get("sensitivity", {})
    if not isinstance(sensitivity, dict):
        raise ReviewError(
            f"{where}: sensitivity must be a table, e.g. sensitivity = {{ leave_one_out = true }}."
        )
    _unknown(f"{where}: sensitivity", sensitivity, SENSITIVITY_KEYS)
    loo = sensitivity.get("leave_one_out", False)
    if not isinstance(loo, bool):
        raise ReviewError(f"{where}: sensitivity.leave_one_out must be true or false.")
    exclude = (
        _rule(where, "sensitivity.exclude", sensitivity["exclude"], fields)
        if "exclude" in sensitivity
        else {}
    )
    return Analysis(
        name=str(doc["name"]),
        outcome=doc.get("outcome"),
        measure=measure,
        method=method,
        test=test,
        arms=arms,
        timepoint=doc.get("timepoint"),
        grade=doc.get("grade"),
        comparisons={str(k): str(v) for k, v in comparisons.items()},
        domain=table,
        groups=groups,
        level=float(level),
        add=None if add is None else float(add),
        to=to,
        drop00=drop00,
        subgroup=subgroup,
        subgroup_model=model,
        leave_one_out=loo,
        exclude=exclude,
    )


def _rule(where: str, key: str, rule: object, fields: dict[str, str]) -> dict:
    """A rule {field: condition}: a value (equal), a list (any of), or ">= 600" style comparisons."""
    if not isinstance(rule, dict) or not rule:
        raise ReviewError(f'{where}: {key} must be a rule such as {{ dose = ">= 600" }} (field = condition).')
    for name, condition in rule.items():
        if name not in fields:
            raise ReviewError(
                f"{where}: {key}: {name!r} is not a field of the arms or studies; fields: {', '.join(fields)}."
            )
        if isinstance(condition, str) and condition.startswith(_OPERATORS):
            op = next(o for o in _OPERATORS if condition.startswith(o))
            try:
                float(condition[len(op) :])
            except ValueError:
                raise ReviewError(
                    f'{where}: {key}: {name} = {condition!r}: a comparison needs a number, e.g. ">= 600".'
                ) from None
        elif not isinstance(condition, (str, int, float, bool, list)):
            raise ReviewError(
                f'{where}: {key}: {name} must be a value, a list of values or a comparison such as ">= 600".'
            )
    return dict(rule)


def matches(frame: pd.DataFrame, rule: Mapping[str, object]) -> pd.Series:
    """Rows of `frame` meeting every condition of `rule` (vectorised; text compared ignoring case)."""
    mask = pd.Series(True, index=frame.index)
    for name, condition in rule.items():
        column = frame[name] if name in frame.columns else pd.Series(None, index=frame.index, dtype=object)
        number = pd.to_numeric(column, errors="coerce")
        text = column.astype(str).str.strip().str.casefold()
        if isinstance(condition, str) and condition.startswith(_OPERATORS):
            op = next(o for o in _OPERATORS if condition.startswith(o))
            mask &= getattr(
                number, {">=": "ge", "<=": "le", "!=": "ne", "==": "eq", ">": "gt", "<": "lt"}[op]
            )(float(condition[len(op) :]))
            continue
        wanted = condition if isinstance(condition, list) else [condition]
        hit = pd.Series(False, index=frame.index)
        for w in wanted:
            if isinstance(w, bool):
                hit |= column.astype(str).str.casefold() == str(w).casefold()
            elif isinstance(w, (int, float)):
                hit |= number == float(w)
            else:
                hit |= text == str(w).strip().casefold()
        mask &= hit
    return mask


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _too_deep(path: Path) -> NoReturn:
    raise UnreadableInput(
        f"{path}: nested more than {MAX_CONFIG_DEPTH} levels deep; review.toml needs two or three."
    ) from None


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
        '# measure = "RR"\n# method = "REML"\n# experimental = { dose = ">= 600" }   # arms by rule, or listed:\n'
        '# control = { dose = 400 }\n# arms = { STUDY_ID = ["experimental arm", "control arm"] }\n',
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
            f"{path}: holds decisions an adjudicator typed ({decided}); a re-run would replace them. Move it "
            "into the review folder and name it in review.toml (adjudication = ...), or pass --force."
        )


Progress = Callable[[str], None]


@dataclass
class RunResult:
    review: Review
    report: Report
    outputs: list[Path] = field(default_factory=list)
    pooled: pd.DataFrame = field(default_factory=pd.DataFrame)
    safety: pd.DataFrame = field(default_factory=pd.DataFrame)
    subgroups: pd.DataFrame = field(default_factory=pd.DataFrame)
    sensitivity: pd.DataFrame = field(default_factory=pd.DataFrame)
    missing: list[str] = field(default_factory=list)  # what keeps the review from being complete

    @property
    def complete(self) -> bool:
        return not self.missing

    def __repr__(self) -> str:
        return f"RunResult({self.review.title!r}: {counted(len(self.outputs), 'output')}, {counted(len(self.pooled), 'analysis')})"

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
            f"{counted(len(self.outputs), 'output')}</p>" + shown.to_html(index=False, na_rep="")
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
        review.folder / CONFIG,
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
            f"stopped at validation: {counted(len(report.errors), 'error')}: {shown}{more}. "
            f"See them all with `review validate {' '.join(map(str, review.reviewers))}`."
        )

    _check_extracted(review, extractions)

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
            f"stopped at reconcile: {counted(len(comparison), 'disagreement')} and no adjudication file; the "
            f"adjudicator fills the Decision, Adjudicator and Reason columns of "
            f"{out_dir / 'discrepancies.xlsx'}, saves it in {review.folder} and review.toml names it "
            "(adjudication = ...)."
        )
    consensus = reconcile(extractions, decisions, comparison=comparison)

    step("aggregate")
    tables = analysis_tables(consensus.tables, review.form, settings=review.settings)

    step("pool")
    results = pool_analyses(review, tables)

    step("export")
    outputs += export_all(
        review,
        out_dir,
        report=report,
        comparison=comparison,
        consensus=consensus,
        tables=tables,
        results=results,
    )
    return RunResult(
        review,
        report,
        outputs,
        results.pooled,
        results.safety,
        results.subgroups,
        results.sensitivity,
        missing=incomplete(review, results.pooled),
    )


BY = [
    "analysis",
    "outcome",
    "timepoint",
    "grade",
]  # one pooled row per analysis x outcome x timepoint x grade


def study_attributes(analysis_tables: AnalysisTables) -> pd.DataFrame:
    """One row per arm with its fields, its study's fields and the study's risk-of-bias judgements (rob_*)."""
    form, source = analysis_tables.form, analysis_tables.source
    arms_t, studies_t, rob_t = (table_of_kind(form, k) for k in ("arms", "studies", "risk_of_bias"))
    frame = (
        _normalised(source.get(arms_t), form, arms_t)
        if arms_t
        else pd.DataFrame(columns=["study_id", "arm_id"])
    )
    if studies_t and studies_t in source:
        studies = _normalised(source[studies_t], form, studies_t).drop_duplicates("study_id")
        frame = frame.merge(studies, on="study_id", how="left", suffixes=("", "_study"))
    if rob_t and rob_t in source and not source[rob_t].empty:
        spec = form.table(rob_t).outcome
        assert spec is not None  # table_of_kind found the table by its outcome block
        roles = spec.roles
        rob = _normalised(source[rob_t], form, rob_t)
        rob = rob.assign(column=rob[roles["domain"]].map(_rob_column)).drop_duplicates(["study_id", "column"])
        wide = rob.pivot(index="study_id", columns="column", values=roles["judgement"]).reset_index()
        frame = frame.merge(wide, on="study_id", how="left")
    return frame


def _normalised(frame: pd.DataFrame | None, form: Form, table: str) -> pd.DataFrame:
    """The table with its study (and arm) role fields named study_id (and arm_id)."""
    if frame is None:
        return pd.DataFrame(columns=["study_id", "arm_id"])
    spec = form.table(table).outcome
    assert spec is not None  # callers pass tables found by table_of_kind
    roles = spec.roles
    rename = {
        roles[r]: n for r, n in (("study", "study_id"), ("arm", "arm_id"), ("pooled", "pooled")) if r in roles
    }
    return frame.rename(columns=rename)


def arm_pairs(analysis: Analysis, attributes: pd.DataFrame) -> pd.DataFrame:
    """The arms each study contributes: study_id, experimental_arm, control_arm (the same arm for one-arm
    measures) and note (why a study matched by the rules cannot be placed). Listed arms override rules."""
    rows = []
    if analysis.groups:
        sides = ("arm",) if analysis.one_arm else ("experimental", "control")
        pooled_col = "pooled" if "pooled" in attributes.columns else None
        first, count, several = {}, {}, {}
        for side in sides:
            rule = analysis.groups[side]
            hit = matches(attributes, rule)
            if pooled_col and pooled_col not in rule:  # an 'all arms' row is chosen only by asking for it
                hit &= ~attributes[pooled_col].astype(str).str.casefold().isin(("true", "1"))
            picked = attributes.loc[hit, ["study_id", "arm_id"]]
            count[side] = picked.groupby("study_id", sort=False).size()
            first[side] = picked.drop_duplicates("study_id").set_index("study_id")["arm_id"]
            many = picked[picked["study_id"].isin(count[side].index[count[side] > 1])]
            several[side] = many.groupby("study_id")["arm_id"].agg(list).to_dict() if len(many) else {}
        studies = count[sides[0]].index
        for side in sides[1:]:
            studies = studies.intersection(count[side].index, sort=False)
        studies = studies[~studies.isin(list(analysis.arms))]
        exp = np.array(first[sides[0]].reindex(studies), dtype=object)
        ctl = np.array(first[sides[-1]].reindex(studies), dtype=object)
        notes = np.full(len(studies), "", dtype=object)
        if len(sides) == 2:
            notes[exp == ctl] = [f"arm {a} matches both experimental and control" for a in exp[exp == ctl]]
        for side in sides:  # ambiguous rules: few studies, told one by one
            for i in np.flatnonzero(studies.isin(list(several[side]))):
                arms = several[side][studies[i]]
                notes[i] = (
                    f"{len(arms)} arms match {side} ({', '.join(map(str, arms))}); list the study under arms = {{...}}"
                )
                (exp if side == sides[0] else ctl)[i] = None
        rows += list(zip(studies, exp, ctl, notes, strict=True))
    for study, arms in analysis.arms.items():
        rows.append((study, arms[0], arms[-1], ""))
    return pd.DataFrame(rows, columns=["study_id", "experimental_arm", "control_arm", "pair_note"])


def _check_listed(analysis: Analysis, attributes: pd.DataFrame) -> None:
    known = attributes.groupby("study_id")["arm_id"].agg(set).to_dict() if len(attributes) else {}
    for study, arms in analysis.arms.items():
        if study not in known:
            raise ReviewError(f"analysis {analysis.name!r}: study {study!r} is not in the consensus data.")
        for arm in arms:
            if arm not in known[study]:
                raise ReviewError(
                    f"analysis {analysis.name!r}: study {study!r} has no arm {arm!r}; its arms are "
                    f"{', '.join(sorted(map(str, known[study])))}."
                )


def _kind_of(analysis: Analysis, form: Form) -> str:
    """Which meta-analysis-ready frame the analysis draws on."""
    if analysis.domain:
        return KINDS[specs_of(form)[analysis.domain].kind].frame  # type: ignore[return-value]
    frames = {
        KINDS[s.kind].frame for s in specs_of(form).values() if analysis.measure in KINDS[s.kind].measures
    }
    # ignored: every kind with measures feeds a frame (Kind.frame is None only for measure-less kinds)
    return frames.pop() if len(frames) == 1 else "arm_outcomes"  # type: ignore[return-value]


def _check_extracted(review: Review, extractions: list[Extraction]) -> None:
    """Stop, naming the workbooks, when nothing (or only one reviewer's part) has been extracted yet."""
    rows = {
        path.name: sum(len(t.data) for t in x.tables.values())
        for path, x in zip(review.reviewers, extractions, strict=True)
    }
    empty = [name for name, n in rows.items() if n == 0]
    if not empty:
        return
    if len(empty) == len(rows):
        raise ReviewError(
            f"stopped at validation: nothing extracted yet: {', '.join(empty)} "
            f"{'has' if len(empty) == 1 else 'have'} no rows. Each reviewer enters the included studies "
            "(Studies sheet first), then run again."
        )
    done = ", ".join(f"{name} ({n} rows)" for name, n in rows.items() if n)
    raise ReviewError(
        f"stopped at validation: {', '.join(empty)} {'has' if len(empty) == 1 else 'have'} no rows yet while "
        f"{done} {'is' if len(rows) - len(empty) == 1 else 'are'} filled in; every reviewer extracts every study "
        "independently, so finish the extraction (or list only the finished workbooks under reviewers in "
        f"{CONFIG}) and run again."
    )


def incomplete(review: Review, pooled: pd.DataFrame) -> list[str]:
    """What a run could not do that a finished review would: no analysis defined, analyses with no data."""
    if not review.analyses:
        return [
            f"{review.folder / CONFIG} defines no [[analysis]], so nothing was pooled: add one per outcome "
            "(name, outcome, measure, arms; see the commented example in the file)."
        ]
    missing = []
    for _, r in pooled.iterrows():
        if not r.get("k"):
            left = r.get("studies_left_out") or "no study"
            missing.append(f"analysis {r['analysis']!r}: no study has usable data ({left}).")
    return missing


def analysis_data(analysis: Analysis, tables: AnalysisTables) -> pd.DataFrame:
    """The rows one analysis pools, in the engine's columns; refuses an outcome or arm that does not exist."""
    attributes = study_attributes(tables)
    _check_listed(analysis, attributes) if len(attributes) else None
    pairs = arm_pairs(analysis, attributes)
    frame_name = _kind_of(analysis, tables.form)
    frame = tables.frames()[frame_name]
    if frame_name == "hazard_ratios":
        return contrast_dataset(analysis, pairs, frame)
    if analysis.domain:
        domains = [analysis.domain]
    else:
        domains = [t for t, s in specs_of(tables.form).items() if analysis.measure in KINDS[s.kind].measures]
    groups = tables.groups(frame_name)  # grouped once per run: no analysis scans the whole table
    if analysis.outcome is not None:
        known = sorted({str(o) for d, o in groups if d in domains})
        if analysis.outcome not in known:
            raise ReviewError(
                f"analysis {analysis.name!r}: outcome {analysis.outcome!r} is not in the consensus "
                f"data; outcomes are: {', '.join(known)}."
            )
    positions = [
        idx
        for (d, o), idx in groups.items()
        if d in domains and (analysis.outcome is None or o == analysis.outcome)
    ]
    sel = frame.iloc[np.sort(np.concatenate(positions))] if positions else frame.iloc[:0]
    if analysis.timepoint is not None:
        sel = sel[sel["timepoint"] == analysis.timepoint]
    if analysis.grade is not None:
        sel = sel[sel["grade"] == analysis.grade]
    values = (
        {"mean": "mean", "sd": "sd", "n": "n"}
        if frame_name == "continuous"
        else {"events": "events", "total": "n"}
    )
    return arm_dataset(analysis, pairs, sel, values)


def arm_dataset(
    analysis: Analysis, pairs: pd.DataFrame, sel: pd.DataFrame, values: dict[str, str]
) -> pd.DataFrame:
    """Per study (and, for an analysis of every outcome, per outcome x timepoint x grade) the two arms' values
    side by side, one vectorised merge; a study whose values cannot be had is kept with a note."""
    keys = ["outcome", "timepoint", "grade", "domain"]
    cols = ["study_id", "arm_id", *[k for k in keys if k in sel.columns], *values, "note"]
    sel = sel[[c for c in cols if c in sel.columns]].copy()
    for k in keys:
        if k not in sel.columns:
            sel[k] = ""
        sel[k] = sel[k].astype(object).where(sel[k].notna(), "")
    sides = (
        (("e", "experimental_arm"),)
        if analysis.one_arm
        else (("e", "experimental_arm"), ("c", "control_arm"))
    )
    merged = None
    for side, arm_col in sides:
        part = pairs.merge(
            sel.rename(
                columns={
                    "arm_id": arm_col,
                    "note": f"note_{side}",
                    **{k: f"{v}_{side}" for k, v in values.items()},
                }
            ),
            on=["study_id", arm_col],
            how="inner",
        )
        merged = (
            part
            if merged is None
            else merged.merge(
                part, on=["study_id", "experimental_arm", "control_arm", "pair_note", *keys], how="outer"
            )
        )
    assert merged is not None  # sides is never empty
    data = merged
    for side, arm_col in sides:  # notes only where something is missing: most rows need none
        has = data[f"note_{side}"].notna().to_numpy()
        missing = data[[f"{v}_{side}" for v in values.values()]].isna().any(axis=1).to_numpy()
        why = np.full(len(data), "", dtype=object)
        for mask, text in ((~has, None), (has & missing, "value")):
            if mask.any():
                part = data.loc[mask]
                arm = "arm " + _text(part[arm_col]) + ": "  # object arrays: the notes' dtype varies by reader
                if text is None:
                    why[mask] = arm + "no row for " + _text(part["outcome"])
                else:
                    note = _text(part[f"note_{side}"])
                    why[mask] = arm + np.where(note == "", "value missing", note)
        data[f"why_{side}"] = why
    whys = [data[f"why_{s}"].to_numpy(dtype=object) for s, _ in sides]
    note = (
        pd.Series(whys[0], index=data.index, dtype=object)
        if len(whys) == 1
        else pd.Series(
            np.where(
                (whys[0] != "") & (whys[1] != "") & (whys[0] != whys[1]),
                whys[0] + "; " + whys[1],
                np.where(whys[0] != "", whys[0], whys[1]),
            ),
            index=data.index,
        )
    )
    placed = data["pair_note"].fillna("").astype(str).to_numpy(dtype=object) == ""
    data["note"] = np.where(placed, note.to_numpy(dtype=object), "")  # an unplaced pair: its own reason only
    if analysis.outcome is None:  # every outcome: a study giving none at all is still listed, with why
        lacking = pairs[~pairs["study_id"].isin(set(data["study_id"]))]
        if len(lacking):
            reasons = [
                ""
                if p.pair_note
                else "; ".join(dict.fromkeys(f"arm {getattr(p, a)}: no rows" for _, a in sides))
                for p in lacking.itertuples()
            ]
            data = pd.concat([data, lacking.assign(note=reasons, outcome="")], ignore_index=True)
    if analysis.outcome is not None:  # one outcome: one row per study, or a note saying why not
        counts = data.groupby("study_id", sort=False)["study_id"].transform("size")
        dup = data[counts > 1]
        data = data[counts == 1]
        extra = []
        for study, rows in dup.groupby("study_id", sort=False):
            where = ", ".join(
                sorted({f"{d} {t}".strip() for d, t in zip(rows["domain"], rows["timepoint"], strict=True)})
            )
            extra.append(
                {
                    "study_id": study,
                    "experimental_arm": rows["experimental_arm"].iloc[0],
                    "control_arm": rows["control_arm"].iloc[0],
                    "pair_note": "",
                    "note": f"{len(rows)} rows for {analysis.outcome} ({where}); choose one with table = ... or timepoint = ...",
                }
            )
        lacking = pairs[~pairs["study_id"].isin(set(data["study_id"]) | set(dup["study_id"]))]
        for _, p in lacking.iterrows():
            notes = [f"arm {p[a]}: no row for {analysis.outcome}" for _, a in sides if pd.notna(p[a])]
            extra.append({**p.to_dict(), "note": "; ".join(dict.fromkeys(notes))})
        if extra:
            data = pd.concat([data, pd.DataFrame(extra)], ignore_index=True)
        order = {s: i for i, s in enumerate(pairs["study_id"])}
        data = data.sort_values("study_id", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)
        data["outcome"] = analysis.outcome
    data["note"] = _join(data.get("pair_note"), data["note"])
    out_cols = ["study_id", "experimental_arm", "control_arm", "outcome", "timepoint", "grade", "domain"]
    if analysis.one_arm:
        data = data.rename(columns={"experimental_arm": "arm_id", **{f"{v}_e": v for v in values.values()}})
        out_cols = ["study_id", "arm_id", "outcome", "timepoint", "grade", "domain"]
        value_cols = list(values.values())
    else:
        value_cols = [f"{v}_{s}" for s in ("e", "c") for v in values.values()]
    for k in ("timepoint", "grade", "domain"):
        data[k] = data[k].astype(object).where(data[k].notna(), "") if k in data.columns else ""
    types = {c: ("Int64" if c.startswith(("events", "n")) else "Float64") for c in value_cols}
    return data[[*out_cols, *value_cols, "note"]].astype(types)


def _text(series: pd.Series) -> np.ndarray:
    """Text as a numpy object array ('' for missing), whatever pandas string dtype it came in."""
    return np.array(
        ["" if v is None or v is pd.NA or v != v else str(v) for v in series.tolist()], dtype=object
    )


def _join(*parts) -> pd.Series:
    from .outcomes import _join_notes

    return _join_notes(*(p for p in parts if p is not None))


def contrast_dataset(analysis: Analysis, pairs: pd.DataFrame, contrasts: pd.DataFrame) -> pd.DataFrame:
    """log ratio and its variance per study, oriented experimental versus control as the analysis names them."""
    known = sorted(set(contrasts["outcome"].dropna()))
    if analysis.outcome not in known:
        raise ReviewError(
            f"analysis {analysis.name!r}: no hazard ratio for outcome {analysis.outcome!r}; "
            f"hazard ratios are given for: {', '.join(known) or 'none'}."
        )
    rows = []
    here = contrasts[contrasts["outcome"] == analysis.outcome]
    for _, pair in pairs.iterrows():  # one row per study: comparisons are few
        study, exp, ctl = pair["study_id"], pair["experimental_arm"], pair["control_arm"]
        found = here[here["study_id"] == study]
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
            "outcome": analysis.outcome,
            "yi": None,
            "vi": None,
            "derivation": "",
            "note": pair["pair_note"],
        }
        pairs_found = list(zip(found["experimental_arm"], found["control_arm"], strict=False))
        if (exp, ctl) in pairs_found:
            hit = found.iloc[pairs_found.index((exp, ctl))]
            row.update(
                yi=hit["yi"],
                vi=hit["vi"],
                derivation=hit["derivation"],
                note=_notes(row["note"], hit["note"]),
            )
        elif (ctl, exp) in pairs_found:  # reported the other way round: invert (log HR changes sign)
            hit = found.iloc[pairs_found.index((ctl, exp))]
            yi = None if pd.isna(hit["yi"]) else -float(hit["yi"])
            row.update(
                yi=yi,
                vi=hit["vi"],
                derivation=_notes(hit["derivation"], f"inverted: reported {ctl} versus {exp}, ln HR negated"),
                note=_notes(row["note"], hit["note"], "inverted to exp vs control"),
            )
        elif not row["note"]:
            row["note"] = f"no hazard ratio of {exp} versus {ctl}"
        if row["vi"] is None or pd.isna(row["vi"]):
            row["note"] = row["note"] or "no standard error"
        rows.append(row)
    cols = ["study_id", "experimental_arm", "control_arm", "outcome", "yi", "vi", "derivation", "note"]
    return pd.DataFrame(rows, columns=cols).astype({"yi": "Float64", "vi": "Float64"})


def _notes(*notes) -> str:
    return "; ".join(n for n in notes if isinstance(n, str) and n)


@dataclass
class Pooled:
    """Every result of a review's analyses, each a DataFrame ready for export."""

    pooled: pd.DataFrame  # one row per single-outcome analysis
    datasets: dict[str, pd.DataFrame]  # analysis slug -> every study asked for, with why any was left out
    safety: pd.DataFrame  # one row per term (or item) x grade of each adverse-event / safety analysis
    subgroups: pd.DataFrame
    sensitivity: pd.DataFrame

    def extras(self) -> dict[str, pd.DataFrame]:
        return {"safety": self.safety, "subgroups": self.subgroups, "sensitivity": self.sensitivity}


def _config(a: Analysis, columns: tuple[str, ...]) -> tuple:
    return (a.measure, a.method, a.test, a.level, a.add, a.to, a.drop00, a.subgroup_model, columns)


def _batched(analyses, frames: dict[str, pd.DataFrame], call) -> pd.DataFrame:
    """Run `call(data, analysis_of_config)` once per engine configuration over the stacked rows of all the
    analyses sharing it: one vectorised engine pass per configuration, not one per analysis."""
    by_config: dict[tuple, list[Analysis]] = {}
    for a in analyses:
        data = frames.get(a.slug)
        if data is not None and len(data):
            by_config.setdefault(_config(a, tuple(count_columns(data))), []).append(a)
    results = []
    for group in by_config.values():
        stacked = pd.concat([frames[a.slug] for a in group], ignore_index=True)
        results.append(call(stacked, group[0]))
    return pd.concat(results, ignore_index=True) if results else pd.DataFrame()


def _options(a: Analysis) -> dict:
    return {"level": a.level, "add": a.add, "to": a.to, "drop00": a.drop00}


def pool_analyses(review: Review, tables: AnalysisTables) -> Pooled:
    """Pool every analysis of the review; studies without usable data are listed, not silently dropped."""
    from .meta import leave_one_out, pool, subgroups

    datasets, usable, many = {}, {}, set()
    attributes = study_attributes(tables)
    for analysis in review.analyses:
        data = analysis_data(analysis, tables)
        datasets[analysis.slug] = data
        data = data.assign(analysis=analysis.name)
        for k in BY[1:]:
            data[k] = data[k].astype(object).where(data[k].notna(), "") if k in data.columns else ""
        counts = count_columns(data)
        usable[analysis.slug] = data.dropna(subset=counts)
        if analysis.outcome is None:
            many.add(analysis.slug)
        if analysis.subgroup:
            usable[analysis.slug] = _with_subgroup(usable[analysis.slug], analysis, attributes)
    left_out = {
        a.slug: _left_out(datasets[a.slug].assign(analysis=a.name), count_columns(datasets[a.slug]))
        for a in review.analyses
    }

    def run_pool(data, a):
        return pool(
            data[[*BY, "study_id", *count_columns(data)]],
            a.measure,
            a.method,
            a.test,
            by=BY,
            single_study="keep",
            **_options(a),
        )

    results = _batched(review.analyses, usable, run_pool)
    rows, safety = [], []
    for a in review.analyses:
        got = results[results["analysis"] == a.name] if len(results) else results
        lo = left_out[a.slug]
        if a.slug in many:
            safety.append(_safety_rows(a, got, usable[a.slug], lo, tables.arm_outcomes))
            continue
        base = {
            "analysis": a.name,
            "outcome": a.outcome,
            "timepoint": a.timepoint or "",
            "grade": a.grade or "",
        }
        lo_text = "; ".join(lo["text"]) if len(lo) else ""
        if len(got) == 0:
            rows.append(
                {
                    **base,
                    "studies_left_out": lo_text,
                    "measure": a.measure,
                    "method": a.method,
                    "test": a.test,
                    "k": 0,
                    "note": "no study has usable data",
                }
            )
            continue
        rows.append({**got.iloc[0].to_dict(), **base, "studies_left_out": lo_text})
    pooled = pd.DataFrame(rows)
    if len(pooled):
        first = ["analysis", "outcome", "timepoint", "grade", "studies_left_out"]
        pooled = pooled[first + [c for c in pooled.columns if c not in first]]
    with_sub = [a for a in review.analyses if a.subgroup]
    sub = _batched(
        with_sub,
        usable,
        lambda data, a: _subgroups(subgroups, data, a),
    )
    loo = _batched(
        [a for a in review.analyses if a.leave_one_out],
        usable,
        lambda data, a: leave_one_out(
            data[[*BY, "study_id", *count_columns(data)]], a.measure, a.method, a.test, by=BY, **_options(a)
        ).assign(sensitivity="leave one out"),
    )
    excluded = {}
    for a in review.analyses:
        if a.exclude and a.slug in usable:
            out = set(attributes.loc[matches(attributes, a.exclude), "study_id"])
            excluded[a.slug] = usable[a.slug][~usable[a.slug]["study_id"].isin(out)]
    exc = _batched(
        [a for a in review.analyses if a.exclude],
        excluded,
        lambda data, a: run_pool(data, a).assign(sensitivity=""),
    )
    if len(exc):
        labels = {
            a.name: "excluding " + ", ".join(f"{k} = {v}" for k, v in a.exclude.items())
            for a in review.analyses
            if a.exclude
        }
        exc["sensitivity"] = exc["analysis"].map(labels)
    sensitivity = (
        pd.concat([f for f in (loo, exc) if len(f)], ignore_index=True)
        if len(loo) or len(exc)
        else pd.DataFrame()
    )
    if len(sensitivity):
        first = ["analysis", "sensitivity", *[c for c in ("omitted",) if c in sensitivity.columns]]
        sensitivity = sensitivity[first + [c for c in sensitivity.columns if c not in first]]
    safety_frame = (
        pd.concat([s for s in safety if len(s)], ignore_index=True)
        if any(len(s) for s in safety)
        else pd.DataFrame(columns=SAFETY_COLUMNS)
    )
    return Pooled(pooled, datasets, safety_frame, sub, sensitivity)


def _with_subgroup(data: pd.DataFrame, a: Analysis, attributes: pd.DataFrame) -> pd.DataFrame:
    """Each row's subgroup: the study's value of the field, or its experimental arm's for an arm field."""
    arm_col = "arm_id" if a.one_arm else "experimental_arm"
    values = attributes[["study_id", "arm_id", a.subgroup]].rename(
        columns={"arm_id": arm_col, a.subgroup: "subgroup"}
    )
    out = data.merge(values, on=["study_id", arm_col], how="left")
    out["subgroup"] = out["subgroup"].astype(object).where(out["subgroup"].notna(), "NR").astype(str)
    return out


def _subgroups(subgroups, data: pd.DataFrame, a: Analysis) -> pd.DataFrame:
    """Subgroup estimates and the test for differences: one tau^2 for all subgroups by default (metafor's
    rma(yi, vi, mods = ~ factor(subgroup)) with its QM), or a separate tau^2 in each."""
    columns = [*BY, "study_id", "subgroup", *count_columns(data)]
    out = subgroups(
        data[columns],
        "subgroup",
        a.measure,
        a.method,
        a.test,
        by=BY,
        tau2=a.subgroup_model,
        single_study="keep",
        **_options(a),
    )
    return out.assign(subgroup_field=a.subgroup)


def _left_out(data: pd.DataFrame, counts: list[str]) -> pd.DataFrame:
    """The rows of an analysis that cannot be pooled, each as 'study (why)'."""
    lost = data[data[counts].isna().any(axis=1)] if counts else data.iloc[:0]
    text = np.where(
        lost["note"].fillna("") != "",
        lost["study_id"].astype(str) + " (" + lost["note"].fillna("") + ")",
        lost["study_id"].astype(str),
    )
    return lost.assign(text=text)


SAFETY_COLUMNS = [
    "analysis",
    "term",
    "grade",
    "timepoint",
    "k",
    "events_e",
    "n_e",
    "events_c",
    "n_c",
    "events",
    "n",
    "measure",
    "method",
    "estimate",
    "ci_low",
    "ci_high",
    "pval",
    "tau2",
    "i2",
    "k_double_zero",
    "matched_on",
    "reported_terms",
    "studies_left_out",
    "note",
]


def _join_notes(*parts):
    from .outcomes import _join_notes as join

    return join(*parts)


def _safety_rows(
    a: Analysis,
    results: pd.DataFrame,
    usable: pd.DataFrame,
    left_out: pd.DataFrame,
    arm_outcomes: pd.DataFrame,
) -> pd.DataFrame:
    """The safety table of one analysis: per term x grade the events/N per group summed over the studies
    pooled, the pooled estimate and its CI, I^2, and how terms were matched."""
    keys = ["outcome", "timepoint", "grade"]
    value_cols = [c for c in ("events_e", "n_e", "events_c", "n_c", "events", "n") if c in usable.columns]
    sums = usable.groupby(keys, sort=False, dropna=False)[value_cols].sum()
    out = results.merge(sums.reset_index(), on=keys, how="left") if len(results) else sums.reset_index()
    if len(left_out):
        lo = left_out.assign(**{k: left_out[k].astype(object).where(left_out[k].notna(), "") for k in keys})
        whole = "; ".join(lo.loc[lo["outcome"] == "", "text"])  # studies that give no term at all
        named = lo[lo["outcome"] != ""]
        text = named.groupby(keys, sort=False, dropna=False)["text"].agg("; ".join).rename("studies_left_out")
        # outer: a term or item that no study gives usable counts for stays in the table, k = 0, with the reasons
        out = out.merge(text.reset_index(), on=keys, how="outer" if len(out.columns) else "right")
        unpooled = out["k"].isna() if "k" in out.columns else pd.Series(True, index=out.index)
        out["k"] = out["k"].fillna(0).astype(int) if "k" in out.columns else 0
        for column, value in (("measure", a.measure), ("method", a.method)):
            if column not in out.columns:
                out[column] = None
            out.loc[unpooled, column] = value
        out["note"] = _join_notes(
            out["note"] if "note" in out.columns else pd.Series("", index=out.index),
            pd.Series(np.where(unpooled, "no study gives usable counts", ""), index=out.index),
        )
        if whole:
            out["studies_left_out"] = _join_notes(out["studies_left_out"], pd.Series(whole, index=out.index))
    terms = arm_outcomes[arm_outcomes["domain"] == a.domain].groupby("outcome", sort=False)
    shown = pd.DataFrame(
        {
            "matched_on": terms["matched_on"].agg(lambda v: ", ".join(sorted(set(v.dropna())))),
            "reported_terms": terms["reported_term"].agg(
                lambda v: "; ".join(sorted(set(v.dropna().astype(str))))
            ),
        }
    )
    out = out.merge(shown, left_on="outcome", right_index=True, how="left")
    out["analysis"] = a.name
    if a.method not in ("MH", "PETO") and "k_corrected" in out and len(out):  # Cochrane Handbook 10.4.4.2
        advice = np.where(
            out["k_corrected"].fillna(0) > 0,
            "zero cells corrected by adding " + out["add"].astype(str) + "; for rare events the Cochrane "
            "Handbook (10.4.4.2) prefers method MH or PETO, which need no correction",
            "",
        )
        out["note"] = _join_notes(out["note"], pd.Series(advice, index=out.index))
    out = out.rename(columns={"outcome": "term"})
    for c in SAFETY_COLUMNS:
        if c not in out.columns:
            out[c] = None
    return out[SAFETY_COLUMNS]
