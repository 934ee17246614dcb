"""Estimators of image quality measured from the pixels (numpy and scipy only).

Every function takes grey levels on the 0–255 scale (float arrays), whatever the source's pixel
type: the caller divides by the date's value scale and multiplies by 255. Definitions and the
calibration of the constants: docs/inspection.md.
"""

from __future__ import annotations

import functools
import math
from io import BytesIO
from pathlib import Path

import numpy as np
import scipy.fft

LUMINANCE_WEIGHTS = (0.299, 0.587, 0.114)
"""JPEG's (ITU-R BT.601) luma weights of R, G, B."""
SPECTRUM_BINS = 64
"""Radial frequency bins between 0 and 0.5 cycles per pixel."""
REFERENCE_BAND = (0.008, 0.03)
"""Frequencies (cycles/pixel) where both dates keep their content up to ×8: the spectral ratio
is normalised to its median there, so global contrast differences between dates cancel."""
SEARCH_FROM = 0.03
"""Lowest frequency (cycles/pixel) at which a cut-off is looked for (×16 and coarser saturate)."""
CUTOFF_RATIO = 0.05
"""A date's spectrum has lost its content where it falls below this share of the other date's."""
CUTOFF_CONSTANT = 0.6
"""Effective GSD (in pixels) = CUTOFF_CONSTANT / cut-off frequency (calibrated on resolution-xS
of the LEVIR-CD and DSIFN crops: the cut-off of ``resolution-xS`` lies near 0.6 / S)."""
MAX_SCALE = 64.0

JPEG_BLOCK = 8
JPEG_MIN_COEFFICIENTS = 64
"""Nonzero DCT coefficients needed at a frequency to estimate its quantisation step."""
JPEG_WINDOW = 512
"""Side of the central window whose blocks are analysed."""
JPEG_MAX_COEFFICIENTS = 4096
"""Coefficients per frequency used at most (an even subsample of larger images)."""
JPEG_PERIODICITY = 0.5
"""Mean of cos(2π c / Q) over nonzero coefficients c from which Q counts as a quantisation step."""
JPEG_POSITIONS = ((0, 1), (1, 0), (1, 1), (0, 2), (2, 0), (1, 2), (2, 1), (2, 2))
"""Low DCT frequencies (row, column) whose quantisation steps identify the JPEG quality."""
IJG_LUMINANCE = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ]
)
"""The standard (IJG, libjpeg) luminance quantisation table at quality 50."""


def luminance(image: np.ndarray) -> np.ndarray:
    """H×W grey levels of a C×H×W image: JPEG's Y for three bands, else the mean of the bands."""
    if image.shape[0] == 3:
        red, green, blue = LUMINANCE_WEIGHTS
        return red * image[0] + green * image[1] + blue * image[2]
    return image.mean(axis=0)


@functools.lru_cache(maxsize=4)
def _spectrum_layout(
    height: int, width: int, bins: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Hann window, each rfft2 coefficient's radial bin and the bins' coefficient counts."""
    window = np.outer(np.hanning(height), np.hanning(width)).astype(np.float32)
    fy = scipy.fft.fftfreq(height).astype(np.float32)[:, None]
    fx = scipy.fft.rfftfreq(width).astype(np.float32)[None, :]
    index = np.minimum((np.sqrt(fy**2 + fx**2) * (2 * bins)).astype(np.int64), bins).ravel()
    counts = np.bincount(index, None, bins + 1)[:bins]
    return window, index, np.maximum(counts, 1)


def radial_power(grey: np.ndarray, bins: int = SPECTRUM_BINS) -> np.ndarray:
    """Mean power per radial frequency bin (``bins`` bins over 0–0.5 cycles/pixel) of a
    Hann-windowed H×W image (unnormalised FFT: white noise of std σ has power σ² Σ window²)."""
    window, index, counts = _spectrum_layout(*grey.shape, bins)
    values = (grey - grey.mean()).astype(np.float32) * window
    spectrum = scipy.fft.rfft2(values, workers=1)
    power = (spectrum.real**2 + spectrum.imag**2).ravel()
    return np.bincount(index, power, bins + 1)[:bins] / counts


def window_energy(shape: tuple[int, int]) -> float:
    """Σ window² of the Hann window of ``shape``."""
    return float(np.square(_spectrum_layout(*shape, SPECTRUM_BINS)[0], dtype=np.float64).sum())


def bin_frequencies(bins: int = SPECTRUM_BINS) -> np.ndarray:
    """Centre frequency (cycles/pixel) of each radial bin."""
    return (np.arange(bins) + 0.5) / bins * 0.5


def cutoff_frequency(ratio: np.ndarray) -> float:
    """The lowest frequency (≥ ``SEARCH_FROM``) at which the normalised spectral ratio falls
    below ``CUTOFF_RATIO`` (interpolated in log), or inf when it never does."""
    frequencies = bin_frequencies(len(ratio))
    ratio = np.maximum(ratio, 1e-12)
    band = (frequencies >= REFERENCE_BAND[0]) & (frequencies <= REFERENCE_BAND[1])
    log_ratio = np.log(ratio / np.median(ratio[band]))
    target = math.log(CUTOFF_RATIO)
    below = np.nonzero((frequencies >= SEARCH_FROM) & (log_ratio < target))[0]
    if below.size == 0:
        return math.inf
    i = int(below[0])
    a, b = log_ratio[i - 1], log_ratio[i]
    share = (target - a) / (b - a) if b != a else 0.0
    share = min(max(share, 0.0), 1.0)
    return float(frequencies[i - 1] + share * (frequencies[i] - frequencies[i - 1]))


def effective_scales(
    grey1: np.ndarray, grey2: np.ndarray, noise1: float = 0.0, noise2: float = 0.0
) -> tuple[float, float]:
    """The effective GSD of each date relative to the other's content, in pixels (≥ 1):
    ``CUTOFF_CONSTANT / f`` where f is the frequency from which the date keeps less than
    ``CUTOFF_RATIO`` of the other date's normalised power; 1.0 where it never falls that low.

    ``noise1``, ``noise2``: white-noise sigmas of the two grey images. The less noisy date's
    spectrum gets the difference as a flat floor, so that noise in one date does not read as a
    loss of detail in the other.
    """
    power1, power2 = radial_power(grey1), radial_power(grey2)
    floor = abs(noise1**2 - noise2**2) * window_energy(grey1.shape)
    if noise1 < noise2:
        power1 = power1 + floor
    else:
        power2 = power2 + floor
    ratio = power2 / np.maximum(power1, 1e-12)

    def scale(cutoff: float) -> float:
        return min(MAX_SCALE, max(1.0, CUTOFF_CONSTANT / cutoff))

    return scale(cutoff_frequency(1.0 / np.maximum(ratio, 1e-12))), scale(cutoff_frequency(ratio))


def band_noise_sigmas(image: np.ndarray) -> list[float]:
    """Standard deviation of white noise in each band of a C×H×W image, in grey levels
    (Immerkær's fast estimator, 1996).

    The mask (1 −2 1; −2 4 −2; 1 −2 1) cancels locally planar content; its output on white
    noise of std σ has std 6σ, and the mean absolute value of a Gaussian is √(2/π) of its std.
    Texture adds a little (about 2–12 grey levels on clean aerial crops); clipping at 0 and 255
    removes a little under strong noise (a σ of 97 reads about 75).
    """
    if image.shape[1] < 3 or image.shape[2] < 3:
        return [0.0] * image.shape[0]
    sigmas = []
    for band in image.astype(np.float32, copy=False):
        lap = band[:-2, :-2] + band[:-2, 2:]
        lap += band[2:, :-2]
        lap += band[2:, 2:]
        cross = band[:-2, 1:-1] + band[1:-1, :-2]
        cross += band[1:-1, 2:]
        cross += band[2:, 1:-1]
        lap -= 2 * cross
        lap += 4 * band[1:-1, 1:-1]
        sigmas.append(math.sqrt(math.pi / 2) * float(np.abs(lap).mean()) / 6)
    return sigmas


def noise_sigma(sigmas: list[float]) -> float:
    """One noise level for a date: the root mean square of its bands' sigmas."""
    return math.sqrt(sum(s * s for s in sigmas) / max(len(sigmas), 1))


def luminance_noise(sigmas: list[float]) -> float:
    """The noise sigma of ``luminance`` for independent noise of ``sigmas`` in the bands."""
    weights = LUMINANCE_WEIGHTS if len(sigmas) == 3 else [1 / len(sigmas)] * len(sigmas)
    return math.sqrt(sum((w * s) ** 2 for w, s in zip(weights, sigmas, strict=True)))


def blockiness(grey: np.ndarray) -> tuple[float, tuple[int, int]]:
    """How much stronger the steps between pixels are on an 8-pixel grid than elsewhere
    (1.0: no block structure; JPEG at low quality: well above 1) and the grid's phase
    (row, column offsets of the first block boundary)."""
    ratios, phases = [], []
    top = max(0, (grey.shape[0] - JPEG_WINDOW) // 2)
    left = max(0, (grey.shape[1] - JPEG_WINDOW) // 2)
    grey = grey[top : top + JPEG_WINDOW, left : left + JPEG_WINDOW]
    for axis in (0, 1):
        steps = np.abs(np.diff(grey, axis=axis)).mean(axis=1 - axis)
        usable = len(steps) // JPEG_BLOCK * JPEG_BLOCK
        if usable < 2 * JPEG_BLOCK:
            return 1.0, (0, 0)
        per_phase = steps[:usable].reshape(-1, JPEG_BLOCK).mean(axis=0)
        phase = int(np.argmax(per_phase))
        others = np.delete(per_phase, phase).mean()
        ratios.append(float(per_phase[phase] / max(others, 1e-6)))
        start = top if axis == 0 else left
        phases.append((start + phase + 1) % JPEG_BLOCK)  # the step after pixel p starts a block
    return math.sqrt(ratios[0] * ratios[1]), (phases[0], phases[1])


def quantisation_steps(grey: np.ndarray, phase: tuple[int, int] = (0, 0)) -> dict[tuple, int]:
    """The JPEG quantisation step found at each position of ``JPEG_POSITIONS`` (positions
    without enough evidence are left out): the largest Q ≤ 128 at which the block DCT
    coefficients of ``grey`` (level-shifted by 128) cluster at multiples of Q."""
    top, left = phase
    height = (grey.shape[0] - top) // JPEG_BLOCK * JPEG_BLOCK
    width = (grey.shape[1] - left) // JPEG_BLOCK * JPEG_BLOCK
    if height < JPEG_BLOCK or width < JPEG_BLOCK:
        return {}
    # a central window of at most JPEG_WINDOW² pixels, on the block grid
    height, width = min(height, JPEG_WINDOW), min(width, JPEG_WINDOW)
    top += (grey.shape[0] - top - height) // 2 // JPEG_BLOCK * JPEG_BLOCK
    left += (grey.shape[1] - left - width) // 2 // JPEG_BLOCK * JPEG_BLOCK
    blocks = grey[top : top + height, left : left + width] - 128.0
    blocks = blocks.reshape(height // JPEG_BLOCK, JPEG_BLOCK, width // JPEG_BLOCK, JPEG_BLOCK)
    coefficients = scipy.fft.dctn(blocks, axes=(1, 3), norm="ortho", workers=1)
    steps: dict[tuple, int] = {}
    candidates = np.arange(2, 129, dtype=np.float32)
    for row, col in JPEG_POSITIONS:
        values = coefficients[:, row, :, col].ravel().astype(np.float32)
        values = values[np.abs(values) > 1.0]
        if values.size > JPEG_MAX_COEFFICIENTS:
            values = values[:: values.size // JPEG_MAX_COEFFICIENTS + 1]
        kept = np.abs(values)[None, :] > candidates[:, None] / 2  # Q × N
        counts = kept.sum(axis=1)
        periodicity = (np.cos((2 * np.pi) * values[None, :] / candidates[:, None]) * kept).sum(
            axis=1
        ) / np.maximum(counts, 1)
        good = np.nonzero((counts >= JPEG_MIN_COEFFICIENTS) & (periodicity > JPEG_PERIODICITY))[0]
        if good.size:
            # the last run of passing steps sits around the true step (a slightly larger Q
            # still looks periodic on small multiples): its most periodic member
            start = good.size - 1
            while start > 0 and good[start - 1] == good[start] - 1:
                start -= 1
            run = good[start:]
            steps[(row, col)] = int(candidates[run[np.argmax(periodicity[run])]])
    return steps


def ijg_table(quality: int) -> np.ndarray:
    """libjpeg's luminance quantisation table at ``quality`` (1–100)."""
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((IJG_LUMINANCE * scale + 50) / 100), 1, 255)


def quality_from_steps(steps: dict[tuple, int]) -> int | None:
    """The libjpeg quality whose luminance table best matches the steps found (None: fewer
    than three positions found)."""
    if len(steps) < 3:
        return None
    positions = list(steps)
    found = np.log([steps[p] for p in positions])
    best, best_error = None, math.inf
    for quality in range(1, 101):
        table = ijg_table(quality)
        error = float(np.abs(found - np.log([table[p] for p in positions])).sum())
        if error <= best_error + 1e-9:  # ties: the highest quality with that table
            best, best_error = quality, error
    return best


def jpeg_quality_from_pixels(grey: np.ndarray) -> tuple[int | None, float]:
    """The JPEG quality a decoded image was compressed at (None: no JPEG trace) and its
    blockiness."""
    ratio, phase = blockiness(grey)
    quality = quality_from_steps(quantisation_steps(np.round(grey), phase))
    return quality, ratio


def jpeg_quality_from_file(path: str | Path | bytes) -> int | None:
    """The quality of a JPEG file from its luminance quantisation table (None: not a JPEG)."""
    from PIL import Image

    try:
        with Image.open(BytesIO(path) if isinstance(path, bytes) else path) as image:
            if image.format != "JPEG":
                return None
            tables = getattr(image, "quantization", None) or {}
    except OSError:
        return None
    if 0 not in tables:
        return None
    table = np.asarray(tables[0], dtype=np.float64)
    if table.size != 64:
        return None
    # Pillow gives the table in natural (row-major) order
    table = table.reshape(8, 8)
    errors = [float(np.abs(np.log(table) - np.log(ijg_table(q))).sum()) for q in range(1, 101)]
    return int(np.argmin(errors)) + 1
