"""The former pairing of rows that no key matches (review.lineup._align before the candidate pairs were found by
a join on shared values): every pair of loose rows one key field apart was scored value by value, which grew
with the square of the loose rows of a whole review (all of them when two extractions disagree on most rows).
Kept as the oracle the new pairing must equal (tests/test_compare_disagree.py), verbatim but for one fix made in
both: a repeated key whose first row was paired away (under another key) raised KeyError; now the repeated
row is no longer scored against that first row, and is left as the one row under its key."""

from __future__ import annotations

from collections.abc import Sequence

from review.errors import ReviewError
from review.lineup import Columns, _key_index
from review.units import show
from review.workbook import ExtractedTable


def _align(
    tables: list[ExtractedTable], columns: list[Columns], annotations: Sequence[str] = ()
) -> tuple[list[tuple[tuple[str, ...], tuple[int | None, ...]]], dict[tuple[str, ...], int]]:
    """The rows of one table across extractions, matched on its key: the first extraction's rows in sheet order,
    then rows only the second has, and so on (a stable order for the same inputs).

    Rows that no key matches are then paired when they differ in one key field only and agree on their values:
    one reviewer filed the row under another category, outcome, arm or study. The pair is one row, under the
    first reviewer's key; the second element maps such rows to the position of the key field that differs.
    A row whose key repeats another of the same extraction is paired that way too, or refused."""
    indexes, extras = zip(*(_key_index(t, c) for t, c in zip(tables, columns, strict=True)), strict=True)
    order: dict[tuple[str, ...], None] = {}
    for index in indexes:
        order.update(dict.fromkeys(index))
    aligned: dict[tuple[str, ...], list[int | None]] = dict(
        zip(order, map(list, zip(*(map(index.get, order) for index in indexes), strict=True)), strict=True)
    )
    rekeyed: dict[tuple[str, ...], int] = {}
    n = len(tables)
    compared = [f for f in tables[0].table.fields if f not in tables[0].table.key and f not in annotations]

    def similar(rows_a: list[int | None], rows_b: list[int | None]) -> int:
        """How many values the rows agree on, 0 unless clearly more than they disagree on."""
        same = differ = 0
        for i, ra in enumerate(rows_a):
            for j, rb in enumerate(rows_b):
                if ra is None or rb is None:
                    continue
                for name in compared:
                    a = columns[i].code(ra, name) or show(columns[i].value(ra, name))
                    b = columns[j].code(rb, name) or show(columns[j].value(rb, name))
                    if a and b:
                        same, differ = same + (a == b), differ + (a != b)
        return same if same > 2 * differ else 0

    def one_apart(k1: tuple[str, ...], k2: tuple[str, ...]) -> int | None:
        apart = [p for p, (a, b) in enumerate(zip(k1, k2, strict=True)) if a != b]
        return apart[0] if len(apart) == 1 else None

    # rows some reviewers lack, and rows whose key repeats another's: (key, rows, extra of reviewer j or None)
    loose: list[tuple[tuple[str, ...], list[int | None], int | None]] = [
        (k, rows, None) for k, rows in aligned.items() if None in rows
    ]
    loose += [
        (k, [row if i == j else None for i in range(n)], j)
        for j, extra in enumerate(extras)
        for k, row in extra
    ]
    # candidates one key field apart, found through each key with one field blanked: linear, not all pairs
    near: dict[tuple, list[int]] = {}
    for b, (k2, _, _) in enumerate(loose):
        for p in range(len(k2)):
            near.setdefault((p, k2[:p] + k2[p + 1 :]), []).append(b)
    taken: set[int] = set()
    for a, (k1, rows1, extra1) in enumerate(loose):
        if a in taken or extra1 is not None:
            continue
        best, best_score, best_rows = None, 0, None
        candidates = sorted({b for p in range(len(k1)) for b in near.get((p, k1[:p] + k1[p + 1 :]), [])})
        for b in candidates:
            k2, rows2, extra2 = loose[b]
            if b == a or b in taken or one_apart(k1, k2) is None:
                continue
            if any((r1 is None) == (r2 is None) for r1, r2 in zip(rows1, rows2, strict=True)):
                continue  # together they must cover every reviewer, each once
            options = [rows2]
            if extra2 is not None and k2 in aligned:  # the repeated key's first row may be the mis-filed one
                options.append([aligned[k2][extra2] if i == extra2 else None for i in range(n)])
            for rows in options:
                score = similar(rows1, rows)
                if score > best_score:
                    best, best_score, best_rows = b, score, rows
        if best is None:
            continue
        assert best_rows is not None  # set with best
        k2, rows2, extra2 = loose[best]
        taken |= {a, best}
        if extra2 is not None and best_rows != rows2:
            aligned[k2][extra2] = rows2[extra2]  # the later row stays under the repeated key
        aligned[k1] = [r1 if r1 is not None else r2 for r1, r2 in zip(rows1, best_rows, strict=True)]
        if extra2 is None:
            del aligned[k2]
        apart = one_apart(k1, k2)
        assert apart is not None  # only keys one field apart are candidates
        rekeyed[k1] = apart
    for b, (k, rows, j) in enumerate(loose):
        if j is not None and b not in taken and k not in aligned:  # the key's first row was paired away
            aligned[k] = rows
        elif j is not None and b not in taken:
            et = tables[j]
            raise ReviewError(
                f"{et.file}: sheet {et.sheet}, rows {indexes[j][k]} and {rows[j]} have the same key "
                f"({' | '.join(k)}); run `review validate {et.file}` and merge or correct them."
            )
    return list(zip(aligned, map(tuple, aligned.values()), strict=True)), rekeyed
