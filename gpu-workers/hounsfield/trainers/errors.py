"""Errors of the trainers package, each with a stable code."""

from __future__ import annotations

from enum import StrEnum


class TrainerErrorCode(StrEnum):
    """Why a trainer could not start."""

    INVALID_CONFIG = "invalid_config"
    UNKNOWN_PRESET = "unknown_preset"
    MISSING_DATA = "missing_data"
    EMPTY_SPLIT = "empty_split"
    NO_BATCH_PLAN = "no_batch_plan"


class TrainerError(Exception):
    """A trainer start-up problem with a machine-readable code and a readable message."""

    def __init__(self, code: TrainerErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
