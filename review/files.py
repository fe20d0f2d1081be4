"""Writing outputs atomically, refusing outputs that would replace the user's work, and opening untrusted
inputs safely (regular files only, within documented limits)."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import RefusedOutput, UnreadableInput

# Limits for untrusted input, documented in the README ("Limits and safety"). A reviewer's workbook is a few
# hundred kB; these leave ample room while refusing zip bombs (tiny file, gigabytes of XML) before any parser
# sees them.
MAX_FILE_BYTES = 100 * 1024 * 1024  # a workbook or CSV file
MAX_UNCOMPRESSED_BYTES = 500 * 1024 * 1024  # a workbook's parts, unpacked
MAX_COMPRESSION_RATIO = 200
MAX_CONFIG_BYTES = 1024 * 1024  # a form (YAML) or review.toml
MAX_CONFIG_DEPTH = 32  # nesting of mappings and lists in a form or review.toml
MAX_CONFIG_NODES = 200_000  # values in a form once YAML aliases are expanded (a billion-laughs file has 10^9)
MAX_SHEET_ROWS = 1_048_576  # rows of a sheet or lines of a CSV table: Excel's own limit
MAX_SHEET_COLUMNS = 702  # A to ZZ; the widest table of a form has a few dozen
MAX_CELL_CHARS = 32_767  # Excel's and LibreOffice's limit: longer text is cut short when they open the file
MARKER = ".review-output"  # in an output folder the toolkit made: it may write there again without --force


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()


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
        # mkstemp makes the file private (0600); an output gets the permissions any new file of the user gets
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write text atomically (UTF-8, newline as given)."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")


def check_file(path: str | os.PathLike[str], what: str = "file", max_bytes: int = MAX_FILE_BYTES) -> Path:
    """Refuse, before anything reads it, a path that is missing, a folder, or not a regular file (a pipe or a
    device would block or never end), or larger than `max_bytes`."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UnreadableInput(f"{path}: {what} not found.") from None
    except OSError as exc:
        raise UnreadableInput(f"{path}: cannot open the {what} ({exc.strerror or exc}).") from None
    if stat.S_ISDIR(info.st_mode):
        raise UnreadableInput(f"{path}: is a folder, not a {what}.")
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableInput(
            f"{path}: is not a regular file (a pipe, socket or device); give the path of a saved {what}."
        )
    if info.st_size > max_bytes:
        raise UnreadableInput(
            f"{path}: {info.st_size / 1e6:.1f} MB is larger than the {max_bytes / 1e6:.1f} MB limit for a "
            f"{what}; check that this is the right file."
        )
    return path


def read_text(path: str | os.PathLike[str], what: str, max_bytes: int = MAX_CONFIG_BYTES) -> str:
    """A small UTF-8 text file (a form, review.toml), bounded in size; a decoding error names file and encoding."""
    path = check_file(path, what, max_bytes)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableInput(f"{path}: cannot read the {what} ({exc.strerror or exc}).") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UnreadableInput(
            f"{path}, line {line}: the {what} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); save it as UTF-8."
        ) from None


def check_xlsx(path: str | os.PathLike[str]) -> Path:
    """Refuse a file that is not a plausible, safe .xlsx before any parser opens it."""
    path = Path(path)
    if not path.exists():
        raise UnreadableInput(f"{path}: file not found.")
    if path.is_dir():
        raise UnreadableInput(f"{path}: is a folder, not an .xlsx workbook.")
    check_file(path, ".xlsx workbook", max_bytes=1 << 62)
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


# --- outputs that would replace the user's work --------------------------------------------------------------


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output(
    target: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]] = (), *, force: bool = False
) -> Path:
    """Refuse an output file that resolves (after symlinks) to an input or into an input folder, or that
    exists already and `force` is not given. `inputs` are every file and folder the command reads."""
    target = Path(target)
    real = target.resolve()
    for given in inputs:
        source = Path(given).resolve()
        if real == source or (source.is_dir() and _within(real, source)):
            what = "is" if real == source else "is inside"
            raise RefusedOutput(
                f"{target}: {what} the input {given}; the toolkit never writes over its inputs. "
                "Choose another output path."
            )
    if target.is_dir():
        raise RefusedOutput(f"{target}: is a folder; give a file name for the output.")
    if target.exists() and not force:
        raise RefusedOutput(f"{target}: already exists; pass --force to replace it, or choose another name.")
    return target


def claim_folder(
    folder: str | os.PathLike[str],
    inputs: Iterable[str | os.PathLike[str]] = (),
    *,
    force: bool = False,
    create: bool = True,
) -> Path:
    """Make (or reuse) an output folder (only check it, with `create` false). Refused: a folder that holds an input, is or lies in an input
    folder, or already has files the toolkit did not put there (unless `force`). A marker file records that
    the toolkit made it, so that a re-run may write there again."""
    folder = Path(folder)
    real = folder.resolve()
    for given in inputs:
        source = Path(given).resolve()
        if _within(source, real):
            raise RefusedOutput(
                f"{folder}: holds the input {given}; a run's output folder must not hold its inputs. Move the "
                "input out of it, or choose another output folder."
            )
        if source.is_dir() and _within(real, source):
            raise RefusedOutput(
                f"{folder}: is inside the input folder {given}; choose another output folder."
            )
    if folder.exists() and not folder.is_dir():
        raise RefusedOutput(f"{folder}: is a file; give a folder for the outputs.")
    if folder.is_dir() and not force and not (folder / MARKER).exists() and any(folder.iterdir()):
        raise RefusedOutput(
            f"{folder}: already holds files the toolkit did not write; pass --force to write into it anyway, or "
            "choose a new folder."
        )
    if not create:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / MARKER).exists():
        write_text(
            folder / MARKER, "Outputs written by the `review` toolkit; it may replace them on a re-run.\n"
        )
    return folder
