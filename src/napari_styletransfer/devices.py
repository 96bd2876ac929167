"""Devices and arithmetic in one place.

"auto" picks CUDA, then Apple MPS, then the CPU. Which precision runs where is
decided here too: bf16 pays off for VGG19's wide layers on CUDA and on CPUs
with bf16 instructions, but halves the speed of the narrow fast-mode networks
unless the CPU has AMX tiles.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from .errors import StyleTransferError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


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


def check_device_name(name: object) -> str:
    """Check the spelling of a device choice without asking whether it is present.

    Requests are checked where they are made (e.g. on a laptop) and run where
    the device is (e.g. a server), so availability is checked later, by
    :func:`resolve_device`.

    Parameters
    ----------
    name : str, torch.device or None
        "auto" (or None), "cpu", "cuda", "cuda:N" or "mps".

    Returns
    -------
    str
        The name, lower-cased and stripped.

    Raises
    ------
    StyleTransferError
        For anything that is not one of those spellings.
    """
    if isinstance(name, torch.device):
        name = str(name)
    if name is None:
        return "auto"
    if not isinstance(name, str):
        raise StyleTransferError(f"The device must be a name such as 'cpu', not {name!r}.")
    text = name.strip().lower() or "auto"
    kind, sep, index = text.partition(":")
    if (
        kind not in DEVICE_CHOICES
        or (sep and kind != "cuda")
        or (sep and not (index.isascii() and index.isdigit()))
    ):
        raise StyleTransferError(
            f"Unknown device {name!r}: use one of auto, cpu, cuda, cuda:N or mps."
        )
    return text


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """Turn a user's device choice into a :class:`torch.device` that exists here.

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
    name = check_device_name(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind, _, index = name.partition(":")
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


def cpu_has_fast_bf16() -> bool:
    """True on CPUs with bf16 instructions (AVX512-BF16 or AMX)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def cpu_has_amx() -> bool:
    """True on CPUs with AMX tiles (Intel Sapphire Rapids and later)."""
    return bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


def resolve_precision(device: torch.device, precision: str = "auto") -> str:
    """The arithmetic of VGG19 passes on ``device``: "auto" means bf16 where it is fast.

    bf16 autocast halves the time of a VGG pass on CPUs with bf16 instructions
    and reaches the same style/content distances as fp32 (docs/benchmarks.md).
    fp16 is refused on the CPU, where it is slow and overflows to NaN.

    Raises
    ------
    StyleTransferError
        For an unknown precision, or fp16 on the CPU.
    """
    if precision not in PRECISIONS:
        raise StyleTransferError(
            f"Unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}."
        )
    if precision == "fp16" and device.type == "cpu":
        raise StyleTransferError("precision='fp16' needs a GPU; on the CPU use 'bf16' or 'auto'.")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu" and cpu_has_fast_bf16():
        return "bf16"
    return "fp32"


def training_precision(device: torch.device, precision: str = "auto") -> str:
    """The arithmetic of a training step (learned fast styles): "auto" is mixed precision on CUDA.

    On CUDA the whole step runs under autocast, bf16 where the GPU has it,
    else fp16 (the trainer then scales the loss with a ``GradScaler``). On the
    CPU, as for quality mode: the VGG passes in bf16 where that is fast.
    """
    if precision == "auto" and device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return resolve_precision(device, precision)


def network_precision(device: torch.device) -> str:
    """The arithmetic of the narrow feed-forward networks (fast mode, segmentation decoder).

    bf16 only on CPUs with AMX tiles: with AVX512-BF16 alone (AMD EPYC here)
    these networks ran 2× slower in bf16 than in fp32 on an idle machine
    (512 px preset: 0.307 s vs 0.146 s), unlike VGG19, whose wide layers gain
    from it. On CUDA they run in fp32: they are memory-bound, not compute-bound.
    """
    return "bf16" if device.type == "cpu" and cpu_has_amx() else "fp32"


def autocast_for(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context for a resolved precision ("fp32", "bf16" or "fp16")."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)
