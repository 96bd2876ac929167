"""Device choice in one place: "auto" picks CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from .errors import StyleTransferError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def available_devices() -> list[str]:
    """List the device names that can run here, "auto" first.

    Returns
    -------
    list of str
        "auto", "cpu", then "cuda:N" for each visible GPU and "mps" when present.
    """
    names = ["auto", "cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        names.append("mps")
    return names


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """Turn a user's device choice into a :class:`torch.device`.

    Parameters
    ----------
    name : str, torch.device or None
        "auto" (or None) picks CUDA, then MPS, then CPU. "cpu", "cuda",
        "cuda:N" and "mps" ask for that device explicitly.

    Returns
    -------
    torch.device

    Raises
    ------
    StyleTransferError
        For an unknown name, or a device that is not available here.
    """
    if isinstance(name, torch.device):
        name = str(name)
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind, _, index = name.partition(":")
    if kind not in DEVICE_CHOICES or (index and not index.isdigit()):
        raise StyleTransferError(
            f"Unknown device {name!r}: use one of auto, cpu, cuda, cuda:N or mps."
        )
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise StyleTransferError(
                "CUDA was asked for but is not available here (no GPU or a CPU-only "
                "torch build); use device='auto' or 'cpu'."
            )
        if index and int(index) >= torch.cuda.device_count():
            raise StyleTransferError(
                f"CUDA device {index} does not exist: {torch.cuda.device_count()} visible."
            )
    if kind == "mps" and not _mps_available():
        raise StyleTransferError("Apple MPS was asked for but is not available here.")
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    """Name a device for people, e.g. ``"cuda:0 (NVIDIA A100)"`` or ``"cpu"``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return device.type


def is_out_of_memory(error: BaseException) -> bool:
    """Tell whether an exception is a GPU out-of-memory error."""
    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    if oom is not None and isinstance(error, oom):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def release_memory(device: torch.device) -> None:
    """Give cached GPU memory back after a run (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()


@contextlib.contextmanager
def out_of_memory_as_error(device: torch.device) -> Iterator[None]:
    """Turn a GPU out-of-memory error into a :class:`StyleTransferError` with advice.

    Memory is released on the way out, whether the run failed or not.
    """
    try:
        yield
    except Exception as error:
        if is_out_of_memory(error):
            raise StyleTransferError(
                f"The {device.type.upper()} ran out of memory: try a smaller max size "
                "(e.g. 512) or device='cpu'."
            ) from error
        raise
    finally:
        release_memory(device)
