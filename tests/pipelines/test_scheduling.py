"""Pool sizing: model actors never take every CPU, on any machine size."""

from __future__ import annotations

import pytest

from ops.backends.base import Resources
from pipelines.scheduling import PAGE_TASK_CPUS, plan_pool


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
