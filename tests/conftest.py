"""Shared fixtures: the real-file corpus in ../shared/data, the bundled samples, and one local Ray
cluster per test session (2 CPUs, like CI, so every end-to-end test also proves that the default
actor pool leaves room for the page tasks)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
# Pages of each readable document in samples/docs (broken-truncated.pdf is the unreadable one).
PAGES_PER_DOCUMENT = {
    "born-digital-report.pdf": 3,
    "fax.tif": 2,
    "mixed.pdf": 3,
    "phototest.tif": 1,
    "rotated-scans.pdf": 2,
    "scanned-letter.pdf": 2,
    "tracemonkey.pdf": 14,
}


def _find_shared_data() -> Path | None:
    candidates = [os.environ.get("PAGEMILL_SHARED_DATA")]
    candidates += [str(parent / "shared" / "data") for parent in REPO.parents]
    candidates.append("/work/shared/data")
    for candidate in candidates:
        if candidate and (Path(candidate) / "MANIFEST.tsv").exists():
            return Path(candidate)
    return None


SHARED_DATA = _find_shared_data()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if SHARED_DATA is None:
        pytest.skip(
            "the shared corpus (shared/data/MANIFEST.tsv) is not on this machine; "
            "set PAGEMILL_SHARED_DATA"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    import ray
    from ray.data import DataContext

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(
        address="local",
        num_cpus=2,
        object_store_memory=200 * 1024 * 1024,
        include_dashboard=False,
        logging_level="WARNING",
    )
    context = DataContext.get_current()
    context.execution_no_progress_timeout_s = 120  # a hang fails the test instead of CI
    context.enable_progress_bars = False
    yield
    ray.shutdown()
