"""Betti numbers on shapes of known topology, and χ against skimage's independent Euler number."""

import numpy as np
import pytest
from skimage.measure import euler_number

from hounsfield.evaluation.topology import Betti, betti_numbers, euler_characteristic
from topology import shapes


@pytest.mark.parametrize(
    ("mask", "expected"),
    [
        (shapes.ball(), (1, 0, 0)),
        (shapes.torus(), (1, 1, 0)),
        (shapes.hollow_sphere(), (1, 0, 1)),
        (shapes.linked_rings(), (2, 2, 0)),
        (np.zeros((5, 5, 5), bool), (0, 0, 0)),
    ],
    ids=["ball", "torus", "hollow-sphere", "linked-rings", "empty"],
)
def test_betti_numbers_of_known_shapes(mask: np.ndarray, expected: tuple[int, int, int]) -> None:
    assert betti_numbers(mask).as_tuple() == expected


def test_two_separate_tori_with_a_hollow_ball_add_up() -> None:
    volume = np.zeros((40, 105, 40), bool)
    volume[:31, :31, :31] = shapes.torus()
    volume[:31, 40:71, :31] = shapes.torus()
    volume[10:35, 76:101, 10:35] = shapes.hollow_sphere()
    assert betti_numbers(volume) == Betti(3, 2, 1)


def test_shapes_touching_the_border_have_no_cavity_there() -> None:
    shell = shapes.hollow_sphere()
    cut = shell[: shell.shape[0] // 2]  # half a shell: its inside opens onto the border
    assert betti_numbers(cut).b2 == 0


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_euler_characteristic_matches_skimage_on_random_masks(seed: int) -> None:
    rng = np.random.default_rng(seed)
    mask = rng.random((12, 13, 11)) < 0.35
    assert euler_characteristic(mask) == euler_number(mask, connectivity=3)


def test_diagonal_voxels_are_one_component_and_tunnel_free() -> None:
    mask = np.zeros((4, 4, 4), bool)
    mask[0, 0, 0] = mask[1, 1, 1] = mask[2, 2, 2] = True
    assert betti_numbers(mask) == Betti(1, 0, 0)
