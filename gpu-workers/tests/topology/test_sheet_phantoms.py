"""Sheet phantoms: their labels have the topology the construction states, and seeds reproduce them."""

import numpy as np
import pytest

from hounsfield.data.sheet_phantoms import ARRANGEMENTS, sheet_phantom, write_phantom_cases
from hounsfield.evaluation.topology import betti_numbers


@pytest.mark.parametrize("arrangement", ARRANGEMENTS)
@pytest.mark.parametrize("holes", [0, 1])
@pytest.mark.parametrize("shape", [(24, 40, 56), (32, 48, 48)])
def test_labels_have_the_stated_topology(arrangement: str, holes: int, shape: tuple[int, int, int]) -> None:
    for seed in range(4):
        phantom = sheet_phantom(seed, shape, arrangement=arrangement, holes=holes)  # type: ignore[arg-type]
        assert phantom.betti == (1, holes, 0)
        assert betti_numbers(phantom.labels == 1).as_tuple() == phantom.betti, (seed, arrangement)


def test_same_seed_same_phantom_and_labels_use_all_three_values() -> None:
    a, b, c = sheet_phantom(7), sheet_phantom(7), sheet_phantom(8)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.image, c.image)
    assert set(np.unique(a.labels)) == {0, 1, 2}
    assert a.image.dtype == np.float32 and a.labels.dtype == np.uint8


def test_the_image_is_noisy_but_informative() -> None:
    p = sheet_phantom(3)
    on, off = p.image[p.labels == 1], p.image[p.labels == 0]
    assert on.mean() - off.mean() > 0.3  # a learnable signal ...
    assert ((on > 0.6).mean() < 0.95) and ((off > 0.6).mean() > 0.05)  # ... that no threshold separates


def test_too_small_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="height, width >= 40"):
        sheet_phantom(0, (32, 32, 32))


def test_written_cases_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import tifffile

    ids = write_phantom_cases(tmp_path, 2, (24, 40, 40), seed=5)
    assert ids == ["phantom_0005", "phantom_0006"]
    labels = tifffile.imread(tmp_path / "labels" / "phantom_0006.tif")
    np.testing.assert_array_equal(labels, sheet_phantom(6, (24, 40, 40)).labels)
