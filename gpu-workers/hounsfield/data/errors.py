"""Errors raised by the data package, each with a stable code."""

from __future__ import annotations

from enum import StrEnum


class DataErrorCode(StrEnum):
    """Why a volume, a case or a dataset could not be used."""

    MISSING_FILE = "missing_file"
    UNREADABLE = "unreadable"
    UNSUPPORTED_FORMAT = "unsupported_format"
    NOT_3D = "not_3d"
    MISSING_SPACING = "missing_spacing"
    EMPTY_MASK = "empty_mask"
    EMPTY_IMPLANT = "empty_implant"
    SHAPE_MISMATCH = "shape_mismatch"
    SPACING_MISMATCH = "spacing_mismatch"
    UNEXPECTED_SHAPE = "unexpected_shape"
    NOT_BINARY = "not_binary"
    NO_SURFACE = "no_surface"
    INVALID_LAYOUT = "invalid_layout"
    UNKNOWN_CASE = "unknown_case"
    # intensity volumes (hounsfield.data.volumes)
    NOT_FINITE = "not_finite"
    CONSTANT_INTENSITY = "constant_intensity"
    TOO_SMALL = "too_small"
    INVALID_SPACING = "invalid_spacing"
    DUPLICATE = "duplicate"
    NO_PATIENT = "no_patient"
    SPLIT_OVERLAP = "split_overlap"
    NOT_IN_SPLIT = "not_in_split"


class DataError(Exception):
    """A data problem with a machine-readable code and a human-readable message."""

    def __init__(self, code: DataErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
