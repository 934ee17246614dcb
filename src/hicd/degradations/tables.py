"""The numbers the degradations draw from: single-kind ranges and the multi-chain ranges.

docs/degradations.md reproduces these values; tests/degradations/test_docs.py keeps the two equal.
"""

from __future__ import annotations

# The single kinds' severity rows are in hicd.degradations.kinds, with the rest of each kind.
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

# The "mixed" setting: per image pair the degraded date, a family, then that family's parameters
# (single: a kind uniform over SINGLE_KINDS, a severity uniform over SEVERITIES).
MIXED_FAMILY_PROBABILITIES: dict[str, float] = {
    "clean": 0.1,
    "resolution": 0.3,
    "single": 0.3,
    "multi": 0.3,
}  # drawn in this order (one uniform draw against the cumulative sums)
MIXED_RESOLUTION_SCALE_RANGE = (1.0, 8.0)  # log-uniform: s = 2**u, u uniform in [0, 3]
MIXED_MULTI_SCALE_RANGE = (2.0, 8.0)  # log-uniform: s = 2**u, u uniform in [1, 3]
MIXED_T1_PROBABILITY = 0.5  # default probability that t1 (not t2) is the degraded date
