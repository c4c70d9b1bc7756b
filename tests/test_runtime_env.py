"""cluster/runtime_env.yaml, the pip list a submitted job runs with, is pyproject.toml's: the
committed file is the generated one, and it covers every third-party module pagemill imports
and what Ray Data itself needs (pandas: a plain ``ray`` on a node lacks it)."""

from __future__ import annotations

import ast
import sys
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement

from pipelines import runtime_env

PROJECT = Path(__file__).resolve().parent.parent
# Imported only by the GPU engines' load(): they come with the GPU image, not the pip step.
GPU_IMAGE_MODULES = {"torch", "torchvision", "transformers", "tokenizers", "vllm"}
# Imported on the user's own machine only, never in a Ray task: QueryResult.pl() (Polars).
DRIVER_ONLY_MODULES = {"polars"}


def imported_modules() -> set[str]:
    """Top-level names of every import in ops/ and pipelines/, function-local ones included."""
    found: set[str] = set()
    for package in ("ops", "pipelines"):
        for path in (PROJECT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"ops", "pipelines", "__future__"}


def installed_closure(requirements: list[str]) -> set[str]:
    """Distribution names the requirements install, following installed metadata (a pip step
    installs the same tree)."""
    pending = [Requirement(text) for text in requirements]
    seen: set[str] = set()
    extras_seen: set[tuple[str, str]] = set()
    while pending:
        requirement = pending.pop()
        name = requirement.name.lower().replace("_", "-")
        todo = [extra for extra in ("", *requirement.extras) if (name, extra) not in extras_seen]
        if not todo:
            continue
        seen.add(name)
        extras_seen.update((name, extra) for extra in todo)
        try:
            nested = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in nested:
            child = Requirement(text)
            if child.marker is None or any(
                child.marker.evaluate({"extra": extra}) for extra in todo
            ):
                pending.append(child)
    return seen


def test_the_committed_runtime_env_is_generated_from_pyproject():
    committed = (PROJECT / "cluster" / "runtime_env.yaml").read_text(encoding="utf-8")
    assert committed == runtime_env.render(), "run: make runtime-env"
    assert runtime_env.main(["--check"]) == 0


def test_every_module_pagemill_imports_is_installed_by_the_pip_step():
    pip = yaml.safe_load(runtime_env.render())["pip"]
    installed = installed_closure(pip)
    providers = metadata.packages_distributions()
    missing = {}
    for module in sorted(imported_modules() - GPU_IMAGE_MODULES - DRIVER_ONLY_MODULES):
        names = {name.lower().replace("_", "-") for name in providers.get(module, [module])}
        if not names & installed:
            missing[module] = sorted(names)
    assert not missing, f"imported but not in cluster/runtime_env.yaml's pip list: {missing}"


def test_ray_data_gets_what_a_plain_ray_lacks():
    pip = yaml.safe_load(runtime_env.render())["pip"]
    assert "ray[data]==2.60.0" in pip  # the node's pinned Ray, plus Ray Data's extras
    assert {"pandas", "pyarrow", "numpy", "fsspec"} <= installed_closure(pip)


def test_the_checks_see_imports_and_gaps():
    # The scan finds module-level and load()-local imports, and a list without a package
    # does not count it as installed: the coverage test above can fail.
    assert {"pypdfium2", "tesserocr", "ray", "rapidocr_onnxruntime", "vllm"} <= imported_modules()
    pip = [line for line in yaml.safe_load(runtime_env.render())["pip"] if "tesserocr" not in line]
    assert "tesserocr" not in installed_closure(pip)
