"""`opsflow init --plugin NAME`: the example plugin packages, from an installed opsflow too."""

from __future__ import annotations

import filecmp
import importlib.util
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from opsflow.cli import plugin_templates
from opsflow_process import clean_env

Run = Callable[..., Result]
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "plugins"
NAMES = ["opsflow-customer-value", "opsflow-sms-gateway"]


def _tree(folder: Path) -> list[str]:
    skip = plugin_templates.SKIP_DIRS
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file()
        and not skip.intersection(p.relative_to(folder).parts)
        and p.suffix != ".pyc"
        and not any(part.endswith(".egg-info") for part in p.parts)
    )


def test_the_templates_are_the_example_packages() -> None:
    assert plugin_templates.available() == NAMES
    assert [p.name for p in sorted(EXAMPLES.iterdir())] == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_init_plugin_copies_the_package(run: Run, project: object, name: str) -> None:
    result = run("init", "--plugin", name)
    assert result.exit_code == 0, result.output
    copied = Path(name)
    assert _tree(copied) == _tree(EXAMPLES / name)
    for rel in _tree(copied):
        assert filecmp.cmp(copied / rel, EXAMPLES / name / rel, shallow=False), rel
    assert (copied / "pyproject.toml").is_file()
    assert f"pip install -e './{name}[test]'" in result.stdout


def test_init_plugin_into_a_directory_and_by_short_name(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "opsflow-acme"
    result = run("init", "--plugin", "sms-gateway", str(target), "--json")
    assert result.exit_code == 0, result.output
    assert (target / "src" / "opsflow_sms_gateway" / "__init__.py").is_file()
    again = run("init", "--plugin", "sms-gateway", str(target))
    assert again.exit_code == 1
    assert "refusing to overwrite" in again.stderr
    assert run("init", "--plugin", "sms-gateway", str(target), "--force").exit_code == 0


def test_init_plugin_with_an_unknown_name_lists_the_examples(run: Run) -> None:
    result = run("init", "--plugin", "nope")
    assert result.exit_code == 2
    assert "no example plugin 'nope'; available: " + ", ".join(NAMES) in result.stderr


@pytest.mark.slow
def test_the_wheel_ships_the_examples(tmp_path: Path) -> None:
    """Build opsflow's wheel, install it alone and copy an example from it."""
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
    command += ["--disable-pip-version-check", "-w", str(tmp_path / "wheels")]
    if importlib.util.find_spec("hatchling") is not None:  # no download of the build backend
        command.append("--no-build-isolation")
    built = subprocess.run(
        [*command, str(ROOT)], capture_output=True, text=True, timeout=600, check=False
    )
    if built.returncode != 0 and "hatchling" in built.stderr and "find" in built.stderr:
        pytest.skip("the build backend (hatchling) cannot be installed here")
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "wheels").glob("opsflow-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in NAMES:
        assert f"opsflow/plugin_templates/{name}/pyproject.toml" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    done = subprocess.run(
        [sys.executable, "-m", "opsflow", "init", "--plugin", "opsflow-customer-value", "mine"],
        cwd=tmp_path,
        env=clean_env({"PYTHONPATH": str(site)}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert _tree(tmp_path / "mine") == _tree(EXAMPLES / "opsflow-customer-value")
