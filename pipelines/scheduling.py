"""Backend resources to Ray arguments: the only module that knows ``num_cpus``, ``num_gpus`` and
actor pools.

The rule that matters on small machines: model actors must never hold every CPU, or Ray Data's
read/render tasks cannot run and the dataset hangs (ray#44687). Actors therefore get a *logical*
share of what remains after a reserve for page tasks, while the pool still has one engine per core
so that OCR uses every core when there is OCR to do. GPU engines get a fixed pool (loading a model
is slow, so the pool does not grow or shrink), one engine per GPU or GPU share, and an explicit
small CPU share: Ray's default of one CPU per actor is what deadlocks a one-GPU laptop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from ops.backends.base import Resources

# Logical CPUs a page-extraction task asks for. Below 1 so that, on a 2-core machine with the OCR
# pool holding its share, two text-route tasks still run side by side.
PAGE_TASK_CPUS = 0.5
# Memory a page task may need: the source file, one page bitmap at the pixel cap (40 MP grey) and
# its PNG. Declaring it also keeps Ray from fusing page work into the model actors (fusion needs
# identical resource requests): rendering belongs on CPU tasks, not on a model's worker.
PAGE_TASK_MEMORY = 512 * 1024 * 1024
WRITE_TASK_CPUS = 0.25
# One batch running and one queued per actor keeps the engine busy without piling up pages.
TASKS_IN_FLIGHT_PER_ACTOR = 2


class NoGpu(ValueError):
    """A backend that needs a GPU was asked to run on a cluster without one."""


@dataclass(frozen=True, slots=True)
class PoolPlan:
    size: int
    actor_cpus: float
    reserved_for_tasks: float
    env: dict[str, str]
    actor_gpus: float = 0.0

    def describe(self) -> dict[str, Any]:
        """For run manifests."""
        return {
            "size": self.size,
            "actor_cpus": self.actor_cpus,
            "actor_gpus": self.actor_gpus,
            "reserved_for_tasks": self.reserved_for_tasks,
        }

    def map_batches_kwargs(self) -> dict[str, Any]:
        from ray.data import ActorPoolStrategy

        if self.actor_gpus > 0:
            return self._with_env(
                {
                    "compute": ActorPoolStrategy(
                        size=self.size, max_tasks_in_flight_per_actor=TASKS_IN_FLIGHT_PER_ACTOR
                    ),
                    "num_cpus": self.actor_cpus,
                    "num_gpus": self.actor_gpus,
                }
            )
        # One engine to start with; Ray adds the rest as soon as OCR batches queue up. A corpus of
        # born-digital PDFs thus never pays for engines it does not use (each idle actor is a
        # process to start and a CPU share the page tasks cannot have).
        kwargs: dict[str, Any] = {
            "compute": ActorPoolStrategy(
                min_size=1,
                max_size=self.size,
                initial_size=1,
                max_tasks_in_flight_per_actor=TASKS_IN_FLIGHT_PER_ACTOR,
            ),
            "num_cpus": self.actor_cpus,
        }
        return self._with_env(kwargs)

    def _with_env(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.env:
            kwargs["runtime_env"] = {"env_vars": dict(self.env)}
        return kwargs


def plan_pool(
    resources: Resources, cluster_cpus: float, pool_size: int | None = None, gpus: float = 0.0
) -> PoolPlan:
    """Size the backend's actor pool for a cluster with ``cluster_cpus`` logical CPUs, of which
    the job may use ``gpus`` GPUs."""
    if cluster_cpus <= 0:
        raise ValueError("the Ray cluster advertises no CPUs")
    if pool_size is not None and pool_size < 1:
        raise ValueError(f"pool size must be at least 1, not {pool_size}")
    reserve = max(1.0, 0.25 * cluster_cpus) if cluster_cpus > 1 else 0.5 * cluster_cpus
    if resources.gpus > 0:
        if gpus > 0:
            return _gpu_pool(resources, cluster_cpus, reserve, gpus, pool_size)
        if not resources.gpu_optional:
            raise NoGpu(
                f"this backend needs {resources.gpus:g} GPU per engine but the cluster "
                "advertises none: run on a machine with a GPU, attach to a cluster that has "
                "them (--address), or choose a CPU backend"
            )
        if resources.cpus_without_gpu is not None:
            resources = replace(resources, cpus=resources.cpus_without_gpu)
    per_engine = max(resources.cpus, 0.01)
    size = pool_size or max(1, math.floor(cluster_cpus / per_engine))
    actor_cpus = min(per_engine, (cluster_cpus - reserve) / size)
    return PoolPlan(size, round(actor_cpus, 4), reserve, dict(resources.env))


def _gpu_pool(
    resources: Resources, cluster_cpus: float, reserve: float, gpus: float, pool_size: int | None
) -> PoolPlan:
    fits = math.floor(gpus / resources.gpus + 1e-9)
    if fits < 1:
        raise NoGpu(f"{gpus:g} GPU(s) cannot hold one engine that needs {resources.gpus:g} GPU")
    size = min(pool_size, fits) if pool_size else fits
    actor_cpus = min(max(resources.cpus, 0.01), (cluster_cpus - reserve) / size)
    return PoolPlan(size, round(actor_cpus, 4), reserve, dict(resources.env), resources.gpus)


def page_task_kwargs() -> dict[str, Any]:
    return {"num_cpus": PAGE_TASK_CPUS, "memory": PAGE_TASK_MEMORY}


def write_task_kwargs() -> dict[str, Any]:
    """Parquet writes are light (encode + zstd); a full CPU each would idle the page tasks."""
    return {"num_cpus": WRITE_TASK_CPUS}
