"""Real face photos that ship inside scikit-image (no download): the astronaut picture
(one person) and the LFW subset (different people, 25x25)."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image, ImageEnhance
from skimage import data


def to_base64(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def astronaut(top: int = 30, left: int = 110, size: int = 260, brightness: float = 1.0) -> str:
    """A crop around the astronaut's face, optionally darker or brighter."""
    crop = data.astronaut()[top:top + size, left:left + size]
    image = ImageEnhance.Brightness(Image.fromarray(crop)).enhance(brightness)
    return to_base64(np.asarray(image))


def lfw(index: int) -> str:
    """One of the first 100 LFW faces (grayscale 25x25), as an RGB PNG."""
    face = (data.lfw_subset()[index] * 255).astype(np.uint8)
    return to_base64(np.stack([face] * 3, axis=-1))
