# Generated from libs/contracts by `npm run contracts:generate`. Do not edit.
# mypy: disable-error-code="assignment"

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AnyUrl, BaseModel, ConfigDict, Field, RootModel, StringConstraints
from typing_extensions import TypeAliasType


class HounsfieldContracts(RootModel[Any]):
    root: Annotated[Any, Field(title='HounsfieldContracts')]
    """
    Generated from libs/contracts (zod). Do not edit; run `npm run contracts:generate`.
    """


class InitFrom(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    ref: Annotated[str, Field(max_length=256, min_length=1)]
    weights: Literal['model', 'ema'] = 'model'
    strict: bool = True


class Resources(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    nodes: Annotated[int, Field(ge=1, le=64)] = 1
    gpus: Annotated[int, Field(ge=0, le=64)] = 0
    cpuProcesses: Annotated[int, Field(ge=1, le=64)] = 1
    gpuType: Annotated[str | None, Field(max_length=64, min_length=1)] = None
    minGpuMemoryGiB: Annotated[float | None, Field(gt=0.0, le=1024.0)] = None
    waitForCapacity: bool = False


class Hyperparameters(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    globalBatch: Annotated[int, Field(ge=1, le=1000000)]
    referenceBatch: Annotated[int | None, Field(ge=1, le=1000000)] = None
    baseLr: Annotated[float, Field(gt=0.0, le=10.0)]
    lrScaling: Literal['linear', 'sqrt', 'none'] = 'linear'
    maxPerDeviceBatch: Annotated[int | None, Field(ge=1, le=100000)] = None
    epochs: Annotated[int | None, Field(ge=1, le=1000000)] = None
    maxSteps: Annotated[int | None, Field(ge=1, le=100000000)] = None
    seed: Annotated[int, Field(ge=0, le=2147483647)] = 0


class Path(RootModel[str]):
    root: Annotated[str, Field(max_length=1024, min_length=1)]


class Data(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    root: Annotated[str | None, Field(max_length=1024, min_length=1)] = None
    paths: Annotated[list[Path], Field(max_length=64, validate_default=True)] = []
    split: Annotated[str | None, Field(max_length=1024, min_length=1)] = None


class KeepBest(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    metric: Annotated[str, Field(max_length=64, min_length=1)]
    mode: Literal['min', 'max']
    count: Annotated[int, Field(ge=1, le=100)] = 1


class Checkpoint(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    everySteps: Annotated[int | None, Field(ge=1, le=9007199254740991)] = None
    everyEpochs: Annotated[int | None, Field(ge=1, le=9007199254740991)] = None
    keepLast: Annotated[int, Field(ge=1, le=1000)] = 3
    keepBest: KeepBest | None = None
    keepEvery: Annotated[int | None, Field(ge=1, le=9007199254740991)] = None
    resumeFrom: Annotated[str | None, Field(max_length=256, min_length=1)] = None
    initFrom: InitFrom | None = None


class LossTerm(RootModel[str]):
    root: Annotated[str, Field(max_length=128, min_length=1)]


class Monitoring(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    failOnNonFiniteLoss: bool = False
    lossTerms: Annotated[list[LossTerm] | None, Field(max_length=64, min_length=1)] = (
        None
    )
    lossSpikeFactor: Annotated[float | None, Field(gt=1.0, le=1000.0)] = None
    stallSeconds: Annotated[float | None, Field(gt=0.0, le=604800.0)] = None


class Arg(RootModel[str]):
    root: Annotated[str, Field(max_length=4096)]


class Script(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    module: Annotated[
        str,
        Field(
            max_length=200,
            min_length=1,
            pattern='^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$',
        ),
    ]
    args: Annotated[list[Arg], Field(max_length=256, validate_default=True)] = []


EnvAdditionalProperty = TypeAliasType(
    "EnvAdditionalProperty", Annotated[str, Field(max_length=4096)]
)


class Data1(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    root: Annotated[str | None, Field(max_length=1024, min_length=1)] = None
    paths: Annotated[list[Path], Field(max_length=64, validate_default=True)] = []
    split: Annotated[str | None, Field(max_length=1024, min_length=1)] = None


class EvaluationShard(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    evaluationId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    shard: Annotated[int, Field(ge=0, le=1024)]


class EvaluationShardJobSpec(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    name: Annotated[str, Field(max_length=128, min_length=1)]
    priority: Annotated[int, Field(ge=-100, le=100)] = 0
    maxRestarts: Annotated[int, Field(ge=0, le=20)] = 0
    kind: Literal['evaluation_shard']
    resources: Annotated[Resources, Field(validate_default=True)] = {
        'nodes': 1,
        'gpus': 0,
        'cpuProcesses': 1,
        'waitForCapacity': True,
    }
    data: Annotated[Data1, Field(validate_default=True)] = {'paths': []}
    evaluationShard: EvaluationShard


class Checkpoint1(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    everySteps: Annotated[int | None, Field(ge=1, le=9007199254740991)] = None
    everyEpochs: Annotated[int | None, Field(ge=1, le=9007199254740991)] = None
    keepLast: Annotated[int, Field(ge=1, le=1000)] = 3
    keepBest: KeepBest | None = None
    keepEvery: Annotated[int | None, Field(ge=1, le=9007199254740991)] = None
    resumeFrom: Annotated[str | None, Field(max_length=256, min_length=1)] = None
    initFrom: InitFrom | None = None


class CheckpointImport(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    importId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    fileName: Annotated[str, Field(max_length=256, min_length=1)]
    format: Literal['auto', 'pth', 'lightning'] = 'auto'
    step: Annotated[int | None, Field(ge=0, le=9007199254740991)] = None


class CheckpointImportJobSpec(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    name: Annotated[str, Field(max_length=128, min_length=1)]
    priority: Annotated[int, Field(ge=-100, le=100)] = 0
    maxRestarts: Annotated[int, Field(ge=0, le=20)] = 0
    kind: Literal['checkpoint_import']
    resources: Annotated[Resources, Field(validate_default=True)] = {
        'nodes': 1,
        'gpus': 0,
        'cpuProcesses': 1,
        'waitForCapacity': False,
    }
    checkpoint: Annotated[Checkpoint1, Field(validate_default=True)] = {'keepLast': 1}
    checkpointImport: CheckpointImport


class ResolvedHyperparameters(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    worldSize: Annotated[int, Field(ge=1, le=9007199254740991)]
    globalBatch: Annotated[int, Field(ge=1, le=9007199254740991)]
    perDeviceBatch: Annotated[int, Field(ge=1, le=9007199254740991)]
    gradAccumSteps: Annotated[int, Field(ge=1, le=9007199254740991)]
    referenceBatch: Annotated[int, Field(ge=1, le=9007199254740991)]
    baseLr: Annotated[float, Field(gt=0.0)]
    lrScaling: Literal['linear', 'sqrt', 'none']
    lr: Annotated[float, Field(gt=0.0)]


class NodePlacement(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    nodeRank: Annotated[int, Field(ge=0, le=9007199254740991)]
    nnodes: Annotated[int, Field(ge=2, le=64)]
    rdzvHost: Annotated[str, Field(max_length=255, min_length=1)]
    rdzvPort: Annotated[int, Field(ge=1, le=65535)]
    rdzvId: Annotated[str, Field(max_length=200, min_length=1)]


class GpuIndice(RootModel[int]):
    root: Annotated[int, Field(ge=0, le=9007199254740991)]


class TrainerPaths(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    outputDir: Annotated[str, Field(max_length=4096, min_length=1)]
    reportFile: Annotated[str, Field(max_length=4096, min_length=1)]
    resumeFrom: Annotated[str | None, Field(max_length=4096, min_length=1)] = None
    initFrom: Annotated[str | None, Field(max_length=4096, min_length=1)] = None
    dataRoot: Annotated[str | None, Field(max_length=4096, min_length=1)] = None


class ProgressEvent(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    type: Literal['progress']
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    workerId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    seq: Annotated[int, Field(ge=0, le=9007199254740991)]
    step: Annotated[int, Field(ge=0, le=9007199254740991)]
    epoch: Annotated[float | None, Field(ge=0.0)] = None
    totalSteps: Annotated[int | None, Field(ge=1, le=9007199254740991)] = None
    metrics: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=128)],
        float | Literal['NaN', 'Infinity', '-Infinity'],
    ]
    lr: Annotated[float | None, Field(ge=0.0)] = None
    samplesPerSecond: Annotated[float | None, Field(ge=0.0)] = None
    dataWaitSeconds: Annotated[float | None, Field(ge=0.0)] = None
    stepSeconds: Annotated[float | None, Field(ge=0.0)] = None
    at: Annotated[str, Field(max_length=40, min_length=20)]


class RuntimeInfo(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    cudaVisibleDevices: str
    worldSize: Annotated[int, Field(ge=1, le=9007199254740991)]
    hostname: Annotated[str, Field(max_length=256)]
    pid: Annotated[int, Field(ge=0, le=9007199254740991)]


class LogTailItem(RootModel[str]):
    root: Annotated[str, Field(max_length=4096)]


class StatusEvent(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    type: Literal['status']
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    workerId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    state: Literal[
        'starting', 'running', 'succeeded', 'failed', 'cancelled', 'preempted'
    ]
    at: Annotated[str, Field(max_length=40, min_length=20)]
    exitCode: Annotated[
        int | None, Field(ge=-9007199254740991, le=9007199254740991)
    ] = None
    reason: Annotated[str | None, Field(max_length=4096)] = None
    logTail: Annotated[list[LogTailItem] | None, Field(max_length=200)] = None
    runtime: RuntimeInfo | None = None
    failureKind: (
        Literal['trainer', 'preflight', 'infrastructure', 'oom', 'environment'] | None
    ) = None


class GpuInfo(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    index: Annotated[int, Field(ge=0, le=9007199254740991)]
    uuid: Annotated[str, Field(max_length=128, min_length=1)]
    name: Annotated[str, Field(max_length=128, min_length=1)]
    memoryTotalBytes: Annotated[int, Field(ge=0, le=9007199254740991)]
    memoryUsedBytes: Annotated[int, Field(ge=0, le=9007199254740991)]
    utilizationPercent: Annotated[float, Field(ge=0.0, le=100.0)]
    temperatureCelsius: Annotated[float, Field(ge=-50.0, le=200.0)]
    powerWatts: Annotated[float | None, Field(ge=0.0)] = None
    foreignProcesses: bool


class WorkerKind(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    kind: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[a-z][a-z0-9_]*$')
    ]
    version: Annotated[str, Field(max_length=32, min_length=1)]


class RendezvousPorts(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    first: Annotated[int, Field(ge=1, le=65535)]
    last: Annotated[int, Field(ge=1, le=65535)]


class Environment(RootModel[str]):
    root: Annotated[str, Field(pattern='^[0-9a-f]{8,64}$')]


class EnvironmentBuild(RootModel[str]):
    root: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]


class RunningItem(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]


class WorkerHeartbeat(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    type: Literal['heartbeat']
    workerId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    hostname: Annotated[str, Field(max_length=256)]
    simulated: bool
    gpus: Annotated[list[GpuInfo], Field(max_length=64)]
    kinds: Annotated[list[WorkerKind], Field(max_length=64, validate_default=True)] = []
    cpuSlots: Annotated[int | None, Field(ge=1, le=4096)] = None
    address: Annotated[str | None, Field(max_length=255, min_length=1)] = None
    rendezvousPorts: RendezvousPorts | None = None
    topology: Annotated[str | None, Field(max_length=128, min_length=1)] = None
    memoryTotalBytes: Annotated[int | None, Field(ge=0, le=9007199254740991)] = None
    memoryAvailableBytes: Annotated[int | None, Field(ge=0, le=9007199254740991)] = None
    environments: Annotated[list[Environment] | None, Field(max_length=1024)] = None
    environmentBuilds: Annotated[
        list[EnvironmentBuild] | None, Field(max_length=256)
    ] = None
    running: Annotated[list[RunningItem], Field(max_length=256)]
    intervalSeconds: Annotated[float, Field(gt=0.0, le=3600.0)]
    at: Annotated[str, Field(max_length=40, min_length=20)]


class NodeWorkerId(RootModel[str]):
    root: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]


class AttemptSummary(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    workerId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    worldSize: Annotated[int, Field(ge=1, le=9007199254740991)]
    nodeWorkerIds: list[NodeWorkerId] | None = None
    perDeviceBatch: Annotated[int | None, Field(ge=1, le=9007199254740991)] = None
    gradAccumSteps: Annotated[int | None, Field(ge=1, le=9007199254740991)] = None
    assignedAt: Annotated[str, Field(max_length=40, min_length=20)]
    outcome: (
        Literal[
            'queued',
            'assigned',
            'starting',
            'running',
            'succeeded',
            'failed',
            'cancelled',
            'preempted',
        ]
        | None
    ) = None
    failureKind: (
        Literal['trainer', 'preflight', 'infrastructure', 'oom', 'environment'] | None
    ) = None
    reason: Annotated[str | None, Field(max_length=4096)] = None


class Rank(RootModel[int]):
    root: Annotated[int, Field(ge=0, le=9007199254740991)]


class JobNode(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    nodeRank: Annotated[int, Field(ge=0, le=9007199254740991)]
    workerId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    gpuIndices: list[GpuIndice]
    cudaVisibleDevices: str
    ranks: list[Rank]


class JobRendezvous(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    host: Annotated[str, Field(max_length=255, min_length=1)]
    port: Annotated[int, Field(ge=1, le=65535)]
    id: Annotated[str, Field(max_length=200, min_length=1)]


class HistoryItem(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    state: Literal[
        'queued',
        'assigned',
        'starting',
        'running',
        'succeeded',
        'failed',
        'cancelled',
        'preempted',
    ]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    at: Annotated[str, Field(max_length=40, min_length=20)]
    reason: Annotated[str | None, Field(max_length=4096)] = None
    failureKind: (
        Literal['trainer', 'preflight', 'infrastructure', 'oom', 'environment'] | None
    ) = None


class JobStateEvent(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    type: Literal['state']
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    state: Literal[
        'queued',
        'assigned',
        'starting',
        'running',
        'succeeded',
        'failed',
        'cancelled',
        'preempted',
    ]
    from_: Annotated[
        Literal[
            'queued',
            'assigned',
            'starting',
            'running',
            'succeeded',
            'failed',
            'cancelled',
            'preempted',
        ]
        | None,
        Field(alias='from'),
    ] = None
    at: Annotated[str, Field(max_length=40, min_length=20)]
    reason: Annotated[str | None, Field(max_length=4096)] = None
    workerId: Annotated[
        str | None,
        Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$'),
    ] = None


class JobNoticeEvent(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    type: Literal['notice']
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    workerId: Annotated[
        str | None,
        Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$'),
    ] = None
    kind: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[a-z][a-z0-9_]*$')
    ]
    level: Literal['info', 'warning'] = 'info'
    message: Annotated[str, Field(max_length=4096, min_length=1)]
    details: dict[Annotated[str, StringConstraints(max_length=64)], Any] = {}
    at: Annotated[str, Field(max_length=40, min_length=20)]


class AlertEvent(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    type: Literal['alert']
    alertId: Annotated[str, Field(max_length=256, min_length=1)]
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    kind: Literal[
        'non_finite_loss',
        'loss_spike',
        'loss_divergence',
        'stall',
        'data_bound',
        'tiny_per_device_batch',
    ]
    status: Literal['firing', 'resolved']
    severity: Literal['critical', 'warning']
    metric: Annotated[str | None, Field(max_length=128, min_length=1)] = None
    step: Annotated[int | None, Field(ge=0, le=9007199254740991)] = None
    summary: Annotated[str, Field(max_length=2048, min_length=1)]
    advice: Annotated[str, Field(max_length=4096, min_length=1)]
    occurrences: Annotated[int, Field(ge=1, le=9007199254740991)]
    firedAt: Annotated[str, Field(max_length=40, min_length=20)]
    at: Annotated[str, Field(max_length=40, min_length=20)]


class WorkerCancelRequest(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    graceSeconds: Annotated[float | None, Field(ge=0.0, le=3600.0)] = None


class WorkerCancelReply1(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    ok: Literal[True]
    state: Literal['stopping', 'finished', 'not_started']


class WorkerCancelReply2(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    ok: Literal[False]
    error: str


class WorkerCancelReply(RootModel[WorkerCancelReply1 | WorkerCancelReply2]):
    root: WorkerCancelReply1 | WorkerCancelReply2


class AttemptCurrentRequest(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]


class AttemptCurrentReply(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    current: bool
    reason: Annotated[str, Field(max_length=1024)]


StateFilesAdditionalProperty = TypeAliasType(
    "StateFilesAdditionalProperty",
    Annotated[
        str, Field(max_length=128, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9._-]*$')
    ],
)


class Device(RootModel[str]):
    root: Annotated[str, Field(max_length=32)]


class Source(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    kind: Literal['pth', 'lightning']
    file: Annotated[str, Field(max_length=256, min_length=1)]
    sha256: Annotated[str, Field(pattern='^[0-9a-f]{64}$')]
    devices: Annotated[list[Device], Field(max_length=64)]


class Recipe(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    kind: Annotated[str, Field(max_length=64, min_length=1)]
    version: Annotated[str, Field(max_length=32, min_length=1)]
    preset: Annotated[str | None, Field(max_length=64)] = None


ProvenanceAdditionalProperty = TypeAliasType(
    "ProvenanceAdditionalProperty", Annotated[str, Field(max_length=512)]
)


class CheckpointMeta(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    format: Literal['hounsfield.checkpoint']
    formatVersion: Annotated[int, Field(ge=1, le=9007199254740991)]
    jobId: Annotated[
        str | None,
        Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$'),
    ] = None
    attempt: Annotated[int | None, Field(ge=1, le=9007199254740991)] = None
    step: Annotated[int, Field(ge=0, le=9007199254740991)]
    epoch: Annotated[float | None, Field(ge=0.0)] = None
    worldSize: Annotated[int, Field(ge=1, le=9007199254740991)]
    resolved: ResolvedHyperparameters | None = None
    globalSampleIndex: Annotated[int | None, Field(ge=0, le=9007199254740991)] = None
    metrics: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=128)],
        float | Literal['NaN', 'Infinity', '-Infinity'],
    ]
    configHash: Annotated[str | None, Field(pattern='^[0-9a-f]{64}$')] = None
    stateFiles: dict[
        Annotated[
            str,
            StringConstraints(
                pattern=r'^[A-Za-z0-9][A-Za-z0-9_-]*$', min_length=1, max_length=64
            ),
        ],
        StateFilesAdditionalProperty,
    ]
    createdAt: Annotated[str, Field(max_length=40, min_length=20)]
    torchVersion: Annotated[str | None, Field(max_length=64)] = None
    source: Source | None = None
    recipe: Recipe | None = None
    provenance: (
        dict[
            Annotated[str, StringConstraints(min_length=1, max_length=64)],
            ProvenanceAdditionalProperty,
        ]
        | None
    ) = None


class Part(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    size: Annotated[int, Field(ge=0, le=9007199254740991)]


class CheckpointFile(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    name: Annotated[
        str, Field(max_length=128, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9._-]*$')
    ]
    size: Annotated[int, Field(ge=0, le=9007199254740991)]
    sha256: Annotated[str, Field(pattern='^[0-9a-f]{64}$')]
    parts: Annotated[list[Part], Field(max_length=100000, min_length=1)]


class CheckpointManifest(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    files: Annotated[list[CheckpointFile], Field(max_length=256, min_length=1)]


class AccessGrant1(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    kind: Literal['url']
    url: AnyUrl
    method: Literal['GET', 'PUT']
    expiresAt: Annotated[str, Field(max_length=40, min_length=20)]


class AccessGrant2(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    kind: Literal['path']
    path: Annotated[str, Field(max_length=4096, min_length=1)]


class AccessGrant(RootModel[AccessGrant1 | AccessGrant2]):
    root: AccessGrant1 | AccessGrant2


class Evaluation1(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    state: Literal['awaiting', 'skipped', 'running', 'succeeded', 'failed']
    evaluationId: Annotated[
        str | None,
        Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$'),
    ] = None
    metrics: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=128)], float
    ] = {}
    reason: Annotated[str | None, Field(max_length=2000)] = None
    at: Annotated[str, Field(max_length=40, min_length=20)]


class CheckpointRecord(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    id: Annotated[str, Field(pattern='^ck-[0-9a-f]{24}$')]
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    owner: Annotated[
        str | None,
        Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_.-]*$'),
    ] = None
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    step: Annotated[int, Field(ge=0, le=9007199254740991)]
    epoch: Annotated[float | None, Field(ge=0.0)] = None
    committedAt: Annotated[str, Field(max_length=40, min_length=20)]
    totalSize: Annotated[int, Field(ge=0, le=9007199254740991)]
    files: Annotated[list[CheckpointFile], Field(min_length=1)]
    meta: CheckpointMeta
    evaluation: Evaluation1 | None = None


class CheckpointEvent(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    type: Literal['checkpoint']
    action: Literal['committed', 'deleted']
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    step: Annotated[int, Field(ge=0, le=9007199254740991)]
    checkpointId: Annotated[str, Field(pattern='^ck-[0-9a-f]{24}$')]
    totalSize: Annotated[int, Field(ge=0, le=9007199254740991)]
    metrics: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=128)],
        float | Literal['NaN', 'Infinity', '-Infinity'],
    ]
    at: Annotated[str, Field(max_length=40, min_length=20)]


class File(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    name: Annotated[
        str, Field(max_length=128, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9._-]*$')
    ]
    size: Annotated[int, Field(ge=0, le=9007199254740991)]


class CheckpointUploadRequest(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    step: Annotated[int, Field(ge=0, le=9007199254740991)]
    files: Annotated[list[File], Field(max_length=256, min_length=1)]


class File1(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    name: Annotated[
        str, Field(max_length=128, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9._-]*$')
    ]
    size: Annotated[int, Field(ge=0, le=9007199254740991)]
    parts: Annotated[int, Field(ge=1, le=9007199254740991)]


class CheckpointUploadSession(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    uploadId: Annotated[str, Field(pattern='^ck-[0-9a-f]{24}$')]
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    step: Annotated[int, Field(ge=0, le=9007199254740991)]
    partSize: Annotated[int, Field(ge=1, le=9007199254740991)]
    expiresAt: Annotated[str, Field(max_length=40, min_length=20)]
    files: list[File1]


class CheckpointPartRequest(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    id: Annotated[str, Field(pattern='^ck-[0-9a-f]{24}$')]
    file: Annotated[
        str, Field(max_length=128, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9._-]*$')
    ]
    part: Annotated[int, Field(ge=0, le=9007199254740991)]


class CheckpointPartUploaded(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    uploadId: Annotated[str, Field(pattern='^ck-[0-9a-f]{24}$')]
    file: Annotated[
        str, Field(max_length=128, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9._-]*$')
    ]
    part: Annotated[int, Field(ge=0, le=9007199254740991)]
    size: Annotated[int, Field(ge=0, le=9007199254740991)]


class CheckpointPartVerified(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    file: Annotated[
        str, Field(max_length=128, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9._-]*$')
    ]
    part: Annotated[int, Field(ge=0, le=9007199254740991)]
    verified: Literal[True]


class Retention(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    keepLast: Annotated[int, Field(ge=1, le=1000)] = 3
    keepBest: KeepBest | None = None
    keepEvery: Annotated[int | None, Field(ge=1, le=9007199254740991)] = None


class CheckpointCommitRequest(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    uploadId: Annotated[str, Field(pattern='^ck-[0-9a-f]{24}$')]
    manifest: CheckpointManifest
    retention: Retention


class Ref(RootModel[str]):
    root: Annotated[
        str,
        Field(
            pattern='^(latest|best:[A-Za-z0-9_./-]{1,128}:(min|max)|\\d{1,15}|ck-[0-9a-f]{24})$'
        ),
    ]


class CheckpointResolveRequest(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    jobId: Annotated[
        str | None,
        Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$'),
    ] = None
    ref: Ref | str
    pinSeconds: Annotated[int | None, Field(ge=1, le=604800)] = None


class CheckpointImport1(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    importId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    fileName: Annotated[str, Field(max_length=256, min_length=1)]
    format: Literal['auto', 'pth', 'lightning']


class CheckpointImportSourceRequest(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    importId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]


class CheckpointEvaluationUpdate(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    checkpointId: Annotated[str, Field(pattern='^ck-[0-9a-f]{24}$')]
    state: Literal['skipped', 'running', 'succeeded', 'failed']
    evaluationId: Annotated[
        str | None,
        Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$'),
    ] = None
    metrics: (
        dict[Annotated[str, StringConstraints(min_length=1, max_length=128)], float]
        | None
    ) = None
    reason: Annotated[str | None, Field(max_length=2000)] = None


class CodeReference(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    digest: Annotated[str, Field(pattern='^sha256:[0-9a-f]{64}$')]
    gitCommit: Annotated[str | None, Field(pattern='^[0-9a-f]{7,64}$')] = None
    dirty: bool | None = None


class Requirement(RootModel[str]):
    root: Annotated[str, Field(max_length=512, min_length=1, pattern='^[^\\r\\n]+$')]


class JobEnvironment(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    requirements: Annotated[
        list[Requirement], Field(max_length=256, validate_default=True)
    ] = []


class JobEnvironmentStatus(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    state: Literal['building', 'ready']
    workerId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    key: Annotated[str | None, Field(pattern='^[0-9a-f]{8,64}$')] = None
    cached: bool | None = None
    requestedAt: Annotated[str, Field(max_length=40, min_length=20)]
    readyAt: Annotated[str | None, Field(max_length=40, min_length=20)] = None
    buildId: Annotated[str, Field(max_length=128, min_length=1)]


class EnvironmentEvent(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    type: Literal['environment']
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    workerId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    buildId: Annotated[str, Field(max_length=128, min_length=1)]
    outcome: Literal['ready', 'failed', 'cancelled']
    key: Annotated[str | None, Field(pattern='^[0-9a-f]{8,64}$')] = None
    cached: bool | None = None
    reason: Annotated[str | None, Field(max_length=4096)] = None
    failureKind: Literal['environment', 'infrastructure', 'preflight'] | None = None
    at: Annotated[str, Field(max_length=40, min_length=20)]


class CodeSourceRequest(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    digest: Annotated[str, Field(pattern='^sha256:[0-9a-f]{64}$')]


class PatchItem(RootModel[int]):
    root: Annotated[int, Field(ge=1, le=4096)]


class StrideItem(RootModel[int]):
    root: Annotated[int, Field(ge=1, le=4096)]


class Case(RootModel[str]):
    root: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]


class PreparedVolumesDataset(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    root: Annotated[str, Field(max_length=1024, min_length=1)]
    split: Literal['train', 'val', 'test'] = 'test'
    cases: Annotated[list[Case] | None, Field(max_length=10000, min_length=1)] = None
    maxCases: Annotated[int | None, Field(ge=1, le=100000)] = None


class TiffSpacingItem(RootModel[float]):
    root: Annotated[float, Field(gt=0.0)]


class TopoUnetDataset(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    root: Annotated[str, Field(max_length=1024, min_length=1)]
    split: Literal['validation', 'all'] = 'validation'
    cases: Annotated[list[Case] | None, Field(max_length=10000, min_length=1)] = None
    maxCases: Annotated[int | None, Field(ge=1, le=100000)] = None
    tiffSpacing: Annotated[
        tuple[TiffSpacingItem, TiffSpacingItem, TiffSpacingItem],
        Field(validate_default=True),
    ] = [1, 1, 1]


class Diffusion(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    checkpointId: Annotated[str, Field(pattern='^ck-[0-9a-f]{24}$')]
    step: Annotated[int, Field(ge=0, le=9007199254740991)]
    config: dict[str, Any]


class Voxelization(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    checkpointId: Annotated[str, Field(pattern='^ck-[0-9a-f]{24}$')]
    step: Annotated[int, Field(ge=0, le=9007199254740991)]
    config: dict[str, Any]


class PcdiffEvaluationModels(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    diffusion: Diffusion
    voxelization: Voxelization


class Model(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    checkpointId: Annotated[str, Field(pattern='^ck-[0-9a-f]{24}$')]
    step: Annotated[int, Field(ge=0, le=9007199254740991)]
    config: dict[str, Any]


class VolumeEvaluationModels(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    model: Model


class EvaluationCheckpoint(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    job: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    ref: Annotated[
        str,
        Field(
            pattern='^(latest|best:[A-Za-z0-9_./-]{1,128}:(min|max)|\\d{1,15}|ck-[0-9a-f]{24})$'
        ),
    ] = 'latest'
    config: dict[str, Any] | None = None


class EvaluationDataset(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    root: Annotated[str, Field(max_length=1024, min_length=1)]
    splitCsv: Annotated[str | None, Field(max_length=1024, min_length=1)] = None
    split: Literal['train', 'val', 'test'] = 'test'
    cases: Annotated[list[Case] | None, Field(max_length=10000, min_length=1)] = None
    maxCases: Annotated[int | None, Field(ge=1, le=100000)] = None


class EvaluationSampler(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    method: Literal['ddpm', 'ddim'] = 'ddim'
    steps: Annotated[int, Field(ge=1, le=10000)] = 50
    eta: Annotated[float, Field(ge=0.0, le=10.0)] = 0
    tStart: Annotated[int | None, Field(ge=0, le=100000)] = None
    clipX0: Annotated[float, Field(ge=0.0, le=1000.0)] = 3


class EvaluationPostprocess(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    nearPoints: bool = True
    maxPointDistanceVox: Annotated[float, Field(ge=0.0, le=1000.0)] = 2
    opening: bool = True
    openingIterations: Annotated[int, Field(ge=1, le=100)] = 1
    largestComponent: bool = True
    median: bool = True
    medianSize: Annotated[int, Field(ge=1, le=99)] = 3
    closing: bool = True
    closingIterations: Annotated[int, Field(ge=1, le=100)] = 1
    fillHoles: bool = True


class EvaluationCase(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    evaluationId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    caseId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    defectClass: Annotated[str, Field(max_length=64, min_length=1)]
    index: Annotated[int, Field(ge=0, le=9007199254740991)]


class Artifact(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    name: Annotated[str, Field(max_length=128, min_length=1)]
    key: Annotated[str, Field(max_length=1024, min_length=1)]


class EvaluationCaseResult(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    evaluationId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    caseId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    defectClass: Annotated[str, Field(max_length=64, min_length=1)]
    metrics: dict[Annotated[str, StringConstraints(min_length=1, max_length=64)], float]
    fallback: bool = False
    seconds: Annotated[float, Field(ge=0.0)]
    shardJobId: Annotated[
        str | None,
        Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$'),
    ] = None
    artifacts: Annotated[
        list[Artifact], Field(max_length=16, validate_default=True)
    ] = []
    finishedAt: Annotated[str, Field(max_length=40, min_length=20)]


class EvaluationIdRequest(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    evaluationId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]


class Case3(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    caseId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    defectClass: Annotated[str, Field(max_length=64, min_length=1)]


class Options(RootModel[str]):
    root: Annotated[str, Field(max_length=256)]


class Options1(RootModel[list[float]]):
    root: Annotated[list[float], Field(max_length=8)]


class EvaluationPlanRequest(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    evaluationId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    cases: Annotated[list[Case3], Field(max_length=100000)]
    options: (
        dict[
            Annotated[str, StringConstraints(min_length=1, max_length=64)],
            Options | float | bool | Options1,
        ]
        | None
    ) = None
    problem: Annotated[str | None, Field(max_length=4096)] = None


class EvaluationPlanReply(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    total: Annotated[int, Field(ge=0, le=9007199254740991)]


class EvaluationArtifactRequest(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    evaluationId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    caseId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    file: Annotated[str, Field(pattern='^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$')]


class EvaluationResultReply(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    done: Annotated[int, Field(ge=0, le=9007199254740991)]
    total: Annotated[int, Field(ge=0, le=9007199254740991)]


class EvaluationPlannedEvent(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    evaluationId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    at: Annotated[str, Field(max_length=40, min_length=20)]
    type: Literal['evaluation_planned']
    name: str | None = None
    total: Annotated[int, Field(ge=1, le=9007199254740991)]
    shards: Annotated[int, Field(ge=1, le=9007199254740991)]


class EvaluationCaseEvent(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    evaluationId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    at: Annotated[str, Field(max_length=40, min_length=20)]
    type: Literal['evaluation_case']
    caseId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    defectClass: Annotated[str, Field(max_length=64, min_length=1)]
    metrics: dict[Annotated[str, StringConstraints(min_length=1, max_length=64)], float]
    fallback: bool
    seconds: Annotated[float, Field(ge=0.0)]
    done: Annotated[int, Field(ge=1, le=9007199254740991)]
    total: Annotated[int, Field(ge=1, le=9007199254740991)]


class EvaluationSucceededEvent(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    evaluationId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    at: Annotated[str, Field(max_length=40, min_length=20)]
    type: Literal['evaluation_succeeded']
    cases: Annotated[int, Field(ge=0, le=9007199254740991)]
    fallbacks: Annotated[int, Field(ge=0, le=9007199254740991)]
    means: dict[Annotated[str, StringConstraints(min_length=1, max_length=64)], float]
    seconds: Annotated[float, Field(ge=0.0)]


class EvaluationFailedEvent(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    evaluationId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    at: Annotated[str, Field(max_length=40, min_length=20)]
    type: Literal['evaluation_failed']
    reason: Annotated[str, Field(max_length=2048, min_length=1)]
    seconds: Annotated[float, Field(ge=0.0)]


class LogSource1(RootModel[int]):
    root: Annotated[int, Field(ge=0, le=9007199254740991)]


class LogLine(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    seq: Annotated[int, Field(ge=0, le=9007199254740991)]
    rank: LogSource1 | Literal['launcher', 'hounsfield']
    text: Annotated[str, Field(max_length=16384)]


class LogLinesMessage(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    type: Literal['lines']
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    lines: Annotated[list[LogLine], Field(max_length=10000, min_length=1)]


class LogEndMessage(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    type: Literal['end']
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    lines: Annotated[int, Field(ge=0, le=9007199254740991)]
    at: Annotated[str, Field(max_length=40, min_length=20)]


class LogSegmentGrantRequest(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    index: Annotated[int, Field(ge=0, le=999999)]


class LogSegmentCommit(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    index: Annotated[int, Field(ge=0, le=999999)]
    firstSeq: Annotated[int, Field(ge=0, le=9007199254740991)]
    lines: Annotated[int, Field(ge=0, le=9007199254740991)]
    bytes: Annotated[int, Field(ge=0, le=67108864)]
    closed: bool
    droppedBefore: Annotated[int, Field(ge=1, le=9007199254740991)]
    final: bool
    capturedAt: Annotated[str, Field(max_length=40, min_length=20)]
    maxBytes: Annotated[int, Field(ge=1, le=9007199254740991)]


class LogAttemptSummary(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    lines: Annotated[int, Field(ge=0, le=9007199254740991)]
    bytes: Annotated[int, Field(ge=0, le=9007199254740991)]
    complete: bool
    updatedAt: Annotated[str, Field(max_length=40, min_length=20)]


class LogReadRequest(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    attempt: Annotated[int | None, Field(ge=1, le=9007199254740991)] = None
    rank: LogSource1 | Literal['launcher', 'hounsfield'] | None = None
    tail: Annotated[int | None, Field(ge=0, le=1000000)] = None
    afterSeq: Annotated[int | None, Field(ge=-1, le=9007199254740991)] = None
    untilSeq: Annotated[int | None, Field(ge=-1, le=9007199254740991)] = None
    maxBytes: Annotated[int | None, Field(ge=1024, le=524288)] = None


class Attempt(RootModel[int]):
    root: Annotated[int, Field(ge=1, le=9007199254740991)]


class NextAfterSeq(RootModel[int]):
    root: Annotated[int, Field(ge=-1, le=9007199254740991)]


class CapturedAt(RootModel[str]):
    root: Annotated[str, Field(max_length=40, min_length=20)]


class LogReadReply(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    attempt: Attempt | None
    attempts: list[LogAttemptSummary]
    lines: list[LogLine]
    lastSeq: Annotated[int, Field(ge=-1, le=9007199254740991)]
    nextAfterSeq: NextAfterSeq | None
    complete: bool
    capturedAt: CapturedAt | None


class LogLineEvent(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    seq: Annotated[int, Field(ge=0, le=9007199254740991)]
    rank: LogSource1 | Literal['launcher', 'hounsfield']
    text: Annotated[str, Field(max_length=16384)]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]


class LogFollowEnd(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    attempt: Attempt | None
    reason: str


class Evaluation(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    everyCheckpoints: Annotated[int, Field(ge=1, le=100000)] = 1
    partner: EvaluationCheckpoint
    dataset: EvaluationDataset
    sampler: Annotated[EvaluationSampler, Field(validate_default=True)] = {
        'method': 'ddim',
        'steps': 50,
        'eta': 0,
        'clipX0': 3,
    }
    ensembleSize: Annotated[int, Field(ge=1, le=64)] = 5
    shards: Annotated[int, Field(ge=1, le=256)] = 1
    device: Literal['gpu', 'cpu'] = 'gpu'
    postprocess: Annotated[EvaluationPostprocess, Field(validate_default=True)] = {}
    weights: Literal['ema', 'raw'] = 'ema'
    seed: Annotated[int, Field(ge=0, le=2147483647)] = 0
    caseTimeoutSeconds: Annotated[int, Field(ge=2, le=86400)] = 300
    maxShardRestarts: Annotated[int, Field(ge=0, le=20)] = 1
    priority: Annotated[int, Field(ge=-100, le=100)] = 0


class TrainingJobSpec(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    name: Annotated[str, Field(max_length=128, min_length=1)]
    kind: Literal[
        'pcdiff', 'voxelization', 'vqgan3d', 'slice_interp', 'topo_unet', 'script'
    ]
    resources: Annotated[Resources, Field(validate_default=True)] = {
        'nodes': 1,
        'gpus': 0,
        'cpuProcesses': 1,
        'waitForCapacity': False,
    }
    hyperparameters: Hyperparameters
    data: Annotated[Data, Field(validate_default=True)] = {'paths': []}
    checkpoint: Annotated[Checkpoint, Field(validate_default=True)] = {'keepLast': 3}
    monitoring: Annotated[Monitoring, Field(validate_default=True)] = {
        'failOnNonFiniteLoss': False
    }
    priority: Annotated[int, Field(ge=-100, le=100)] = 0
    maxRestarts: Annotated[int, Field(ge=0, le=20)] = 0
    script: Script | None = None
    code: CodeReference | None = None
    environment: JobEnvironment | None = None
    evaluation: Evaluation | None = None
    config: dict[str, Any] = {}
    env: dict[
        Annotated[str, StringConstraints(pattern=r'^[A-Za-z_][A-Za-z0-9_]*$')],
        EnvAdditionalProperty,
    ] = {}


class Checkpoints(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    diffusion: EvaluationCheckpoint
    voxelization: EvaluationCheckpoint


class PcdiffEvaluationSpec(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    kind: Literal['pcdiff'] = 'pcdiff'
    name: Annotated[str | None, Field(max_length=128, min_length=1)] = None
    shards: Annotated[int, Field(ge=1, le=256)] = 1
    device: Literal['gpu', 'cpu'] = 'gpu'
    seed: Annotated[int, Field(ge=0, le=2147483647)] = 0
    caseTimeoutSeconds: Annotated[int, Field(ge=2, le=86400)] = 300
    maxShardRestarts: Annotated[int, Field(ge=0, le=20)] = 1
    priority: Annotated[int, Field(ge=-100, le=100)] = 0
    checkpoints: Checkpoints
    dataset: EvaluationDataset
    sampler: Annotated[EvaluationSampler, Field(validate_default=True)] = {
        'method': 'ddim',
        'steps': 50,
        'eta': 0,
        'clipX0': 3,
    }
    ensembleSize: Annotated[int, Field(ge=1, le=64)] = 5
    postprocess: Annotated[EvaluationPostprocess, Field(validate_default=True)] = {}
    weights: Literal['ema', 'raw'] = 'ema'


class Checkpoints1(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    model: EvaluationCheckpoint


class Vqgan3dEvaluationSpec(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    kind: Literal['vqgan3d']
    name: Annotated[str | None, Field(max_length=128, min_length=1)] = None
    shards: Annotated[int, Field(ge=1, le=256)] = 1
    device: Literal['gpu', 'cpu'] = 'gpu'
    seed: Annotated[int, Field(ge=0, le=2147483647)] = 0
    caseTimeoutSeconds: Annotated[int, Field(ge=2, le=86400)] = 300
    maxShardRestarts: Annotated[int, Field(ge=0, le=20)] = 1
    priority: Annotated[int, Field(ge=-100, le=100)] = 0
    checkpoints: Checkpoints1
    dataset: PreparedVolumesDataset
    patch: tuple[PatchItem, PatchItem, PatchItem] | None = None
    stride: tuple[StrideItem, StrideItem, StrideItem] | None = None
    blend: Literal['gaussian', 'constant', 'tent'] | None = None
    patchesInFlight: Annotated[int | None, Field(ge=1, le=4096)] = None


class TopoUnetEvaluationSpec(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    kind: Literal['topo_unet']
    name: Annotated[str | None, Field(max_length=128, min_length=1)] = None
    shards: Annotated[int, Field(ge=1, le=256)] = 1
    device: Literal['gpu', 'cpu'] = 'gpu'
    seed: Annotated[int, Field(ge=0, le=2147483647)] = 0
    caseTimeoutSeconds: Annotated[int, Field(ge=2, le=86400)] = 300
    maxShardRestarts: Annotated[int, Field(ge=0, le=20)] = 1
    priority: Annotated[int, Field(ge=-100, le=100)] = 0
    checkpoints: Checkpoints1
    dataset: TopoUnetDataset
    threshold: Annotated[float | None, Field(gt=0.0, lt=1.0)] = None
    minComponentVoxels: Annotated[int | None, Field(ge=0, le=1000000000)] = None
    surfaceToleranceMm: Annotated[float, Field(gt=0.0, le=1000.0)] = 2


class SliceInterpEvaluationSpec(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    kind: Literal['slice_interp']
    name: Annotated[str | None, Field(max_length=128, min_length=1)] = None
    shards: Annotated[int, Field(ge=1, le=256)] = 1
    device: Literal['gpu', 'cpu'] = 'gpu'
    seed: Annotated[int, Field(ge=0, le=2147483647)] = 0
    caseTimeoutSeconds: Annotated[int, Field(ge=2, le=86400)] = 300
    maxShardRestarts: Annotated[int, Field(ge=0, le=20)] = 1
    priority: Annotated[int, Field(ge=-100, le=100)] = 0
    checkpoints: Checkpoints1
    dataset: PreparedVolumesDataset
    vaeWeights: Annotated[str | None, Field(max_length=1024, min_length=1)] = None
    ddimSteps: Annotated[int | None, Field(ge=1, le=1000)] = None


class Assignment(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    assignmentId: Annotated[str, Field(max_length=128, min_length=1)]
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    workerId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    spec: TrainingJobSpec | EvaluationShardJobSpec | CheckpointImportJobSpec
    gpuIndices: list[GpuIndice]
    cudaVisibleDevices: str
    nprocPerNode: Annotated[int, Field(ge=1, le=9007199254740991)]
    node: NodePlacement | None = None
    resolved: ResolvedHyperparameters | None = None
    resumeFrom: Annotated[str | None, Field(max_length=1024, min_length=1)] = None
    initFrom: Annotated[str | None, Field(max_length=1024, min_length=1)] = None
    phase: Literal['environment'] | None = None
    issuedAt: Annotated[str, Field(max_length=40, min_length=20)]


class TrainerContext(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    v: Literal[1]
    jobId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    workerId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    spec: TrainingJobSpec | EvaluationShardJobSpec | CheckpointImportJobSpec
    resolved: ResolvedHyperparameters | None = None
    paths: TrainerPaths


class JobRecord(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    id: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    owner: Annotated[
        str | None,
        Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_.-]*$'),
    ] = None
    spec: TrainingJobSpec | EvaluationShardJobSpec | CheckpointImportJobSpec
    state: Literal[
        'queued',
        'assigned',
        'starting',
        'running',
        'succeeded',
        'failed',
        'cancelled',
        'preempted',
    ]
    attempt: Annotated[int, Field(ge=1, le=9007199254740991)]
    restarts: Annotated[int, Field(ge=0, le=9007199254740991)]
    createdAt: Annotated[str, Field(max_length=40, min_length=20)]
    updatedAt: Annotated[str, Field(max_length=40, min_length=20)]
    startedAt: Annotated[str | None, Field(max_length=40, min_length=20)] = None
    finishedAt: Annotated[str | None, Field(max_length=40, min_length=20)] = None
    workerId: Annotated[
        str | None,
        Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$'),
    ] = None
    gpuIndices: list[GpuIndice] | None = None
    cudaVisibleDevices: str | None = None
    nodes: list[JobNode] | None = None
    rendezvous: JobRendezvous | None = None
    resolved: ResolvedHyperparameters | None = None
    runtime: RuntimeInfo | None = None
    lastProgress: ProgressEvent | None = None
    exitCode: Annotated[
        int | None, Field(ge=-9007199254740991, le=9007199254740991)
    ] = None
    reason: Annotated[str | None, Field(max_length=4096)] = None
    logTail: list[str] | None = None
    environment: JobEnvironmentStatus | None = None
    environmentBuildFailures: Annotated[
        int | None, Field(ge=0, le=9007199254740991)
    ] = None
    pendingReason: str | None = None
    queuePosition: Annotated[int | None, Field(ge=1, le=9007199254740991)] = None
    history: list[HistoryItem]
    attempts: list[AttemptSummary] | None = None
    perDeviceBatchCap: Annotated[int | None, Field(ge=1, le=9007199254740991)] = None
    cancelRequested: bool | None = None
    stopAs: Literal['cancelled', 'failed'] | None = None
    stopReason: Annotated[str | None, Field(max_length=4096)] = None
    notices: list[JobNoticeEvent] | None = None
    alerts: list[AlertEvent] | None = None


class EvaluationShardContext(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    evaluationId: Annotated[
        str, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9][A-Za-z0-9_-]*$')
    ]
    spec: (
        PcdiffEvaluationSpec
        | Vqgan3dEvaluationSpec
        | TopoUnetEvaluationSpec
        | SliceInterpEvaluationSpec
    )
    models: PcdiffEvaluationModels | VolumeEvaluationModels
    stream: str
    consumer: str
    planned: bool
    complete: bool
