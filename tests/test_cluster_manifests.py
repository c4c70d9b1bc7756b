"""The files in cluster/: the launcher YAML against the schema inside the ray package, the
KubeRay manifests' structure, and versions that agree with pyproject.toml (the Ray pin, the
Python version, pagemill's own version in image tags)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

CLUSTER = Path(__file__).resolve().parent.parent / "cluster"
PYPROJECT = tomllib.loads((CLUSTER.parent / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
RAY_VERSION = next(
    re.search(r"==([\d.]+)", dep).group(1)
    for dep in PYPROJECT["project"]["dependencies"]
    if dep.startswith("ray[")
)
PYTHON = re.search(r"(\d+)\.(\d+)", PYPROJECT["project"]["requires-python"]).groups()
IMAGES = {f"REGISTRY/pagemill:{VERSION}", f"REGISTRY/pagemill-gpu:{VERSION}"}


def load(name: str) -> dict:
    return yaml.safe_load((CLUSTER / name).read_text())


def test_the_launcher_config_is_valid_for_ray():
    import jsonschema
    import ray.autoscaler

    schema_path = Path(ray.autoscaler.__file__).parent / "ray-schema.json"
    config = load("aws-cluster.yaml")
    jsonschema.validate(config, json.loads(schema_path.read_text()))
    types = config["available_node_types"]
    assert types[config["head_node_type"]]["resources"] == {"CPU": 0}
    assert {config["docker"]["image"], types["gpu-worker"]["docker"]["worker_image"]} == IMAGES
    assert any("--num-cpus=0" in command for command in config["head_start_ray_commands"])


def test_the_launcher_schema_check_catches_a_broken_config():
    """The check above can fail: the same schema refuses a config with a misspelt key."""
    import jsonschema
    import ray.autoscaler

    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    config = load("aws-cluster.yaml")
    config["max_worker"] = config.pop("max_workers")
    with pytest.raises(jsonschema.ValidationError, match="max_worker"):
        jsonschema.validate(config, schema)


def cluster_spec(manifest: dict) -> dict:
    return manifest["spec"]["rayClusterSpec"] if manifest["kind"] == "RayJob" else manifest["spec"]


def containers(group: dict) -> list[dict]:
    return group["template"]["spec"]["containers"]


@pytest.mark.parametrize(
    ("name", "kind"), [("rayjob.yaml", "RayJob"), ("raycluster.yaml", "RayCluster")]
)
def test_kuberay_manifests(name, kind):
    manifest = load(name)
    assert manifest["apiVersion"] == "ray.io/v1" and manifest["kind"] == kind
    assert manifest["metadata"]["name"]
    spec = cluster_spec(manifest)
    assert spec["rayVersion"] == RAY_VERSION
    head = spec["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"  # strings, as KubeRay wants them
    groups = {group["groupName"]: group for group in spec["workerGroupSpecs"]}
    assert set(groups) == {"cpu-workers", "gpu-workers"}
    for group in groups.values():
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
    gpu = containers(groups["gpu-workers"])[0]["resources"]
    assert gpu["limits"]["nvidia.com/gpu"] == gpu["requests"]["nvidia.com/gpu"] == "1"
    assert "nvidia.com/gpu" not in containers(groups["cpu-workers"])[0]["resources"]["limits"]
    images = {c["image"] for g in [head, *groups.values()] for c in containers(g)}
    assert images == IMAGES
    assert containers(groups["gpu-workers"])[0]["image"] == f"REGISTRY/pagemill-gpu:{VERSION}"
    if kind == "RayJob":
        assert manifest["spec"]["entrypoint"].startswith("pagemill run ")
        assert "OMP_THREAD_LIMIT" in yaml.safe_load(manifest["spec"]["runtimeEnvYAML"])["env_vars"]


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.gpu"])
def test_images_run_the_pinned_ray_and_python(name):
    text = (CLUSTER / name).read_text()
    (base,) = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    suffix = "-gpu" if name.endswith(".gpu") else ""
    assert base == f"rayproject/ray:{RAY_VERSION}-py{''.join(PYTHON)}{suffix}"
    assert "pip install" in text and ("vllm" in text) == bool(suffix)
