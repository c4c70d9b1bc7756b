"""A worker node lost while pages are in flight (``ray.cluster_utils.Cluster`` in a child
process: the test session already owns a Ray). The job finishes on the nodes left or fails with
a one-line cause; either way the rerun of the same command leaves exactly one row per page."""

from __future__ import annotations

import textwrap

import pytest

from tests.processes import run_scenario

pytestmark = pytest.mark.slow

SCENARIO = textwrap.dedent(
    """
    import json, os, sys, threading, time
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray
    import pyarrow.dataset as pads
    from ray.cluster_utils import Cluster
    from ray.data import DataContext
    from pipelines import RunConfig, run

    source, output = sys.argv[1], sys.argv[2]
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "object_store_memory": 100 * 1024 * 1024})
    cluster.add_node(num_cpus=2, object_store_memory=100 * 1024 * 1024)
    doomed = cluster.add_node(num_cpus=2, object_store_memory=100 * 1024 * 1024)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address)
    DataContext.get_current().execution_no_progress_timeout_s = 60
    config = RunConfig(
        input=source, output=output, backend="fake", route="ocr", progress=False,
        backend_options={"delay_ms": "800"}, address=cluster.address, rows_per_call=2,
    )
    outcome = {}

    def first_run():
        try:
            outcome["pages"] = run(config).summary.pages
        except Exception as exc:  # the job may fail: it must say why, in one line
            outcome["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"

    thread = threading.Thread(target=first_run)
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not os.path.isdir(os.path.join(output, "pages")):
        time.sleep(0.2)
    time.sleep(2)  # pages in flight on every node
    outcome["running_at_removal"] = thread.is_alive()
    cluster.remove_node(doomed)
    thread.join(timeout=180)
    outcome["first_run_ended"] = not thread.is_alive()
    run(config)  # the same command again: resume
    table = pads.dataset(os.path.join(output, "pages"), format="parquet").to_table()
    outcome["rows"] = [
        [row["source_uri"], row["page_index"], row["status"]] for row in table.to_pylist()
    ]
    print("RESULT " + json.dumps(outcome))
    ray.shutdown()
    cluster.shutdown()
    """
)


def test_a_lost_node_loses_no_page(samples, tmp_path):
    outcome = run_scenario(SCENARIO, str(samples / "docs"), str(tmp_path / "out"), timeout_s=420)
    assert outcome["running_at_removal"] and outcome["first_run_ended"]
    if "error" in outcome:
        assert "\n" not in outcome["error"] and outcome["error"]
    rows = outcome["rows"]
    keys = [(uri, page) for uri, page, _ in rows]
    assert len(keys) == len(set(keys))  # exactly one row per page (and document)
    pages = {key for key in keys if key[1] is not None}
    assert len(pages) == 27  # every page of the samples, none lost
    print("first run:", outcome.get("error") or f"finished, {outcome['pages']} pages")
