"""The Ray runtime environment of a pagemill job, derived from ``pyproject.toml``.

A job submitted with ``--working-dir .`` gets the ``ops`` and ``pipelines`` packages from the
upload, and its dependencies from the runtime environment's ``pip`` list. A hand-kept list drifted
(it lacked pandas, which Ray Data needs and a plain ``ray`` install lacks, so the documented job
died in the worker), so ``cluster/runtime_env.yaml`` is generated from the project's own
requirements: ``python -m pipelines.runtime_env`` (``make runtime-env``) writes it, and a test
fails when the committed file and ``pyproject.toml`` disagree.

Ray itself is listed at its pinned version with the ``data`` extra: Ray's pip environments
inherit the node's site-packages, so the pinned Ray already there is kept and only what Ray
Data adds (pandas) is installed.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
PYPROJECT = PROJECT / "pyproject.toml"
RUNTIME_ENV = PROJECT / "cluster" / "runtime_env.yaml"
# The CPU engines a job may choose besides the default Tesseract. The GPU engines (transformers,
# vllm) come with the GPU image (cluster/Dockerfile.gpu): torch and vLLM are gigabytes and must
# match the node's CUDA, which a pip step on every job cannot do well.
JOB_EXTRAS = ("rapidocr", "openai")
ENV_VARS = {"OMP_THREAD_LIMIT": "1"}  # one OpenMP thread per OCR actor: the actors are the cores

_HEADER = """\
# Ray runtime environment for:
#   ray job submit --working-dir . --runtime-env cluster/runtime_env.yaml \\
#     -- python -m pipelines.cli run ...
# and the default of `pagemill submit`. The working directory (this repository) puts the `ops`
# and `pipelines` packages on every worker's path; pip installs their dependencies (OCR models
# are inside the wheels), into an environment that keeps the node's own packages.
# Generated from pyproject.toml (dependencies, extras {extras}) by
# `python -m pipelines.runtime_env` (make runtime-env): edit pyproject.toml, not this file.
"""


def job_requirements(pyproject: Path = PYPROJECT) -> list[str]:
    """The project's dependencies and its job extras' requirements, in file order, once each."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    extras: dict[str, list[str]] = project.get("optional-dependencies", {})
    found: list[str] = []

    def add(requirements: list[str]) -> None:
        for requirement in requirements:
            own = re.fullmatch(rf"{re.escape(project['name'])}\[([^\]]+)\]", requirement)
            if own:  # pagemill[a,b]: the requirements of those extras
                for extra in own.group(1).split(","):
                    add(extras[extra.strip()])
            elif requirement not in found:
                found.append(requirement)

    add(list(project["dependencies"]))
    for extra in JOB_EXTRAS:
        add(extras[extra])
    return found


def render(pyproject: Path = PYPROJECT) -> str:
    """The YAML text of the runtime environment."""
    lines = [_HEADER.format(extras=", ".join(JOB_EXTRAS)).rstrip("\n"), "pip:"]
    lines += [f'  - "{requirement}"' for requirement in job_requirements(pyproject)]
    lines.append("env_vars:")
    lines += [f'  {key}: "{value}"' for key, value in ENV_VARS.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.runtime_env",
        description=f"Write {RUNTIME_ENV.relative_to(PROJECT)} from pyproject.toml.",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the file is out of date; write nothing"
    )
    args = parser.parse_args(argv)
    text = render()
    current = RUNTIME_ENV.read_text(encoding="utf-8") if RUNTIME_ENV.exists() else ""
    if args.check:
        if current != text:
            print(f"{RUNTIME_ENV} is out of date: run make runtime-env", file=sys.stderr)
            return 1
        return 0
    RUNTIME_ENV.write_text(text, encoding="utf-8")
    print(f"wrote {RUNTIME_ENV}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
