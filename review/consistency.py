"""Consistency rules: what a careful second reader checks across arms, tables and fields of one extraction.

Each check is a rule kind (review.issues.RULE_KINDS) that a form applies to its own fields in its `rules:`
section; nothing here knows the shipped form's table names. Messages name every cell involved, so the reviewer
can see both sides of a contradiction. Checks whose inputs legitimately differ between real reports (a registry's
74 against a paper's 73 randomised, outcomes given for one subgroup only) are warnings.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import numpy as np
import pandas as pd

from .extraction import ExtractedTable, Extraction
from .forms import Field, Form, Rule, Table
from .issues import Issue
from .validate import (
    RULE_CHECKS,
    _field_of,
    _fmt,
    _issues,
    _join_whole,
    _label,
    _rule_issue,
    _rule_issues,
    group_keys,
    rounding_tolerance,
    row_groups,
    str_keys,
    str_values,
)
from .values import EMPTY

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


def _isin(keys: pd.MultiIndex, known: set[tuple]) -> np.ndarray:
    return keys.isin(list(known)) if known else np.zeros(len(keys), dtype=bool)


def _sibling_value_missing(extraction: Extraction, rule: Rule) -> list[Issue]:
    """Sibling arms of a study report the same rows, with numbers or NR on both: a number on one arm and NR or
    nothing on another, or a row on one arm that a sibling arm lacks, is what a dropped value looks like."""
    et, arm = _field_of(extraction, rule, "arm")
    arms_t = _arm_table(extraction, et, arm)
    # the study's key fields: those of the arms table beside the arm (or, on the arms table itself, its own)
    study_keys = [k for k in (arms_t or et).table.key if k != arm and k in et.table.key]
    pooled = _pooled_arms(extraction, rule, et, arm)
    ref = et.table.fields[arm].references  # set whenever arms_t is (the table it names)
    # Rows with their whole key, of arms neither pooled nor unknown (unknown-reference says so). Keys are integer
    # groups shared with the other rules (validate.row_groups); only one row per arm is turned into text.
    full = et.data
    keep = row_groups(full, et.table.key) >= 0
    if pooled or (arms_t and ref):
        pair, keys = group_keys(full, [*study_keys, arm])
        ok = ~_isin(keys, pooled)
        if arms_t and ref:
            ok &= _isin(keys, _arm_keys(arms_t, study_keys, ref[1]))
        keep &= np.append(ok, False)[pair]  # (a row without the whole key is not kept anyway)
    pos = np.flatnonzero(keep)
    d = full.iloc[pos]
    numeric = due_numbers(et.table)
    rest = [k for k in et.table.key if k != arm and k not in study_keys]
    if d.empty:
        return []
    # Each (study, arm, rest-of-key) once: the loop this replaces kept a dict per arm, so a duplicated key keeps
    # its first place but its last row. Groups numbered in order of appearance among these rows.
    n = len(d)

    def numbered(names: list[str]) -> np.ndarray:
        return pd.factorize(row_groups(full, names)[pos])[0] if names else np.zeros(n, dtype=np.intp)

    study = numbered(study_keys)
    arm_no = numbered([*study_keys, arm])
    what = numbered([*study_keys, *rest]) if rest else study
    # one integer per (arm, what): its first place, with the row of its last
    pair_codes = pd.Series(pd.factorize(arm_no.astype(np.int64) * (int(what.max()) + 1) + what)[0])
    first = np.flatnonzero(~pair_codes.duplicated(keep="first").to_numpy())  # pairs 0, 1, ... in this order
    last = np.flatnonzero(~pair_codes.duplicated(keep="last").to_numpy())
    last_row = np.empty(len(first), dtype=d.index.dtype)
    last_row[pair_codes.to_numpy()[last]] = d.index.to_numpy()[last]
    e = pd.DataFrame(
        {"study": study[first], "arm": arm_no[first], "what": what[first], "first": first, "row": last_row},
        index=first,
    )
    study_of_arm = np.zeros(int(arm_no.max()) + 1, dtype=np.intp)
    study_of_arm[arm_no] = study  # an arm is numbered with its study keys: it belongs to one study
    arms_of = np.bincount(study_of_arm, minlength=int(study.max()) + 1)  # the arms of each study
    e = e[arms_of[e["study"].to_numpy()] > 1]
    if e.empty:
        return []
    pos = d.index.get_indexer(e["row"])
    # arm names and row labels ('Nausea, 3-4') by number, made only for the issues found
    arm_names = d[arm].iloc[np.unique(arm_no, return_index=True)[1]].tolist()
    firsts = np.unique(what, return_index=True)[1]
    rest_values = [d[k].to_numpy(dtype=object) for k in rest]

    def labels(whats: pd.Series) -> list[str]:
        at = firsts[whats.to_numpy()]
        if not rest:
            return ["the arm"] * len(whats)
        texts = [", ".join(map(str, t)) for t in zip(*(v[at] for v in rest_values), strict=True)]
        return [t or "the arm" for t in texts]

    found = []  # batches of issues, each with its place in the order the row loop reported them
    # a row that a sibling arm lacks
    present = e.groupby("what")["arm"].transform("size").to_numpy()
    short = e[present < arms_of[e["study"].to_numpy()]]
    if len(short):
        arms = e.drop_duplicates("arm")[["study", "arm"]]
        wanted = short.drop_duplicates("what")[["what", "study"]].merge(arms, on="study")
        have = pd.MultiIndex.from_frame(e[["what", "arm"]])
        lacking = wanted[~pd.MultiIndex.from_frame(wanted[["what", "arm"]]).isin(have)].sort_values(
            ["what", "arm"], kind="stable"
        )
        names: dict[int, list[str]] = {}
        for w, a in zip(lacking["what"].tolist(), lacking["arm"].tolist(), strict=True):
            names.setdefault(w, []).append(str(arm_names[a]))
        letter = et.columns.get(arm, "")
        messages = []
        for row, a, label, w in zip(
            short["row"].tolist(),
            [arm_names[a] for a in short["arm"].tolist()],
            labels(short["what"]),
            short["what"].tolist(),
            strict=True,
        ):
            lack = names[w]
            many = len(lack) > 1
            messages.append(
                f"arm {a} has a row for {label} ({et.sheet}!{letter}{row}) but sibling "
                f"arm{'s' if many else ''} {', '.join(lack)} of the study {'have' if many else 'has'} none"
            )
        zero = np.zeros(len(short), dtype=int)
        keys = (short["study"], short["arm"], short["first"], zero, zero, zero)
        found.append((keys, short["row"], rest[0] if rest else arm, messages, "sibling-row-missing"))
    # a number on one arm, NR or nothing on its sibling
    for f_no, f in enumerate(numeric):
        values = d[f.name].iloc[pos]
        has = values.notna().to_numpy()
        lacks = ~has & et.missing[f.name].reindex(e["row"]).isin([EMPTY, "NR"]).to_numpy()
        lacks &= ~stand_in_given(d.iloc[pos], f)
        if not lacks.any() or not has.any():
            continue
        texts = values.to_numpy(dtype=object)
        a_side = e[has].assign(value=texts[has])
        b_side = e[lacks]
        pairs = b_side.merge(a_side, on="what", suffixes=("", "_a"))
        pairs = pairs[pairs["arm"] != pairs["arm_a"]]
        pairs = pairs.sort_values("arm_a", kind="stable").drop_duplicates(
            "row", keep="first"
        )  # first sibling
        letter = et.columns.get(f.name, "")
        codes = et.missing[f.name].reindex(pairs["row"]).to_numpy(dtype=object)
        messages = [
            f"{f.label} of {label} is {code or 'empty'} on arm {b} ({et.sheet}!{letter}{row}) but "
            f"{_fmt(value)} on sibling arm {a} ({et.sheet}!{letter}{arow})"
            for row, b, label, value, a, arow, code in zip(
                pairs["row"].tolist(),
                [arm_names[b] for b in pairs["arm"].tolist()],
                labels(pairs["what"]),
                pairs["value"],
                [arm_names[a] for a in pairs["arm_a"].tolist()],
                pairs["row_a"].tolist(),
                codes,
                strict=True,
            )
        ]
        one = np.ones(len(pairs), dtype=int)
        keys = (pairs["study"], pairs["arm_a"], pairs["first_a"], one, pairs["arm"], one * f_no)
        found.append((keys, pairs["row"], f.name, messages, rule.kind))
    return _in_order(et, rule, found)


def _in_order(et: ExtractedTable, rule: Rule, found: list[tuple]) -> list[Issue]:
    """Issues from batches of (sort keys, rows, field, messages, code), in the keys' order: the order in which
    the row loops that the vectorised rules replace reported them."""
    if not found:
        return []
    keys = [np.concatenate([np.asarray(b[0][k]) for b in found]) for k in range(len(found[0][0]))]
    order = np.lexsort(keys[::-1])
    rows = np.concatenate([np.asarray(b[1]) for b in found])[order]
    fields = [f for b in found for f in ([b[2]] * len(b[3]) if isinstance(b[2], str) else b[2])]
    messages = [m for b in found for m in b[3]]
    codes = [b[4] for b in found for _ in b[3]]
    pick = order.tolist()
    return _rule_issues(
        et,
        rule,
        rows.tolist(),
        [fields[i] for i in pick],
        [messages[i] for i in pick],
        [codes[i] for i in pick],
    )


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
    allowed = set(et.table.fields[unit].values or ())
    d = et.data.dropna(subset=[*et.table.key, unit])
    if allowed:
        d = d[d[unit].isin(allowed).to_numpy(dtype=bool)]  # a value outside them is refused already
    groups: dict[tuple, list[tuple[int, str]]] = {}  # the rows of each study and row, in one pass
    cols = [k for k in et.table.key if k != arm]
    for key, row, value in zip(
        zip(*(d[k].tolist() for k in cols), strict=True), d.index.tolist(), d[unit].tolist(), strict=True
    ):
        groups.setdefault(key, []).append((row, value))
    rows, messages = [], []
    for given in groups.values():
        counts = Counter(v for _, v in given)
        if len(counts) < 2:
            continue
        top = max(counts.values())
        common = min(v for v, n in counts.items() if n == top) if top > 1 else None  # Series.mode()'s first
        cells = ", ".join(f"{_where(et, r, unit)} {v}" for r, v in given)
        for row, value in given:
            if common is None or value != common:
                rows.append(row)
                messages.append(
                    f"{_label(et, unit)} differs between arms of the same study and row ({cells})"
                )
    return _rule_issues(et, rule, rows, unit, messages)


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
    # One frame of every member's rows, grouped on their keys as text (one text per distinct key, numbered in
    # order of appearance across the members): each group is an arm and timepoint.
    parts, raws = [], []
    joint: dict[tuple, int] = {}
    valued = [f.name for f in et.table.fields.values() if f.numeric and f.name not in et.table.key]
    for m, (t, name, keys) in enumerate(members):
        group, texts = group_keys(t.data, keys)
        at = np.flatnonzero(group >= 0)
        d = t.data.iloc[at]
        ids = [joint.setdefault(key, len(joint)) for key in texts]
        raw = d[name].to_numpy(dtype=object)
        others = [f for f in valued if f != name]
        part = pd.DataFrame(
            {
                "member": m,
                "row": d.index,
                "value": d[name].to_numpy(dtype=float, na_value=np.nan),
                "mine": t is et,
                "filled": d[others].notna().any(axis=1).to_numpy() if t is et and others else False,
                "group": np.array(ids, dtype=np.intp)[group[at]],
            }
        )
        parts.append(part)
        raws.append(raw)
    rows = pd.concat(parts, ignore_index=True)
    if rows.empty:
        return []
    given = rows[rows["value"].notna()]
    counts = given.groupby(["group", "value"]).size()
    top = counts.groupby(level="group").transform("max")
    modes = counts[counts == top].reset_index()
    single = modes.groupby("group")["value"].transform("size") == 1
    common = modes[single].set_index("group")["value"]
    distinct = counts.groupby(level="group").size()
    g_common = rows["group"].map(common).to_numpy()
    g_distinct = rows["group"].map(distinct).fillna(0).to_numpy()
    value, mine = rows["value"].to_numpy(), rows["mine"].to_numpy(dtype=bool)
    differs = mine & ~np.isnan(value) & (g_distinct > 1) & (np.isnan(g_common) | (value != g_common))
    lacks = mine & np.isnan(value) & ~np.isnan(g_common) & rows["filled"].to_numpy(dtype=bool)
    if not (differs.any() or lacks.any()):
        return []
    # the cells of each group that says something, as the messages list them
    flagged = set(rows["group"].to_numpy()[differs | lacks].tolist())
    cells: dict[int, list[str]] = {}
    said = given[given["group"].isin(flagged).to_numpy()]
    for g, m, pos, r in zip(
        said["group"].tolist(),
        said["member"].tolist(),
        _positions(rows, said),
        said["row"].tolist(),
        strict=True,
    ):
        t, name = members[m][0], members[m][1]
        cells.setdefault(g, []).append(f"{t.sheet}!{t.columns.get(name, '')}{r} {_fmt(raws[m][pos])}")
    member, group, row = rows["member"].to_numpy(), rows["group"].to_numpy(), rows["row"].to_numpy()
    positions = _positions(rows, rows)  # only differing rows are shown, and they have a value
    found = []
    for kind, mask in ((0, differs), (1, lacks)):
        at = np.flatnonzero(mask)
        fields, messages = [], []
        for i in at.tolist():
            m, g = member[i], group[i]
            name = members[m][1]
            text = ", ".join(cells[g])
            if kind == 0:
                message = (
                    f"{_label(et, name)} {_fmt(raws[m][positions[i]])} differs from the other rows of this arm and "
                    f"timepoint ({text})"
                )
            else:
                code = et.missing.at[row[i], name]
                message = (
                    f"{_label(et, name)} is {code or 'empty'} though the other rows of this arm and timepoint "
                    f"give {_fmt(float(g_common[i]))} ({text})"
                )
            fields.append(name)
            messages.append(message)
        found.append(((group[at], np.full(len(at), kind), at), row[at], fields, messages, rule.kind))
    return _in_order(et, rule, found)


def _positions(rows: pd.DataFrame, subset: pd.DataFrame) -> list[int]:
    """Each row's position within its member table's rows (rows is the members' rows one after another)."""
    starts = rows.groupby("member").cumcount()
    return starts.loc[subset.index].tolist()


def _exceeds_arm_total(extraction: Extraction, rule: Rule) -> list[Issue]:
    """A count or denominator is at most its arm's size: the larger of `whole` (randomised) and `also`
    (treated), where given. A warning: registries and papers count patients differently."""
    et, count = _field_of(extraction, rule, "count")
    whole_t, whole = _field_of(extraction, rule, "whole")
    also = _field_of(extraction, rule, "also")[1] if "also" in rule.args else None
    keys = _join_whole(et, whole_t)
    w = whole_t.data
    # each arm's limit: its largest size, the first such cell (by row, then whole before also) on a tie
    sizes = []
    for j, name in enumerate((whole, also)):
        if name:
            sizes.append(
                pd.DataFrame(
                    {
                        "limit": w[name].to_numpy(dtype=float, na_value=np.nan),
                        "order": np.arange(len(w)) * 2 + j,
                        "row": w.index,
                        "name": name,
                    }
                ).assign(**{f"key{i}": str_values(w[k]) for i, k in enumerate(keys)})
            )
    limits = pd.concat(sizes, ignore_index=True).dropna(subset=["limit"])
    limits = limits.sort_values(["limit", "order"], ascending=[False, True], kind="stable")
    limits = limits.drop_duplicates([f"key{i}" for i in range(len(keys))], keep="first")
    d = et.data[et.data[count].notna()]
    if limits.empty or d.empty:  # no arm size typed yet (a half-filled workbook), or no count
        return []
    at = pd.MultiIndex.from_arrays([limits[f"key{i}"] for i in range(len(keys))]).get_indexer(
        str_keys(d, keys)
    )
    known = at >= 0
    limit = np.where(known, limits["limit"].to_numpy()[at], np.nan)
    over = known & (d[count].to_numpy(dtype=float, na_value=np.nan) > limit)
    if not over.any():
        return []
    rows = d.index[over]
    counts = d[count].to_numpy(dtype=object)[over]
    chosen = limits.iloc[at[over]]
    messages = [
        f"{_label(et, count)} {_fmt(c)} is more than the arm's {_label(whole_t, name).lower()} {_fmt(float(lim))} "
        f"({whole_t.sheet}!{whole_t.columns.get(name, '')}{arow})"
        for c, lim, name, arow in zip(counts, chosen["limit"], chosen["name"], chosen["row"], strict=True)
    ]
    return _rule_issues(et, rule, rows, count, messages)


# --- comparisons of two arms -------------------------------------------------------------------------------------


def _comparison_label(extraction: Extraction, rule: Rule) -> list[Issue]:
    """'A vs B' names the experimental arm first: experimental and control typed the other way round invert
    every ratio taken from the row."""
    et, label = _field_of(extraction, rule, "label")
    _, exp = _field_of(extraction, rule, "experimental")
    _, ctl = _field_of(extraction, rule, "control")
    issues = []
    d = et.data
    for row, text, e, c in zip(
        d.index.tolist(), d[label].tolist(), d[exp].tolist(), d[ctl].tolist(), strict=True
    ):  # lists, not .at per cell
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
    given = st.data[st.data[median].notna().to_numpy(dtype=bool)]
    for row, key in zip(given.index.tolist(), str_keys(given, [*shared, m_outcome, m_arm]), strict=True):
        medians.setdefault(key, []).append(row)
    issues = []
    ratios = et.data[et.data[est].notna().to_numpy(dtype=bool)]
    links = zip(
        str_keys(ratios, [*shared, outcome]), str_values(ratios[exp]), str_values(ratios[ctl]), strict=True
    )
    for row, (link, e_arm, c_arm) in zip(ratios.index.tolist(), links, strict=True):
        re_, rc = medians.get((*link, e_arm)), medians.get((*link, c_arm))
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


def _dispersion_contradicts_ci(extraction: Extraction, rule: Rule) -> list[Issue]:
    """An SD (or an SE, times sqrt(n)) and the SD its row's CI of the mean implies (sqrt(n) x width / 2 x t or z,
    as the analysis derives it) differ by more than a factor of 2: most often an SE typed as the SD. A warning:
    a report's CI may also be of something else (the median, a log scale)."""
    from .derive import sd_from_ci  # (derive builds on validate, which loads this module)

    et, disp = _field_of(extraction, rule, "dispersion")
    names = {
        p: _field_of(extraction, rule, p)[1]
        for p in ("n", "low", "high", *rule.args.keys() & {"type", "level"})
    }
    d = et.data
    given = d[[disp, names["n"], names["low"], names["high"]]].notna().all(axis=1).to_numpy(dtype=bool)
    issues = []
    for row in d.index[given].tolist():
        kind = str(d.at[row, names["type"]]) if "type" in names else "SD"
        if kind not in ("SD", "SE"):
            continue  # no type, no reading of the number (the analysis says so)
        n, value = float(d.at[row, names["n"]]), float(d.at[row, disp])
        level = d.at[row, names["level"]] if "level" in names else None
        implied = sd_from_ci(d.at[row, names["low"]], d.at[row, names["high"]], n, level).value
        sd = value if kind == "SD" else value * n**0.5
        if implied is None or n < 2 or 0.5 <= sd / implied <= 2:
            continue
        se = implied / n**0.5
        hint = (
            f", whose SE is {se:.3g}: as if the SE were typed as the SD"
            if kind == "SD" and abs(value - se) <= 0.15 * se
            else ": as if the SD were typed as the SE"
            if kind == "SE" and abs(value - implied) <= 0.15 * implied
            else ""
        )
        given = f"SD {_fmt(value)}" if kind == "SD" else f"SE {_fmt(value)} (an SD of {sd:.3g})"
        ci = f"{_fmt(d.at[row, names['low']])} to {_fmt(d.at[row, names['high']])}"
        issues.append(
            _rule_issue(
                et,
                rule,
                row,
                disp,
                f"{given} disagrees with the CI {ci} ({_where(et, row, names['low'])}), which with n {_fmt(n)} "
                f"gives an SD of {implied:.3g}{hint}",
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
    says: dict[str, bool] = {}  # locations repeat ("Table 3"): each text is searched once
    issues = []
    for name, f in t.fields.items():
        if f.type not in ("integer", "percent") or name in t.key or (f.min is not None and f.min > 0):
            continue  # counts and percentages; a zero below a field's minimum is out-of-range already
        rows = d[(d[name].eq(0).fillna(False) & d["location"].notna()).to_numpy(dtype=bool)]
        stated = np.zeros(len(rows), dtype=bool)
        for n in notes:
            for i, text in enumerate(rows[n].tolist()):
                if isinstance(text, str):
                    if text not in says:
                        says[text] = states_zero(text)
                    stated[i] |= says[text]
        messages = [
            f"{f.label} is 0 but neither Location nor Comment ({', '.join(_where(et, row, n) for n in notes)}) "
            "says the report states none"
            for row in rows.index[~stated]
        ]
        issues += _issues(et, "zero-not-stated", rows.index[~stated], name, messages)
    return issues


def due_numbers(t: Table) -> list[Field]:
    """The numeric fields each row of data owes a number, NR or NA: not the key, and not an alternative typed
    only when the report gives it (`if_reported`: a CI, a median)."""
    return [f for f in t.fields.values() if f.numeric and f.name not in t.key and not f.if_reported]


def stand_in_given(d: pd.DataFrame, f: Field) -> np.ndarray:
    """The rows where a field standing in for `f` (its `unless_given`: a median for the mean) holds a value, so
    that `f` may stay empty there."""
    given = np.zeros(len(d), dtype=bool)
    for other in f.unless_given:
        given |= d[other].notna().to_numpy()
    return given


def empty_issues(form: Form, et: ExtractedTable) -> list[Issue]:
    """Numeric cells left empty in rows that hold data: empty means 'not yet extracted', so a finished workbook
    has a number, NR or NA there. A count may stay empty where its percentage is given, and the other way round
    (the pairs of the form's percent-mismatch rules); a field marked if_reported (an alternative to another, such
    as a median where a mean is given) may stay empty, and so may a field whose `unless_given` fields hold a
    value (the mean where the median is given)."""
    if not et.file:
        return []  # plain DataFrames (validate_frames) have no missing codes: a missing value there says nothing
    t, d, m = et.table, et.data, et.missing
    partner: dict[str, str] = {}
    for r in form.rules:
        if r.kind == "percent-mismatch" and r.table == t.name:
            partner[r.args["count"]], partner[r.args["percent"]] = r.args["percent"], r.args["count"]
    numeric = due_numbers(t)
    if not numeric:
        return []
    filled = (d[[f.name for f in numeric]].notna() | m[[f.name for f in numeric]].ne(EMPTY)).any(axis=1)
    issues = []
    for f in numeric:
        empty = d[f.name].isna() & m[f.name].eq(EMPTY) & filled
        if f.name in partner:
            empty &= d[partner[f.name]].isna()
        empty &= ~stand_in_given(d, f)
        rows = d.index[empty.to_numpy(dtype=bool)]
        message = f"{f.label} is empty in a row that holds other values"
        issues += _issues(et, "not-extracted", rows, f.name, [message] * len(rows))
    return issues


CHECKS: dict[str, Callable[[Extraction, Rule], list[Issue]]] = {
    "sibling-value-missing": _sibling_value_missing,
    "unit-differs-between-arms": _unit_differs,
    "rates-over-time": _rates_over_time,
    "denominator-differs": _denominator_differs,
    "exceeds-arm-total": _exceeds_arm_total,
    "comparison-label-reversed": _comparison_label,
    "ratio-against-medians": _ratio_against_medians,
    "dispersion-contradicts-ci": _dispersion_contradicts_ci,
}
RULE_CHECKS.update(CHECKS)
