"""Evaluation of generated volumes: metrics, ensembling and implant post-processing."""

from hounsfield.evaluation.ensemble import majority_vote
from hounsfield.evaluation.errors import EvaluationError, EvaluationErrorCode
from hounsfield.evaluation.metrics import (
    boundary_dice,
    chamfer_distance,
    codebook_perplexity,
    codebook_usage,
    dice,
    hd95,
    psnr,
    ssim3d,
    surface_chamfer,
)
from hounsfield.evaluation.postprocess import (
    PostprocessOptions,
    PostprocessResult,
    PostprocessStep,
    postprocess_implant,
)

__all__ = [
    "EvaluationError",
    "EvaluationErrorCode",
    "PostprocessOptions",
    "PostprocessResult",
    "PostprocessStep",
    "boundary_dice",
    "chamfer_distance",
    "codebook_perplexity",
    "codebook_usage",
    "dice",
    "hd95",
    "majority_vote",
    "postprocess_implant",
    "psnr",
    "ssim3d",
    "surface_chamfer",
]
