"""Outcome kinds: what a form table holds, which of its fields play which role, and what becomes of them.

A form table declares its kind in an `outcome:` block (extraction_forms/README.md):

    adverse_events:
      ...
      outcome: {kind: adverse_events, term: term, ctcae_term: ctcae_term, events: patients, total: at_risk}

Each kind here knows its roles (required or optional, each a field of the table; a role left out defaults to
the field of the same name), its options, how it builds its rows of the meta-analysis-ready tables (every
derivation recorded) and which measures of the engine it can be pooled with. tables.py, project.py and
export.py loop over these kinds; none of them names a table or a field of a form.

Kinds: studies, arms and risk_of_bias describe studies and arms (for arm groups, subgroups and sensitivity
rules); arm_counts, best_response, adverse_events and safety_summary give events out of a total per arm
(arm_outcomes); continuous gives mean, SD and n per arm (continuous); contrast gives a log ratio and its
variance per comparison of two arms, such as a hazard ratio (hazard_ratios).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from . import derive
from .effects import CONTINUOUS, MEASURES, ONE_ARM, TWO_ARM

ARM_OUTCOME_COLUMNS = [
    "study_id",
    "arm_id",
    "domain",
    "outcome",
    "timepoint",
    "grade",
    "events",
    "total",
    "percent",
    "derivation",
    "inputs",
    "note",
    "reported_term",
    "matched_on",
]
CONTINUOUS_COLUMNS = [
    "study_id",
    "arm_id",
    "domain",
    "outcome",
    "timepoint",
    "mean",
    "sd",
    "n",
    "derivation",
    "inputs",
    "note",
]
CONTRAST_COLUMNS = [
    "study_id",
    "domain",
    "outcome",
    "comparison",
    "experimental_arm",
    "control_arm",
    "measure",
    "hr",
    "yi",
    "sei",
    "vi",
    "derivation",
    "inputs",
    "note",
]
DEFAULT_SUMS = {
    "objective response": ["complete response", "partial response"],
    "disease control": ["complete response", "partial response", "stable disease"],
}


@dataclass(frozen=True)
class Role:
    name: str
    required: bool
    help: str
    default: str | None = None  # the field used when the block does not name one (default: the role's name)


@dataclass(frozen=True)
class Settings:
    """Choices the review makes for derivations (review.toml): count policy, median method, CI distribution."""

    counts: str = "unique"
    median_method: str = "shi2020"
    ci_distribution: str = "auto"


@dataclass(frozen=True)
class OutcomeSpec:
    """A table's `outcome:` block: its kind, the field of each role, and the kind's options."""

    kind: str
    table: str
    roles: dict[str, str]
    options: dict[str, object] = field(default_factory=dict)
    line: int | None = None

    def field(self, role: str) -> str | None:
        return self.roles.get(role)


# (rows of one table, its spec, every table, the review's settings, (study, arm) of arms pooling others)
Builder = Callable[
    [pd.DataFrame, OutcomeSpec, Mapping[str, pd.DataFrame], Settings, frozenset[tuple]], pd.DataFrame
]


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    roles: tuple[Role, ...]
    frame: str | None = None  # the meta-analysis-ready table it feeds
    options: dict[str, str] = field(default_factory=dict)
    build: Builder | None = None
    measures: tuple[str, ...] = ()  # the engine's measures an analysis of this kind may use
    arm_level: bool = True  # rows are per arm (else per comparison or per study)
    many_outcomes: bool = False  # an analysis with no outcome pools each outcome (term x grade) of the table


_STUDY = Role("study", True, "the study id", "study_id")
_ARM = Role("arm", True, "the arm id", "arm_id")


class SpecError(Exception):
    """A problem in a form's outcome block; `key` is the key of the block to point the error at."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


# --- builders -------------------------------------------------------------------------------------------------


def _col(frame: pd.DataFrame, spec: OutcomeSpec, role: str) -> pd.Series:
    name = spec.field(role)
    if name is None or name not in frame.columns:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return frame[name]


def _number(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series.where(~series.isin(derive.MISSING)), errors="coerce")


def _missing_note(what: str, series: pd.Series) -> pd.Series:
    """'what: NR' (or NA, or empty) where a value is missing, '' where one was typed."""
    missing = _number(series).isna().to_numpy()
    out = np.full(len(series), "", dtype=object)
    if missing.any():
        shown = series[missing].astype(object)
        out[missing] = (what + ": " + shown.where(shown.isin(derive.MISSING), "empty").astype(str)).to_numpy()
    return pd.Series(out, index=series.index, dtype=object)


def _join_notes(*parts: pd.Series) -> pd.Series:
    """Join notes column-wise with '; ', skipping empty ones (vectorised: no per-row Python)."""
    out = None
    for p in parts:
        p = p.fillna("").astype(str)
        if out is None:
            out = p
            continue
        both = (out != "") & (p != "")
        out = (out + np.where(both, "; ", "") + p).astype(str)
    return out if out is not None else pd.Series([], dtype=object)


_COUNT_WORDS = {  # how notes name the count and the total of each kind
    "arm_counts": ("events", "total"),
    "best_response": (None, "denominator"),  # None: the category names the count
    "adverse_events": ("patients", "patients at risk"),
    "safety_summary": ("patients", "patients at risk"),
}


def _arm_rows(
    frame, spec, settings, outcome: pd.Series, grade: pd.Series | None, timepoint: pd.Series | None
):
    """Arm-level events out of a total: the shared part of the count kinds."""
    events, total = _col(frame, spec, "events"), _col(frame, spec, "total")
    percent = _col(frame, spec, "percent")
    what, total_what = _COUNT_WORDS[spec.kind]
    counts = derive.counts_from(
        events, percent, total, outcome.astype(str) if what is None else what, settings.counts
    )
    tot = _number(total)
    none = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return pd.DataFrame(
        {
            "study_id": _col(frame, spec, "study"),
            "arm_id": _col(frame, spec, "arm"),
            "domain": spec.table,
            "outcome": outcome,
            "timepoint": timepoint if timepoint is not None else none,
            "grade": grade if grade is not None else none,
            "events": counts["events"],
            "total": tot.round().astype("Int64"),
            "percent": _number(percent).astype("Float64"),
            "derivation": counts["derivation"],
            "inputs": counts["inputs"],
            "note": _join_notes(counts["note"], _missing_note(total_what, total)),
            "reported_term": none,
            "matched_on": none,
            "count_note": counts["note"],
        },
        columns=[*ARM_OUTCOME_COLUMNS, "count_note"],
    )


def _timepoint(frame, spec):
    return _col(frame, spec, "timepoint") if spec.field("timepoint") else None


def _build_arm_counts(frame, spec, tables, settings, pooled_arms):
    return _arm_rows(frame, spec, settings, _col(frame, spec, "outcome"), None, _timepoint(frame, spec))[
        ARM_OUTCOME_COLUMNS
    ]


def _build_safety(frame, spec, tables, settings, pooled_arms):
    return _arm_rows(frame, spec, settings, _col(frame, spec, "item"), None, _timepoint(frame, spec))[
        ARM_OUTCOME_COLUMNS
    ]


def match_terms(term: pd.Series, ctcae: pd.Series) -> pd.DataFrame:
    """The term each adverse-event row is pooled under: its CTCAE term when given, else the reported term.

    Terms match across studies ignoring case and spacing; the first spelling met names the group. The text
    work is done once per distinct (term, CTCAE term) pair, not per row."""
    t_codes, t_uni = pd.factorize(term.astype(object), use_na_sentinel=True)
    c_codes, c_uni = pd.factorize(ctcae.astype(object), use_na_sentinel=True)
    codes, combined = pd.factorize((t_codes + 1) * (len(c_uni) + 1) + (c_codes + 1))
    t_at, c_at = combined // (len(c_uni) + 1) - 1, combined % (len(c_uni) + 1) - 1
    u = pd.DataFrame(
        {
            "term": np.where(t_at >= 0, np.asarray(t_uni, dtype=object)[np.maximum(t_at, 0)], None),
            "ctcae": np.where(
                c_at >= 0, np.asarray(c_uni, dtype=object)[np.maximum(c_at, 0)] if len(c_uni) else None, None
            ),
        }
    )
    ct = u["ctcae"].where(~u["ctcae"].isin(derive.MISSING) & u["ctcae"].notna(), None)
    ct = ct.where(ct.astype(str).str.strip() != "", None)
    on_ctcae = ct.notna().to_numpy()
    raw = ct.where(on_ctcae, u["term"]).astype(str).str.strip()
    folded = raw.str.casefold().str.replace(r"\s+", " ", regex=True)
    names = raw.groupby(folded, sort=False).transform("first").to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "outcome": names[codes],
            "matched_on": np.where(on_ctcae, "CTCAE term", "reported term")[codes],
            "reported_term": term.to_numpy(dtype=object),
        },
        index=term.index,
    )


def _build_adverse_events(frame, spec, tables, settings, pooled_arms):
    matched = match_terms(_col(frame, spec, "term"), _col(frame, spec, "ctcae_term"))
    grade = _col(frame, spec, "grade") if spec.field("grade") else None
    out = _arm_rows(frame, spec, settings, matched["outcome"], grade, _timepoint(frame, spec))[
        ARM_OUTCOME_COLUMNS
    ]
    out["reported_term"], out["matched_on"] = matched["reported_term"], matched["matched_on"]
    return out


def _build_best_response(frame, spec, tables, settings, pooled_arms):
    """Counts per category, and the sums the form declares (objective response = CR + PR, ...), never typed."""
    base = _arm_rows(frame, spec, settings, _col(frame, spec, "category"), None, _timepoint(frame, spec))
    fallback = _fallback_totals(spec, tables)
    sums = spec.options.get("sums", DEFAULT_SUMS)
    keys = ["study_id", "arm_id", "timepoint"]
    # one pass over numpy columns and one frame at the end: a frame per arm made this quadratic-looking slow
    outcome_v = base["outcome"].to_numpy(dtype=object)
    events_v = base["events"].to_numpy(dtype=object, na_value=None)
    note_v = base["count_note"].to_numpy(dtype=object)
    total_v = base["total"].to_numpy(dtype=object, na_value=None)
    derived = []
    for (study, arm, timepoint), at in base.groupby(keys, sort=False, dropna=False).indices.items():
        counts = dict(zip(outcome_v[at], zip(events_v[at], note_v[at], strict=True), strict=True))
        denominators = {int(v) for v in total_v[at] if v is not None}
        total, total_note = _response_total(denominators, fallback.get((study, arm)))
        for outcome, parts in sums.items():
            missing = [p for p in parts if p not in counts or pd.isna(counts[p][0])]
            if missing:
                why = "; ".join(counts[p][1] if p in counts else f"{p}: no row" for p in missing)
                value, derivation, inputs, note = (
                    None,
                    "",
                    "",
                    f"not derived, needs {' + '.join(parts)}: {why}",
                )
            else:
                value = int(sum(int(counts[p][0]) for p in parts))
                derivation, inputs, note = (
                    " + ".join(parts),
                    ", ".join(f"{p}={int(counts[p][0])}" for p in parts),
                    "",
                )
            pct = 100.0 * value / total if value is not None and total else None
            derived.append(
                (
                    study,
                    arm,
                    spec.table,
                    outcome,
                    None if pd.isna(timepoint) else timepoint,
                    None,
                    value,
                    total,
                    pct,
                    derivation,
                    inputs,
                    "; ".join(n for n in (note, total_note) if n),
                    None,
                    None,
                )
            )
    out = [base, pd.DataFrame(derived, columns=ARM_OUTCOME_COLUMNS)]
    result = pd.concat(out, ignore_index=True)[ARM_OUTCOME_COLUMNS]
    return result.astype({"events": "Int64", "total": "Int64", "percent": "Float64"})


def _fallback_totals(spec: OutcomeSpec, tables: Mapping[str, pd.DataFrame]) -> dict:
    ref = spec.options.get("total_from")
    if not ref:
        return {}
    tname, fname = str(ref).split(".", 1)
    arms = tables.get(tname)
    if arms is None or arms.empty or fname not in arms.columns:
        return {}
    values = _number(arms[fname])
    return {
        (s, a): v for s, a, v in zip(arms["study_id"], arms["arm_id"], values, strict=True) if pd.notna(v)
    }


def _response_total(denominators: set[int], evaluable: object) -> tuple[int | None, str]:
    if len(denominators) == 1:
        return denominators.pop(), ""
    if len(denominators) > 1:
        return None, f"categories use different denominators ({', '.join(map(str, sorted(denominators)))})"
    if derive.known(evaluable):
        return int(evaluable), ""  # type: ignore[call-overload]
    return None, "no denominator: neither the categories nor the arm's evaluable count give one"


def _build_continuous(frame, spec, tables, settings, pooled_arms):
    """Mean, SD and n per arm; SD (and, from a median, the mean) derived by the first method the data allow."""
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    get = {role: spec.field(role) for role in _ROLES_OF["continuous"]}

    def value(r, role):
        name = get.get(role)
        return r.get(name) if name else None

    # the p-value route needs both arms of the comparison: index the rows by study, outcome, timepoint
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        if (value(r, "study"), value(r, "arm")) not in pooled_arms:  # an 'all arms' row is no third arm
            groups.setdefault((value(r, "study"), value(r, "outcome"), value(r, "timepoint")), []).append(r)
    rows = []
    for r in records:
        mean, n = value(r, "mean"), value(r, "n")
        tried: list[str] = []
        result: derive.Derived | None = None
        disp, dtype = value(r, "dispersion"), value(r, "dispersion_type")
        if derive.known(value(r, "sd")):
            result = derive.Derived(float(value(r, "sd")), "reported")
        elif derive.known(disp) and dtype == "SD":
            result = derive.Derived(float(disp), "reported")
        else:
            se = value(r, "se") if get.get("se") else disp if dtype == "SE" else None
            siblings = groups.get((value(r, "study"), value(r, "outcome"), value(r, "timepoint")), [r])
            attempts = [
                (partial(derive.sd_from_se, se, n), get.get("se") or dtype == "SE"),
                (
                    partial(
                        derive.sd_from_ci,
                        value(r, "ci_low"),
                        value(r, "ci_high"),
                        n,
                        value(r, "ci_level"),
                        settings.ci_distribution,
                    ),
                    derive.known(value(r, "ci_low")) or derive.known(value(r, "ci_high")),
                ),
                (
                    partial(_sd_from_p, r, siblings, value),
                    any(derive.known(value(x, "p_value")) for x in siblings),
                ),
            ]  # (a route is tried where the row gives something for it: its refusal then says what is missing)
            for attempt, available in attempts:
                if not available:
                    continue
                d = attempt()
                if d.value is not None:
                    result = d
                    break
                tried.append(d.note)
        if result is None and get.get("median") and derive.known(value(r, "median")):
            d = derive.mean_sd_from_median(
                value(r, "median"),
                value(r, "q1"),
                value(r, "q3"),
                value(r, "minimum"),
                value(r, "maximum"),
                n,
                settings.median_method,
                mean_given=derive.known(mean),  # the reported mean stands; only the SD comes from the spread
            )
            if d.value is None:
                tried.append(d.note)
            else:
                mean = mean if derive.known(mean) else d.value
                result = derive.Derived(d.extra, d.derivation, d.inputs)
        untyped = (
            derive.known(disp) and dtype in (None, "", *derive.MISSING) and not derive.known(value(r, "sd"))
        )
        if untyped:  # a number in the dispersion column that says neither SD nor SE: never used as either
            unused = f"the dispersion {derive.fmt(disp)} is not used: its type (SD or SE) is not given"
            if result is not None:
                result = derive.Derived(
                    result.value,
                    result.derivation,
                    result.inputs,
                    "; ".join(filter(None, [result.note, unused])),
                )
            else:
                tried.append(unused)
        if result is None and not tried:
            tried.append(
                f"SD: {derive.code(disp)}" if not derive.known(disp) else "SD: dispersion type or n not given"
            )
        if not derive.known(mean):
            tried.insert(0, f"mean: {derive.code(mean)}")
        rows.append(
            {
                "study_id": value(r, "study"),
                "arm_id": value(r, "arm"),
                "domain": spec.table,
                "outcome": value(r, "outcome"),
                "timepoint": value(r, "timepoint"),
                "mean": float(mean) if derive.known(mean) else None,
                "sd": result.value if result else None,
                "n": int(float(n)) if derive.known(n) else None,
                "derivation": result.derivation if result else "",
                "inputs": result.inputs if result else "",
                "note": "; ".join(
                    [
                        *(t for t in tried if result is None),
                        *([result.note] if result and result.note else []),
                    ]
                ),
            }
        )
    return pd.DataFrame(rows, columns=CONTINUOUS_COLUMNS).astype(
        {"mean": "Float64", "sd": "Float64", "n": "Int64"}
    )


def _sd_from_p(r, siblings, value) -> derive.Derived:
    """SD from the p-value on the rows of the outcome's arms (`siblings`: pooling arms left out)."""
    if not any(x is r for x in siblings):
        return derive.Derived(note="SD from a p-value: not for a row pooling other arms")
    if len(siblings) != 2:
        return derive.Derived(
            note=f"SD from a p-value needs exactly two arms of the outcome ({len(siblings)} given)"
        )
    other = siblings[1] if siblings[0] is r else siblings[0]
    if not (derive.known(value(r, "p_value")) and derive.known(value(other, "p_value"))):
        return derive.Derived(note="SD from a p-value needs it on both arms' rows (one arm gives it)")
    if value(other, "p_value") != value(r, "p_value"):
        return derive.Derived(
            note=f"SD from a p-value: the two arms give different p-values ({value(r, 'p_value')!s} and "
            f"{value(other, 'p_value')!s} on arm {value(other, 'arm')})"
        )
    return derive.sd_from_p(
        value(r, "mean"), value(other, "mean"), value(r, "n"), value(other, "n"), value(r, "p_value")
    )


_REVERSED = {"control vs experimental", "control versus experimental", "reversed"}


def _build_contrast(frame, spec, tables, settings, pooled_arms):
    """log ratio and its SE per comparison: from the CI, else O-E and V, else the p-value and events (Tierney)."""
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    measure = str(spec.options.get("measure", "HR"))

    def value(r, role):
        name = spec.field(role)
        return r.get(name) if name else None

    rows = []
    for r in records:
        hr = value(r, "estimate")
        d = derive.log_hr(hr, value(r, "ci_low"), value(r, "ci_high"), value(r, "ci_level"))
        tried = []
        # the other routes are tried (and their refusals told) only when the row gives some of their inputs
        routes = []
        if derive.known(value(r, "o_minus_e")) or derive.known(value(r, "variance")):
            routes.append(partial(derive.log_hr_from_oe, value(r, "o_minus_e"), value(r, "variance"), hr))
        if derive.known(value(r, "p_value")):
            favours = str(value(r, "favours") or "")
            args = (value(r, "p_value"), value(r, "events"), hr, value(r, "n_e"), value(r, "n_c"), favours)
            routes.append(partial(derive.log_hr_from_p, *args))
        if d["sei"] is None and routes:
            tried.append(d["note"])
            for attempt in routes:
                e = attempt()
                if e["sei"] is not None:
                    d = e
                    break
                tried.append(e["note"])
            else:
                d = {**d, "note": "; ".join(t for t in tried if t)}
        direction = str(value(r, "direction") or "").strip().casefold()
        if direction in _REVERSED and d["yi"] is not None:
            d = {
                **d,
                "yi": -d["yi"],
                "derivation": "; ".join(
                    x
                    for x in (
                        d["derivation"],
                        "inverted: reported control versus experimental, ln HR negated",
                    )
                    if x
                ),
            }
        rows.append(
            {
                "study_id": value(r, "study"),
                "domain": spec.table,
                "outcome": value(r, "outcome"),
                "comparison": value(r, "comparison"),
                "experimental_arm": value(r, "arm_e"),
                "control_arm": value(r, "arm_c"),
                "measure": measure,
                "hr": float(hr) if derive.known(hr) else None,
                "yi": d["yi"],
                "sei": d["sei"],
                "vi": d["sei"] ** 2 if d["sei"] is not None else None,
                "derivation": d["derivation"],
                "inputs": d["inputs"],
                "note": d["note"],
            }
        )
    return pd.DataFrame(rows, columns=CONTRAST_COLUMNS).astype(
        {"hr": "Float64", "yi": "Float64", "sei": "Float64", "vi": "Float64"}
    )


# --- the registry ---------------------------------------------------------------------------------------------

_TWO = tuple(c for c, m in MEASURES.items() if m.columns == TWO_ARM)
_ONE = tuple(c for c, m in MEASURES.items() if m.columns == ONE_ARM)
_COUNT_MEASURES = tuple(m for m in _TWO if m != "PETO") + _ONE  # Peto's OR is method = "PETO"

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("studies", "studies", (_STUDY,), arm_level=False),
        Kind(
            "arms",
            "arms of each study",
            (_STUDY, _ARM, Role("pooled", False, "TRUE for a row pooling other arms")),
        ),
        Kind(
            "risk_of_bias",
            "risk of bias judgements",
            (
                _STUDY,
                Role("domain", True, "the bias domain"),
                Role("judgement", True, "low, some concerns, high"),
            ),
            arm_level=False,
        ),
        Kind(
            "arm_counts",
            "events out of a total per arm (dichotomous)",
            (
                _STUDY,
                _ARM,
                Role("outcome", True, "the outcome's name"),
                Role("timepoint", False, "which analysis or time"),
                Role("events", True, "patients with the event"),
                Role("total", True, "patients in the arm"),
                Role("percent", False, "the percentage as printed, for deriving a missing count"),
            ),
            "arm_outcomes",
            build=_build_arm_counts,
            measures=_COUNT_MEASURES,
        ),
        Kind(
            "best_response",
            "best overall response, one row per category",
            (
                _STUDY,
                _ARM,
                Role("timepoint", False, "which analysis"),
                Role("category", True, "the response category"),
                Role("events", True, "patients with this best response"),
                Role("total", False, "the denominator of the percentage"),
                Role("percent", False, "the percentage as printed"),
            ),
            "arm_outcomes",
            {
                "sums": "derived outcomes: name -> the categories they add up (default: objective response = "
                "CR + PR, disease control = CR + PR + SD)",
                "total_from": "table.field of the arms table giving the denominator when the categories do not",
            },
            _build_best_response,
            _COUNT_MEASURES,
        ),
        Kind(
            "adverse_events",
            "patients with each adverse event per arm and grade",
            (
                _STUDY,
                _ARM,
                Role("term", True, "the term as reported"),
                Role("ctcae_term", False, "the CTCAE/MedDRA term; terms are matched on it when given"),
                Role("grade", False, "the grade band"),
                Role("timepoint", False, "which analysis"),
                Role("events", True, "patients with the event"),
                Role("total", True, "patients at risk"),
                Role("percent", False, "the percentage as printed"),
            ),
            "arm_outcomes",
            build=_build_adverse_events,
            measures=_COUNT_MEASURES,
            many_outcomes=True,
        ),
        Kind(
            "safety_summary",
            "safety summary items per arm (serious AEs, discontinuations, deaths...)",
            (
                _STUDY,
                _ARM,
                Role("item", True, "the safety item"),
                Role("timepoint", False, "which analysis"),
                Role("events", True, "patients"),
                Role("total", True, "patients at risk"),
                Role("percent", False, "the percentage as printed"),
            ),
            "arm_outcomes",
            build=_build_safety,
            measures=_COUNT_MEASURES,
            many_outcomes=True,
        ),
        Kind(
            "continuous",
            "mean, SD (or what gives it) and n per arm",
            (
                _STUDY,
                _ARM,
                Role("outcome", True, "the outcome's name"),
                Role("timepoint", False, "which time"),
                Role("mean", True, "the mean"),
                Role("n", True, "patients analysed"),
                Role("sd", False, "the SD"),
                Role("se", False, "the SE of the mean"),
                Role("dispersion", False, "an SD or SE, as dispersion_type says"),
                Role("dispersion_type", False, "SD or SE"),
                Role("ci_low", False, "lower limit of the CI of the mean"),
                Role("ci_high", False, "upper limit of the CI of the mean"),
                Role("ci_level", False, "the CI's level in percent (95 if not given)"),
                Role("p_value", False, "the p-value of the difference in means, on both arms' rows"),
                Role("median", False, "the median, when no mean is reported"),
                Role("q1", False, "the first quartile"),
                Role("q3", False, "the third quartile"),
                Role("minimum", False, "the smallest value"),
                Role("maximum", False, "the largest value"),
            ),
            "continuous",
            build=_build_continuous,
            measures=tuple(c for c, m in MEASURES.items() if m.columns == CONTINUOUS),
        ),
        Kind(
            "contrast",
            "a ratio comparing two arms, such as a hazard ratio",
            (
                _STUDY,
                Role("outcome", True, "the outcome's name"),
                Role("comparison", False, "a label telling comparisons apart"),
                Role("arm_e", True, "the experimental arm", "experimental_arm"),
                Role("arm_c", True, "the control arm", "control_arm"),
                Role("estimate", True, "the ratio (e.g. the HR)", "hr"),
                Role("ci_low", False, "lower CI limit"),
                Role("ci_high", False, "upper CI limit"),
                Role("ci_level", False, "the CI's level in percent"),
                Role("p_value", False, "the exact (log-rank) p-value"),
                Role("o_minus_e", False, "observed minus expected events (experimental arm)"),
                Role("variance", False, "the log-rank variance V"),
                Role("events", False, "total events in both arms (with p_value)"),
                Role("n_e", False, "patients randomised to the experimental arm (allocation ratio)"),
                Role("n_c", False, "patients randomised to the control arm"),
                Role("direction", False, "'control vs experimental' when the ratio was reported that way"),
                Role("favours", False, "experimental or control: the direction when only a p-value is given"),
            ),
            "hazard_ratios",
            {"measure": "the measure of the ratio (HR)"},
            _build_contrast,
            ("HR",),
            arm_level=False,
        ),
    )
}
_ROLES_OF = {k.name: {r.name for r in k.roles} for k in KINDS.values()}
FRAMES = tuple(dict.fromkeys(k.frame for k in KINDS.values() if k.frame))


def parse_spec(table: str, doc: object, fields: Mapping[str, object], line: int | None = None) -> OutcomeSpec:
    """Check a table's `outcome:` block against its kind; SpecError names the key at fault."""
    if not isinstance(doc, dict):
        raise SpecError("outcome: must be a mapping with kind: and the fields of its roles")
    kind_name = doc.get("kind")
    if kind_name not in KINDS:
        raise SpecError(f"outcome: kind {kind_name!r} is not one of {', '.join(KINDS)}", "kind")
    kind = KINDS[str(kind_name)]
    allowed = {"kind", *(r.name for r in kind.roles), *kind.options}
    for key in doc:
        if key not in allowed:
            raise SpecError(
                f"outcome kind {kind.name}: unknown key {key!r}; its roles are "
                f"{', '.join(r.name for r in kind.roles)}"
                + (f" and its options {', '.join(kind.options)}" if kind.options else ""),
                key,
            )
    roles: dict[str, str] = {}
    for role in kind.roles:
        name = doc.get(role.name, role.default or role.name)
        if not isinstance(name, str):
            raise SpecError(f"outcome: {role.name}: must name a field of table {table!r}", role.name)
        if name not in fields:
            if role.name in doc or role.required:
                raise SpecError(
                    f"outcome kind {kind.name} needs role {role.name!r} ({role.help}): table {table!r} has no field "
                    f"{name!r}; name the field with `{role.name}: FIELD`",
                    role.name if role.name in doc else "kind",
                )
            continue
        roles[role.name] = name
    options = {k: doc[k] for k in kind.options if k in doc}
    if "sums" in options:
        sums = options["sums"]
        if not isinstance(sums, dict) or not all(isinstance(v, list) and v for v in sums.values()):
            raise SpecError("outcome: sums: must map each derived outcome to a list of categories", "sums")
        options["sums"] = {str(k): [str(x) for x in v] for k, v in sums.items()}
    if "total_from" in options and str(options["total_from"]).count(".") != 1:
        raise SpecError(
            "outcome: total_from: must be 'table.field', e.g. arms.evaluable_response", "total_from"
        )
    if "measure" in options and str(options["measure"]) not in kind.measures:
        raise SpecError(f"outcome: measure must be one of {', '.join(kind.measures)}", "measure")
    return OutcomeSpec(kind.name, table, roles, options, line)


def build(
    specs: Mapping[str, OutcomeSpec], tables: Mapping[str, pd.DataFrame], settings: Settings
) -> dict[str, pd.DataFrame]:
    """Every kind's frame of meta-analysis-ready rows, each from all the tables of that kind."""
    parts: dict[str, list[pd.DataFrame]] = {f: [] for f in FRAMES}
    pooled_arms = _pooled_arms(specs, tables)
    for table, spec in specs.items():
        kind = KINDS[spec.kind]
        frame = tables.get(table)
        if kind.build is None or kind.frame is None or frame is None or frame.empty:
            continue
        parts[kind.frame].append(kind.build(frame, spec, tables, settings, pooled_arms))
    columns = {
        "arm_outcomes": ARM_OUTCOME_COLUMNS,
        "continuous": CONTINUOUS_COLUMNS,
        "hazard_ratios": CONTRAST_COLUMNS,
    }
    types = {
        "arm_outcomes": {"events": "Int64", "total": "Int64", "percent": "Float64"},
        "continuous": {"mean": "Float64", "sd": "Float64", "n": "Int64"},
        "hazard_ratios": {"hr": "Float64", "yi": "Float64", "sei": "Float64", "vi": "Float64"},
    }
    out = {}
    for name, frames in parts.items():
        frames = [f for f in frames if len(f)]
        joined = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns[name])
        out[name] = joined[columns[name]].astype(types[name])
    return out


def _pooled_arms(specs: Mapping[str, OutcomeSpec], tables: Mapping[str, pd.DataFrame]) -> frozenset[tuple]:
    """(study, arm) of the arms that pool other arms (an 'all' row): not a third arm of a comparison."""
    out: set[tuple] = set()
    for table, spec in specs.items():
        frame = tables.get(table)
        study, arm, pooled = (spec.field(r) for r in ("study", "arm", "pooled"))
        if spec.kind == "arms" and frame is not None and {study, arm, pooled} <= set(frame.columns):
            flag = is_true(frame[pooled])
            out |= set(zip(frame.loc[flag, study], frame.loc[flag, arm], strict=True))
    return frozenset(out)


def is_true(flags: pd.Series) -> pd.Series:
    """Where a boolean field holds TRUE (as read: True, or the text 'TRUE' or '1'; NR and empty are not)."""
    return flags.astype(str).str.casefold().isin(("true", "1"))


def specs_of(form) -> dict[str, OutcomeSpec]:
    """The outcome blocks of a form, by table."""
    return {name: t.outcome for name, t in form.tables.items() if getattr(t, "outcome", None) is not None}


def table_of_kind(form, kind: str) -> str | None:
    """The (first) table of the form holding `kind`, e.g. the arms table."""
    return next((name for name, spec in specs_of(form).items() if spec.kind == kind), None)


def kind_of_measure(measure: str) -> tuple[str, ...]:
    """The kinds an analysis with this measure can draw on."""
    return tuple(k.name for k in KINDS.values() if measure in k.measures)
