"""Where a torch model runs: the device a backend's `device` option names, checked against what torch sees."""

from __future__ import annotations

from dubkit.errors import BackendUnavailable


def torch_device(name: str, backend: str) -> str:
    """`auto` → the GPU when torch sees one, else the CPU; an unavailable CUDA device is an error of *backend*."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailable(backend, f"device {name!r} asked for but torch sees no CUDA device")
    return name
