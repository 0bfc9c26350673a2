"""The evaluation contract's post-processing defaults are the pipeline's: reports print what ran."""

import re

from hounsfield.contracts.models import EvaluationPostprocess
from hounsfield.evaluation.families.pcdiff import postprocess_options
from hounsfield.evaluation.postprocess import PostprocessOptions


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_every_contract_default_equals_the_pipelines_default() -> None:
    contract = EvaluationPostprocess().model_dump()
    pipeline = PostprocessOptions().model_dump()
    assert {_snake(name): value for name, value in contract.items()} == {
        name: pipeline[name] for name in map(_snake, contract)
    }


def test_a_spec_with_one_step_switched_off_runs_the_defaults_otherwise() -> None:
    class Spec:
        postprocess = EvaluationPostprocess(median=False, closingIterations=2)

    options = postprocess_options(Spec())  # type: ignore[arg-type]
    assert options == PostprocessOptions(median=False, closing_iterations=2)
