"""Synthetic scenes with known motion, shared by the video tests."""

from __future__ import annotations

import cv2
import numpy as np

from napari_styletransfer import load_sample


def view(scene: np.ndarray, offset, height: int, width: int, margin: int = 40) -> np.ndarray:
    """The window of ``scene`` whose corner is at ``margin + offset`` (x, y), sub-pixel, bicubic."""
    matrix = np.float32([[1, 0, -offset[0]], [0, 1, -offset[1]]])
    moved = cv2.warpAffine(scene, matrix, scene.shape[1::-1], flags=cv2.INTER_CUBIC)
    return moved[margin : margin + height, margin : margin + width]


def photo_scene(side: int = 320) -> np.ndarray:
    """The bundled astronaut photo at ``side`` px, uint8 RGB."""
    return cv2.resize(load_sample("astronaut"), (side, side), interpolation=cv2.INTER_AREA)


def pan(count: int, speed, height: int = 96, width: int = 128) -> list[np.ndarray]:
    """A camera pan over the photo: frame t shows the scene moved by ``t × speed`` px."""
    scene = photo_scene()
    return [view(scene, np.multiply(t, speed), height, width) for t in range(count)]


def texture(rng, shape, blur: float) -> np.ndarray:
    """Smooth random uint8 texture (something optical flow can follow)."""
    noise = rng.integers(0, 256, shape, dtype=np.uint8).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), blur)
    return cv2.normalize(smooth, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
