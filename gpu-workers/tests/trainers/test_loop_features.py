"""What the shared loop gives every recipe, on a toy regression recipe (one process, the CPU):
per-term losses, validation, trainable-only optimisers, schedules, the switches, epoch
checkpoints, auxiliary networks and the out-of-memory exit."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from hounsfield.checkpoints.layout import committed_checkpoints
from hounsfield.checkpoints.reader import read_checkpoint
from hounsfield.contracts.models import ResolvedHyperparameters
from hounsfield.recipes.base import Recipe
from hounsfield.recipes.runner import run_recipe
from hounsfield.sdk import Run, resolve_hyperparameters
from hounsfield.sdk.report_format import EXIT_OUT_OF_MEMORY
from hounsfield.trainers.config_base import (
    LrScheduleConfig,
    OptimizerConfig,
    TrainerConfigBase,
    ValidationConfig,
)
from hounsfield.trainers.ddp import DistributedContext
from hounsfield.trainers.errors import TrainerError, TrainerErrorCode
from hounsfield.trainers.loop import LoopSettings, TrainingLoop
from hounsfield.trainers.optim import lr_factor
from hounsfield.trainers.parts import (
    AuxiliaryUpdate,
    Batch,
    LossOutput,
    TrainingParts,
    ValidationRequest,
    ValidationResult,
)

CPU = DistributedContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
WEIGHTS = torch.tensor([1.0, -2.0, 0.5, 3.0])


class Points(Dataset[dict[str, Any]]):
    """y = x·w + 1, with x fixed per index."""

    def __init__(self, size: int, offset: int = 0) -> None:
        generator = torch.Generator().manual_seed(offset)
        self.x = torch.randn(size, 4, generator=generator)
        self.y = self.x @ WEIGHTS + 1.0

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"x": self.x[index], "y": self.y[index]}


class Regressor(nn.Module):
    def __init__(self, checkpointing: bool = True) -> None:
        super().__init__()
        self.head = nn.Linear(4, 1)
        self.frozen = nn.Linear(4, 4)  # a pretrained part that must never train
        self.frozen.requires_grad_(False)
        self.checkpointing = False
        if not checkpointing:
            self.set_gradient_checkpointing = None  # type: ignore[assignment]

    def forward(self, x: Tensor) -> Tensor:
        return self.head(x + 0.0 * self.frozen(x)).squeeze(-1)


def terms_loss(model: nn.Module, batch: Batch, step: int) -> LossOutput:
    error = model(batch["x"]) - batch["y"]
    mse, l1 = error.square().mean(), error.abs().mean()
    return LossOutput(total=mse + 0.1 * l1, terms={"mse": mse, "l1": l1})


def mae_validator(data: Points) -> Any:
    def validate(request: ValidationRequest) -> ValidationResult:
        indices = request.shard(range(len(data)))
        error = (request.model(data.x[indices]) - data.y[indices]).abs()
        return ValidationResult(sums={"mae": float(error.sum())}, count=len(indices))

    return validate


def _resolved(global_batch: int = 4, lr: float = 0.05) -> ResolvedHyperparameters:
    return resolve_hyperparameters(global_batch=global_batch, base_lr=lr, world_size=1)


def _run(tmp_path: Path, name: str = "run") -> Run:
    environ = {"HOUNSFIELD_REPORT_FILE": str(tmp_path / f"{name}.jsonl")}
    return Run.from_env(output_dir=tmp_path / name, environ=environ, handle_sigterm=False)


def _records(tmp_path: Path, name: str = "run") -> list[dict[str, Any]]:
    lines = (tmp_path / f"{name}.jsonl").read_text().splitlines()
    return [r for r in (json.loads(line) for line in lines) if r["kind"] == "progress"]


def _loop(run: Run, parts: TrainingParts, steps: int, **settings: Any) -> TrainingLoop:
    base: dict[str, Any] = {"log_every": 1, "checkpoint_every": None, "grad_clip": None, "bf16": False}
    base |= {"num_workers": 0, "seed": 3}
    return TrainingLoop(
        run=run,
        context=CPU,
        parts=parts,
        resolved=settings.pop("resolved", _resolved()),
        settings=LoopSettings(total_steps=steps, **(base | settings)),
    )


def test_loss_terms_and_validation_means_are_reported_and_kept_with_the_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(0)
    held_out = Points(6, offset=99)
    parts = TrainingParts(
        model=Regressor(), loss_fn=terms_loss, dataset=Points(16), validate=mae_validator(held_out)
    )
    run = _run(tmp_path)
    result = _loop(run, parts, 4, log_every=2, validation=ValidationConfig(every_steps=2)).run()

    progress = _records(tmp_path)
    losses = [r for r in progress if "loss" in r["metrics"]]
    assert [r["step"] for r in losses] == [2, 4]
    for record in losses:
        metrics = record["metrics"]
        assert set(metrics) >= {"loss", "loss.mse", "loss.l1", "gradNorm"}
        # Window means of a linear combination are the combination of the means.
        assert metrics["loss"] == pytest.approx(metrics["loss.mse"] + 0.1 * metrics["loss.l1"], rel=1e-6)
    validations = [r for r in progress if "val.mae" in r["metrics"]]
    assert [r["step"] for r in validations] == [2, 4]  # every 2 steps; the end coincides with step 4
    # The mean is over every held-out case, computed from the weights of that step.
    final = committed_checkpoints(tmp_path / "run" / "checkpoints")[-1]
    state, meta = read_checkpoint(final)
    model = Regressor()
    model.load_state_dict(state["model"])
    with torch.no_grad():
        expected = float((model(held_out.x) - held_out.y).abs().mean())
    assert validations[-1]["metrics"]["val.mae"] == pytest.approx(expected, rel=1e-6)
    assert meta.metrics["val.mae"] == pytest.approx(expected, rel=1e-6) and "loss" in meta.metrics
    assert result.validation["val.mae"] == pytest.approx(expected, rel=1e-6)


def test_the_optimiser_holds_trainable_parameters_only_and_adamw_decays_them(tmp_path: Path) -> None:
    def no_gradient(model: nn.Module, batch: Batch, step: int) -> Tensor:
        return 0.0 * model(batch["x"]).sum()

    def one_step(name: str) -> nn.Module:
        torch.manual_seed(0)
        model = Regressor()
        parts = TrainingParts(model=model, loss_fn=no_gradient, dataset=Points(8))
        optimizer = OptimizerConfig(name=name, weight_decay=0.5)  # type: ignore[arg-type]
        loop = _loop(_run(tmp_path, name), parts, 1, optimizer=optimizer, resolved=_resolved(lr=0.1))
        trainable = {id(p) for p in model.parameters() if p.requires_grad}
        assert {id(p) for group in loop.optimizer.param_groups for p in group["params"]} == trainable
        loop.run()
        return model

    torch.manual_seed(0)
    start = Regressor()
    adamw, adam = one_step("adamw"), one_step("adam")
    # Decoupled decay (Loshchilov & Hutter): with a zero gradient, p <- p (1 - lr * wd).
    assert torch.allclose(adamw.head.weight, start.head.weight * (1 - 0.1 * 0.5), atol=1e-6)
    # Adam's L2 decay goes through the moments: the first step moves each weight by lr * sign(p).
    assert torch.allclose(adam.head.weight, start.head.weight - 0.1 * start.head.weight.sign(), atol=1e-5)
    assert torch.equal(adamw.frozen.weight, start.frozen.weight) and torch.equal(
        adam.frozen.weight, start.frozen.weight
    )


def test_cosine_schedule_with_warm_up_follows_its_formula_and_continues_after_a_resume(
    tmp_path: Path,
) -> None:
    schedule = LrScheduleConfig(name="cosine", warmup_steps=2, min_lr_ratio=0.1)
    expected = [0.5, 1.0] + [0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * k / 3)) for k in range(4)]
    assert [lr_factor(schedule, step, 6) for step in range(6)] == pytest.approx(expected)

    def lrs(name: str, steps: int) -> list[float]:
        torch.manual_seed(0)
        parts = TrainingParts(model=Regressor(), loss_fn=terms_loss, dataset=Points(16))
        _loop(_run(tmp_path, name), parts, steps, lr_schedule=schedule, resolved=_resolved(lr=0.2)).run()
        return [r["lr"] for r in _records(tmp_path, name)]

    whole = lrs("whole", 6)
    assert whole == pytest.approx([0.2 * f for f in expected])
    # Three steps, then a new process resumes in the same output directory and finishes.
    assert lrs("split", 3) == pytest.approx(whole[:3])
    assert lrs("split", 6)[3:] == pytest.approx(whole[3:])


def test_gradient_checkpointing_is_switched_on_or_refused(tmp_path: Path) -> None:
    class Checkpointable(Regressor):
        def set_gradient_checkpointing(self, enabled: bool) -> None:
            self.checkpointing = enabled

    model = Checkpointable()
    _loop(
        _run(tmp_path),
        TrainingParts(model=model, loss_fn=terms_loss, dataset=Points(8)),
        1,
        gradient_checkpointing=True,
    )
    assert model.checkpointing
    with pytest.raises(TrainerError) as refused:
        _loop(
            _run(tmp_path),
            TrainingParts(model=Regressor(), loss_fn=terms_loss, dataset=Points(8)),
            1,
            gradient_checkpointing=True,
        )
    assert refused.value.code is TrainerErrorCode.INVALID_CONFIG and "gradientCheckpointing" in str(
        refused.value
    )


def test_a_compiled_model_trains_and_saves_the_plain_module_keys(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Regressor()
    parts = TrainingParts(model=model, loss_fn=terms_loss, dataset=Points(8))
    _loop(_run(tmp_path), parts, 2, compile=True, compile_backend="eager").run()
    state, _ = read_checkpoint(committed_checkpoints(tmp_path / "run" / "checkpoints")[-1])
    assert set(state["model"]) == set(Regressor().state_dict())


def test_checkpoints_follow_epochs(tmp_path: Path) -> None:
    parts = TrainingParts(model=Regressor(), loss_fn=terms_loss, dataset=Points(16))
    _loop(_run(tmp_path), parts, 10, checkpoint_every_epochs=1.0).run()  # 4 steps per epoch
    steps = [int(p.name.split("-")[1]) for p in committed_checkpoints(tmp_path / "run" / "checkpoints")]
    assert steps == [4, 8, 10]


def test_an_auxiliary_network_trains_from_its_start_step_on_its_own_loss(tmp_path: Path) -> None:
    torch.manual_seed(0)
    critic = nn.Linear(1, 1)
    seen_frozen: list[bool] = []

    def generator_loss(model: nn.Module, batch: Batch, step: int) -> LossOutput:
        prediction = model(batch["x"])
        seen_frozen.append(not any(p.requires_grad for p in critic.parameters()))
        adversarial = critic(prediction.unsqueeze(-1)).mean()
        mse = (prediction - batch["y"]).square().mean()
        return LossOutput(total=mse + 0.01 * adversarial, terms={"mse": mse}, outputs={"fake": prediction})

    def critic_loss(module: nn.Module, batch: Batch, main: LossOutput, step: int) -> Tensor:
        real = module(batch["y"].unsqueeze(-1)).mean()
        fake = module(main.outputs["fake"].unsqueeze(-1)).mean()
        assert not main.outputs["fake"].requires_grad  # shared outputs are detached
        return torch.relu(1 - real) + torch.relu(1 + fake)

    initial = critic.weight.detach().clone()
    parts = TrainingParts(
        model=Regressor(),
        loss_fn=generator_loss,
        dataset=Points(16),
        auxiliary=[AuxiliaryUpdate("critic", critic, critic_loss, start_step=2)],
    )
    run = _run(tmp_path)
    loop = _loop(run, parts, 2)
    loop.run()
    assert torch.equal(critic.weight, initial)  # not trained before its start step
    assert all(seen_frozen)
    _loop(_run(tmp_path), parts, 5).run()
    assert not torch.equal(critic.weight, initial)
    reported = _records(tmp_path)[-1]["metrics"]
    assert {"loss", "loss.mse", "loss.critic"} <= set(reported)
    state, _ = read_checkpoint(committed_checkpoints(tmp_path / "run" / "checkpoints")[-1])
    assert torch.equal(state["aux-critic"]["weight"], critic.weight.detach())
    assert "aux-critic-optimizer" in state


class ToyConfig(TrainerConfigBase):
    pass


def _oom_recipe() -> Recipe[ToyConfig]:
    def build(config: ToyConfig, ctx: Any) -> TrainingParts:
        def loss(model: nn.Module, batch: Batch, step: int) -> Tensor:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

        return TrainingParts(model=Regressor().to(ctx.device), loss_fn=loss, dataset=Points(8))

    preset = ToyConfig(preset="toy", global_batch=4, lr=0.1, steps=3)
    return Recipe(
        kind="toy",
        version="1",
        description="",
        config=ToyConfig,
        presets={"toy": lambda: preset},
        build=build,
        default_preset="toy",
    )


def test_running_out_of_memory_exits_with_its_code_and_a_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "report.jsonl"
    monkeypatch.setenv("HOUNSFIELD_REPORT_FILE", str(report))
    code = run_recipe(_oom_recipe(), ["--output-dir", str(tmp_path / "out")])
    assert code == EXIT_OUT_OF_MEMORY
    records = [json.loads(line) for line in report.read_text().splitlines()]
    [oom] = [r for r in records if r["kind"] == "oom"]
    assert oom["perDeviceBatch"] == 4 and "out of memory at a per-device batch of 4" in oom["message"]
