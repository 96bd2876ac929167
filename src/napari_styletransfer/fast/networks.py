"""Load each network once per device, and choose how to run it there."""

from __future__ import annotations

import threading
from collections.abc import Callable

import torch
from torch import nn

from .arbitrary import load_arbitrary, load_predictor
from .multistyle import load_multistyle

LOADERS: dict[str, Callable[[], nn.Module]] = {
    "multistyle": load_multistyle,
    "predictor": load_predictor,
    "arbitrary": load_arbitrary,
}

_lock = threading.Lock()
_loaded: dict[tuple[str, str], nn.Module] = {}


def get_network(name: str, device: torch.device) -> nn.Module:
    """Return the network ``name`` on ``device``, loading it on first use only.

    Parameters
    ----------
    name : {"multistyle", "predictor", "arbitrary"}
    device : torch.device

    Returns
    -------
    torch.nn.Module
        In eval mode, parameters in channels-last layout (faster convolutions
        with oneDNN on CPUs and cuDNN on GPUs). Shared: do not modify it.
    """
    key = (name, str(device))
    with _lock:  # the widget's worker thread and the main thread may both ask
        if key not in _loaded:
            network = LOADERS[name]().to(device)
            _loaded[key] = network.to(memory_format=torch.channels_last)
        return _loaded[key]


def clear_cache() -> None:
    """Forget every loaded network (frees their memory on the next garbage collection)."""
    with _lock:
        _loaded.clear()
