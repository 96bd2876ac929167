"""Keep freed memory in the process during a fast-mode run (Linux/glibc only).

A forward pass allocates and frees a few dozen full-resolution activation
tensors. glibc hands every block above its mmap threshold (at most 32 MB) back
to the kernel when it is freed, so the next tensor of that size is fresh
memory again and every page of it page-faults on first touch. That cost about
half of a CPU forward pass here (512 px preset: 0.26 s → 0.14 s, measured with
one thread). onnxruntime avoids it with its own memory arena; torch's CPU
allocator has none, so during a run the thresholds are raised and freed blocks
stay in the process for reuse. Afterwards the free memory is returned with
``malloc_trim`` and the thresholds are set to glibc's own dynamic maximum.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import sys
from collections.abc import Iterator

import torch

M_TRIM_THRESHOLD = -1  # mallopt parameter numbers from glibc's malloc.h
M_MMAP_THRESHOLD = -3
DURING_RUN = 1 << 30
# glibc's dynamic mmap threshold grows up to 32 MB (trim threshold twice that),
# so these are the values a long-running process converges to anyway
AFTER_RUN_MMAP = 32 << 20
AFTER_RUN_TRIM = 64 << 20


@functools.cache
def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:  # not glibc (e.g. musl)
        return None


@contextlib.contextmanager
def reuse_freed_memory(device: torch.device) -> Iterator[None]:
    """Within the block, keep freed CPU memory for reuse; give it back afterwards.

    Does nothing for GPU devices (torch caches GPU memory itself) or off glibc.
    """
    libc = _glibc() if device.type == "cpu" else None
    if libc is None:
        yield
        return
    libc.mallopt(M_MMAP_THRESHOLD, DURING_RUN)
    libc.mallopt(M_TRIM_THRESHOLD, DURING_RUN)
    try:
        yield
    finally:
        libc.mallopt(M_MMAP_THRESHOLD, AFTER_RUN_MMAP)
        libc.mallopt(M_TRIM_THRESHOLD, AFTER_RUN_TRIM)
        libc.malloc_trim(0)
