"""Hardware profiles (device, dtype, threads) and the measured fingerprint of the machine.

Gradient calls do not depend on the profile; wall-clock seconds and throughput are compared only
between records of the same profile *and* the same hardware fingerprint ``id``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import platform
import subprocess
from typing import Any


@dataclasses.dataclass(frozen=True)
class Profile:
    """How runs execute: ``device``, ``dtype`` of the optimization, torch intra-op ``threads``."""

    name: str
    device: str
    dtype: str
    threads: int = 1
    description: str = ""

    def torch_dtype(self):
        import torch

        return {"float64": torch.float64, "float32": torch.float32}[self.dtype]


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in [
        Profile("cpu", "cpu", "float64", 1, "CPU, float64, one thread per run (reproducible counts)"),
        Profile("cpu-fp32", "cpu", "float32", 1, "CPU, float32, one thread per run"),
        Profile("cuda", "cuda", "float32", 1, "one CUDA GPU, float32 (throughput)"),
        Profile("cuda-fp64", "cuda", "float64", 1, "one CUDA GPU, float64"),
    ]
}


class ProfileError(ValueError):
    pass


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ProfileError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    profile = PROFILES[name]
    if profile.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ProfileError(f"profile {name!r} needs a CUDA GPU, and torch sees none "
                               f"(torch {torch.__version__}); use --profile cpu")
    return profile


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "-C", here, "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


@functools.lru_cache(maxsize=None)
def versions() -> dict[str, Any]:
    """Versions of Python, the numeric stack and SaddleBench (with its git commit)."""
    import numpy
    import scipy
    import torch

    import bench

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
            "scipy": scipy.__version__, "saddlebench": bench.__version__, "git_commit": _git_commit()}


def run_device(profile: Profile, worker_index: int | None = None) -> str:
    """The device a run of ``profile`` uses: ``cpu``, or for a CUDA profile ``cuda:<i>`` with
    one GPU per harness process of a pool (worker ``k`` of the pool gets GPU ``k mod count``)."""
    if profile.device != "cuda":
        return profile.device
    import torch

    if worker_index is None:
        worker_index = int(os.environ.get(WORKER_INDEX_ENV, "0"))
    return f"cuda:{worker_index % max(1, torch.cuda.device_count())}"


WORKER_INDEX_ENV = "SADDLEBENCH_WORKER_INDEX"  # set by the executors in each harness process


def fingerprint(device: str = "cpu") -> dict[str, Any]:
    """Measured description of the machine and of the device actually used (``cuda:<i>``: that
    GPU); ``id`` hashes the parts that affect speed."""
    if device == "cuda":
        import torch

        device = f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available() else "cuda"
    return _fingerprint(device)


@functools.lru_cache(maxsize=None)
def _fingerprint(device: str) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "torch": torch.__version__,
    }
    try:
        info["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    if device.startswith("cuda") and torch.cuda.is_available():
        index = torch.device(device).index or 0
        props = torch.cuda.get_device_properties(index)
        info["gpu_index"] = index
        info["gpu"] = props.name
        info["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
        info["cuda"] = torch.version.cuda
        try:
            out = subprocess.run(["nvidia-smi", "-i", str(index), "--query-gpu=driver_version",
                                  "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=10)
            info["driver"] = out.stdout.strip().splitlines()[0] if out.stdout.strip() else None
        except (OSError, subprocess.SubprocessError):
            info["driver"] = None
    ident = {k: info.get(k) for k in ("cpu", "cores", "machine", "torch", "gpu", "driver")}
    info["id"] = hashlib.sha1(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:10]
    return info
