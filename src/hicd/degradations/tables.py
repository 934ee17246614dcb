"""Every number the degradations use: the single-kind severity table and the multi-chain ranges.

docs/degradations.md reproduces these values; tests/degradations/test_docs.py keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Mapping

# kind -> severity (1..5) -> parameters. Severity 1 is mild, 5 severe; each kind is monotone.
SEVERITY_TABLE: Mapping[str, Mapping[int, Mapping[str, float]]] = {
    # Isotropic Gaussian, sigma in pixels; kernel size 2*ceil(3*sigma)+1.
    "gaussian_blur": {
        1: {"sigma": 1.0},
        2: {"sigma": 2.0},
        3: {"sigma": 3.0},
        4: {"sigma": 4.0},
        5: {"sigma": 6.0},
    },
    # Antialiased line of `length` pixels, angle drawn uniformly in MOTION_ANGLE_RANGE.
    "motion_blur": {
        1: {"length": 5},
        2: {"length": 9},
        3: {"length": 13},
        4: {"length": 17},
        5: {"length": 21},
    },
    # Additive zero-mean Gaussian, sigma on the [0, 1] scale, independent per band and pixel.
    "gaussian_noise": {
        1: {"sigma": 0.08},
        2: {"sigma": 0.12},
        3: {"sigma": 0.18},
        4: {"sigma": 0.26},
        5: {"sigma": 0.38},
    },
    # JPEG quality factor (libjpeg scale, 1..100).
    "jpeg": {
        1: {"quality": 25},
        2: {"quality": 18},
        3: {"quality": 15},
        4: {"quality": 10},
        5: {"quality": 7},
    },
    # Scattering coefficient beta of t = exp(-beta * depth), depth in HAZE_DEPTH_RANGE.
    "haze": {
        1: {"beta": 0.25},
        2: {"beta": 0.6},
        3: {"beta": 1.1},
        4: {"beta": 1.8},
        5: {"beta": 2.8},
    },
    # out = gain * in ** gamma.
    "low_light": {
        1: {"gamma": 1.2, "gain": 0.85},
        2: {"gamma": 1.4, "gain": 0.7},
        3: {"gamma": 1.7, "gain": 0.55},
        4: {"gamma": 2.0, "gain": 0.4},
        5: {"gamma": 2.5, "gain": 0.3},
    },
}

GAUSSIAN_TRUNCATE = 3.0  # kernel radius of the single-kind Gaussian blur, in sigmas
MOTION_ANGLE_RANGE = (0.0, 180.0)  # degrees from the image x axis, uniform
HAZE_DEPTH_RANGE = (0.7, 1.0)  # relative depth of the smooth random depth field
HAZE_DEPTH_GRID = 4  # depth field = bilinear upsampling of a GRID x GRID uniform random grid
HAZE_AIRLIGHT_RANGE = (0.8, 1.0)  # grey airlight A, uniform, the same for every band

# The "multi" chain: blur -> downsample -> noise -> JPEG -> bicubic resample back.
MULTI_KERNEL_SIZES: tuple[int, ...] = (7, 9, 11, 13, 15, 17, 19, 21)  # uniform choice
MULTI_ISOTROPIC_PROBABILITY = 0.5  # otherwise anisotropic
MULTI_SIGMA_RANGE = (0.2, 3.0)  # sigma (isotropic) or sigma_x and sigma_y (anisotropic), uniform
MULTI_THETA_RANGE = (0.0, 180.0)  # anisotropic rotation in degrees, uniform
MULTI_DOWN_MODES: tuple[str, ...] = ("nearest", "bilinear", "bicubic")  # uniform choice
MULTI_NOISE_SIGMA_255 = (0.0, 15.0)  # Gaussian noise sigma on the 0-255 scale, uniform
MULTI_JPEG_QUALITY = (30, 95)  # inclusive, uniform integer
