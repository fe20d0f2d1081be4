"""Messy and hostile inputs (tests/hostile.py): every one gets a message with the right exit code, never a
traceback or a hang, and no input file changes."""

from __future__ import annotations

import hashlib
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest
from hostile import CASES, Case
from typer.testing import CliRunner

from review import cli
from review.cli import app

LIMIT = 60  # seconds; each case takes well under 5 (a hang is what this catches)


@contextmanager
def time_limit(seconds: int):
    def stop(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def checksums(folder: Path) -> dict[Path, str]:
    return {
        p: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file() and not p.is_symlink()  # is_file is False for pipes: never read them
    }


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_gets_a_message(case: Case, tmp_path, monkeypatch):
    monkeypatch.setattr(cli.out, "width", 3000)  # one line per issue: facts are not folded across lines
    args = case.build(tmp_path)
    before = checksums(tmp_path)
    with time_limit(LIMIT):
        result = CliRunner().invoke(app, args)
    output = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback: {result.exception!r}\n{output}"
    )
    assert "Traceback" not in output
    assert result.exit_code == case.exit_code, output
    for fact in case.facts:
        assert fact in output, f"{fact!r} not in:\n{output}"
    assert checksums(tmp_path) == before, "an input changed"


def test_every_class_is_covered():
    assert {c.kind for c in CASES} == {"overwrite", "traceback", "hang", "loss", "version", "corrupt"}
