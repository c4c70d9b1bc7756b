"""GPU actor pools on Ray clusters that advertise logical GPUs, without a GPU.

Each scenario runs in its own process because the test session already owns a Ray instance. The
fake engine asks for GPU shares and names the device Ray gave it in its ``model`` column, so the
rows show where every page was read; a deadlock would hit Ray Data's no-progress timeout.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.processes import run_scenario as run_child

pytestmark = pytest.mark.slow

PRELUDE = """
import json, os, sys
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
import ray
from ray.data import DataContext
import pyarrow.dataset as pads
from pipelines import RunConfig, run

def pages(output):
    table = pads.dataset(os.path.join(output, "pages"), format="parquet").to_table()
    return [
        {key: row[key] for key in ("route", "status", "model", "backend", "node")}
        for row in table.to_pylist()
    ]

def convert(address=None, gpus_per_engine="0.5", route="ocr", **extra):
    DataContext.get_current().execution_no_progress_timeout_s = 90
    output = sys.argv[2]
    result = run(RunConfig(
        input=sys.argv[1], output=output, backend="fake", route=route, progress=False,
        backend_options={"gpus": gpus_per_engine}, address=address, **extra,
    ))
    manifest = json.load(open(result.manifest_path))
    # A Ray that pagemill started itself is shut down when the run ends: no nodes to list then.
    alive = ray.nodes() if ray.is_initialized() else []
    nodes = {node["NodeID"][:12]: node["Resources"] for node in alive if node["Alive"]}
    print("RESULT " + json.dumps(
        {"rows": pages(output), "pool": manifest["cluster"]["ocr_pool"], "nodes": nodes}))
"""


def run_scenario(
    body: str, samples: Path, tmp_path: Path, document: str = "rotated-scans.pdf"
) -> dict:
    docs = samples / "docs" / document
    code = PRELUDE + textwrap.dedent(body)
    return run_child(code, str(docs), str(tmp_path / "out"), timeout_s=240)


def test_local_ray_with_two_logical_gpus_runs_half_gpu_engines(samples, tmp_path):
    found = run_scenario(
        """
        ray.init(address="local", num_cpus=2, num_gpus=2, include_dashboard=False,
                 object_store_memory=200 * 1024 * 1024)
        convert()
        """,
        samples,
        tmp_path,
    )
    assert found["pool"]["size"] == 4 and found["pool"]["actor_gpus"] == 0.5
    rows = found["rows"]
    assert rows and {row["status"] for row in rows} == {"ok"}
    assert {row["model"] for row in rows} <= {"fake-1@cuda:0", "fake-1@cuda:1"}


def test_one_gpu_machine_started_by_pagemill_itself(samples, tmp_path):
    # What a laptop with one GPU does: pagemill starts Ray (here told to advertise one GPU).
    found = run_scenario("convert(gpus_per_engine='1', num_cpus=2, gpus=1)\n", samples, tmp_path)
    assert found["pool"]["size"] == 1
    assert {row["model"] for row in found["rows"]} == {"fake-1@cuda:0"}


def test_a_head_without_cpus_a_cpu_node_and_a_gpu_node(samples, tmp_path):
    """The head takes no work; page tasks run where there are CPUs, the model actor on the GPU
    node, and every row names the node that made it."""
    found = run_scenario(
        """
        from ray.cluster_utils import Cluster
        cluster = Cluster(initialize_head=True, head_node_args={
            "num_cpus": 0, "object_store_memory": 100 * 1024 * 1024})
        cluster.add_node(num_cpus=2, object_store_memory=100 * 1024 * 1024)
        cluster.add_node(num_cpus=1, num_gpus=1, object_store_memory=100 * 1024 * 1024)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address)
        convert(address=cluster.address, gpus_per_engine="1", route="auto")
        ray.shutdown()
        cluster.shutdown()
        """,
        samples,
        tmp_path,
        document="mixed.pdf",
    )
    kinds = {
        node_id: "gpu" if resources.get("GPU") else "cpu" if resources.get("CPU") else "head"
        for node_id, resources in found["nodes"].items()
    }
    assert sorted(kinds.values()) == ["cpu", "gpu", "head"]
    assert found["pool"]["size"] == 1 and found["pool"]["actor_gpus"] == 1.0
    rows = found["rows"]
    assert {row["route"] for row in rows} == {"text", "ocr"}
    where = {(row["route"], kinds[row["node"].rsplit("/", 1)[-1]]) for row in rows}
    assert ("ocr", "gpu") in where and all(kind != "head" for _, kind in where)
    assert {kind for route, kind in where if route == "ocr"} == {"gpu"}
    assert all(row["model"] == "fake-1@cuda:0" for row in rows if row["route"] == "ocr")
