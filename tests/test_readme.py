"""The README stays true: its test command is what CI runs, and every CLI command is documented."""

from __future__ import annotations

import re

from conftest import ROOT

from review.cli import app

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _code_lines() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines()]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    command = [line for line in ci if "pytest" in line and not line.startswith("#")]
    assert len(command) == 1
    assert command[0].strip() in _code_lines()[:6], "the README's top must show the command CI runs"


def test_every_command_is_documented():
    import typer.main

    names = {c.name or c.callback.__name__ for c in typer.main.get_command(app).commands.values()}
    for name in names:
        assert re.search(rf"\breview {name}\b", README), f"README does not show `review {name}`"
