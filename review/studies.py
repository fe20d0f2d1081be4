"""Included studies, to pre-fill reviewer workbooks: read from an RIS export (rispy) or a CSV, with study ids
made where none are given; and one workbook per study."""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .errors import RefusedOutput, ReviewError, UnreadableInput
from .files import check_file, check_output
from .forms import Form, Table
from .workbook import DEFAULT_ROWS, make_workbook


def read_studies(path: str | Path, table: Table | None = None) -> pd.DataFrame:
    """Studies to pre-fill, from an RIS export (rispy) or a CSV whose headers are Studies fields or labels.

    With `table` (the form's studies table) a CSV's headers may be field names, labels or workbook headers, in any
    case; a header that is none of them is refused with the valid ones listed, rather than silently dropped.
    """
    path = check_file(path, "list of studies")
    if path.suffix.lower() in (".ris", ".txt"):
        import rispy

        try:
            with open(path, encoding="utf-8-sig") as fh:
                entries = rispy.load(fh)
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            raise UnreadableInput(f"{path}: not a readable RIS file ({exc}).") from None
        rows = [_study_from_ris(e) for e in entries]
    elif path.suffix.lower() == ".csv":
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                rows = list(csv.DictReader(fh))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise UnreadableInput(
                f"{path}: not a readable UTF-8 CSV ({exc}); save it as CSV UTF-8."
            ) from None
    else:
        raise UnreadableInput(f"{path}: give the included studies as .ris or .csv.")
    if not rows:
        raise UnreadableInput(f"{path}: no studies found.")
    frame = pd.DataFrame(rows).fillna("")
    if table is not None and path.suffix.lower() == ".csv":
        frame = _studies_columns(frame, table, path)
    if "study_id" not in frame.columns or (frame["study_id"] == "").any():
        frame["study_id"] = _study_ids(frame)
    if frame["study_id"].duplicated().any():
        dupes = sorted(set(frame.loc[frame["study_id"].duplicated(), "study_id"]))
        raise ReviewError(f"{path}: study ids {dupes} occur twice; make them unique.")
    return frame


def _studies_columns(frame: pd.DataFrame, table: Table, path: Path) -> pd.DataFrame:
    """Rename a studies CSV's headers to field names; refuse unknown or repeated ones, naming the valid ones."""
    names: dict[str, str] = {}
    for header in frame.columns:
        if not str(header).strip():
            if (frame[header] != "").any():
                raise ReviewError(f"{path}: a column with values has no header; name it or delete it.")
            continue
        f = table.field_for_header(str(header))
        if f is None:
            valid = ", ".join(f"{x.name} ({x.label})" for x in table.fields.values())
            raise ReviewError(
                f"{path}: column '{header}' is not a field of the {table.sheet} sheet; rename it to a field name or "
                f"label, or delete it. Valid: {valid}."
            )
        if f.name in names.values():
            raise ReviewError(f"{path}: columns for {f.name} ({f.label}) appear twice; keep one.")
        names[header] = f.name
    return frame[list(names)].rename(columns=names)


def _study_from_ris(entry: dict) -> dict:
    authors = entry.get("authors") or entry.get("first_authors") or []
    year = str(entry.get("year") or entry.get("publication_year") or "")[:4]
    journal = entry.get("secondary_title") or entry.get("journal_name") or entry.get("alternate_title3") or ""
    pages = "-".join(p for p in (entry.get("start_page"), entry.get("end_page")) if p)
    volume = entry.get("volume") or ""
    issue = f"({entry['number']})" if entry.get("number") else ""
    author_text = ", ".join(authors[:3]) + (", et al" if len(authors) > 3 else "")
    citation = ". ".join(
        p for p in (author_text, entry.get("title") or entry.get("primary_title"), journal) if p
    )
    citation += f" {year}" + (f";{volume}{issue}" if volume else "") + (f":{pages}" if pages else "") + "."
    pmid = next(
        (str(entry[k]) for k in ("accession_number", "pubmed_id") if str(entry.get(k, "")).isdigit()), ""
    )
    return {
        "citation": citation.strip(),
        "first_author": authors[0].split(",")[0].strip() if authors else "",
        "year": year,
        "doi": re.sub(
            r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", entry.get("doi") or "", flags=re.IGNORECASE
        ),
        "pmid": pmid,
    }


def _study_ids(frame: pd.DataFrame) -> list[str]:
    """'Surname Year', with a/b suffixes where two studies would share one."""
    base = [f"{r.get('first_author') or 'Study'} {r.get('year') or ''}".strip() for _, r in frame.iterrows()]
    counts = pd.Series(base).value_counts()
    seen: dict[str, int] = {}
    ids = []
    for b in base:
        if counts[b] > 1:
            seen[b] = seen.get(b, 0) + 1
            ids.append(f"{b}{chr(ord('a') + seen[b] - 1)}")
        else:
            ids.append(b)
    return ids


def make_study_workbooks(
    form: Form,
    studies: pd.DataFrame,
    folder: str | Path,
    *,
    reviewer: str = "",
    rows: int = DEFAULT_ROWS,
    inputs: Sequence[str | Path] = (),
    force: bool = False,
) -> list[Path]:
    """One workbook per study, each with its Studies row filled in; returns the paths written.

    Every target is checked before any is written: none may be one of `inputs`, and none that exists is
    replaced unless `force` (a reviewer may already have filled it in)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise RefusedOutput(f"{folder}: is a file; give a folder for the per-study workbooks.")
    targets = {}
    for _, study in studies.iterrows():
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(study["study_id"])).strip("_") or "study"
        target = folder / f"{name}.xlsx"
        if target in targets.values():
            raise ReviewError(
                f"studies {study['study_id']!r} and another give the same file name {target.name}."
            )
        targets[study.name] = check_output(target, inputs, force=force)
    paths = []
    for _, study in studies.iterrows():
        frame = studies.loc[[study.name], [c for c in studies.columns if c in form.table("studies").fields]]
        paths.append(
            make_workbook(form, targets[study.name], reviewer=reviewer, data={"studies": frame}, rows=rows)
        )
    return paths
