"""The case list a shard sends: split, subset, limit, in case-id order; spec post-processing mapped."""

from __future__ import annotations

from pathlib import Path

from conftest import TinyModels

from hounsfield.contracts.models import EvaluationDataset
from hounsfield.contracts.models import PcdiffEvaluationSpec as EvaluationSpec
from hounsfield.data.cases import discover_cases
from hounsfield.data.prepare import SplitName, write_split_csv
from hounsfield.evaluation.case_plan import planned_cases
from hounsfield.evaluation.families.pcdiff import case_seed, postprocess_options


def test_without_a_split_every_case_is_planned_in_id_order(tiny_models: TinyModels) -> None:
    cases = planned_cases(EvaluationDataset(root="skulls"), tiny_models.data_root)
    assert [c.case_id for c in cases] == sorted(c.case_id for c in discover_cases(tiny_models.data_root))


def test_the_split_csv_subset_and_limit_narrow_the_cases(tiny_models: TinyModels, tmp_path: Path) -> None:
    every = discover_cases(tiny_models.data_root)
    test_ids = sorted(c.case_id for c in every if c.subject_id == "001")
    split_csv = tmp_path / "split.csv"
    splits: dict[str, SplitName] = {c.case_id: "test" if c.case_id in test_ids else "train" for c in every}
    write_split_csv(split_csv, every, splits)

    in_split = planned_cases(
        EvaluationDataset(root="x", splitCsv=str(split_csv), split="test"), tiny_models.data_root
    )
    assert [c.case_id for c in in_split] == test_ids
    subset = EvaluationDataset.model_validate(
        {"root": "x", "splitCsv": str(split_csv), "cases": [test_ids[2], test_ids[0], every[0].case_id]}
    )
    assert [c.case_id for c in planned_cases(subset, tiny_models.data_root)] == [test_ids[0], test_ids[2]]
    limited = EvaluationDataset(root="x", splitCsv=str(split_csv), maxCases=2)
    assert len(planned_cases(limited, tiny_models.data_root)) == 2


def test_spec_postprocessing_and_seeds() -> None:
    spec = EvaluationSpec.model_validate(
        {
            "checkpoints": {"diffusion": {"job": "a"}, "voxelization": {"job": "b"}},
            "dataset": {"root": "skulls"},
            "postprocess": {"nearPoints": False, "maxPointDistanceVox": 3.5, "medianSize": 5},
            "seed": 2,
        }
    )
    options = postprocess_options(spec)
    assert (options.near_points, options.max_point_distance_vox, options.median_size) == (False, 3.5, 5)
    assert options.opening  # unset fields keep their defaults
    assert case_seed(spec, 4) == case_seed(spec, 4) != case_seed(spec, 5)
