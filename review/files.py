"""Writing outputs atomically and opening untrusted inputs safely."""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from .errors import UnreadableInput

# Limits for untrusted workbooks. A reviewer's workbook is a few hundred kB; these leave ample room while
# refusing zip bombs (tiny file, gigabytes of XML) before any parser sees them.
MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 500 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `target`; move it over `target` only if the block succeeds.

    Readers never see a half-written output, and a failed run leaves any earlier output intact.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write text atomically (UTF-8, newline as given)."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")


def check_xlsx(path: str | os.PathLike[str]) -> Path:
    """Refuse a file that is not a plausible, safe .xlsx before any parser opens it."""
    path = Path(path)
    if not path.exists():
        raise UnreadableInput(f"{path}: file not found.")
    if path.is_dir():
        raise UnreadableInput(f"{path}: is a folder, not an .xlsx workbook.")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise UnreadableInput(
            f"{path}: {size / 1e6:.0f} MB is larger than the {MAX_FILE_BYTES / 1e6:.0f} MB a reviewer workbook "
            "can be; check that this is the right file."
        )
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableInput(
            f"{path}: is an OLE file: either password-protected (remove the password in Excel: File > Info > "
            "Protect Workbook) or an old .xls (save it as .xlsx)."
        )
    if not zipfile.is_zipfile(path):
        raise UnreadableInput(f"{path}: is not an .xlsx workbook (not a zip archive); save it as .xlsx.")
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        names = {i.filename for i in infos}
        if "xl/workbook.xml" not in names:
            raise UnreadableInput(f"{path}: is a zip archive but not an .xlsx workbook; save it as .xlsx.")
        total = sum(i.file_size for i in infos)
        packed = sum(i.compress_size for i in infos) or 1
        if total > MAX_UNCOMPRESSED_BYTES or total / packed > MAX_COMPRESSION_RATIO:
            raise UnreadableInput(
                f"{path}: expands to {total / 1e6:.0f} MB ({total / packed:.0f}x its size); refusing to open "
                "what looks like a zip bomb. Re-save the workbook from Excel or LibreOffice."
            )
    return path
