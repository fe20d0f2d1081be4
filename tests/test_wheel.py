"""A clean install: build the wheel, install it in a fresh venv, and run the README's main job and `review
validate` from another folder, where only the wheel's own files (the default form as package data) can help.

The wheel is installed with --no-index --no-deps; its dependencies come from the running environment, added to
the fresh venv's path with a .pth line (a path line adds the folder only: the editable install of the checkout
that may sit in it is not loaded). Building the wheel needs setuptools>=77 in pip's isolated build environment,
which pip fetches from the index unless it is cached. Takes about half a minute; runs in CI with the others.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.wheel


def _run(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin folder of a fresh venv with the wheel installed."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    # Build from a copy of the checkout, so the build's own files (build/, *.egg-info) never land in it.
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", "output", "outputs", "*.egg-info", "build", "__pycache__", ".*cache"
        ),
    )
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(base / "dist"), str(source)], base
    )
    assert built.returncode == 0, built.stderr
    wheel = next((base / "dist").glob("review-*.whl"))
    env = base / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    bin_dir = env / ("Scripts" if sys.platform == "win32" else "bin")
    site = Path(
        _run(
            [str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], base
        ).stdout.strip()
    )
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    done = _run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(wheel)], base
    )
    assert done.returncode == 0, done.stderr
    return bin_dir


def test_wheel_carries_the_form_license_and_types(installed, tmp_path):
    code = (
        "import importlib.metadata as m, review, review.forms as f; "
        "print(f.default_form_path()); print(review.__file__); print(m.version('review'))"
    )
    out = _run([str(installed / "python"), "-c", code], tmp_path)
    assert out.returncode == 0, out.stderr
    form, package, version = out.stdout.split()
    env = installed.parent
    assert Path(form).is_relative_to(env) and Path(form).name == "oncology_trial.yaml"
    assert Path(package).is_relative_to(env)
    assert (Path(package).parent / "py.typed").is_file()
    licence = list(env.rglob("review-*.dist-info/licenses/LICENSE"))
    assert licence and "MIT License" in licence[0].read_text(encoding="utf-8")
    assert _run([str(installed / "review"), "--version"], tmp_path).stdout.strip() == f"review {version}"


def test_readme_main_job_and_validate_from_another_folder(installed, tmp_path):
    review = str(installed / "review")
    ran = _run([review, "run", str(ROOT / "data" / "gist_imatinib"), "-o", str(tmp_path / "out")], tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (tmp_path / "out" / "review.xlsx").is_file() and (tmp_path / "out" / "pooled.csv").is_file()
    shutil.copy(ROOT / "data" / "gist_imatinib" / "reviewer_a.xlsx", tmp_path / "a.xlsx")
    checked = _run([review, "validate", "a.xlsx"], tmp_path)  # the default form, from the wheel
    assert checked.returncode in (0, 1), checked.stdout + checked.stderr
    assert "unreadable" not in checked.stdout and "Traceback" not in checked.stderr
    made = _run(
        [
            review,
            "dictionary",
            str(Path(installed.parent).glob("**/forms_data/oncology_trial.yaml").__next__()),
        ],
        tmp_path,
    )
    assert made.returncode == 0 and made.stdout.startswith("Variable / Field Name,Form Name")
