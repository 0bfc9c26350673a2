"""Errors raised by the evaluation package, each with a code a consumer can map once."""

from enum import StrEnum


class EvaluationErrorCode(StrEnum):
    """Why an evaluation input was refused."""

    SHAPE_MISMATCH = "shape_mismatch"
    INVALID_SPACING = "invalid_spacing"
    INVALID_ARGUMENT = "invalid_argument"
    VOLUME_TOO_SMALL = "volume_too_small"
    INDEX_OUT_OF_RANGE = "index_out_of_range"


class EvaluationError(ValueError):
    """Invalid input to a metric or post-processing step (never raised for empty masks)."""

    def __init__(self, code: EvaluationErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
