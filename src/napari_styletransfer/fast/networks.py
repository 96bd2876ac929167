"""Load each network once per device, and choose how to run it there."""

from __future__ import annotations

import threading
from collections.abc import Callable

import torch
from torch import nn

from .arbitrary import load_arbitrary, load_predictor
from .cache import Memo
from .layers import StyleTransformerNet
from .learned import LearnedStyle
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


# networks trained from scratch, one per learned style and device
_learned_nets = Memo(size=2)


def get_learned_transformer(style: LearnedStyle, device: torch.device) -> StyleTransformerNet:
    """The transformer a learned style runs on (its own one for ``johnson`` styles).

    Learned presets of the two pretrained networks reuse those networks'
    convolutions; a style trained from scratch brings its own, which are
    built once per style and device.
    """
    if style.network != "johnson":
        return get_network(style.network, device).transformer
    key = (style.digest(), str(device))
    net = _learned_nets.get(key)
    if net is None:
        from .johnson import JOHNSON_SHAPE

        net = StyleTransformerNet(JOHNSON_SHAPE)
        state = {k: torch.from_numpy(v) for k, v in style.weights.items()}
        net.load_state_dict(state)
        net = net.eval().requires_grad_(False).to(device).to(memory_format=torch.channels_last)
        _learned_nets.put(key, net)
    return net


def clear_cache() -> None:
    """Forget every loaded network (frees their memory on the next garbage collection)."""
    with _lock:
        _loaded.clear()
    _learned_nets.clear()
