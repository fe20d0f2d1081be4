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

import pandas as pd

from .derive import CI_DISTRIBUTIONS, COUNT_POLICIES, MEDIAN_METHODS
from .effects import CORRECTIONS, MEASURES, ONE_ARM
from .errors import RefusedOutput, ReviewError, UnreadableInput
from .extraction import Extraction, UnreadableWorkbook, read_extractions
from .files import MAX_CONFIG_DEPTH, check_output, claim_folder, read_text
from .forms import Form, default_form_path, load_form
from .issues import Report
from .meta import METHODS, TESTS
from .outcomes import KINDS, Settings, kind_of_measure, specs_of, table_of_kind
from .words import counted
from .workbook import make_workbook

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
            out[rob_column(value)] = f"{rob} ({value})"
    return out


def rob_column(domain: str) -> str:
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

        from .analyses import POOLED_FIRST

        columns = [*POOLED_FIRST, "studies_left_out"]
        shown = self.pooled[[c for c in columns if c in self.pooled.columns]]
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
    from .analyses import pool_analyses
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
    try:
        extractions = read_extractions(review.reviewers, review.form)  # both at once: two cores
    except UnreadableWorkbook as exc:
        raise ReviewError(f"stopped at validation: {exc}") from None
    report = Report()
    for extraction in extractions:
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
