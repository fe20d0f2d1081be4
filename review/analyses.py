"""The analyses of a review: each analysis's dataset (arm groups chosen by rule or listed, paired per study, with
the reason any study is left out) and every analysis pooled, grouped by engine configuration so that analyses
sharing one are pooled in one vectorised call; the safety table, subgroups and sensitivity analyses.

review.project reads review.toml into `Analysis` objects and calls `pool_analyses` from `run`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .effects import no_contrast
from .errors import ReviewError
from .forms import Form
from .outcomes import KINDS, is_true, specs_of, table_of_kind
from .project import Analysis, Review, matches, rob_column
from .tables import AnalysisTables, count_columns

# The pooled columns a reader looks for first: the collaborator workbook and a run's notebook view lead with them
# (pooled.csv keeps the engine's order)
POOLED_FIRST = (
    "analysis",
    "k",
    "measure",
    "estimate",
    "ci_low",
    "ci_high",
    "pi_low",
    "pi_high",
    "i2",
    "tau2",
    "pval",
)

BY = [
    "analysis",
    "outcome",
    "timepoint",
    "grade",
]  # one pooled row per analysis x outcome x timepoint x grade


def study_attributes(analysis_tables: AnalysisTables) -> pd.DataFrame:
    """One row per arm with its fields, its study's fields and the study's risk-of-bias judgements (rob_*).

    Built once per AnalysisTables and kept (every analysis picks its arms from it); callers only read it."""
    if analysis_tables._attributes is None:
        analysis_tables._attributes = _study_attributes(analysis_tables)
    return analysis_tables._attributes


def _study_attributes(analysis_tables: AnalysisTables) -> pd.DataFrame:
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
        rob = rob.assign(column=rob[roles["domain"]].map(rob_column)).drop_duplicates(["study_id", "column"])
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
                hit &= ~is_true(attributes[pooled_col])
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
    if not analysis.arms:
        return
    known: dict = {}
    for study, arm in zip(attributes["study_id"].tolist(), attributes["arm_id"].tolist(), strict=True):
        known.setdefault(study, set()).add(arm)
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
    by_study: dict = {}  # found once, as plain records: filtering (or .iloc) per study was quadratic and slow
    for rec in here.to_dict("records"):
        by_study.setdefault(rec["study_id"], []).append(rec)
    for pair in pairs.to_dict("records"):  # one row per study: comparisons are few
        study, exp, ctl = pair["study_id"], pair["experimental_arm"], pair["control_arm"]
        found = [
            r for r in by_study.get(study, ()) if {r["experimental_arm"], r["control_arm"]} == {exp, ctl}
        ]
        if study in analysis.comparisons:
            found = [r for r in found if r["comparison"] == analysis.comparisons[study]]
        if len(found) > 1:
            labels = ", ".join(repr(r["comparison"]) for r in found)
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
        pairs_found = [(r["experimental_arm"], r["control_arm"]) for r in found]
        if (exp, ctl) in pairs_found:
            hit = found[pairs_found.index((exp, ctl))]
            row.update(
                yi=hit["yi"],
                vi=hit["vi"],
                derivation=hit["derivation"],
                note=_notes(row["note"], hit["note"]),
            )
        elif (ctl, exp) in pairs_found:  # reported the other way round: invert (log HR changes sign)
            hit = found[pairs_found.index((ctl, exp))]
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
        a.slug: _left_out(
            datasets[a.slug].assign(analysis=a.name), count_columns(datasets[a.slug]), bool(a.drop00)
        )
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


def _left_out(data: pd.DataFrame, counts: list[str], drop00: bool = False) -> pd.DataFrame:
    """The rows of an analysis that cannot be pooled, each as 'study (why)'; with drop00, also the two-arm
    studies with no events (or only events) in both arms, which the engine drops as metafor does."""
    missing = data[counts].isna().any(axis=1) if counts else pd.Series(False, index=data.index)
    note = data["note"].fillna("") if "note" in data else pd.Series("", index=data.index)
    if drop00 and {"events_e", "n_e", "events_c", "n_c"} <= set(data.columns):
        counts = [data[c].astype(float) for c in ("events_e", "n_e", "events_c", "n_c")]
        dropped = (
            no_contrast(*counts) & ~missing
        )  # (a count missing compares False: its row is left out anyway)
        why = np.where(counts[0] == 0, "no events in either arm", "events in every patient of both arms")
        reason = np.char.add(why.astype(str), ", left out as drop00 = true asks")
        note = note.where(~dropped, pd.Series(reason, index=data.index))
        missing = missing | dropped
    lost, note = data[missing], note[missing]
    text = np.where(
        note != "", lost["study_id"].astype(str) + " (" + note + ")", lost["study_id"].astype(str)
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


def _distinct_joined(rows: pd.DataFrame, column: str, sep: str) -> pd.Series:
    """Per outcome (in order of first appearance), its distinct non-missing `column` values sorted and joined."""
    outcomes = pd.unique(rows["outcome"].dropna().to_numpy(dtype=object))
    pairs = rows[["outcome", column]].dropna(subset=[column]).astype({column: str}).drop_duplicates()
    pairs = pairs.sort_values(column, kind="stable")
    joined = pairs.groupby("outcome", sort=False)[column].agg(sep.join)
    return joined.reindex(outcomes).fillna("").rename_axis("outcome")


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
    rows = arm_outcomes.loc[arm_outcomes["domain"] == a.domain, ["outcome", "matched_on", "reported_term"]]
    shown = pd.DataFrame(
        {  # each term's distinct values, found once per (term, value) pair rather than per row of each term
            "matched_on": _distinct_joined(rows, "matched_on", ", "),
            "reported_terms": _distinct_joined(rows, "reported_term", "; "),
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
