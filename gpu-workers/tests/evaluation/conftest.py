"""Random blobby masks shared by the evaluation tests (deterministic per test via the seed)."""

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from scipy import ndimage


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


@pytest.fixture
def random_blob(rng: np.random.Generator) -> Callable[[tuple[int, ...]], npt.NDArray[np.bool_]]:
    """Smoothed noise thresholded at a random quantile: irregular blobs, often touching the border."""

    def make(shape: tuple[int, ...]) -> npt.NDArray[np.bool_]:
        field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=rng.uniform(0.7, 2.0))
        return np.asarray(field > np.quantile(field, rng.uniform(0.5, 0.97)))

    return make
