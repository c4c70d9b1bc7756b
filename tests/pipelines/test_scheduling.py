"""Pool sizing: model actors never take every CPU, on any machine size."""

from __future__ import annotations

import pytest

from ops.backends.base import Resources
from pipelines.scheduling import PAGE_TASK_CPUS, NoGpu, plan_pool


@pytest.mark.parametrize("cpus", [1, 2, 3, 4, 8, 16, 64, 256])
@pytest.mark.parametrize("engine_cpus", [0.5, 1.0, 2.0])
def test_actors_leave_room_for_page_tasks(cpus, engine_cpus):
    plan = plan_pool(Resources(cpus=engine_cpus), cpus)
    assert plan.size >= 1
    actors_total = plan.size * plan.actor_cpus
    assert actors_total + PAGE_TASK_CPUS <= cpus + 1e-9
    assert plan.actor_cpus <= engine_cpus


def test_one_engine_per_core_by_default():
    assert plan_pool(Resources(cpus=1.0), 2).size == 2
    assert plan_pool(Resources(cpus=1.0), 16).size == 16
    assert plan_pool(Resources(cpus=2.0), 16).size == 8


def test_user_pool_size_wins_and_still_fits():
    plan = plan_pool(Resources(cpus=1.0), 4, pool_size=10)
    assert plan.size == 10
    assert plan.size * plan.actor_cpus <= 4 - 1


def test_backend_environment_is_passed_to_actors():
    plan = plan_pool(Resources(cpus=1.0, env={"OMP_THREAD_LIMIT": "1"}), 2)
    kwargs = plan.map_batches_kwargs()
    assert kwargs["runtime_env"] == {"env_vars": {"OMP_THREAD_LIMIT": "1"}}
    assert kwargs["num_cpus"] == plan.actor_cpus
    assert kwargs["compute"].max_size == 2


def test_no_cpus_is_an_error():
    with pytest.raises(ValueError, match="no CPUs"):
        plan_pool(Resources(), 0)


@pytest.mark.parametrize(("gpus", "per_engine", "size"), [(1, 1.0, 1), (2, 1.0, 2), (2, 0.5, 4)])
def test_gpu_engines_get_a_fixed_pool_sized_by_gpus(gpus, per_engine, size):
    plan = plan_pool(Resources(cpus=1.0, gpus=per_engine), 2, gpus=gpus)
    assert plan.size == size and plan.actor_gpus == per_engine
    kwargs = plan.map_batches_kwargs()
    assert kwargs["num_gpus"] == per_engine
    assert kwargs["compute"].min_size == kwargs["compute"].max_size == size
    # num_cpus is always explicit and leaves the page tasks their CPU (ray#44687, ray#55247).
    assert kwargs["num_cpus"] == plan.actor_cpus
    assert plan.size * plan.actor_cpus + PAGE_TASK_CPUS <= 2 + 1e-9


def test_one_gpu_laptop_gets_one_engine_and_keeps_its_cpus():
    plan = plan_pool(Resources(cpus=1.0, gpus=1.0), 8, gpus=1)
    assert plan.size == 1 and plan.actor_cpus == 1.0


def test_pool_size_caps_the_gpu_pool():
    assert plan_pool(Resources(gpus=1.0), 16, pool_size=2, gpus=4).size == 2


def test_a_gpu_backend_without_gpus_is_a_clear_error():
    with pytest.raises(NoGpu, match="needs 1 GPU per engine but the cluster advertises none"):
        plan_pool(Resources(gpus=1.0), 8, gpus=0)
    with pytest.raises(NoGpu, match="cannot hold one engine"):
        plan_pool(Resources(gpus=2.0), 8, gpus=1)


def test_gpu_optional_backend_runs_on_cpus_when_there_is_no_gpu():
    plan = plan_pool(Resources(cpus=1.0, gpus=1.0, gpu_optional=True), 4, gpus=0)
    assert plan.actor_gpus == 0 and plan.size == 4
    assert "num_gpus" not in plan.map_batches_kwargs()


def test_an_engine_that_fills_several_cores_on_cpu_is_counted_so():
    """vLLM with device=auto: one GPU per engine on a GPU cluster, four cores' worth on CPU."""
    resources = Resources(cpus=1.0, gpus=1.0, gpu_optional=True, cpus_without_gpu=4.0)
    on_cpu = plan_pool(resources, 2, gpus=0)
    assert (on_cpu.size, on_cpu.actor_gpus, on_cpu.actor_cpus) == (1, 0.0, 1.0)
    assert plan_pool(resources, 16, gpus=0).size == 4
    on_gpus = plan_pool(resources, 16, gpus=2)
    assert (on_gpus.size, on_gpus.actor_gpus, on_gpus.actor_cpus) == (2, 1.0, 1.0)
