"""The project's install files agree: the lock pins every package exactly and satisfies
pyproject.toml, the capped dependencies are capped, the dev tools are pinned once (and
pre-commit runs the same ruff), and the one version is what the package metadata says.
The developer habits hold: mypy strict on core/ and store/, coverage that counts the
processes a test starts, the suite in parallel, a CI job at the lowest versions."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from mypy.main import define_options
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

import tvdesk

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        specs = list(requirement.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"not an exact pin: {line}"
        pins[canonicalize_name(requirement.name)] = specs[0].version
    return pins


def declared() -> list[Requirement]:
    extras = PROJECT["optional-dependencies"]
    lines = PROJECT["dependencies"] + [line for extra in extras.values() for line in extra]
    return [Requirement(line) for line in lines]


def test_the_lock_pins_every_declared_package_within_its_range() -> None:
    pins = locked()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is declared in pyproject.toml but not locked: make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock has {name}=={pins[name]}, outside {requirement.specifier}: "
            "make lock"
        )


def test_fast_moving_dependencies_are_capped() -> None:
    ranges = {canonicalize_name(r.name): r.specifier for r in declared()}
    for name in ("ccxt", "qasync", "tomlkit", "aiohttp", "pyside6-essentials"):
        assert any(spec.operator == "<" for spec in ranges[name]), f"{name} has no cap"
        assert any(spec.operator == ">=" for spec in ranges[name]), f"{name} has no floor"


def test_dev_tools_are_pinned_in_their_own_extra_and_pre_commit_runs_the_same_ruff() -> None:
    dev = {
        canonicalize_name(Requirement(r).name): Requirement(r)
        for r in PROJECT["optional-dependencies"]["dev"]
    }
    assert set(dev) >= {"ruff", "mypy"}
    for requirement in dev.values():
        assert str(requirement.specifier).startswith("=="), requirement
    test_names = {Requirement(r).name for r in PROJECT["optional-dependencies"]["test"]}
    assert "ruff" not in test_names
    config = (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    rev = re.search(r"ruff-pre-commit\n\s+rev: v(\S+)", config)
    assert rev is not None
    assert SpecifierSet(str(dev["ruff"].specifier)).contains(rev[1])


def test_one_version_and_a_licence() -> None:
    assert PROJECT["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "tvdesk.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", tvdesk.__version__)
    assert f"## [{tvdesk.__version__}]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert PROJECT["license"] == "Apache-2.0"
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence


def test_core_and_store_are_type_checked_with_every_strict_flag_and_have_no_baseline() -> None:
    mypy = PYPROJECT["tool"]["mypy"]
    (strict,) = [o for o in mypy["overrides"] if "tvdesk.core.*" in o["module"]]
    assert strict["module"] == ["tvdesk.core.*", "tvdesk.store.*"]
    _, _, strict_flags = define_options()  # what mypy --strict turns on, from mypy itself
    options = {**mypy, **strict}
    missing = [f"{flag} = {value}" for flag, value in strict_flags if options.get(flag) != value]
    assert not missing, f"pyproject.toml's strict override lacks {missing}"
    baseline = (ROOT / "mypy-baseline.txt").read_text(encoding="utf-8").splitlines()
    assert not [line for line in baseline if line.startswith(("tvdesk/core/", "tvdesk/store/"))]


def test_make_test_runs_the_types_and_the_suite_on_every_core_and_ci_runs_make_test() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^test: .*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe is not None
    assert "scripts/mypy_baseline.py" in recipe[1]
    assert "-m pytest -n auto" in recipe[1]
    assert "$(BIN)/actionlint .github/workflows/ci.yml" in recipe[1]
    assert "make test\n" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    assert "run: make test-lowest" in workflow


def test_coverage_counts_the_code_a_started_tvdesk_process_runs(tmp_path: Path) -> None:
    """make coverage: the engines the tests start are processes of their own."""
    script = tmp_path / "starts_tvdesk.py"
    script.write_text(
        "import subprocess, sys\n"
        "subprocess.run([sys.executable, '-m', 'tvdesk', '--version'], check=True)\n",
        encoding="utf-8",
    )
    # Not measured by a `make coverage` that may be running this test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    data = tmp_path / "data" / ".coverage"
    coverage = [sys.executable, "-m", "coverage"]
    for args in (
        ["run", f"--rcfile={ROOT / 'pyproject.toml'}", f"--data-file={data}", str(script)],
        ["combine", f"--rcfile={ROOT / 'pyproject.toml'}", f"--data-file={data}"],
        ["json", f"--data-file={data}", "-o", str(tmp_path / "coverage.json")],
    ):
        done = subprocess.run(
            coverage + args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
    files = json.loads((tmp_path / "coverage.json").read_text(encoding="utf-8"))["files"]
    main = [
        f for name, f in files.items() if name.endswith(os.path.join("tvdesk", "cli", "main.py"))
    ]
    assert main and main[0]["summary"]["covered_lines"] > 0, sorted(files)
