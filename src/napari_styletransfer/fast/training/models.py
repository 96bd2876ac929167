"""What is trained: norm parameters of a pretrained network, or a whole Johnson network.

- ``arbitrary`` (Ghiasi et al.'s network): its style predictor gives the
  painting's scale and shift for every conditional instance norm; those are
  copied and trained, the convolutions (and the predictor) stay frozen.
- ``multistyle`` (Dumoulin et al.'s 26-style network): training starts from
  the preset whose output is closest in style to the painting (or from the
  mean of all 26), and trains the scale and shift alone, as in Dumoulin et al.
- ``johnson``: every weight, from a random start (Johnson et al.).

The pretrained convolutions come from a private copy of the shipped network
with gradients off, so the networks fast mode runs are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..arbitrary import load_arbitrary
from ..johnson import JohnsonNet
from ..layers import NormContext, StyleParams, StyleTransformerNet
from ..multistyle import PRESET_COUNT, load_multistyle

PRESET_NETWORKS = ("arbitrary", "multistyle")
INITS = {"arbitrary": ("predicted",), "multistyle": ("nearest", "mean"), "johnson": ("random",)}


class NormParams(nn.Module):
    """Trainable (gamma, beta) for every normalised layer of a frozen transformer."""

    def __init__(self, pairs: list[StyleParams]):
        super().__init__()
        self.gammas = nn.ParameterList([nn.Parameter(g.detach().clone().float()) for g, _ in pairs])
        self.betas = nn.ParameterList([nn.Parameter(b.detach().clone().float()) for _, b in pairs])

    def pairs(self) -> list[StyleParams]:
        """(gamma, beta) per layer."""
        return list(zip(self.gammas, self.betas, strict=True))


@dataclass
class StyleModel:
    """A transformer and the parameters being trained.

    Attributes
    ----------
    network : str
        "arbitrary", "multistyle" or "johnson".
    transformer : StyleTransformerNet
        Frozen for the preset networks, trained for ``johnson``.
    trainable : nn.Module
        :class:`NormParams` or the :class:`JohnsonNet`; its state is what
        checkpoints hold.
    start : dict
        How training started (e.g. the preset it started from).
    """

    network: str
    transformer: StyleTransformerNet
    trainable: nn.Module
    start: dict = field(default_factory=dict)

    def pairs(self) -> list[StyleParams]:
        """The (gamma, beta) the transformer runs with now."""
        if isinstance(self.trainable, JohnsonNet):
            return self.trainable.style_params()
        return self.trainable.pairs()

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.transformer(images, NormContext(self.pairs()))

    def conv_weights(self) -> dict[str, np.ndarray]:
        """The transformer's own weights (for ``johnson`` styles; empty otherwise)."""
        if self.network != "johnson":
            return {}
        return {
            k: v.detach().float().cpu().numpy() for k, v in self.transformer.state_dict().items()
        }


def _frozen(transformer: StyleTransformerNet, device: torch.device) -> StyleTransformerNet:
    transformer.requires_grad_(False).eval()
    return transformer.to(device).to(memory_format=torch.channels_last)


def build_model(
    network: str,
    init: str,
    device: torch.device,
    *,
    painting: np.ndarray | None = None,
    style_score=None,
    probe: torch.Tensor | None = None,
) -> StyleModel:
    """Build the model to train.

    Parameters
    ----------
    network : {"arbitrary", "multistyle", "johnson"}
    init : str
        One of :data:`INITS` for that network.
    device : torch.device
    painting : numpy.ndarray, optional
        Float RGB; needed by ``arbitrary`` (its style vector).
    style_score : callable, optional
        ``style_score(output) -> float``; needed by ``multistyle`` with
        ``init="nearest"``, to rank the presets on ``probe``.
    probe : torch.Tensor, optional
        A few photos (N×3×H×W) to rank the presets on.
    """
    if network == "johnson":
        net = JohnsonNet().to(device).to(memory_format=torch.channels_last)
        return StyleModel("johnson", net.transformer, net, {"init": "random"})
    if network == "arbitrary":
        from ..run import style_vector

        full = load_arbitrary()
        with torch.no_grad():
            vector = style_vector(painting, torch.device("cpu")).clone()
            pairs = full.style_params(vector)
        return StyleModel(
            "arbitrary",
            _frozen(full.transformer, device),
            NormParams(pairs).to(device),
            {"init": "predicted", "style_vector": vector.flatten().tolist()},
        )
    full = load_multistyle()
    transformer = _frozen(full.transformer, device)
    if init == "mean":
        weights = torch.full((PRESET_COUNT,), 1.0 / PRESET_COUNT)
        start = {"init": "mean"}
    else:
        index, scores = nearest_preset(full, transformer, style_score, probe, device)
        weights = torch.zeros(PRESET_COUNT)
        weights[index] = 1.0
        start = {"init": "nearest", "preset": index, "preset_style_losses": scores}
    with torch.no_grad():
        pairs = full.style_params(weights)
    return StyleModel("multistyle", transformer, NormParams(pairs).to(device), start)


@torch.no_grad()
def nearest_preset(full, transformer, style_score, probe, device) -> tuple[int, list[float]]:
    """The preset whose output on ``probe`` has the lowest style loss to the painting."""
    probe = probe.to(device).contiguous(memory_format=torch.channels_last)
    scores = []
    for index in range(PRESET_COUNT):
        weights = torch.zeros(PRESET_COUNT)
        weights[index] = 1.0
        pairs = [(g.to(device), b.to(device)) for g, b in full.style_params(weights)]
        scores.append(round(style_score(transformer(probe, NormContext(pairs))), 6))
    return int(np.argmin(scores)), scores
