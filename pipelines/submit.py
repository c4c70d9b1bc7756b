"""``pagemill submit``: the conversion as a job on a Ray cluster, through Ray's Job Submission API.

The job is ``python -m pipelines.cli run ...`` with the same options a local run takes; inside it
``pagemill run`` attaches to the cluster (``ray job`` sets ``RAY_ADDRESS``). This project is the
job's working directory (``ops`` and ``pipelines`` on every worker's path), and its runtime
environment comes from ``cluster/runtime_env.yaml`` or ``--runtime-env``. The run options are
checked here first, so a typo is a usage error before anything reaches the cluster. By default
the command follows the job's log until the job ends and exits with the job's own exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from ops.uris import check_no_credentials
from pipelines.cli_common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_RUNTIME_ENV = PROJECT / "cluster" / "runtime_env.yaml"

FOLLOW_UP = """\
follow, stop and list jobs with Ray's own commands:
  ray job logs JOB_ID --address URL --follow
  ray job stop JOB_ID --address URL
  ray job list --address URL

INPUT and OUTPUT must be reachable from every node: s3:// or gs:// URIs, or a shared filesystem
mounted at the same path (local paths are made absolute before submitting)."""


def add_submit(commands: argparse._SubParsersAction, formatter: type) -> None:
    submit = commands.add_parser(
        "submit",
        help="run the conversion as a job on a Ray cluster",
        description="Submit `pagemill run INPUT OUTPUT [options]` to a Ray cluster's job server "
        "(Ray's Job Submission API, the dashboard's port), then follow its log until it ends. "
        "Options after INPUT are `pagemill run`'s (see pagemill run --help).",
        epilog=FOLLOW_UP,
        formatter_class=formatter,
    )
    submit.add_argument(
        "--address",
        default=None,
        help="the cluster's job server, e.g. http://HEAD:8265 (default: $RAY_API_SERVER_ADDRESS, "
        "else $RAY_ADDRESS when it is an http(s) URL)",
    )
    submit.add_argument(
        "--runtime-env",
        default=str(DEFAULT_RUNTIME_ENV),
        metavar="FILE",
        help="Ray runtime environment (YAML) for the job; this project is added as its "
        "working_dir unless the file names one",
    )
    submit.add_argument(
        "--submission-id", default=None, help="the job's id (default: one Ray makes up)"
    )
    submit.add_argument(
        "--no-wait", action="store_true", help="print the job id and return once it is submitted"
    )
    submit.add_argument(
        "run_args",
        nargs=argparse.REMAINDER,
        metavar="INPUT OUTPUT [run options]",
        help="what `pagemill run` takes",
    )


def run_submit(args: argparse.Namespace, run_parser: argparse.ArgumentParser) -> int:
    address = args.address or default_address()
    if not address:
        return _usage("give the cluster's job server: --address http://HEAD:8265")
    run_args = list(args.run_args)
    if any(arg == "--address" or arg.startswith("--address=") for arg in run_args):
        return _usage("--address is submit's own option: put it before INPUT")
    if len(run_args) < 2:
        return _usage("submit needs INPUT and OUTPUT, then any `pagemill run` options")
    parsed = run_parser.parse_args(run_args)  # a bad run option exits 2 here, not on the cluster
    try:
        for location in (*parsed.input, parsed.output):
            check_no_credentials(location)
    except ValueError as exc:  # the job's entrypoint is shown by `ray job list` to anyone
        return _usage(str(exc))
    try:
        runtime_env = build_runtime_env(args.runtime_env)
    except (OSError, ValueError) as exc:
        return _usage(f"--runtime-env {args.runtime_env}: {exc}")
    entrypoint = job_entrypoint(absolute_locations(run_args, [*parsed.input, parsed.output]))

    import logging

    from ray.exceptions import AuthenticationError
    from ray.job_submission import JobSubmissionClient

    from pipelines import ray_auth

    mode = ray_auth.prepare_client()

    # Ray's client logs every file it leaves out of the upload; say once what is sent instead.
    logging.getLogger("ray").setLevel(logging.ERROR)
    where = runtime_env.get("working_dir")
    print(f"pagemill: uploading {where} as the job's working directory", file=sys.stderr)
    try:
        client = JobSubmissionClient(address)
        job_id = client.submit_job(
            entrypoint=entrypoint, runtime_env=runtime_env, submission_id=args.submission_id
        )
    except AuthenticationError:
        why = "it refused this token" if mode == "token" else "it requires a token"
        print(
            f"pagemill: error: cannot submit to {address}: {why}; {ray_auth.HOW_TO}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except (ConnectionError, RuntimeError, ValueError) as exc:
        print(f"pagemill: error: cannot submit to {address}: {_first_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    print(f"pagemill: submitted job {job_id} to {address}", file=sys.stderr)
    if args.no_wait:
        print(job_id)
        print(f"follow it: ray job logs {job_id} --address {address} --follow", file=sys.stderr)
        return EXIT_OK
    try:
        asyncio.run(_follow(client, job_id))
    except KeyboardInterrupt:
        print(
            f"\npagemill: stopped following; the job goes on. Follow it again with "
            f"`ray job logs {job_id} --address {address} --follow`, stop it with "
            f"`ray job stop {job_id} --address {address}`",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    return _result(client, job_id)


def default_address() -> str | None:
    if os.environ.get("RAY_API_SERVER_ADDRESS"):
        return os.environ["RAY_API_SERVER_ADDRESS"]
    address = os.environ.get("RAY_ADDRESS", "")
    return address if address.startswith(("http://", "https://")) else None


def build_runtime_env(path: str | None) -> dict[str, Any]:
    """The job's runtime environment: the YAML file's, with this project as the working
    directory unless the file sets one (relative paths in it are taken from the file's
    folder)."""
    import yaml

    env: dict[str, Any] = {}
    if path:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        if loaded is not None and not isinstance(loaded, dict):
            raise ValueError("a runtime environment is a mapping (pip:, env_vars:, ...)")
        env = dict(loaded or {})
        if "working_dir" in env and "://" not in str(env["working_dir"]):
            env["working_dir"] = str((Path(path).parent / env["working_dir"]).resolve())
    env.setdefault("working_dir", str(PROJECT))
    return env


def absolute_locations(run_args: list[str], locations: list[str]) -> list[str]:
    """``run_args`` with the INPUTs and OUTPUT made absolute where they are local paths: the job
    runs in its uploaded working directory, where a relative path means something else."""
    resolved = list(run_args)
    start = 0
    for location in locations:
        index = resolved.index(location, start)
        if "://" not in location:
            resolved[index] = os.path.abspath(location)
        start = index + 1
    return resolved


def job_entrypoint(run_args: list[str]) -> str:
    # The packages come from the working directory, so the module, not the installed script.
    return shlex.join(["python", "-m", "pipelines.cli", "run", *run_args])


async def _follow(client: Any, job_id: str) -> None:
    async for chunk in client.tail_job_logs(job_id):
        sys.stdout.write(chunk)
        sys.stdout.flush()


def _result(client: Any, job_id: str) -> int:
    from ray.job_submission import JobStatus

    info = client.get_job_info(job_id)
    if info.status == JobStatus.SUCCEEDED:
        print(f"pagemill: job {job_id} succeeded", file=sys.stderr)
        return EXIT_OK
    code = info.driver_exit_code
    print(
        f"pagemill: error: job {job_id} {str(info.status).lower()}"
        + (f" (exit code {code})" if code is not None else "")
        + f": {_first_line(info.message or 'no message')}",
        file=sys.stderr,
    )
    return code if code else EXIT_FAILED


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else text


def _usage(message: str) -> int:
    print(f"pagemill: error: {message}", file=sys.stderr)
    return EXIT_USAGE
