"""The controls of the "Style transfer" dock: inputs, quality preset, advanced fields.

The form only collects values; :meth:`StyleTransferForm.values` hands them over
as :class:`FormValues` for :mod:`.jobs` to turn into a request and frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSpinBox,
    LineEdit,
    PushButton,
    SpinBox,
)

from ..core.limits import STRENGTH_RANGE
from ..samples import style_names
from .layers import ALL_SLICES, CURRENT_SLICE
from .remote import REMOTE_DEVICE, REMOTE_LABEL

# name: (max size in pixels, optimisation steps); the steps are the engine's
# defaults for those sizes (quality.settings.default_steps), measured on the
# quality suite (docs/benchmarks.md)
QUALITY_PRESETS: dict[str, tuple[int, int]] = {
    "Preview": (256, 60),
    "Balanced": (512, 140),
    "High": (1024, 300),
}
DEFAULT_PRESET = "Preview"
FAST, QUALITY = "Fast", "Quality"
#: the form's method names → the API's
METHOD_NAMES = {QUALITY: "quality", FAST: "fast"}
#: the Region dropdown's labels → the API's region names
REGION_LABELS = {"inside mask": "inside", "outside mask (background)": "outside"}
#: the first style a new user sees (never the content layer itself)
DEFAULT_STYLE = "starry-night"
# optimisation steps between previews: ~10 s apart at 512 px on a CPU, and each
# preview costs an upsampling in the worker and a redraw on the GUI thread
PREVIEW_EVERY = 5


class StyleChoice(NamedTuple):
    """One entry of the Style dropdown.

    ``kind`` is "layer" (an Image layer of the viewer), "painting" (a bundled
    painting), "preset" (a fast-mode preset network, named "preset:N") or
    "learned" (a learned fast-mode style, "learned:NAME"); ``name`` is what the
    output layer's name and metadata call it.
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


def learned_style_names() -> list[str]:
    """``learned:NAME`` for every learned style (see ``napari-styletransfer learn-style``)."""
    from ..fast.learned import LEARNED_PREFIX, learned_names

    return [f"{LEARNED_PREFIX}{name}" for name in learned_names()]


@dataclass(frozen=True)
class FormValues:
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

    @property
    def api_method(self) -> str:
        """The method's name in the API ("quality" or "fast")."""
        return METHOD_NAMES[self.method]

    def request_options(self) -> dict:
        """Keyword arguments for ``StylizeRequest.create`` (all but style and mask)."""
        options = {
            "method": self.api_method,
            "max_size": self.max_size,
            "style_strength": self.style_strength,
            "preserve_color": self.preserve_color,
            # a server chooses its own device
            "device": "auto" if self.device == REMOTE_DEVICE else self.device,
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


def _device_choices(_widget=None) -> list[tuple[str, str]]:
    from ..devices import available_devices

    return [(name, name) for name in available_devices()] + [(REMOTE_LABEL, REMOTE_DEVICE)]


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
        # nullable: when the chosen content layer is removed the choice becomes
        # empty instead of silently switching to another layer (e.g. the output)
        self.content = ComboBox(label="Content", choices=self._image_choices, nullable=True)
        self._content_lost = False
        self.style = ComboBox(label="Style", choices=self._style_choices)
        self.learn = PushButton(text="Learn this style…", label="")
        self.learn.tooltip = (
            "Learn a new fast preset from the chosen painting or image layer (minutes on a CPU)"
        )
        self.mask = ComboBox(label="Mask", choices=self._mask_choices)
        self.label_values = LineEdit(label="Label values")
        self.label_values.tooltip = "Labels that form the mask, e.g. '1, 3-5'; empty: any nonzero"
        self.region = ComboBox(label="Region", choices=list(REGION_LABELS))
        self.slices = ComboBox(label="Slices", choices=[CURRENT_SLICE, ALL_SLICES])
        self.quality = ComboBox(label="Quality", choices=list(QUALITY_PRESETS))
        super().__init__(
            widgets=[
                self.content,
                self.style,
                self.learn,
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
        self.style.changed.connect(self._update_enabled)
        self.content.changed.connect(self._update_enabled)
        self.content.changed.connect(self._on_content_chosen)
        self.quality.value = DEFAULT_PRESET
        self.style.value = StyleChoice("painting", DEFAULT_STYLE)
        self._keep_content_choice(None)
        self._apply_quality_preset(DEFAULT_PRESET)
        self._update_enabled()

    def _advanced_fields(self) -> Container:
        from ..quality.settings import QualitySettings

        defaults = QualitySettings()
        self.max_size = SpinBox(label="Max size (px)", min=64, max=8192, step=64, value=256)
        self.steps = SpinBox(label="Steps", min=1, max=10000, value=100)
        self.style_strength = FloatSpinBox(
            label="Style strength", min=0.0, max=STRENGTH_RANGE["quality"][1], step=0.1, value=1.0
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
        self.device = ComboBox(label="Device", choices=_device_choices)
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
        # paintings first: magicgui falls back to the first choice, which must
        # never be the content layer itself
        choices = [(f"{name} (painting)", StyleChoice("painting", name)) for name in style_names()]
        choices += [
            (f"{layer.name} (layer)", StyleChoice("layer", layer.name, layer))
            for layer in self._layers("Image")
        ]
        if self.method.value == FAST:
            choices += [
                (f"{name} (learned)", StyleChoice("learned", name))
                for name in learned_style_names()
            ]
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
        chosen_content = self.content.value
        for widget in (self.content, self.style, self.mask):
            current = widget.value
            with widget.changed.blocked():
                widget.reset_choices()
                same = [choice for choice in widget.choices if choice == current]
                if same and widget.value is not same[0]:
                    widget.value = same[0]
        self._keep_content_choice(chosen_content)
        self._update_enabled()

    def _keep_content_choice(self, chosen=None) -> None:
        """A removed content layer leaves the choice empty; an empty form takes the first image."""
        layers = [choice for choice in self.content.choices if choice is not None]
        with self.content.changed.blocked():
            if chosen is not None and not any(chosen is layer for layer in layers):
                self.content.value = None
                self._content_lost = True
            elif self.content.value is None and layers and not self._content_lost:
                self.content.value = layers[0]

    def _on_content_chosen(self, value=None) -> None:
        if value is not None:
            self._content_lost = False

    # --- reactions ---

    def _apply_quality_preset(self, name: str) -> None:
        self.max_size.value, self.steps.value = QUALITY_PRESETS[name]

    def _on_method_changed(self, _value=None) -> None:
        self.style.reset_choices()
        self._update_enabled()

    def _update_enabled(self, _value=None) -> None:
        quality = self.method.value == QUALITY
        self.learn.visible = not quality
        self.learn.enabled = self.style.value is not None and self.style.value.kind in (
            "painting",
            "layer",
        )
        self.style_strength.max = STRENGTH_RANGE[METHOD_NAMES[self.method.value]][1]
        for widget in (self.steps, self.content_weight, self.tv_weight, self.style_scale):
            widget.enabled = quality
        has_mask = self.mask.value is not None
        self.region.enabled = has_mask
        self.label_values.enabled = has_mask and type(self.mask.value).__name__ == "Labels"
        self.slices.enabled = _has_stack_axes(self.content.value)

    def values(self) -> FormValues:
        """The current choices."""
        return FormValues(
            content=self.content.value,
            style=self.style.value,
            mask=self.mask.value,
            label_values=self.label_values.value,
            region=REGION_LABELS[self.region.value],
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
