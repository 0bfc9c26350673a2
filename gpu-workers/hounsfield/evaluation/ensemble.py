"""Ensembling of several predicted masks for one case."""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from hounsfield.evaluation.errors import EvaluationError, EvaluationErrorCode
from hounsfield.evaluation.inputs import BoolVolume, as_same_shape_masks


def majority_vote(masks: Sequence[npt.ArrayLike]) -> BoolVolume:
    """Voxel-wise strict majority of n boolean volumes: foreground where more than n/2 agree.

    For even n a tie (exactly n/2 votes) is background, so the ensemble never grows on a split
    decision; with n = 1 the mask is returned unchanged (as a copy).
    """
    if len(masks) == 0:
        raise EvaluationError(EvaluationErrorCode.INVALID_ARGUMENT, "majority_vote needs at least one mask")
    stack = as_same_shape_masks(*masks)
    votes = np.zeros(stack[0].shape, dtype=np.int32)
    for mask in stack:
        votes += mask
    return np.asarray(2 * votes > len(stack))
