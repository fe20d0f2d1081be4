"""The row-by-row validation rules as they were before they were vectorised (issue 12): the oracle that
tests/test_validate_vectorised.py holds the vectorised rules to, issue for issue and in the same order.

Kept verbatim apart from imports, one fix (ratio-against-medians raised on a median without its unit) and the
rules changed on purpose since (marked "since form"), the same in the library; not used by the library. The
interval rules (ci-excludes-estimate, spread-excludes-value) were never vectorised: tests/test_validate.py checks
them cell by cell."""

from __future__ import annotations

import math

import pandas as pd

from review.consistency import (  # noqa: F401
    _DAYS,
    _TIME,
    _VERSUS,
    _arm_keys,
    _arm_table,
    _days,
    _groups,
    _pooled_arms,
    _shown,
    _where,
    states_zero,
)
from review.forms import Form, Rule
from review.issues import Issue
from review.validate import (
    _field_of,
    _fmt,
    _issue,
    _join_whole,
    _label,
    _rule_issue,
    implied_count,
    rounding_tolerance,
)
from review.values import EMPTY
from review.workbook import ExtractedTable, Extraction


def _field_issues(et: ExtractedTable, refused: set) -> list[Issue]:
    issues: list[Issue] = []
    data, missing, t = et.data, et.missing, et.table
    has_location = "location" in t.fields
    for name, f in t.fields.items():
        col = data[name]
        if name in t.key:
            continue  # pandera checks keys
        if f.required:
            empty = col.isna() & missing[name].eq(EMPTY)
            for row in data.index[empty]:
                if (t.name, et.sheet, et.cell(row, name)) not in refused:
                    issues.append(_issue(et, "required-empty", row, name, f"{f.label} is required"))
        if f.type == "integer" and has_location:
            zero = col.eq(0).fillna(False) & data["location"].isna()
            for row in data.index[zero]:
                issues.append(
                    _issue(et, "zero-without-location", row, name, f"{f.label} is 0 but Location is empty")
                )
        if f.type == "percent":
            fraction = ((col > 0) & (col < 1)).fillna(False)
            for row in data.index[fraction]:
                issues.append(
                    _issue(
                        et,
                        "percent-looks-like-fraction",
                        row,
                        name,
                        f"{f.label} is {_fmt(col[row])}: did the report say {col[row] * 100:g}%?",
                    )
                )
    return issues


def _reference_issues(extraction: Extraction) -> list[Issue]:
    issues: list[Issue] = []
    for et in extraction.tables.values():
        for f in et.table.fields.values():
            if not f.references or f.references[0] not in extraction.tables:
                continue
            target = extraction.tables[f.references[0]]
            # Match on the target's whole key where this table has the same columns (an arm is known by study
            # and arm id together), with this field standing for the referenced one.
            pairs = [(k, k) for k in target.table.key if k != f.references[1] and k in et.table.fields]
            pairs.append((f.name, f.references[1]))
            here = [p[0] for p in pairs]
            there = [p[1] for p in pairs]
            known = set(target.data[there].dropna().astype(str).itertuples(index=False, name=None))
            rows = et.data[here].dropna()
            for row, values in zip(
                rows.index, rows.astype(str).itertuples(index=False, name=None), strict=False
            ):
                if values not in known:
                    context = (
                        " for " + ", ".join(f"{a}={v}" for a, v in zip(here[:-1], values[:-1], strict=False))
                        if len(values) > 1
                        else ""
                    )
                    issues.append(
                        _issue(
                            extraction.tables[et.table.name],
                            "unknown-reference",
                            row,
                            f.name,
                            f"{f.label} '{values[-1]}'{context} is not on sheet {target.table.sheet}",
                        )
                    )
    return issues


def _sum_mismatch(extraction: Extraction, rule: Rule) -> list[Issue]:
    et, part = _field_of(extraction, rule, "part")
    whole_t, whole = _field_of(extraction, rule, "whole")
    keys = _join_whole(et, whole_t)
    data = et.data
    if "unless" in rule.args:
        data = data[~data[rule.args["unless"]].fillna(False).astype(bool)]
    issues = []
    for row in whole_t.data.index:
        stated = whole_t.data.at[row, whole]
        if pd.isna(stated):
            continue
        group = data
        for k in keys:
            group = group[group[k] == whole_t.data.at[row, k]]
        parts = group[part]
        if parts.empty or parts.isna().any():
            continue  # only when every part is given
        total = int(parts.sum()) if et.table.fields[part].type == "integer" else float(parts.sum())
        if not math.isclose(total, float(stated), abs_tol=1e-9):
            shown = " + ".join(f"{_fmt(v)} ({et.sheet}!{et.cell(r, part)})" for r, v in parts.items())
            issues.append(
                _rule_issue(
                    whole_t,
                    rule,
                    row,
                    whole,
                    f"{et.table.label} {_label(et, part)} add up to {_fmt(total)} ({shown}) but "
                    f"{_label(whole_t, whole)} is {_fmt(stated)} (difference {_fmt(float(stated) - total)})",
                )
            )
    return issues


def _count_exceeds_total(extraction: Extraction, rule: Rule) -> list[Issue]:
    et, count = _field_of(extraction, rule, "count")
    _, total = _field_of(extraction, rule, "total")
    over = (et.data[count] > et.data[total]).fillna(False)
    return [
        _rule_issue(
            et,
            rule,
            row,
            count,
            f"{_label(et, count)} ({_fmt(et.data.at[row, count])}) is more than "
            f"{_label(et, total)} ({_fmt(et.data.at[row, total])})",
        )
        for row in et.data.index[over]
    ]


def _percent_mismatch(extraction: Extraction, rule: Rule) -> list[Issue]:
    et, count = _field_of(extraction, rule, "count")
    _, total = _field_of(extraction, rule, "total")
    _, percent = _field_of(extraction, rule, "percent")
    issues = []
    d = et.data
    given = d[percent].notna().to_numpy(dtype=bool)
    rows = d.index[given]
    columns = (d[percent][given].tolist(), d[total][given].tolist(), d[count][given].tolist())
    total_codes = et.missing[total][given].tolist()
    for row, p, n, c, total_code in zip(rows, *columns, total_codes, strict=True):  # lists, not .at per cell
        p = float(p)
        tol = rounding_tolerance(p)
        if pd.notna(c) and (c == 0) != (p <= tol):
            issues.append(
                _rule_issue(
                    et,
                    rule,
                    row,
                    count,
                    f"{_label(et, count)} {_fmt(c)} ({et.sheet}!{et.cell(row, count)}) and {_label(et, percent)} "
                    f"{p:g}% ({et.sheet}!{et.cell(row, percent)}) cannot both be right: one is zero, the other not",
                )
            )
            continue
        if pd.isna(n):
            if total_code == EMPTY:
                issues.append(
                    _rule_issue(
                        et,
                        rule,
                        row,
                        percent,
                        f"{_label(et, percent)} {p:g}% has no {_label(et, total)}",
                        code="percent-without-denominator",
                    )
                )
            continue
        if float(n) <= 0:
            continue  # out-of-range reports a denominator of 0
        if not pd.isna(c):
            actual = 100.0 * float(c) / float(n)
            if abs(actual - p) > tol:
                issues.append(
                    _rule_issue(
                        et,
                        rule,
                        row,
                        percent,
                        f"{p:g}% disagrees with {_fmt(c)}/{_fmt(n)} = {actual:.2f}% (allowed rounding ±{tol:.2g})",
                    )
                )
        else:
            lo, hi = (p - tol) * float(n) / 100.0, (p + tol) * float(n) / 100.0
            if math.floor(hi) < math.ceil(lo):
                issues.append(
                    _rule_issue(
                        et,
                        rule,
                        row,
                        percent,
                        f"no whole number of patients out of {_fmt(n)} gives {p:g}% ({p * float(n) / 100:.2f})",
                        code="percent-no-whole-count",
                    )
                )
    return issues


def _categories_sum_mismatch(extraction: Extraction, rule: Rule) -> list[Issue]:
    et, count = _field_of(extraction, rule, "count")
    _, category = _field_of(extraction, rule, "category")
    whole_t, whole = _field_of(extraction, rule, "whole")
    keys = _join_whole(et, whole_t)
    group_cols = [k for k in et.table.key if k != category]
    percent = rule.args.get("percent")
    denominator = rule.args.get("denominator")
    d = et.data
    wholes = whole_t.data.dropna(subset=keys).set_index(keys)[whole]
    wholes = wholes[~wholes.index.duplicated()]
    issues = []
    for group, rows in d.groupby(group_cols, dropna=True, sort=False):
        group = group if isinstance(group, tuple) else (group,)
        over = categories_over(et, rule, rows)
        if over is not None:
            issues.append(over)
            continue
        link = tuple(group[group_cols.index(k)] for k in keys)
        link = link[0] if len(link) == 1 else link
        if link not in wholes.index or pd.isna(wholes[link]):
            continue  # with no stated whole, only the rows' own denominator bounds them (above)
        stated = int(wholes[link])
        known, unknown = 0, []
        for row in rows.index:
            c = d.at[row, count]
            if (
                pd.isna(c)
                and percent
                and denominator
                and pd.notna(d.at[row, percent])
                and pd.notna(d.at[row, denominator])
            ):
                c = implied_count(float(d.at[row, percent]), float(d.at[row, denominator]))
            if c is None or pd.isna(c):
                unknown.append(str(d.at[row, category]))
            else:
                known += int(c)
        if known != stated:
            gap = stated - known
            side = f"{gap} short of" if gap > 0 else f"{-gap} more than"
            extra = f"; without a count: {', '.join(unknown)}" if unknown else ""
            issues.append(
                _rule_issue(
                    et,
                    rule,
                    rows.index[0],
                    count,
                    f"categories add up to {known}, {side} {_label(whole_t, whole)} {stated}{extra}",
                )
            )
    return issues


def _grade_exceeds_any(extraction: Extraction, rule: Rule) -> list[Issue]:
    et, grade = _field_of(extraction, rule, "grade")
    _, count = _field_of(extraction, rule, "count")
    group_cols = [k for k in et.table.key if k != grade]
    d = et.data
    # Vectorised: a loop over groups (one per term and arm) took minutes for a large review's adverse events.
    keyed = d[group_cols].notna().all(axis=1).to_numpy()
    groups = d[keyed].groupby(group_cols, sort=False)
    order = pd.Series(groups.ngroup().to_numpy(), index=d.index[keyed])
    is_any = (d[grade] == "any").fillna(False).to_numpy(dtype=bool)
    first_any = d[keyed & is_any].drop_duplicates(subset=group_cols, keep="first")  # the group's first 'any'
    limits = d[group_cols].merge(first_any[[*group_cols, count]], how="left", on=group_cols)[count]
    limits.index = d.index
    over = (d[count] > limits).fillna(False).to_numpy(dtype=bool) & ~is_any & keyed
    flagged = sorted(d.index[over], key=lambda row: (order[row], d.index.get_loc(row)))
    return [
        _rule_issue(
            et,
            rule,
            row,
            count,
            f"grade {d.at[row, grade]} has {_fmt(d.at[row, count])} patients, "
            f"more than the {_fmt(limits[row])} with any grade",
        )
        for row in flagged
    ]


def _not_positive(extraction: Extraction, rule: Rule) -> list[Issue]:
    et, value = _field_of(extraction, rule, "value")
    bad = (et.data[value] <= 0).fillna(False)
    return [
        _rule_issue(et, rule, row, value, f"{_label(et, value)} is {_fmt(et.data.at[row, value])}")
        for row in et.data.index[bad]
    ]


def _dates_out_of_order(extraction: Extraction, rule: Rule) -> list[Issue]:
    et, start = _field_of(extraction, rule, "start")
    _, end = _field_of(extraction, rule, "end")
    issues = []
    for row in et.data.index:
        a, b = et.data.at[row, start], et.data.at[row, end]
        if pd.isna(a) or pd.isna(b):
            continue
        n = min(len(a), len(b))  # compare at the precision both give: 2000-06 vs 2000-06-15 is fine
        if a[:n] > b[:n]:
            issues.append(
                _rule_issue(et, rule, row, end, f"{_label(et, end)} {b} is before {_label(et, start)} {a}")
            )
    return issues


def _same_arm_twice(extraction: Extraction, rule: Rule) -> list[Issue]:
    et, first = _field_of(extraction, rule, "first")
    _, second = _field_of(extraction, rule, "second")
    same = (et.data[first] == et.data[second]).fillna(False)
    return [
        _rule_issue(
            et,
            rule,
            row,
            second,
            f"{_label(et, first)} and {_label(et, second)} are both '{et.data.at[row, first]}'",
        )
        for row in et.data.index[same]
    ]


def _sibling_value_missing(extraction: Extraction, rule: Rule) -> list[Issue]:
    """Sibling arms of a study report the same rows, with numbers or NR on both: a number on one arm and NR or
    nothing on another, or a row on one arm that a sibling arm lacks, is what a dropped value looks like."""
    et, arm = _field_of(extraction, rule, "arm")
    arms_t = _arm_table(extraction, et, arm)
    # the study's key fields: those of the arms table beside the arm (or, on the arms table itself, its own)
    study_keys = [k for k in (arms_t or et).table.key if k != arm and k in et.table.key]
    pooled = _pooled_arms(extraction, rule, et, arm)
    d = et.data.dropna(subset=list(et.table.key))
    ref = et.table.fields[arm].references  # set whenever arms_t is (the table it names)
    known = (
        _arm_keys(arms_t, study_keys, ref[1]) if arms_t and ref else None
    )  # unknown arms: unknown-reference says so
    keep = [
        (key := tuple(map(str, (*(r[k] for k in study_keys), r[arm])))) not in pooled
        and (known is None or key in known)
        for _, r in d.iterrows()
    ]
    d = d[pd.Series(keep, index=d.index, dtype=bool)]
    numeric = [  # since form 1.1.0: alternatives typed only when reported are no sibling's due
        f for f in et.table.fields.values() if f.numeric and f.name not in et.table.key and not f.if_reported
    ]
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
                        lacks = lacks and all(pd.isna(d.at[other, g]) for g in f.unless_given)  # its stand-in
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
                at = _days(float(match[1]), match[2])
                assert at is not None  # _TIME admits only the units _DAYS knows
                points.append((at, float(et.data.at[row, rate]), row))
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
            assert median is not None  # medians are collected only when the rule names one
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
    limits: dict[tuple, tuple[float, int, str]] = {}
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
        erow, crow = re_[0], rc[0]
        units = (st.data.at[erow, unit], st.data.at[crow, unit]) if unit else ("", "")
        if pd.isna(units[0]) or pd.isna(units[1]) or units[0] != units[1]:
            continue  # unit-differs-between-arms says so; a median without its unit is not compared
        hr, me, mc = (
            float(et.data.at[row, est]),
            float(st.data.at[erow, median]),
            float(st.data.at[crow, median]),
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
                    f"{et.data.at[row, exp]} {me:g} ({_where(st, erow, median)}) vs {et.data.at[row, ctl]} "
                    f"{mc:g} ({_where(st, crow, median)}); is the ratio inverted or are the arms swapped?",
                )
            )
    return issues


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
        elif percent and pd.notna(p):  # p is NA without a percent field
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


RULES = {
    "sum-mismatch": _sum_mismatch,
    "count-exceeds-total": _count_exceeds_total,
    "categories-sum-mismatch": _categories_sum_mismatch,
    "percent-mismatch": _percent_mismatch,
    "grade-exceeds-any": _grade_exceeds_any,
    "not-positive": _not_positive,
    "dates-out-of-order": _dates_out_of_order,
    "same-arm-twice": _same_arm_twice,
    "sibling-value-missing": _sibling_value_missing,
    "unit-differs-between-arms": _unit_differs,
    "rates-over-time": _rates_over_time,
    "denominator-differs": _denominator_differs,
    "exceeds-arm-total": _exceeds_arm_total,
    "comparison-label-reversed": _comparison_label,
    "ratio-against-medians": _ratio_against_medians,
}
