"""From consensus to meta-analysis-ready tables, every derived value with its formula and inputs.

Input: the form's tables as typed by reviewers (values, with "NR"/"NA" strings where codes stand), i.e.
`Consensus.tables` or `Extraction.as_typed()`. Output:

- `arm_outcomes`: one row per study x arm x outcome x timepoint (x grade) with `events` and `total`, from the
  dichotomous, best-response, adverse-event and safety tables; objective response (CR+PR) and disease control
  (CR+PR+SD) are derived here from the response categories, never typed;
- `continuous`: mean, SD and n per arm (SD from SE where needed);
- `hazard_ratios`: log HR and its SE from the reported CI.

Each derived number says how (`derivation`) and from what (`inputs`); a value that cannot be derived is left
empty and `note` says why. Nothing here guesses: a percentage that no whole count of its denominator gives is
refused, and a missing category makes a sum underivable rather than smaller.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from .forms import MISSING_CODES
from .validate import whole_counts

RESPONSE_SUMS = {
    "objective response": ("complete response", "partial response"),
    "disease control": ("complete response", "partial response", "stable disease"),
}
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
]


@dataclass
class AnalysisTables:
    """The meta-analysis-ready tables; each is a plain DataFrame."""

    arm_outcomes: pd.DataFrame
    continuous: pd.DataFrame
    hazard_ratios: pd.DataFrame

    def frames(self) -> dict[str, pd.DataFrame]:
        return {
            "arm_outcomes": self.arm_outcomes,
            "continuous": self.continuous,
            "hazard_ratios": self.hazard_ratios,
        }

    def __repr__(self) -> str:
        return "AnalysisTables(" + ", ".join(f"{k}={len(v)} rows" for k, v in self.frames().items()) + ")"


def _known(value: object) -> bool:
    return (
        value is not None
        and not (isinstance(value, str) and value in MISSING_CODES)
        and not (isinstance(value, float) and math.isnan(value))
        and value is not pd.NA
    )


def _code(value: object) -> str:
    return value if isinstance(value, str) and value in MISSING_CODES else "empty"


def _fmt(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Count:
    """A count, reported or derived, or the reason it cannot be had."""

    value: int | None
    derivation: str = ""
    inputs: str = ""
    note: str = ""


COUNT_POLICIES = ("unique", "nearest")


def count_from(
    events: object, percent: object, total: object, what: str = "count", policy: str = "unique"
) -> Count:
    """The count as reported, or derived from a reported percentage of `total`.

    policy "unique" (the default) derives a count only when exactly one whole count fits the printed rounding;
    "nearest" takes the nearest whole count even when several fit, and records which did.
    """
    if _known(events):
        return Count(int(events), "reported")
    if _known(percent) and _known(total):
        fits = whole_counts(float(percent), float(total))
        exact = float(percent) * float(total) / 100
        inputs = f"percent={_fmt(percent)}, total={_fmt(total)}"
        if len(fits) == 1:
            return Count(fits[0], "percent x total / 100, rounded", inputs)
        if not fits:
            return Count(
                None,
                note=f"{what}: no whole number of patients out of {_fmt(total)} gives "
                f"{_fmt(percent)}% ({exact:.2f})",
            )
        if policy == "nearest":
            return Count(
                round(exact),
                "percent x total / 100, nearest whole count",
                inputs,
                note=f"{what}: {_fmt(percent)}% of {_fmt(total)} = {exact:.2f}; "
                f"{fits[0]} to {fits[-1]} fit the printed rounding",
            )
        return Count(
            None,
            note=f"{what}: {_fmt(percent)}% of {_fmt(total)} fits "
            f"{' or '.join(map(str, fits))} patients; type the count if the report gives it",
        )
    if _known(percent):
        return Count(None, note=f"{what}: {_fmt(percent)}% without its denominator ({_code(total)})")
    return Count(None, note=f"{what}: {_code(events)}")


def analysis_tables(tables: Mapping[str, pd.DataFrame], *, counts: str = "unique") -> AnalysisTables:
    """Build the meta-analysis-ready tables from consensus (or one reviewer's) tables.

    `counts` is the policy for counts derived from percentages (see count_from).
    """
    if counts not in COUNT_POLICIES:
        raise ValueError(f"counts must be one of {COUNT_POLICIES}")
    arms = tables.get("arms", pd.DataFrame())
    rows = (
        _dichotomous(tables.get("dichotomous"), counts)
        + _response(tables.get("response"), arms, counts)
        + _events(
            tables.get("adverse_events"), "adverse event", "term", "grade", "patients", "at_risk", counts
        )
        + _events(tables.get("safety"), "safety", "item", None, "patients", "at_risk", counts)
    )
    arm_outcomes = pd.DataFrame(rows, columns=ARM_OUTCOME_COLUMNS)
    arm_outcomes = arm_outcomes.astype({"events": "Int64", "total": "Int64", "percent": "Float64"})
    return AnalysisTables(
        arm_outcomes, _continuous(tables.get("continuous")), _hazard_ratios(tables.get("hazard_ratios"))
    )


def _row(study, arm, domain, outcome, timepoint, grade, count: Count, total, percent, total_note="") -> dict:
    note = "; ".join(n for n in (count.note, total_note) if n)
    return {
        "study_id": study,
        "arm_id": arm,
        "domain": domain,
        "outcome": outcome,
        "timepoint": timepoint,
        "grade": grade,
        "events": count.value,
        "total": int(total) if _known(total) else None,
        "percent": float(percent) if _known(percent) else None,
        "derivation": count.derivation,
        "inputs": count.inputs,
        "note": note,
    }


def _records(frame: pd.DataFrame | None) -> list[dict]:
    if frame is None or frame.empty:
        return []
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _dichotomous(frame: pd.DataFrame | None, policy: str) -> list[dict]:
    out = []
    for r in _records(frame):
        count = count_from(r["events"], r.get("percent"), r["total"], "events", policy)
        out.append(
            _row(
                r["study_id"],
                r["arm_id"],
                "dichotomous",
                r["outcome"],
                r["timepoint"],
                None,
                count,
                r["total"],
                r.get("percent"),
                "" if _known(r["total"]) else f"total: {_code(r['total'])}",
            )
        )
    return out


def _events(
    frame, domain: str, term: str, grade: str | None, patients: str, at_risk: str, policy: str
) -> list[dict]:
    out = []
    for r in _records(frame):
        count = count_from(r[patients], r.get("percent"), r[at_risk], "patients", policy)
        out.append(
            _row(
                r["study_id"],
                r["arm_id"],
                domain,
                r[term],
                None,
                r[grade] if grade else None,
                count,
                r[at_risk],
                r.get("percent"),
                "" if _known(r[at_risk]) else f"patients at risk: {_code(r[at_risk])}",
            )
        )
    return out


def _response(frame: pd.DataFrame | None, arms: pd.DataFrame, policy: str) -> list[dict]:
    records = _records(frame)
    evaluable = {(a["study_id"], a["arm_id"]): a.get("evaluable_response") for a in _records(arms)}
    out = []
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["study_id"], r["arm_id"], r["timepoint"]), []).append(r)
    for (study, arm, timepoint), rows in groups.items():
        counts: dict[str, Count] = {}
        totals = {int(r["denominator"]) for r in rows if _known(r["denominator"])}
        for r in rows:
            counts[r["category"]] = count_from(
                r["count"], r["percent"], r["denominator"], r["category"], policy
            )
            out.append(
                _row(
                    study,
                    arm,
                    "response",
                    r["category"],
                    timepoint,
                    None,
                    counts[r["category"]],
                    r["denominator"],
                    r["percent"],
                    "" if _known(r["denominator"]) else f"denominator: {_code(r['denominator'])}",
                )
            )
        total, total_note = _response_total(totals, evaluable.get((study, arm)))
        for outcome, parts in RESPONSE_SUMS.items():
            missing = [p for p in parts if p not in counts or counts[p].value is None]
            if missing:
                why = "; ".join(counts[p].note if p in counts else f"{p}: no row" for p in missing)
                count = Count(None, note=f"not derived, needs {' + '.join(parts)}: {why}")
            else:
                count = Count(
                    sum(counts[p].value for p in parts),
                    " + ".join(parts),
                    ", ".join(f"{p}={counts[p].value}" for p in parts),
                )
            pct = 100.0 * count.value / total if count.value is not None and total else None
            out.append(_row(study, arm, "response", outcome, timepoint, None, count, total, pct, total_note))
    return out


def _response_total(denominators: set[int], evaluable: object) -> tuple[int | None, str]:
    if len(denominators) == 1:
        return denominators.pop(), ""
    if len(denominators) > 1:
        return None, f"categories use different denominators ({', '.join(map(str, sorted(denominators)))})"
    if _known(evaluable):
        return int(evaluable), ""
    return None, "no denominator: neither the categories nor the arm's evaluable count give one"


def _continuous(frame: pd.DataFrame | None) -> pd.DataFrame:
    rows = []
    for r in _records(frame):
        sd, derivation, inputs, note = None, "", "", ""
        disp, kind, n = r["dispersion"], r["dispersion_type"], r["n"]
        if not _known(disp):
            note = f"SD: {_code(disp)}"
        elif kind == "SD":
            sd, derivation = float(disp), "reported"
        elif kind == "SE" and _known(n):
            sd, derivation = float(disp) * math.sqrt(float(n)), "SD = SE x sqrt(n)"
            inputs = f"SE={_fmt(disp)}, n={_fmt(n)}"
        else:
            note = "SD: dispersion type or n not given"
        rows.append(
            {
                "study_id": r["study_id"],
                "arm_id": r["arm_id"],
                "outcome": r["outcome"],
                "timepoint": r["timepoint"],
                "mean": float(r["mean"]) if _known(r["mean"]) else None,
                "sd": sd,
                "n": int(n) if _known(n) else None,
                "derivation": derivation,
                "inputs": inputs,
                "note": note,
            }
        )
    cols = ["study_id", "arm_id", "outcome", "timepoint", "mean", "sd", "n", "derivation", "inputs", "note"]
    return pd.DataFrame(rows, columns=cols).astype({"mean": "Float64", "sd": "Float64", "n": "Int64"})


def log_hr(hr: object, low: object, high: object, level: object) -> dict:
    """log HR and its SE from a reported CI: SE = (ln high - ln low) / (2 z), z for the CI level."""
    out = {"yi": None, "sei": None, "derivation": "", "inputs": "", "note": ""}
    if not (_known(low) and _known(high)):
        out["note"] = f"SE not derived: CI {_code(low if not _known(low) else high)}"
        if _known(hr):
            out["yi"] = math.log(float(hr))
        return out
    lo, hi = float(low), float(high)
    if lo <= 0 or hi <= lo:
        out["note"] = f"SE not derived: CI {_fmt(low)} to {_fmt(high)} is not a valid ratio interval"
        return out
    assumed = not _known(level)
    conf = 95.0 if assumed else float(level)
    z = norm.ppf(1 - (1 - conf / 100) / 2)
    out["sei"] = (math.log(hi) - math.log(lo)) / (2 * z)
    mid = (math.log(hi) + math.log(lo)) / 2
    if _known(hr):
        out["yi"] = math.log(float(hr))
        out["derivation"] = f"yi = ln HR; SE = (ln upper - ln lower) / (2 x {z:.4f})"
        asym = abs(out["yi"] - mid)
        if asym > 0.05 * (math.log(hi) - math.log(lo)) + 1e-9:
            out["note"] = f"CI asymmetric on the log scale (ln HR {out['yi']:.4f} vs midpoint {mid:.4f})"
    else:
        out["yi"] = mid
        out["derivation"] = f"yi = CI midpoint on the log scale; SE = (ln upper - ln lower) / (2 x {z:.4f})"
    out["inputs"] = (
        f"HR={_fmt(hr) if _known(hr) else _code(hr)}, CI={_fmt(low)} to {_fmt(high)}, level={conf:g}%"
    )
    if assumed:
        out["note"] = "; ".join(n for n in (out["note"], "CI level not given: 95% assumed") if n)
    return out


def _hazard_ratios(frame: pd.DataFrame | None) -> pd.DataFrame:
    rows = []
    for r in _records(frame):
        d = log_hr(r["hr"], r["ci_low"], r["ci_high"], r["ci_level"])
        rows.append(
            {
                "study_id": r["study_id"],
                "outcome": r["outcome"],
                "comparison": r["comparison"],
                "experimental_arm": r["experimental_arm"],
                "control_arm": r["control_arm"],
                "hr": float(r["hr"]) if _known(r["hr"]) else None,
                **d,
                "vi": d["sei"] ** 2 if d["sei"] is not None else None,
            }
        )
    cols = [
        "study_id",
        "outcome",
        "comparison",
        "experimental_arm",
        "control_arm",
        "hr",
        "yi",
        "sei",
        "vi",
        "derivation",
        "inputs",
        "note",
    ]
    return pd.DataFrame(rows, columns=cols).astype(
        {"hr": "Float64", "yi": "Float64", "sei": "Float64", "vi": "Float64"}
    )


def count_columns(data: pd.DataFrame) -> list[str]:
    """The columns an analysis's rows need filled to be pooled."""
    return [c for c in ("events_e", "n_e", "events_c", "n_c", "events", "n", "yi", "vi") if c in data.columns]


def comparison_table(
    arm_outcomes: pd.DataFrame,
    arms: Mapping[str, tuple[str, str]],
    outcome: str,
    timepoint: str | None = None,
    grade: str | None = None,
    domain: str | None = None,
) -> pd.DataFrame:
    """events_e, n_e, events_c, n_c for one outcome, one row per study, from `arms` {study: (exp, control)}.

    A study whose counts cannot be had is kept with empty counts and a note, so nothing disappears silently.
    """
    sel = arm_outcomes[arm_outcomes["outcome"] == outcome]
    if timepoint is not None:
        sel = sel[sel["timepoint"] == timepoint]
    if grade is not None:
        sel = sel[sel["grade"] == grade]
    if domain is not None:
        sel = sel[sel["domain"] == domain]
    # Rows by (study, arm), found once: filtering the table again for every study made building a review's
    # analyses quadratic in the number of studies.
    at = sel.groupby(["study_id", "arm_id"], sort=False).indices
    none = np.array([], dtype=int)
    rows = []
    for study, (exp, ctl) in arms.items():
        row: dict = {"study_id": study, "experimental_arm": exp, "control_arm": ctl}
        notes = []
        for side, arm in (("e", exp), ("c", ctl)):
            found = sel.iloc[at.get((study, arm), none)]
            if len(found) != 1:
                where = f" at {timepoint}" if timepoint else ""
                notes.append(
                    f"arm {arm}: no row for {outcome}{where}"
                    if found.empty
                    else f"arm {arm}: {len(found)} rows for {outcome}{where} (from "
                    f"{', '.join(sorted(set(found['domain'])))}); choose one with domain = ..."
                )
                row[f"events_{side}"], row[f"n_{side}"] = None, None
                continue
            rec = found.iloc[0]
            row[f"events_{side}"], row[f"n_{side}"] = rec["events"], rec["total"]
            if pd.isna(rec["events"]) or pd.isna(rec["total"]):
                notes.append(f"arm {arm}: {rec['note'] or 'count missing'}")
        row["note"] = "; ".join(dict.fromkeys(notes))  # a one-arm analysis passes its arm as both sides
        rows.append(row)
    cols = ["study_id", "experimental_arm", "control_arm", "events_e", "n_e", "events_c", "n_c", "note"]
    return pd.DataFrame(rows, columns=cols).astype(
        {c: "Int64" for c in ("events_e", "n_e", "events_c", "n_c")}
    )
