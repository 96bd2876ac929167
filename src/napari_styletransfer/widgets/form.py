"""The controls of the "Style transfer" dock: inputs, quality preset, advanced fields.

The form only collects values; :meth:`StyleTransferForm.settings` hands them over
as a :class:`Settings` for the widget to turn into a job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, LineEdit, SpinBox

from ..samples import style_names
from .layers import ALL_SLICES, CURRENT_SLICE

# name: (max size in pixels, optimisation steps); the steps are the engine's
# defaults for those sizes (engine.api.default_steps), measured on the quality
# suite (docs/benchmarks.md)
QUALITY_PRESETS: dict[str, tuple[int, int]] = {
    "Preview": (256, 60),
    "Balanced": (512, 140),
    "High": (1024, 300),
}
DEFAULT_PRESET = "Preview"
FAST, QUALITY = "Fast", "Quality"
# the fast networks blend between photo (0) and an exaggerated style (2)
MAX_STRENGTH = {QUALITY: 10.0, FAST: 2.0}
REGIONS = {"inside mask": "inside", "outside mask (background)": "outside"}
# optimisation steps between previews: ~10 s apart at 512 px on a CPU, and each
# preview costs an upsampling in the worker and a redraw on the GUI thread
PREVIEW_EVERY = 5


class StyleChoice(NamedTuple):
    """One entry of the Style dropdown.

    ``kind`` is "layer" (an Image layer of the viewer), "painting" (a bundled
    painting) or "preset" (a fast-mode preset network, named "preset:N"); ``name``
    is what the output layer's name and metadata call it.
    """

    kind: str
    name: str
    layer: Any = None

    def _key(self) -> tuple:
        # a layer stays the same choice when it is renamed
        return (self.kind, id(self.layer)) if self.kind == "layer" else (self.kind, self.name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StyleChoice) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def label(self) -> str:
        """The style's name now (a layer's current name)."""
        return self.layer.name if self.kind == "layer" else self.name


def fast_preset_names() -> list[str]:
    """Names of the fast-mode presets, or an empty list where fast mode is missing."""
    try:
        from ..fast.presets import PRESET_NAMES
    except ImportError:
        return []
    return list(PRESET_NAMES)


@dataclass
class Settings:
    """Everything the user chose, as plain values and layer references."""

    content: Any
    style: StyleChoice | None
    mask: Any
    label_values: str
    region: str
    slices: str
    method: str
    max_size: int
    steps: int
    style_strength: float
    content_weight: float
    tv_weight: float
    preserve_color: bool
    style_scale: float
    seed: int
    device: str

    def engine_options(self) -> dict:
        """Keyword arguments for ``iter_stylize`` (everything except content, style, mask)."""
        options = {
            "method": self.method.lower(),
            "max_size": self.max_size,
            "style_strength": self.style_strength,
            "preserve_color": self.preserve_color,
            "device": self.device,
            "seed": self.seed,
            "region": self.region,
        }
        if self.method == QUALITY:
            options |= {
                "steps": self.steps,
                "preview_every": PREVIEW_EVERY,
                "content_weight": self.content_weight,
                "tv_weight": self.tv_weight,
                "style_scale": self.style_scale,
            }
        return options


def _device_names() -> list[str]:
    from ..devices import available_devices

    return available_devices()


class StyleTransferForm(Container):
    """Input and parameter controls; layer dropdowns follow ``viewer.layers``.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer whose layers fill the dropdowns.
    """

    def __init__(self, viewer) -> None:
        self._viewer = viewer
        # the style choices depend on the method, so it exists first
        self.method = ComboBox(label="Method", choices=[QUALITY, FAST], value=QUALITY)
        self.content = ComboBox(label="Content", choices=self._image_choices)
        self.style = ComboBox(label="Style", choices=self._style_choices)
        self.mask = ComboBox(label="Mask", choices=self._mask_choices)
        self.label_values = LineEdit(label="Label values")
        self.label_values.tooltip = "Labels that form the mask, e.g. '1, 3-5'; empty: any nonzero"
        self.region = ComboBox(label="Region", choices=list(REGIONS))
        self.slices = ComboBox(label="Slices", choices=[CURRENT_SLICE, ALL_SLICES])
        self.quality = ComboBox(label="Quality", choices=list(QUALITY_PRESETS))
        super().__init__(
            widgets=[
                self.content,
                self.style,
                self.method,
                self.quality,
                self.mask,
                self.label_values,
                self.region,
                self.slices,
            ],
            labels=True,
        )
        self.advanced = self._advanced_fields()
        self.quality.changed.connect(self._apply_quality_preset)
        self.method.changed.connect(self._on_method_changed)
        self.mask.changed.connect(self._update_enabled)
        self.content.changed.connect(self._update_enabled)
        self.quality.value = DEFAULT_PRESET
        self._apply_quality_preset(DEFAULT_PRESET)
        self._update_enabled()

    def _advanced_fields(self) -> Container:
        from ..engine.options import Settings as EngineDefaults

        defaults = EngineDefaults()
        self.max_size = SpinBox(label="Max size (px)", min=64, max=8192, step=64, value=256)
        self.steps = SpinBox(label="Steps", min=1, max=10000, value=100)
        self.style_strength = FloatSpinBox(
            label="Style strength", min=0.0, max=10.0, step=0.1, value=1.0
        )
        self.content_weight = FloatSpinBox(
            label="Content weight", min=0.0, max=1e4, step=0.5, value=defaults.content_weight
        )
        self.tv_weight = FloatSpinBox(
            label="TV weight", min=0.0, max=10.0, step=1e-4, value=defaults.tv_weight
        )
        self.preserve_color = CheckBox(label="Preserve colours", value=False)
        self.style_scale = FloatSpinBox(
            label="Style scale", min=0.1, max=8.0, step=0.1, value=defaults.style_scale
        )
        self.seed = SpinBox(label="Seed", min=0, max=2**31 - 1, value=0)
        self.device = ComboBox(label="Device", choices=_device_names())
        return Container(
            widgets=[
                self.max_size,
                self.steps,
                self.style_strength,
                self.content_weight,
                self.tv_weight,
                self.preserve_color,
                self.style_scale,
                self.seed,
                self.device,
            ],
            labels=True,
        )

    # --- dropdown contents (called by magicgui on every reset_choices) ---

    def _layers(self, *kinds: str) -> list:
        return [layer for layer in self._viewer.layers if type(layer).__name__ in kinds]

    def _image_choices(self, _widget=None) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in self._layers("Image")]

    def _style_choices(self, _widget=None) -> list[tuple[str, StyleChoice]]:
        choices = [
            (f"{layer.name} (layer)", StyleChoice("layer", layer.name, layer))
            for layer in self._layers("Image")
        ]
        choices += [(f"{name} (painting)", StyleChoice("painting", name)) for name in style_names()]
        if self.method.value == FAST:
            choices += [
                (f"{name} (fast network)", StyleChoice("preset", name))
                for name in fast_preset_names()
            ]
        return choices

    def _mask_choices(self, _widget=None) -> list[tuple[str, Any]]:
        return [("no mask", None)] + [
            (layer.name, layer) for layer in self._layers("Labels", "Shapes")
        ]

    def reset_choices(self, *_: Any) -> None:
        """Refill every layer dropdown from the viewer, keeping current choices.

        magicgui keeps a selection by its text, so a renamed layer would lose it;
        the chosen value is put back by identity, without a ``changed`` signal
        (a rename is not a new choice).
        """
        for widget in (self.content, self.style, self.mask):
            current = widget.value
            with widget.changed.blocked():
                widget.reset_choices()
                same = [choice for choice in widget.choices if choice == current]
                if same and widget.value is not same[0]:
                    widget.value = same[0]
        self._update_enabled()

    # --- reactions ---

    def _apply_quality_preset(self, name: str) -> None:
        self.max_size.value, self.steps.value = QUALITY_PRESETS[name]

    def _on_method_changed(self, _value=None) -> None:
        self.style.reset_choices()
        self._update_enabled()

    def _update_enabled(self, _value=None) -> None:
        quality = self.method.value == QUALITY
        self.style_strength.max = MAX_STRENGTH[self.method.value]
        for widget in (self.steps, self.content_weight, self.tv_weight, self.style_scale):
            widget.enabled = quality
        has_mask = self.mask.value is not None
        self.region.enabled = has_mask
        self.label_values.enabled = has_mask and type(self.mask.value).__name__ == "Labels"
        self.slices.enabled = _has_stack_axes(self.content.value)

    def settings(self) -> Settings:
        """The current choices."""
        return Settings(
            content=self.content.value,
            style=self.style.value,
            mask=self.mask.value,
            label_values=self.label_values.value,
            region=REGIONS[self.region.value],
            slices=self.slices.value,
            method=self.method.value,
            max_size=int(self.max_size.value),
            steps=int(self.steps.value),
            style_strength=float(self.style_strength.value),
            content_weight=float(self.content_weight.value),
            tv_weight=float(self.tv_weight.value),
            preserve_color=bool(self.preserve_color.value),
            style_scale=float(self.style_scale.value),
            seed=int(self.seed.value),
            device=str(self.device.value),
        )


def _has_stack_axes(layer) -> bool:
    if layer is None:
        return False
    return layer.data.ndim > (3 if layer.rgb else 2)
