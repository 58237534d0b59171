"""False-accept and false-reject rates of the face pilot's 1:1 comparison, on the real
photos shipped inside scikit-image (no download).

Genuine pairs: the astronaut photo (one person) enrolled once, probed with 40 other crops
and brightness changes of the same photo. Impostor pairs: the first 100 LFW faces
(different people, 25x25, upscaled) against the astronaut template, and LFW faces
against each other (pairs of distinct images; the subset is taken to hold different
people). Same-photo variants make the genuine side easy: real rates need real pairs.

    python bench/face_rates.py
"""

from __future__ import annotations

import itertools
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from faces import astronaut, lfw
from yibao.domain.errors import Refused
from yibao.services import face


def descriptor(photo: str) -> np.ndarray | None:
    try:
        return face.model().descriptor(face.decode(photo))
    except Refused:
        return None


def main() -> None:
    rng = random.Random(7)
    template = descriptor(astronaut())
    assert template is not None
    genuine = []
    for _ in range(40):
        probe = descriptor(astronaut(top=rng.randint(10, 50), left=rng.randint(90, 130),
                                     size=rng.randint(220, 300),
                                     brightness=rng.uniform(0.6, 1.4)))
        if probe is not None:
            genuine.append(float(np.linalg.norm(probe - template)))
    others = [d for d in (descriptor(lfw(i)) for i in range(100)) if d is not None]
    impostor = [float(np.linalg.norm(d - template)) for d in others]
    impostor += [float(np.linalg.norm(a - b)) for a, b in itertools.combinations(others, 2)]
    print(f"genuine pairs {len(genuine)} (distance median {np.median(genuine):.3f}, "
          f"max {max(genuine):.3f}); impostor pairs {len(impostor)} from {len(others)} "
          f"LFW faces detected of 100 (distance median {np.median(impostor):.3f}, "
          f"min {min(impostor):.3f})")
    print("| threshold | false accept | false reject |")
    print("|---|---|---|")
    for threshold in (0.4, 0.45, 0.5, 0.55, 0.6):
        far = sum(d <= threshold for d in impostor) / len(impostor)
        frr = sum(d > threshold for d in genuine) / len(genuine)
        print(f"| {threshold} | {far:.4%} | {frr:.2%} |")


if __name__ == "__main__":
    main()
