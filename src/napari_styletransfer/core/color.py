"""Colour preservation (Gatys et al. 2016, "Preserving Color in Neural Artistic Style Transfer")."""

from __future__ import annotations

import numpy as np

from ..errors import StyleTransferError

COLOR_METHODS = ("luminance", "histogram")

# RGB <-> YIQ: Y carries luminance, I and Q the chroma
_RGB_TO_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]],
    dtype=np.float64,
)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


def rgb_to_yiq(rgb: np.ndarray) -> np.ndarray:
    """float RGB (…×3) → YIQ (…×3)."""
    return rgb.astype(np.float64) @ _RGB_TO_YIQ.T


def yiq_to_rgb(yiq: np.ndarray) -> np.ndarray:
    """YIQ (…×3) → float RGB (…×3), not clipped."""
    return yiq @ _YIQ_TO_RGB.T


def keep_luminance_of(styled: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Luminance-only transfer: the styled image's Y with the content's chroma (I, Q).

    Both inputs are float RGB in [0, 1] of the same shape; so is the result.
    """
    yiq = rgb_to_yiq(content)
    yiq[..., 0] = rgb_to_yiq(styled)[..., 0]
    return np.clip(yiq_to_rgb(yiq), 0.0, 1.0).astype(np.float32)


def match_colors(style: np.ndarray, content: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Recolour the style image so its colour mean and covariance match the content's.

    A linear map x → A (x − μ_s) + μ_c with A = Σ_c^½ Σ_s^−½ (the
    "colour histogram matching" variant of Gatys et al. 2016).
    """
    s = style.reshape(-1, 3).astype(np.float64)
    c = content.reshape(-1, 3).astype(np.float64)
    mu_s, mu_c = s.mean(0), c.mean(0)
    cov_s = np.cov(s, rowvar=False) + eps * np.eye(3)
    cov_c = np.cov(c, rowvar=False) + eps * np.eye(3)
    transform = _sqrtm(cov_c) @ np.linalg.inv(_sqrtm(cov_s))
    out = (s - mu_s) @ transform.T + mu_c
    return np.clip(out, 0.0, 1.0).reshape(style.shape).astype(np.float32)


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def check_color_method(method: object) -> str:
    """Validate the colour-preservation method name."""
    if not isinstance(method, str) or method not in COLOR_METHODS:
        raise StyleTransferError(
            f"Unknown colour method {method!r}: use 'luminance' or 'histogram'."
        )
    return method
