"""The shard context an evaluation family's evaluator is opened with, for tests."""

from __future__ import annotations

from typing import Any

from hounsfield.contracts.models import EvaluationShardContext
from hounsfield.evaluation.families import parse_evaluation_spec

CHECKPOINT_ID = "ck-0123456789abcdef01234567"


def context(spec: dict[str, Any], config: dict[str, Any]) -> EvaluationShardContext:
    """A context for ``spec`` whose model checkpoint was trained with ``config``."""
    model = {"jobId": "train", "checkpointId": CHECKPOINT_ID, "step": 2, "config": config}
    return EvaluationShardContext.model_validate(
        {
            "evaluationId": "ev-1",
            "spec": parse_evaluation_spec(spec).model_dump(exclude_none=True),
            "models": {"model": model},
            "stream": "EVAL",
            "consumer": "c",
            "planned": False,
            "complete": False,
        }
    )
