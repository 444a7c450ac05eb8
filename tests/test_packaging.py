"""pyproject.toml and environment.yml name the same dependencies, and every package rdf_ttbar imports is one."""

from __future__ import annotations

import ast
import re
import sys
import tomllib

from helpers import REPO

# import name -> distribution name, where they differ
DISTRIBUTION_OF = {"ROOT": "root", "yaml": "pyyaml", "boost_histogram": "boost-histogram"}
# packages that come with another one's distribution (not declared on their own)
PROVIDED_BY = {"cppyy": "root", "distributed": "dask", "cloudpickle": "dask"}
# packages imported only where an optional feature is used, declared in an extra: import name -> extra
OPTIONAL = {"pyspark": "spark"}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ;#]", requirement.strip(), maxsplit=1)[0].lower()


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _pyproject():
    project = _project()
    runtime = {_name(r) for r in project["dependencies"]}
    extras = {_name(r) for reqs in project["optional-dependencies"].values() for r in reqs}
    if any("dask[distributed]" in r for r in project["dependencies"]):
        runtime.add("distributed")
    return runtime, extras


CONDA_NAMES = {"py-xgboost": "xgboost"}  # conda-forge's name -> PyPI's


def _conda() -> set[str]:
    names, in_dependencies = set(), False
    for line in (REPO / "environment.yml").read_text().splitlines():
        if not line.startswith(" "):
            in_dependencies = line.startswith("dependencies:")
            continue
        m = re.match(r"\s+-\s+([A-Za-z0-9_.-]+)", line)
        if m and in_dependencies:
            names.add(CONDA_NAMES.get(m.group(1).lower(), m.group(1).lower()))
    return names


def test_environment_yml_names_the_dependencies_of_pyproject():
    runtime, extras = _pyproject()
    conda = _conda()
    missing = (runtime | extras) - conda
    assert not missing, f"in pyproject.toml but not in environment.yml: {sorted(missing)}"
    conda_only = conda - runtime - extras - {"python", "pip", "xrootd", "cxx-compiler", "openjdk"}
    assert not conda_only, f"in environment.yml but not in pyproject.toml: {sorted(conda_only)}"


def test_every_imported_package_is_a_dependency():
    runtime, _ = _pyproject()
    imported = set()
    for path in (REPO / "rdf_ttbar").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m not in ("rdf_ttbar", "__future__")}
    extras = _project()["optional-dependencies"]
    optional = {m for m, extra in OPTIONAL.items() if any(_name(r) == m for r in extras.get(extra, ()))}
    undeclared = {
        m
        for m in third_party - optional
        if DISTRIBUTION_OF.get(m, m).lower() not in runtime and PROVIDED_BY.get(m) not in runtime
    }
    assert not undeclared, f"imported by rdf_ttbar but not in pyproject.toml's dependencies: {sorted(undeclared)}"
