"""When two reviewers' entries agree (equal, within rounding, or a count and the percentage it stands
for), and what kind a discrepancy is: numeric, omission, zero-vs-NR, arms swapped across rows or arm fields,
a ratio inverted with its CI, a row filed under another key."""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any

from .forms import Field, Form, Table
from .units import AGREED, DERIVED, DISAGREE, EQUIVALENT, ROW, SINGLE, Entry, Unit
from .validate import implied_count, rounding_tolerance

if TYPE_CHECKING:
    from .lineup import LinedTable


def _rekey_type(form: Form, f: Field) -> str:
    """'moved' when the key field that differs names a parent row on its own (a study), else 'key'."""
    if f.references and form.tables[f.references[0]].key == (f.references[1],):
        return "moved"
    return "key"


def _agreeing(f: Field, entries: tuple[Entry, ...], link, by_field) -> dict[tuple[int, int], str | None]:
    """How each pair of reviewers who both have the row agree on this value (None: they do not)."""
    present = [i for i, e in enumerate(entries) if e.present]
    return {
        (i, j): _match(f, entries[i], entries[j], link, by_field, i, j)
        for i, j in itertools.combinations(present, 2)
    }


def _status(entries: tuple[Entry, ...], agreeing: dict[tuple[int, int], str | None]) -> str:
    """The value's status among the reviewers who have the row; those without it are left out (the row's own
    discrepancy covers them)."""
    if sum(e.present for e in entries) == 1:
        return SINGLE
    found = set(agreeing.values())
    if None in found:
        return DISAGREE
    return DERIVED if DERIVED in found else EQUIVALENT if EQUIVALENT in found else AGREED


def _match(f: Field, a: Entry, b: Entry, link=None, by_field=None, i: int = 0, j: int = 0) -> str | None:
    """AGREED, EQUIVALENT (within rounding or precision) or DERIVED (a count and the percentage it stands for,
    which needs the count/total/percent `link` and every field's entries `by_field`, i and j being the two
    reviewers' positions) when two entries agree, else None. Two empty entries agree."""
    if a.filled and b.filled:
        if a.code or b.code:
            return AGREED if a.code == b.code else None
        return _same_value(f, a.value, b.value)
    if a.filled == b.filled:
        return AGREED
    if link and by_field is not None:
        return _derived(
            f.name, link, (a, i) if a.filled else (b, j), (b, j) if a.filled else (a, i), by_field
        )
    return None


def _same_value(f: Field, a: Any, b: Any) -> str | None:  # Entry values
    if a == b:
        return AGREED
    if f.type in ("number", "percent"):
        return EQUIVALENT if abs(float(a) - float(b)) <= tolerance(f, float(a), float(b)) else None
    if f.type == "date":  # the same date at the precision both give: 2000-06 and 2000-06-15
        short, long = sorted((str(a), str(b)), key=len)
        return EQUIVALENT if long.startswith(short + "-") else None
    if f.type == "text":
        return (
            EQUIVALENT if " ".join(str(a).split()).casefold() == " ".join(str(b).split()).casefold() else None
        )
    return None


SCALE = 0.05  # a number typed without decimals stands for +-0.5 only where that is within 5% of it


def tolerance(f: Field, a: float, b: float) -> float:
    """How far two reviewers' numbers may differ and still be the same reported value: half a unit of the less
    precise one's last decimal (49 and 49.3 percent), but for a number of its own scale (a median, a ratio)
    never more than 5% of it: 2 and 1.7 years are different medians, 57 and 57.3 months the same."""
    tol = max(rounding_tolerance(a), rounding_tolerance(b))
    if f.type == "percent":  # percentages share one scale, 0 to 100
        return tol
    return min(tol, SCALE * max(abs(a), abs(b)) + 1e-9)


def _derived(
    name: str,
    link: tuple[str, str, str],
    filled: tuple[Entry, int],
    empty: tuple[Entry, int],
    by_field: dict[str, tuple[Entry, ...]],
) -> str | None:
    """A count typed by one reviewer agrees with the percentage the other typed over the same denominator (and
    the other way round), within the percentage's rounding."""
    entry, _ = filled
    other = empty[1]
    count_field, total_field, percent_field = link
    if entry.code or total_field not in by_field:
        return None
    total = by_field[total_field][other].value
    if not isinstance(total, (int, float)) or total <= 0:
        return None
    if name == count_field:
        percent = by_field[percent_field][other].value
        if isinstance(percent, (int, float)) and implied_count(float(percent), float(total)) == entry.value:
            return DERIVED
    elif name == percent_field:
        count = by_field[count_field][other].value
        if isinstance(count, (int, float)) and abs(
            100.0 * count / total - float(entry.value)
        ) <= rounding_tolerance(float(entry.value)):
            return DERIVED
    return None


def _kind(f: Field, entries: tuple[Entry, ...]) -> str:
    """The discrepancy type (arms-swapped is found afterwards, across rows)."""
    present = [e for e in entries if e.present]
    codes = {e.code for e in present if e.code}
    values = [e.value for e in present if e.value is not None]
    if f.numeric and "NR" in codes and 0 in values:
        return "zero-vs-nr"
    if any(not e.filled for e in present) or (codes and values):
        return "omission"
    if codes:
        return "category"  # NR against NA
    if f.numeric:
        return "numeric"
    return "text" if f.type in ("text", "date") else "category"


def _mark_swaps(table: Table, units: list[Unit]) -> None:
    """Type as arms-swapped the values where one reviewer's values on two arms are another's, crossed: across
    rows that differ only in their arm, and across two arm fields of one row (experimental/control). A crossing
    of exactly the same numbers is a swap even where rounding would let each pair pass as equal (57 and 57.3 on
    two arms, typed the other way round)."""
    fields = table.fields
    arm_key = next(
        (i for i, k in enumerate(table.key) if k == "arm_id" or fields[k].references == ("arms", "arm_id")),
        None,
    )
    groups: dict[tuple, list[Unit]] = {}
    for u in units:
        if u.field == ROW or u.field in table.key or u.status in (AGREED, SINGLE):
            continue
        if u.status != DISAGREE and not fields[u.field].numeric:
            continue
        if arm_key is not None:
            groups.setdefault(("rows", u.key[:arm_key] + u.key[arm_key + 1 :], u.field), []).append(u)
        if u.status == DISAGREE and fields[u.field].references == ("arms", "arm_id"):
            groups.setdefault(("fields", u.key), []).append(u)
    for group, members in groups.items():
        for one, two in itertools.combinations(members, 2):
            exact = _crossed_exactly(one.entries, two.entries)
            if not exact and not (
                one.status == two.status == DISAGREE
                and _crossed(fields[one.field], fields[two.field], one.entries, two.entries)
            ):
                continue
            link = (
                ("swapped", table.name, *sorted((one.key, two.key)))
                if group[0] == "rows"
                else ("swapped", table.name, one.key)
            )
            for u in (one, two):
                if exact:
                    u.status = DISAGREE
                    u.agreeing = u.agreeing - {exact}
                u.type, u.link = "arms-swapped", link


def _crossed_exactly(first: tuple[Entry, ...], second: tuple[Entry, ...]) -> tuple[int, int] | None:
    """The pair of reviewers (by position) whose two numbers are exactly each other's, crossed."""
    for i, j in itertools.combinations(range(len(first)), 2):
        a1, b1, a2, b2 = first[i], first[j], second[i], second[j]
        if not all(e.filled and not e.code and isinstance(e.value, (int, float)) for e in (a1, b1, a2, b2)):
            continue
        if a1.value == b2.value and a2.value == b1.value and a1.value != a2.value:
            return (i, j)
    return None


def _crossed(f1: Field, f2: Field, first: tuple[Entry, ...], second: tuple[Entry, ...]) -> bool:
    for i, j in itertools.permutations(range(len(first)), 2):
        a1, b1, a2, b2 = first[i], first[j], second[i], second[j]
        if not all(e.filled and not e.code for e in (a1, b1, a2, b2)):
            continue
        if _match(f1, a1, b2) and _match(f2, a2, b1) and not _match(f1, a1, a2):
            return True
    return False


def _ratios(form: Form, table: Table) -> list[tuple[str, str, str]]:
    """(estimate, low, high) of the table's ratios: an estimate with a CI rule and a must-be-positive rule."""
    positive = {r.args["value"] for r in form.rules if r.kind == "not-positive" and r.table == table.name}
    return [
        (r.args["estimate"], r.args["low"], r.args["high"])
        for r in form.rules
        if r.kind == "ci-excludes-estimate" and r.table == table.name and r.args["estimate"] in positive
    ]


def _reciprocal(a: Entry, b: Entry) -> bool:
    """b is 1/a at the precision both were typed to."""
    if a.code or b.code or not isinstance(a.value, (int, float)) or not isinstance(b.value, (int, float)):
        return False
    x, y = float(a.value), float(b.value)
    if x <= 0 or y <= 0 or math.isclose(x, 1.0):
        return False
    return abs(1.0 / x - y) <= rounding_tolerance(y) + rounding_tolerance(x) / x**2


def _mark_inverted(form: Form, lt: LinedTable) -> None:
    """One discrepancy, `inverted`, for a ratio that one reviewer typed as the other's reciprocal with the CI
    limits inverted and exchanged (the report's control-versus-experimental figure). When the same reviewers
    also crossed the experimental and control arms, both are right about the same comparison: arms-swapped."""
    table = lt.table
    ratios = _ratios(form, table)
    if not ratios:
        return
    units = list(lt.slow.values())
    index = {key: p for p, key in enumerate(lt.keys)}
    for est, low, high in ratios:
        for u in [u for u in units if u.field == est and u.status == DISAGREE]:
            p = index[u.key]
            lo, hi = lt.unit(p, low), lt.unit(p, high)
            for i, j in itertools.combinations(range(len(u.entries)), 2):
                if not _reciprocal(u.entries[i], u.entries[j]):
                    continue
                ci = [x for x in (lo, hi) if x is not None and x.status == DISAGREE]
                if ci and not (
                    lo is not None
                    and hi is not None
                    and _reciprocal(lo.entries[i], hi.entries[j])
                    and _reciprocal(hi.entries[i], lo.entries[j])
                ):
                    continue
                arms = [x for x in units if x.key == u.key and x.type == "arms-swapped" and x.field != est]
                kind = "arms-swapped" if arms else "inverted"
                link = ("inverted", table.name, u.key)
                for x in (u, *ci, *arms):
                    x.type, x.link = kind, link
                break
