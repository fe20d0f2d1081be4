"""Consistency rules: what a careful second reader checks across arms, tables and fields of one extraction.

Each check is a rule kind (review.issues.RULE_KINDS) that a form applies to its own fields in its `rules:`
section; nothing here knows the shipped form's table names. Messages name every cell involved, so the reviewer
can see both sides of a contradiction. Checks whose inputs legitimately differ between real reports (a registry's
74 against a paper's 73 randomised, outcomes given for one subgroup only) are warnings.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd

from .forms import Form, Rule
from .issues import Issue
from .validate import (
    RULE_CHECKS,
    _field_of,
    _fmt,
    _issue,
    _join_whole,
    _label,
    _rule_issue,
    rounding_tolerance,
)
from .values import EMPTY
from .workbook import ExtractedTable, Extraction

# Words and digits with which a location or comment says that the report states a zero ("no patient had a
# complete response", "| 0 | 4 |"); a zero without any of them may be 'not reported' typed as 0.
_STATES_ZERO = re.compile(
    r"\b(no|none|zero|nil|neither|nobody|without|absent)\b|(?<![\d.,])0(?![\d.,]*\d)", re.IGNORECASE
)
_VERSUS = re.compile(r"\s+(?:vs\.?|versus|v\.?|compared with)\s+", re.IGNORECASE)


def states_zero(*texts: object) -> bool:
    """True when any of the texts (a row's Location, Comment...) says a value is zero or absent."""
    return any(isinstance(t, str) and _STATES_ZERO.search(t) for t in texts)


def _where(et: ExtractedTable, row: int, field: str) -> str:
    return f"{et.sheet}!{et.cell(row, field)}"


def _shown(et: ExtractedTable, row: int, field: str) -> str:
    code = et.missing.at[row, field]
    v = et.data.at[row, field]
    return code or ("empty" if pd.isna(v) else _fmt(v))


def _arm_table(extraction: Extraction, et: ExtractedTable, arm: str) -> ExtractedTable | None:
    """The table the arm field refers to (arms), when the extraction has it."""
    ref = et.table.fields[arm].references
    if ref and ref[0] != et.table.name and ref[0] in extraction.tables:
        return extraction.tables[ref[0]]
    return None


def _pooled_arms(extraction: Extraction, rule: Rule, et: ExtractedTable, arm: str) -> set[tuple]:
    """(study key..., arm) of the arms that pool other arms (the rule's `unless` field), left out of sibling
    comparisons: an 'all patients' row legitimately reports other things than its arms."""
    if "unless" not in rule.args:
        return set()
    arms_t, flag = _field_of(extraction, rule, "unless")
    keys = _join_whole(et, arms_t)
    d = arms_t.data
    pooled = d[d[flag].fillna(False).astype(bool)]
    return set(pooled[keys].astype(str).itertuples(index=False, name=None))


def _arm_keys(arms_t: ExtractedTable, study_keys: list[str], arm_field: str) -> set[tuple]:
    """(study key..., arm id) of every arm on the arms sheet."""
    names = [*study_keys, arm_field]
    return set(arms_t.data[names].dropna().astype(str).itertuples(index=False, name=None))


def _groups(et: ExtractedTable, varying: str) -> list[tuple[tuple, pd.DataFrame]]:
    """Rows grouped by every key field except `varying`."""
    cols = [k for k in et.table.key if k != varying]
    d = et.data.dropna(subset=list(et.table.key))
    if d.empty:
        return []
    return [(g if isinstance(g, tuple) else (g,), rows) for g, rows in d.groupby(cols, sort=False)]


# --- sibling arms ------------------------------------------------------------------------------------------------


def _sibling_value_missing(extraction: Extraction, rule: Rule) -> list[Issue]:
    """Sibling arms of a study report the same rows, with numbers or NR on both: a number on one arm and NR or
    nothing on another, or a row on one arm that a sibling arm lacks, is what a dropped value looks like."""
    et, arm = _field_of(extraction, rule, "arm")
    arms_t = _arm_table(extraction, et, arm)
    # the study's key fields: those of the arms table beside the arm (or, on the arms table itself, its own)
    study_keys = [k for k in (arms_t or et).table.key if k != arm and k in et.table.key]
    pooled = _pooled_arms(extraction, rule, et, arm)
    d = et.data.dropna(subset=list(et.table.key))
    known = (
        _arm_keys(arms_t, study_keys, et.table.fields[arm].references[1]) if arms_t else None
    )  # unknown arms: unknown-reference says so
    keep = [
        (key := tuple(map(str, (*(r[k] for k in study_keys), r[arm])))) not in pooled
        and (known is None or key in known)
        for _, r in d.iterrows()
    ]
    d = d[pd.Series(keep, index=d.index, dtype=bool)]
    numeric = [f for f in et.table.fields.values() if f.numeric and f.name not in et.table.key]
    rest = [k for k in et.table.key if k != arm and k not in study_keys]
    issues: list[Issue] = []
    for _, study_rows in d.groupby(study_keys, sort=False) if study_keys else [((), d)]:
        arms = list(dict.fromkeys(study_rows[arm]))
        if len(arms) < 2:
            continue
        by_arm = {a: study_rows[study_rows[arm] == a] for a in arms}
        index = {a: {tuple(r[k] for k in rest): i for i, r in rows.iterrows()} for a, rows in by_arm.items()}
        for a in arms:
            for what, row in index[a].items():
                label = ", ".join(str(x) for x in what) or "the arm"
                lacking = [b for b in arms if b != a and what not in index[b]]
                if lacking:
                    issues.append(
                        _rule_issue(
                            et,
                            rule,
                            row,
                            rest[0] if rest else arm,
                            f"arm {a} has a row for {label} ({_where(et, row, arm)}) but sibling "
                            f"arm{'s' if len(lacking) > 1 else ''} {', '.join(map(str, lacking))} "
                            f"of the study {'have' if len(lacking) > 1 else 'has'} none",
                            code="sibling-row-missing",
                        )
                    )
                for b in arms:
                    other = index[b].get(what)
                    if b == a or other is None:
                        continue
                    for f in numeric:
                        has = pd.notna(d.at[row, f.name])
                        lacks = pd.isna(d.at[other, f.name]) and et.missing.at[other, f.name] in (EMPTY, "NR")
                        if has and lacks:
                            issues.append(
                                _rule_issue(
                                    et,
                                    rule,
                                    other,
                                    f.name,
                                    f"{f.label} of {label} is {_shown(et, other, f.name)} on arm {b} "
                                    f"({_where(et, other, f.name)}) but {_fmt(d.at[row, f.name])} on sibling "
                                    f"arm {a} ({_where(et, row, f.name)})",
                                )
                            )
    return _unique(issues)


def _unique(issues: list[Issue]) -> list[Issue]:
    seen, out = set(), []
    for i in issues:
        if (i.code, i.sheet, i.cell) not in seen:
            seen.add((i.code, i.sheet, i.cell))
            out.append(i)
    return out


def _unit_differs(extraction: Extraction, rule: Rule) -> list[Issue]:
    """One unit per quantity across the arms of a study: medians in months on one arm and weeks on another
    are not comparable, and usually one of them was mis-picked."""
    et, arm = _field_of(extraction, rule, "arm")
    _, unit = _field_of(extraction, rule, "unit")
    issues = []
    for _, rows in _groups(et, arm):
        given = rows[unit].dropna()
        allowed = et.table.fields[unit].values
        given = given[given.isin(allowed)] if allowed else given  # a value outside them is refused already
        if given.nunique() < 2:
            continue
        common = given.mode().iloc[0] if given.value_counts().iloc[0] > 1 else None
        cells = ", ".join(f"{_where(et, r, unit)} {given[r]}" for r in given.index)
        for row in given.index:
            if common is None or given[row] != common:
                issues.append(
                    _rule_issue(
                        et,
                        rule,
                        row,
                        unit,
                        f"{_label(et, unit)} differs between arms of the same study and row ({cells})",
                    )
                )
    return issues


# --- survival over time --------------------------------------------------------------------------------------------

_TIME = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(day|week|month|year)s?\s*$", re.IGNORECASE)
_DAYS = {"day": 1.0, "week": 7.0, "month": 365.25 / 12, "year": 365.25}


def _days(amount: float, unit: object) -> float | None:
    unit = str(unit).rstrip("s").lower()
    return amount * _DAYS[unit] if unit in _DAYS else None


def _rates_over_time(extraction: Extraction, rule: Rule) -> list[Issue]:
    """Landmark rates of one arm and outcome (a Kaplan-Meier curve read at times typed as '1 year', '36 months')
    never rise with time, and sit on the right side of 50% against the median: above it before the median,
    below it after."""
    et, rate = _field_of(extraction, rule, "rate")
    time = rule.args["timepoint"]
    median = rule.args.get("median")
    unit = rule.args.get("unit")
    issues = []
    for _, rows in _groups(et, time):
        points, medians = [], []
        for row in rows.index:
            match = _TIME.match(str(et.data.at[row, time]))
            if match and pd.notna(et.data.at[row, rate]):
                points.append((_days(float(match[1]), match[2]), float(et.data.at[row, rate]), row))
            if median and unit and pd.notna(et.data.at[row, median]):
                days = _days(float(et.data.at[row, median]), et.data.at[row, unit])
                if days is not None:
                    medians.append((days, row))
        points.sort()
        for (t1, r1, row1), (t2, r2, row2) in zip(points, points[1:], strict=False):
            if t2 > t1 and r2 > r1 + rounding_tolerance(r1) + rounding_tolerance(r2):
                issues.append(
                    _rule_issue(
                        et,
                        rule,
                        row2,
                        rate,
                        f"{_label(et, rate)} {r2:g}% at {et.data.at[row2, time]} is higher than {r1:g}% at the earlier "
                        f"{et.data.at[row1, time]} ({_where(et, row1, rate)}); a survival curve never rises",
                    )
                )
        for m, mrow in medians[:1]:
            for t, r, row in points:
                wrong = (t < m and r < 50 - rounding_tolerance(r)) or (
                    t > m and r > 50 + rounding_tolerance(r)
                )
                if wrong:
                    issues.append(
                        _rule_issue(
                            et,
                            rule,
                            row,
                            rate,
                            f"{_label(et, rate)} {r:g}% at {et.data.at[row, time]} is on the wrong side of 50% for "
                            f"the median {_fmt(et.data.at[mrow, median])} {et.data.at[mrow, unit]} "
                            f"({_where(et, mrow, median)})",
                        )
                    )
    return issues


# --- denominators ------------------------------------------------------------------------------------------------


def _denominator_differs(extraction: Extraction, rule: Rule) -> list[Issue]:
    """Rows of one arm and timepoint that differ only in `across` (the category or outcome) share the arm's
    denominator, and so do another table's rows of the same arm and timepoint (`with`): the odd one out is
    usually a neighbouring arm's number or a typing slip. A row with a count but no denominator, where the
    others give one, is reported too."""
    et, denominator = _field_of(extraction, rule, "denominator")
    across = rule.args["across"]
    members = [(et, denominator, [k for k in et.table.key if k != across])]
    if "with" in rule.args:
        other, other_field = _field_of(extraction, rule, "with")
        shared = [k for k in members[0][2] if k in other.table.key]
        members = [(et, denominator, shared), (other, other_field, shared)]
    groups: dict[tuple, list[tuple[ExtractedTable, str, int]]] = {}
    for t, name, keys in members:
        d = t.data.dropna(subset=keys)
        for row in d.index:
            groups.setdefault(tuple(str(d.at[row, k]) for k in keys), []).append((t, name, row))
    issues = []
    for rows in groups.values():
        given = [
            (t, name, row, t.data.at[row, name]) for t, name, row in rows if pd.notna(t.data.at[row, name])
        ]
        values = pd.Series([float(v) for *_, v in given], dtype=float)
        if values.empty:
            continue
        counts = values.value_counts()
        common = counts.index[0] if len(counts) == 1 or counts.iloc[0] > counts.iloc[1] else None
        cells = ", ".join(f"{_where(t, row, name)} {_fmt(v)}" for t, name, row, v in given)
        for t, name, row, v in given:
            if t is et and len(counts) > 1 and (common is None or float(v) != common):
                issues.append(
                    _rule_issue(
                        et,
                        rule,
                        row,
                        name,
                        f"{_label(et, name)} {_fmt(v)} differs from the other rows of this arm and timepoint "
                        f"({cells})",
                    )
                )
        if common is None:
            continue
        valued = [f.name for f in et.table.fields.values() if f.numeric and f.name not in et.table.key]
        for t, name, row in rows:
            lacks = (
                t is et
                and pd.isna(et.data.at[row, name])
                and any(pd.notna(et.data.at[row, f]) for f in valued if f != name)
            )
            if lacks:
                issues.append(
                    _rule_issue(
                        et,
                        rule,
                        row,
                        name,
                        f"{_label(et, name)} is {_shown(et, row, name)} though the other rows of this arm and "
                        f"timepoint give {_fmt(common)} ({cells})",
                    )
                )
    return issues


def _exceeds_arm_total(extraction: Extraction, rule: Rule) -> list[Issue]:
    """A count or denominator is at most its arm's size: the larger of `whole` (randomised) and `also`
    (treated), where given. A warning: registries and papers count patients differently."""
    et, count = _field_of(extraction, rule, "count")
    whole_t, whole = _field_of(extraction, rule, "whole")
    also = _field_of(extraction, rule, "also")[1] if "also" in rule.args else None
    keys = _join_whole(et, whole_t)
    limits: dict[tuple, tuple[float, int]] = {}
    for row in whole_t.data.index:
        link = tuple(str(whole_t.data.at[row, k]) for k in keys)
        for name in (whole, also):
            if name and pd.notna(whole_t.data.at[row, name]):
                v = float(whole_t.data.at[row, name])
                if link not in limits or v > limits[link][0]:
                    limits[link] = (v, row, name)
    issues = []
    for row in et.data.index[et.data[count].notna()]:
        link = tuple(str(et.data.at[row, k]) for k in keys)
        if link in limits and float(et.data.at[row, count]) > limits[link][0]:
            limit, arow, name = limits[link]
            issues.append(
                _rule_issue(
                    et,
                    rule,
                    row,
                    count,
                    f"{_label(et, count)} {_fmt(et.data.at[row, count])} is more than the arm's "
                    f"{_label(whole_t, name).lower()} {_fmt(limit)} ({_where(whole_t, arow, name)})",
                )
            )
    return issues


# --- comparisons of two arms -------------------------------------------------------------------------------------


def _comparison_label(extraction: Extraction, rule: Rule) -> list[Issue]:
    """'A vs B' names the experimental arm first: experimental and control typed the other way round invert
    every ratio taken from the row."""
    et, label = _field_of(extraction, rule, "label")
    _, exp = _field_of(extraction, rule, "experimental")
    _, ctl = _field_of(extraction, rule, "control")
    issues = []
    for row in et.data.index:
        text, e, c = et.data.at[row, label], et.data.at[row, exp], et.data.at[row, ctl]
        if pd.isna(text) or pd.isna(e) or pd.isna(c):
            continue
        sides = _VERSUS.split(str(text), maxsplit=1)
        if len(sides) != 2:
            continue
        first, second = (s.strip().casefold() for s in sides)
        e, c = str(e).casefold(), str(c).casefold()
        if first.startswith(c) and second.startswith(e) and not first.startswith(e):
            issues.append(
                _rule_issue(
                    et,
                    rule,
                    row,
                    exp,
                    f"{_label(et, label)} '{et.data.at[row, label]}' ({_where(et, row, label)}) names "
                    f"{et.data.at[row, ctl]} first, but it is the {_label(et, ctl)} ({_where(et, row, ctl)}) "
                    f"and {et.data.at[row, exp]} the {_label(et, exp)} ({_where(et, row, exp)})",
                )
            )
    return issues


def _ratio_against_medians(extraction: Extraction, rule: Rule) -> list[Issue]:
    """A hazard ratio below 1 favours the experimental arm, whose median time should then not be shorter than
    the control's (and the other way round). A warning: crossing curves can do it, an inverted HR always does."""
    et, est = _field_of(extraction, rule, "estimate")
    _, exp = _field_of(extraction, rule, "experimental")
    _, ctl = _field_of(extraction, rule, "control")
    _, outcome = _field_of(extraction, rule, "outcome")
    st, median = _field_of(extraction, rule, "median")
    _, m_arm = _field_of(extraction, rule, "median_arm")
    _, m_outcome = _field_of(extraction, rule, "median_outcome")
    unit = _field_of(extraction, rule, "median_unit")[1] if "median_unit" in rule.args else None
    shared = [k for k in et.table.key if k in st.table.key and k not in (outcome, m_outcome)]
    medians: dict[tuple, list[int]] = {}
    for row in st.data.index[st.data[median].notna()]:
        link = (*(str(st.data.at[row, k]) for k in shared), str(st.data.at[row, m_outcome]))
        medians.setdefault((*link, str(st.data.at[row, m_arm])), []).append(row)
    issues = []
    for row in et.data.index[et.data[est].notna()]:
        link = (*(str(et.data.at[row, k]) for k in shared), str(et.data.at[row, outcome]))
        re_, rc = (medians.get((*link, str(et.data.at[row, f]))) for f in (exp, ctl))
        if not re_ or not rc or len(re_) > 1 or len(rc) > 1:
            continue
        re_, rc = re_[0], rc[0]
        if unit and st.data.at[re_, unit] != st.data.at[rc, unit]:
            continue  # unit-differs-between-arms says so
        hr, me, mc = (
            float(et.data.at[row, est]),
            float(st.data.at[re_, median]),
            float(st.data.at[rc, median]),
        )
        if (hr < 1 and me < mc) or (hr > 1 and me > mc):
            favoured = "experimental" if hr < 1 else "control"
            issues.append(
                _rule_issue(
                    et,
                    rule,
                    row,
                    est,
                    f"{_label(et, est)} {hr:g} favours the {favoured} arm, but the medians say otherwise: "
                    f"{et.data.at[row, exp]} {me:g} ({_where(st, re_, median)}) vs {et.data.at[row, ctl]} "
                    f"{mc:g} ({_where(st, rc, median)}); is the ratio inverted or are the arms swapped?",
                )
            )
    return issues


# --- categories of a response ------------------------------------------------------------------------------------


def categories_over(et: ExtractedTable, rule: Rule, rows: pd.DataFrame) -> Issue | None:
    """Categories of one group count at most their shared denominator, and their percentages add up to at most
    100 plus the rounding of each: both hold whatever categories are NR."""
    count, denominator = rule.args["count"], rule.args.get("denominator")
    percent = rule.args.get("percent")
    d = et.data
    shares, cells, slack = 0.0, [], 0.0
    for row in rows.index:
        c = d.at[row, count]
        n = d.at[row, denominator] if denominator else pd.NA
        p = d.at[row, percent] if percent else pd.NA
        if pd.notna(c) and pd.notna(n) and float(n) > 0:
            shares += 100.0 * float(c) / float(n)
            cells.append(_where(et, row, count))
        elif pd.notna(p):
            shares += float(p)
            slack += rounding_tolerance(float(p))
            cells.append(_where(et, row, percent))
    if shares > 100.0 + slack + 1e-9:
        return _rule_issue(
            et,
            rule,
            rows.index[0],
            count,
            f"the categories add up to {shares:.1f}% of their denominator, more than 100% "
            f"(allowed rounding {slack:.2g}); check {', '.join(cells)}",
            code="categories-exceed-denominator",
        )
    return None


def zero_issues(et: ExtractedTable) -> list[Issue]:
    """Zeros whose row has a location that does not say the report states a zero."""
    t, d = et.table, et.data
    if "location" not in t.fields:
        return []
    notes = [n for n in ("location", "comment") if n in t.fields]
    issues = []
    for name, f in t.fields.items():
        if f.type not in ("integer", "percent") or name in t.key or (f.min is not None and f.min > 0):
            continue  # counts and percentages; a zero below a field's minimum is out-of-range already
        for row in d.index[d[name].eq(0).fillna(False) & d["location"].notna()]:
            if not states_zero(*(d.at[row, n] for n in notes)):
                issues.append(
                    _issue(
                        et,
                        "zero-not-stated",
                        row,
                        name,
                        f"{f.label} is 0 but neither Location nor Comment ({', '.join(_where(et, row, n) for n in notes)}) "
                        "says the report states none",
                    )
                )
    return issues


def empty_issues(form: Form, et: ExtractedTable) -> list[Issue]:
    """Numeric cells left empty in rows that hold data: empty means 'not yet extracted', so a finished workbook
    has a number, NR or NA there. A count may stay empty where its percentage is given, and the other way round
    (the pairs of the form's percent-mismatch rules)."""
    if not et.file:
        return []  # plain DataFrames (validate_frames) have no missing codes: a missing value there says nothing
    t, d, m = et.table, et.data, et.missing
    partner: dict[str, str] = {}
    for r in form.rules:
        if r.kind == "percent-mismatch" and r.table == t.name:
            partner[r.args["count"]], partner[r.args["percent"]] = r.args["percent"], r.args["count"]
    numeric = [f for f in t.fields.values() if f.numeric and f.name not in t.key]
    if not numeric:
        return []
    filled = (d[[f.name for f in numeric]].notna() | m[[f.name for f in numeric]].ne(EMPTY)).any(axis=1)
    issues = []
    for f in numeric:
        empty = d[f.name].isna() & m[f.name].eq(EMPTY) & filled
        if f.name in partner:
            empty &= d[partner[f.name]].isna()
        for row in d.index[empty]:
            issues.append(
                _issue(
                    et,
                    "not-extracted",
                    row,
                    f.name,
                    f"{f.label} is empty in a row that holds other values",
                )
            )
    return issues


CHECKS: dict[str, Callable[[Extraction, Rule], list[Issue]]] = {
    "sibling-value-missing": _sibling_value_missing,
    "unit-differs-between-arms": _unit_differs,
    "rates-over-time": _rates_over_time,
    "denominator-differs": _denominator_differs,
    "exceeds-arm-total": _exceeds_arm_total,
    "comparison-label-reversed": _comparison_label,
    "ratio-against-medians": _ratio_against_medians,
}
RULE_CHECKS.update(CHECKS)
