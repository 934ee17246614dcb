from __future__ import annotations

import pytest
import torch

from hicd.degradations import Degrader
from hicd.degradations.jpeg import jpeg_roundtrip
from hicd.degradations.kernels import anisotropic_gaussian_2d, gaussian_1d, motion_2d


def test_kernels_are_normalised_and_centred() -> None:
    for kernel in (
        gaussian_1d(1.5, 9),
        anisotropic_gaussian_2d(0.5, 2.5, 30.0, 11),
        motion_2d(7, 45.0, 7),
    ):
        assert kernel.dtype == torch.float32
        assert float(kernel.sum()) == pytest.approx(1.0, abs=1e-6)
        assert torch.allclose(kernel, kernel.flip(list(range(kernel.ndim))))  # point symmetric


def test_anisotropic_with_equal_sigmas_is_the_isotropic_gaussian() -> None:
    one_d = gaussian_1d(1.3, 9)
    assert torch.allclose(
        anisotropic_gaussian_2d(1.3, 1.3, 70.0, 9), torch.outer(one_d, one_d), atol=1e-7
    )


def test_anisotropic_rotation_turns_the_long_axis() -> None:
    flat = anisotropic_gaussian_2d(3.0, 0.5, 0.0, 9)
    assert torch.allclose(anisotropic_gaussian_2d(3.0, 0.5, 90.0, 9), flat.T, atol=1e-7)


def test_motion_kernel_is_a_line() -> None:
    horizontal = motion_2d(5, 0.0, 5)
    assert torch.allclose(horizontal[2], torch.full((5,), 0.2))
    assert float(horizontal.sum() - horizontal[2].sum()) == pytest.approx(0.0)
    assert torch.allclose(motion_2d(5, 90.0, 5), horizontal.T, atol=1e-6)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_jpeg_roundtrip_any_band_count(channels: int, textured) -> None:
    image = textured(1, channels, 33, 19)[0]
    low = jpeg_roundtrip(image, 10)
    high = jpeg_roundtrip(image, 95)
    assert low.shape == image.shape and low.dtype == image.dtype
    assert float((high - image).abs().mean()) < float((low - image).abs().mean())
    # loose bound: 4:2:0 chroma subsampling blurs this texture's independent per-band detail
    assert float((high - image).abs().mean()) < 0.05


def test_jpeg_codes_bands_independently_when_not_rgb() -> None:
    image = torch.rand(4, 16, 16, generator=torch.Generator().manual_seed(0))
    together = jpeg_roundtrip(image, 30)
    for band in range(4):
        assert torch.equal(jpeg_roundtrip(image[band : band + 1], 30)[0], together[band])


def test_jpeg_on_one_pixel() -> None:
    assert jpeg_roundtrip(torch.full((3, 1, 1), 0.5), 50).shape == (3, 1, 1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize(
    "name", ["multi-x4", "single-gaussian_noise-s3", "single-haze-s2", "resolution-x4"]
)
def test_cuda_matches_cpu(name: str, textured) -> None:
    images = textured(3, 3, 48, 40)
    names = ["a", "b", "c"]
    cpu, cpu_records = Degrader(name, seed=4)(images, names)
    gpu, gpu_records = Degrader(name, seed=4)(images.cuda(), names)
    assert gpu.is_cuda and gpu_records == cpu_records
    # JPEG decisions can flip on 1-ulp differences before rounding; compare in aggregate.
    assert float((gpu.cpu() - cpu).abs().mean()) < 2e-3
