"""Standalone batch/LR resolution follows the scheduler's rules (batch-resolution.ts)."""

from __future__ import annotations

import math

import pytest

from hounsfield.sdk import ResolutionError, resolve_hyperparameters


def test_linear_scaling_against_the_reference_batch() -> None:
    resolved = resolve_hyperparameters(global_batch=64, base_lr=0.1, world_size=8, reference_batch=32)
    assert (resolved.perDeviceBatch, resolved.gradAccumSteps) == (8, 1)
    assert resolved.lr == pytest.approx(0.2)


def test_sqrt_and_none_scaling() -> None:
    sqrt = resolve_hyperparameters(
        global_batch=128, base_lr=0.1, world_size=1, reference_batch=32, lr_scaling="sqrt"
    )
    none = resolve_hyperparameters(
        global_batch=128, base_lr=0.1, world_size=1, reference_batch=32, lr_scaling="none"
    )
    assert sqrt.lr == pytest.approx(0.1 * math.sqrt(4)) and none.lr == 0.1


def test_accumulation_keeps_the_per_device_batch_under_the_cap() -> None:
    resolved = resolve_hyperparameters(global_batch=56, base_lr=1e-4, world_size=7, max_per_device_batch=4)
    assert (resolved.perDeviceBatch, resolved.gradAccumSteps) == (4, 2)
    assert resolved.perDeviceBatch * resolved.gradAccumSteps * resolved.worldSize == 56


def test_a_batch_that_does_not_divide_is_refused_not_rounded() -> None:
    # The field report: --bs 8 on 7 GPUs silently became a per-device batch of 1.
    with pytest.raises(ResolutionError, match="global batch 8 does not divide over 7"):
        resolve_hyperparameters(global_batch=8, base_lr=1e-4, world_size=7)
