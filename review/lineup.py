"""Lining one table up across reviewers' extractions: rows matched on the key (or paired when filed under
another key), values every reviewer typed alike found column by column and kept as masks, and a Unit made of
every other value, matched pairwise by review.matching. Most values of a review are typed alike; they never
become objects, which is what keeps a thousand-study comparison in seconds."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import ReviewError
from .extraction import ExtractedTable
from .forms import Field, Form, Table
from .matching import _agreeing, _kind, _mark_inverted, _mark_swaps, _rekey_type, _status
from .units import AGREED, DISAGREE, ROW, SINGLE, Entry, Unit, show

# Types whose values are all of one Python type once read: equal values of such columns are of the same type.
_ONE_TYPE = ("string", "str", "Int64", "Float64", "boolean", "int64", "float64", "bool")


_FAST = True  # tests turn it off to check that skipping equal values changes nothing


class Columns:
    """One reviewer's table as plain Python values and missing codes, column by column: numpy object arrays
    by position on the sheet with one extra last element (None, "") that stands for a row the reviewer lacks."""

    def __init__(self, et: ExtractedTable):
        self.source = et
        self.rows: list[int] = et.data.index.tolist()
        self.position = {row: i for i, row in enumerate(self.rows)}
        self.values: dict[str, np.ndarray] = {}
        self.notna: dict[str, np.ndarray] = {}
        self.codes: dict[str, np.ndarray] = {}
        self.dtype: dict[str, str] = {}
        self._shown: dict[str, np.ndarray] = {}
        self._prefix: dict[str, str] = {}
        for name in et.data.columns:
            column = et.data[name]
            missing = column.isna().to_numpy()
            values = np.empty(len(column) + 1, dtype=object)
            values[:-1] = column.to_numpy(dtype=object, na_value=None)  # Python values
            values[:-1][missing] = values[-1] = None
            self.values[name] = values
            self.notna[name] = np.append(~missing, False)
            self.dtype[name] = str(column.dtype)
        for name in et.missing.columns:
            self.codes[name] = np.append(et.missing[name].to_numpy(dtype=object), "")

    def value(self, row: int, name: str) -> object:
        return self.values[name][self.position[row]]

    def cell_where(self, row: int, name: str) -> str:
        """file:Sheet!A1 of a cell (ExtractedTable.cell's), its prefix made once per field."""
        prefix = self._prefix.get(name)
        if prefix is None:
            et = self.source
            prefix = self._prefix[name] = f"{et.file}:{et.sheet}!{et.columns.get(name, '')}"
        return prefix + str(row)

    def where(self, row: int, name: str) -> str:
        """ExtractedTable.where: the cell, or an imported value's origin."""
        if self.source.origins:
            return self.source.where(row, name)
        return self.cell_where(row, name)

    def code(self, row: int, name: str) -> str:
        return self.codes[name][self.position[row]]

    def shown(self, name: str) -> np.ndarray:
        """Each row's value of `name` as text (show), "" for the row the reviewer lacks; made once."""
        if name not in self._shown:
            values = self.values[name].tolist()
            if self.dtype[name] in ("string", "str"):
                texts = [v if v is not None else "" for v in values]
            elif self.dtype[name] in _ONE_TYPE:  # one type: each distinct value shown once
                distinct = {v: show(v) for v in set(values)}
                texts = list(map(distinct.__getitem__, values))
            else:
                texts = [show(v) for v in values]
            self._shown[name] = np.array(texts, dtype=object)
        return self._shown[name]


@dataclass
class LinedTable:
    """One table's rows lined up across reviewers: each row's key, each reviewer's sheet row (None where the
    reviewer lacks it) and position in their Columns (-1), which values every reviewer typed alike (`agreed`,
    kept as masks rather than Units: they are most of a review) and the Units of every other value."""

    form: Form
    table: Table
    columns: list[Columns]
    keys: list[tuple[str, ...]]
    rows: list[tuple[int | None, ...]]
    positions: list[np.ndarray]
    rekeyed: dict[tuple[str, ...], int]
    compared: list[Field]
    agreed: dict[str, np.ndarray]
    slow: dict[tuple[int, str], Unit] = field(
        default_factory=dict
    )  # (position, field) -> Unit, in unit order
    # values of rows only one reviewer has (SINGLE: nothing to match), by field: kept as masks like `agreed`;
    # when two extractions disagree on most rows they are most of the comparison
    single: dict[str, np.ndarray] = field(default_factory=dict)

    def entry(self, k: int, p: int, name: str) -> Entry:
        row = self.rows[p][k]
        if row is None:
            return _ABSENT
        cols = self.columns[k]
        i = self.positions[k][p]
        return Entry(
            cols.values[name][i],
            cols.codes[name][i],
            cols.where(row, name),
            cols.shown("source")[i] if "source" in cols.values else "",
            cols.shown("location")[i] if "location" in cols.values else "",
        )

    def entries(self, p: int, name: str) -> tuple[Entry, ...]:
        return tuple(self.entry(k, p, name) for k in range(len(self.columns)))

    def agreed_unit(self, p: int, name: str) -> Unit:
        pairs = frozenset(itertools.combinations(range(len(self.columns)), 2))
        return Unit(self.table.name, self.keys[p], name, self.entries(p, name), AGREED, "", agreeing=pairs)

    def single_unit(self, p: int, name: str) -> Unit:
        return Unit(self.table.name, self.keys[p], name, self.entries(p, name), SINGLE, "")

    def judged(self, p: int, name: str) -> Unit | None:
        """The unit of a value not every reviewer typed alike (made afresh for a row only one reviewer has),
        None for a value typed alike or by nobody."""
        u = self.slow.get((p, name))
        if u is None and name in self.single and self.single[name][p]:
            return self.single_unit(p, name)
        return u

    def unit(self, p: int, name: str) -> Unit | None:
        """The unit of one value (made afresh for a value all reviewers typed alike or only one reviewer's row
        has), None if nobody gave it."""
        u = self.judged(p, name)
        if u is None and name in self.agreed and self.agreed[name][p]:
            return self.agreed_unit(p, name)
        return u

    def units(self) -> list[Unit]:
        out: list[Unit] = []
        for p in range(len(self.keys)):
            for name in (*self.table.key, ROW, *(f.name for f in self.compared)):
                u = self.unit(p, name)
                if u is not None:
                    out.append(u)
        return out


def _line_up(form: Form, table: Table, tables: list[ExtractedTable], annotations) -> LinedTable:
    """Line one table up across reviewers, mark the values every reviewer typed alike (checked column by column)
    and make a Unit of every other value."""
    columns = [Columns(t) for t in tables]
    aligned, rekeyed = _align(tables, columns, annotations)
    keys = [k for k, _ in aligned]
    rows = [r for _, r in aligned]
    positions = [_positions(c, [r[k] for r in rows]) for k, c in enumerate(columns)]
    compared = [f for f in table.fields.values() if f.name not in table.key and f.name not in annotations]
    present = [p >= 0 for p in positions]
    agreed: dict[str, np.ndarray] = {}
    pending: dict[str, np.ndarray] = {}
    for f in compared:
        values = [c.values[f.name][p] for c, p in zip(columns, positions, strict=True)]
        codes = [c.codes[f.name][p] for c, p in zip(columns, positions, strict=True)]
        notna = [c.notna[f.name][p] for c, p in zip(columns, positions, strict=True)]
        filled = [pr & (nn | (cd != "")) for pr, nn, cd in zip(present, notna, codes, strict=True)]
        same = np.logical_and.reduce(present) & filled[0]
        one_type = all(c.dtype[f.name] == columns[0].dtype[f.name] for c in columns) and (
            columns[0].dtype[f.name] in _ONE_TYPE
        )
        for k in range(1, len(columns)):
            same &= (codes[k] == codes[0]) & (notna[k] == notna[0]) & (values[k] == values[0])
            if not one_type:
                same &= np.array(
                    [type(a) is type(b) for a, b in zip(values[k], values[0], strict=True)], bool
                )
        if not _FAST:
            same[:] = False
        agreed[f.name] = same
        pending[f.name] = np.logical_or.reduce(filled) & ~same
    lt = LinedTable(form, table, columns, keys, rows, positions, rekeyed, compared, agreed)
    _slow_units(lt, pending)
    return lt


def _positions(columns: Columns, rows: list[int | None]) -> np.ndarray:
    """Each sheet row's position in `columns`, -1 for None."""
    numbers = pd.array(rows, dtype="Int64").fillna(-1).to_numpy(dtype=np.int64)
    return pd.Index(columns.rows).get_indexer(numbers)


def _align(
    tables: list[ExtractedTable], columns: list[Columns], annotations: Sequence[str] = ()
) -> tuple[list[tuple[tuple[str, ...], tuple[int | None, ...]]], dict[tuple[str, ...], int]]:
    """The rows of one table across extractions, matched on its key: the first extraction's rows in sheet order,
    then rows only the second has, and so on (a stable order for the same inputs).

    Rows that no key matches are then paired when they differ in one key field only and agree on their values:
    one reviewer filed the row under another category, outcome, arm or study. The pair is one row, under the
    first reviewer's key; the second element maps such rows to the position of the key field that differs.
    A row whose key repeats another of the same extraction is paired that way too, or refused.

    Each loose row, in order, takes the candidate that agrees on most values (the first of equals), among those
    not taken yet. Only rows that share a value can agree on more values than they differ on, so the candidates
    are found by a join on shared values (_candidates) rather than by scoring every pair of loose rows: two
    extractions that disagree on most rows have loose rows in every study, and all pairs of them grew with the
    square of the review."""
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

    def text(k: int, row: int, name: str) -> str:
        return columns[k].code(row, name) or show(columns[k].value(row, name))

    def similar(rows_a: list[int | None], rows_b: list[int | None]) -> int:
        """How many values the rows agree on, 0 unless clearly more than they disagree on."""
        same = differ = 0
        for i, ra in enumerate(rows_a):
            for j, rb in enumerate(rows_b):
                if ra is None or rb is None:
                    continue
                for name in compared:
                    a, b = text(i, ra, name), text(j, rb, name)
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
    scored, others = _candidates(loose, indexes, extras, columns, compared)
    taken: set[int] = set()
    for a, (k1, rows1, extra1) in enumerate(loose):
        if a in taken or extra1 is not None:
            continue
        best, best_score, best_rows = None, 0, None
        for b, score in scored.get(a, ()):  # single rows, scored at once: by score, then order
            if b not in taken:
                best, best_score, best_rows = b, score, loose[b][1]
                break
        for b in others.get(a, ()):  # rows of several reviewers, and repeated keys: scored here
            if b in taken:
                continue
            k2, rows2, extra2 = loose[b]
            options = [rows2]
            if extra2 is not None and k2 in aligned:  # the repeated key's first row may be the mis-filed one
                options.append([aligned[k2][extra2] if i == extra2 else None for i in range(n)])
            for rows in options:
                score = similar(rows1, rows)
                if score > best_score or (score == best_score > 0 and best is not None and b < best):
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


def _candidates(
    loose: list[tuple[tuple[str, ...], list[int | None], int | None]],
    indexes: tuple[dict[tuple[str, ...], int], ...],
    extras: tuple[list[tuple[tuple[str, ...], int]], ...],
    columns: list[Columns],
    compared: list[str],
) -> tuple[dict[int, list[tuple[int, int]]], dict[int, list[int]]]:
    """For each loose row `a` (by position in `loose`), the loose rows it may pair with: one key field apart,
    together covering every reviewer once, and agreeing on more than twice as many values as they differ on.

    Returns (scored, others). `scored[a]` lists (b, score) for rows that are each one reviewer's single row,
    scored here, best first (then by position); `others[a]` lists, by position, rows of several reviewers and
    rows whose key repeats another's, which the caller scores (their score can change as rows are paired).

    Every pair that can score is found, none missed (so the pairing is the one that scoring all pairs gives):
    two rows agreeing on s of the n values both have, and differing on the rest, score when s > 2(n - s), that
    is s >= t = floor(2n/3) + 1; then, in any one order of (field, value) tokens, the first token they share is
    among the first n - t + 1 of each row's n tokens (prefix filtering, as in set-similarity joins). Taking the rarest tokens first keeps the join small: a value every
    row has (a unit, a denominator) is never joined on unless the rows have nothing rarer in common. A row of
    several reviewers scores with another only if one of its reviewers' rows does, so rows are joined one
    reviewer's row at a time. Groups of rows with the same filled fields are joined pairwise (n depends on
    both); a form's tables have a handful of such patterns."""
    scored: dict[int, list[tuple[int, int]]] = {}
    others: dict[int, list[int]] = {}
    if len(loose) < 2 or not compared:
        return scored, others
    n = len(columns)
    # each loose row's members: its reviewers' rows, and for a repeated key every row of that reviewer under it
    repeated: dict[tuple[int, tuple[str, ...]], list[int]] = {}
    for x, extra in enumerate(extras):
        for k, row in extra:
            repeated.setdefault((x, k), [indexes[x][k]]).append(row)
    owner, reviewer, position = [], [], []
    for e, (k, rows, j) in enumerate(loose):
        members = (
            [(i, r) for i, r in enumerate(rows) if r is not None]
            if j is None
            else [(j, r) for r in dict.fromkeys([rows[j], *repeated[(j, k)]])]
        )
        for i, r in members:
            owner.append(e)
            reviewer.append(i)
            position.append(columns[i].position[r])
    owner_a, reviewer_a, position_a = (np.asarray(x, dtype=np.int64) for x in (owner, reviewer, position))
    # (field, value) tokens of every member, as numbers: equal text, equal number; -1 for an empty value
    tokens = np.full((len(owner_a), len(compared)), -1, dtype=np.int64)
    for c, name in enumerate(compared):
        texts = np.empty(len(owner_a), dtype=object)
        for i in range(n):
            at = reviewer_a == i
            pos = position_a[at]
            codes = columns[i].codes[name][pos]
            shown = columns[i].values[name][pos]
            texts[at] = [code or show(v) for code, v in zip(codes.tolist(), shown.tolist(), strict=True)]
        codes_c, uniques = pd.factorize(texts)
        empty = np.flatnonzero(uniques == "")
        tokens[:, c] = codes_c
        if len(empty):
            tokens[codes_c == empty[0], c] = -1
    filled = tokens >= 0
    # one order of all tokens, rarest first (then field, then value): its rank stands for the token
    offsets = np.concatenate([[0], np.cumsum(tokens.max(axis=0) + 1)])
    flat = np.where(filled, tokens + offsets[:-1], -1)
    counts = np.bincount(flat[filled], minlength=int(offsets[-1]))
    by_rarity = np.lexsort((np.arange(len(counts)), counts))
    rank_of = np.empty(len(counts), dtype=np.int64)
    rank_of[by_rarity] = np.arange(len(counts))
    none = np.iinfo(np.int64).max
    ranks = np.where(filled, rank_of[np.maximum(flat, 0)], none)
    # the key with one field blanked, as one number per (field position, loose row): the rows it may pair with
    keys = list(zip(*(k for k, _, _ in loose), strict=True))
    key_codes = np.stack([pd.factorize(np.asarray(col, dtype=object))[0] for col in keys], axis=1)
    buckets = np.empty((len(keys), len(loose)), dtype=np.int64)
    for p in range(len(keys)):
        rest = [key_codes[:, q] for q in range(len(keys)) if q != p]
        code = np.zeros(len(loose), dtype=np.int64)
        for column in rest:
            code = pd.factorize(code * (int(column.max()) + 1) + column)[0]
        buckets[p] = code + p * len(loose)
    bits = filled.astype(np.int64) @ (np.int64(1) << np.arange(len(compared), dtype=np.int64))
    if len(compared) > 62:  # more fields than bits: patterns as whole rows (slower, never seen in a form)
        bits = np.unique(filled, axis=0, return_inverse=True)[1].ravel()
    _, first_of, pattern_of = np.unique(bits, return_index=True, return_inverse=True)
    patterns = filled[first_of]  # the filled fields of each pattern
    # which reviewers each loose row has: a pair must have each reviewer once between them
    cover = np.zeros(len(loose), dtype=np.int64)
    for i in range(n):
        cover |= np.array([rows[i] is not None for _, rows, _ in loose], dtype=np.int64) << i
    full = (1 << n) - 1
    repeat = np.array([j is not None for _, _, j in loose])
    single = ~repeat & (np.bincount(owner_a, minlength=len(loose)) == 1)
    found = []
    for x in range(len(patterns)):
        for y in range(x, len(patterns)):
            common = patterns[x] & patterns[y]
            size = int(common.sum())
            if size == 0:
                continue
            length = size - (2 * size) // 3  # prefix: size - t + 1 tokens
            left = _emitted(
                np.flatnonzero(pattern_of == x), ranks[:, common], length, buckets, owner_a, cover
            )
            right = (
                left
                if x == y
                else _emitted(
                    np.flatnonzero(pattern_of == y), ranks[:, common], length, buckets, owner_a, cover
                )
            )
            right = right.assign(cover=full ^ right["cover"])  # joined to the rows with the other reviewers
            joined = left.merge(right, on=["bucket", "token", "cover"])
            mx, my = joined["member_x"].to_numpy(), joined["member_y"].to_numpy()
            ea, eb = owner_a[mx], owner_a[my]
            # single rows are scored here already, to keep only pairs that can pair (most share a value or two)
            tx, ty = tokens[mx], tokens[my]
            shared = (tx >= 0) & (ty >= 0)
            same = (shared & (tx == ty)).sum(axis=1)
            scores = same > 2 * (shared.sum(axis=1) - same)
            keep = scores | ~(single[ea] & single[eb])
            found.append(np.stack([ea[keep], eb[keep]], axis=1))
    if not found:
        return scored, others
    pairs = np.concatenate(found)
    many = np.int64(len(loose))
    pairs = np.unique(np.concatenate([pairs[:, 0] * many + pairs[:, 1], pairs[:, 1] * many + pairs[:, 0]]))
    # keep pairs one key field apart, covering every reviewer once together, the first no repeated key
    a, b = pairs // many, pairs % many  # each pair both ways, sorted by a then b
    apart = (key_codes[a] != key_codes[b]).sum(axis=1)
    keep = ~repeat[a] & (apart == 1) & ((cover[a] & cover[b]) == 0) & ((cover[a] | cover[b]) == full)
    a, b = a[keep], b[keep]
    both = single[a] & single[b]
    for x, y in zip(a[~both].tolist(), b[~both].tolist(), strict=True):
        others.setdefault(x, []).append(y)  # pairs come sorted: by a, then b
    a, b = a[both], b[both]
    first = np.searchsorted(owner_a, np.arange(len(loose)))  # each loose row's first member (in order)
    ta, tb = tokens[first[a]], tokens[first[b]]
    shared = (ta >= 0) & (tb >= 0)
    same = (shared & (ta == tb)).sum(axis=1)
    differ = shared.sum(axis=1) - same
    score = np.where(same > 2 * differ, same, 0)
    keep = score > 0
    a, b, score = a[keep], b[keep], score[keep]
    by = np.lexsort((b, -score, a))
    for x, y, s in zip(a[by].tolist(), b[by].tolist(), score[by].tolist(), strict=True):
        scored.setdefault(x, []).append((y, s))
    return scored, others


def _emitted(
    at: np.ndarray, ranks: np.ndarray, length: int, buckets: np.ndarray, owner: np.ndarray, cover: np.ndarray
) -> pd.DataFrame:
    """(member, bucket, token, cover) for the members `at`: each key with one field blanked, times the `length`
    rarest of the member's tokens among the fields of `ranks` (token ranks, one column per field), with the
    reviewers its loose row has (`cover`, a bit each)."""
    prefix = np.sort(ranks[at], axis=1)[:, :length]
    bucket = buckets[:, owner[at]]  # (key positions, members)
    return pd.DataFrame(
        {
            "member": np.tile(np.repeat(at, length), len(buckets)),
            "bucket": np.repeat(bucket, length, axis=1).ravel(),
            "token": np.tile(prefix.ravel(), len(buckets)),
            "cover": np.tile(np.repeat(cover[owner[at]], length), len(buckets)),
        }
    )


def _key_index(
    et: ExtractedTable, columns: Columns
) -> tuple[dict[tuple[str, ...], int], list[tuple[tuple[str, ...], int]]]:
    """Sheet rows by key, and the rows whose key repeats an earlier row's."""
    keys = list(et.table.key)
    texts = [
        [v if v is not None else "" for v in values]
        if columns.dtype[k] in ("string", "str")
        else [show(v) for v in values]
        for k in keys
        for values in [columns.values[k][:-1].tolist()]
    ]
    firsts = [column.index("") for column in texts if "" in column]
    if firsts:  # the first row with an empty key field, and its first empty one
        i = min(firsts)
        empty = keys[[column[i] for column in texts].index("")]
        raise ReviewError(
            f"{et.file}: sheet {et.sheet}, cell {et.cell(columns.rows[i], empty)}: {empty} is empty, so "
            f"the row cannot be matched; run `review validate {et.file}` and fill it in."
        )
    every = list(zip(*texts, strict=True))
    index = dict(zip(every, columns.rows, strict=True))
    extras: list[tuple[tuple[str, ...], int]] = []
    if len(index) < len(every):  # a key repeats: its first row is the one matched
        index = {}
        for row, key in zip(columns.rows, every, strict=True):
            if key in index:
                extras.append((key, row))
            else:
                index[key] = row
    return index, extras


_ABSENT = Entry(present=False)


_PAIR = frozenset({(0, 1)})


def _percent_links(form: Form, table: Table) -> dict[str, tuple[str, str, str]]:
    """count/total/percent triples of this table (from its percent-mismatch rules), by count and percent field."""
    links: dict[str, tuple[str, str, str]] = {}
    for rule in form.rules:
        if (
            rule.kind == "percent-mismatch"
            and rule.table == table.name
            and not any("." in v for v in rule.args.values())
        ):
            triple = (rule.args["count"], rule.args["total"], rule.args["percent"])
            links[triple[0]] = links[triple[2]] = triple
    return links


class _RowEntries(dict):
    """One row's entries by compared field, each made when first read (most values need no other field's)."""

    def __init__(self, lt: LinedTable, p: int, names: frozenset[str]):
        super().__init__()
        self.lt, self.p, self.names = lt, p, names

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __missing__(self, name: str) -> tuple[Entry, ...]:
        if name not in self.names:
            raise KeyError(name)
        entries = self[name] = self.lt.entries(self.p, name)
        return entries


def _slow_units(lt: LinedTable, pending: dict[str, np.ndarray]) -> None:
    """Units of the values not every reviewer typed alike, of rows some reviewers lack and of rows filed under
    another key, matched pairwise: these are the few that take judgement."""
    form, table = lt.form, lt.table
    links = _percent_links(form, table)
    present = np.logical_and.reduce([p >= 0 for p in lt.positions])
    todo = np.logical_or.reduce([~present, *pending.values()]) if pending else ~present
    index = {key: p for p, key in enumerate(lt.keys)} if lt.rekeyed else {}
    todo_at = set(np.flatnonzero(todo).tolist()) | {index[k] for k in lt.rekeyed}
    units = lt.slow
    names = frozenset(f.name for f in lt.compared)
    alone = np.add.reduce([p >= 0 for p in lt.positions]) == 1  # rows only one reviewer has: values SINGLE
    alone[[index[k] for k in lt.rekeyed]] = False
    if _FAST:
        lt.single = {f.name: pending[f.name] & alone for f in lt.compared}
    for p in sorted(todo_at):
        key, rows = lt.keys[p], lt.rows[p]
        if key in lt.rekeyed:
            name = table.key[lt.rekeyed[key]]
            units[(p, name)] = Unit(
                table.name, key, name, lt.entries(p, name), DISAGREE, _rekey_type(form, table.fields[name])
            )
        if not present[p]:
            entries = tuple(
                Entry(value="present", where=c.cell_where(r, table.key[0])) if r is not None else _ABSENT
                for c, r in zip(lt.columns, rows, strict=False)
            )
            units[(p, ROW)] = Unit(table.name, key, ROW, entries, DISAGREE, "omission")
        if _FAST and alone[p]:
            continue  # its values are SINGLE, kept as masks
        by_field = _RowEntries(lt, p, names)
        for f in lt.compared:
            if not pending[f.name][p]:
                continue  # nobody gave it, or every reviewer typed it alike
            entries = by_field[f.name]
            if len(entries) == 2:  # two reviewers typing the same: no pairwise matching
                a, b = entries
                if a.present and b.present and a.code == b.code and type(a.value) is type(b.value):
                    if a.value == b.value:
                        units[(p, f.name)] = Unit(
                            table.name, key, f.name, entries, AGREED, "", agreeing=_PAIR
                        )
                        continue
            agreeing = _agreeing(f, entries, links.get(f.name), by_field)
            status = _status(entries, agreeing)
            kind = _kind(f, entries) if status == DISAGREE else ""
            units[(p, f.name)] = Unit(
                table.name,
                key,
                f.name,
                entries,
                status,
                kind,
                agreeing=frozenset(pair for pair, how in agreeing.items() if how),
            )
    _mark_swaps(table, list(units.values()))
    _mark_inverted(form, lt)
