/**
 * NATS subjects and JetStream names. Python reads the same values from the generated
 * `hounsfield.contracts.subjects` module, so change them here and regenerate.
 */
export const STREAMS = {
  /** Work queue of assignments, one durable pull consumer per worker. */
  assign: 'HF_ASSIGN',
  /** Lifecycle, progress, heartbeats and alerts; limits retention. */
  events: 'HF_EVENTS',
  /** Evaluation cases, one message per case (`<eval>:<case>`); one durable pull consumer per evaluation. */
  eval: 'HF_EVAL',
  /** Live lines of attempt logs (limits: an hour, a size cap); the object store holds the logs. */
  logs: 'HF_LOGS',
} as const;

export const SUBJECT_PREFIX = {
  assign: 'hf.assign',
  events: 'hf.events',
  rpc: 'hf.rpc',
  eval: 'hf.eval',
  logs: 'hf.logs',
} as const;

export const SUBJECTS = {
  assignAll: `${SUBJECT_PREFIX.assign}.>`,
  assign: (workerId: string) => `${SUBJECT_PREFIX.assign}.${workerId}`,
  eventsAll: `${SUBJECT_PREFIX.events}.>`,
  workerHeartbeat: (workerId: string) => `${SUBJECT_PREFIX.events}.worker.${workerId}.heartbeat`,
  workerHeartbeatAll: `${SUBJECT_PREFIX.events}.worker.*.heartbeat`,
  jobProgress: (jobId: string) => `${SUBJECT_PREFIX.events}.job.${jobId}.progress`,
  jobStatus: (jobId: string) => `${SUBJECT_PREFIX.events}.job.${jobId}.status`,
  jobState: (jobId: string) => `${SUBJECT_PREFIX.events}.job.${jobId}.state`,
  /** Notices about an attempt (warm-start key report, frozen weights, refused commits). */
  jobNotice: (jobId: string) => `${SUBJECT_PREFIX.events}.job.${jobId}.notice`,
  jobNoticeAll: `${SUBJECT_PREFIX.events}.job.*.notice`,
  /** How a job's environment build (its environment phase) ended (worker → scheduler). */
  jobEnvironment: (jobId: string) => `${SUBJECT_PREFIX.events}.job.${jobId}.environment`,
  jobEnvironmentAll: `${SUBJECT_PREFIX.events}.job.*.environment`,
  jobEvents: (jobId: string) => `${SUBJECT_PREFIX.events}.job.${jobId}.>`,
  jobStatusAll: `${SUBJECT_PREFIX.events}.job.*.status`,
  jobProgressAll: `${SUBJECT_PREFIX.events}.job.*.progress`,
  jobStateAll: `${SUBJECT_PREFIX.events}.job.*.state`,
  /** Training-health alerts (metrics service). */
  jobAlert: (jobId: string) => `${SUBJECT_PREFIX.events}.job.${jobId}.alert`,
  /**
   * Checkpoint committed/deleted events (checkpoints service). Deliberately outside `job.<id>.>`:
   * the job event stream and the scheduler's consumer only take the event types they know.
   */
  checkpointEvents: (jobId: string) => `${SUBJECT_PREFIX.events}.checkpoint.${jobId}`,
  checkpointEventsAll: `${SUBJECT_PREFIX.events}.checkpoint.*`,
  /**
   * An evaluation's planned/case/succeeded/failed events (evaluation service), on the EVENTS stream
   * (`hf.events.>`); outside `job.<id>.>` for the same reason as checkpoint events.
   */
  evaluationEvents: (evaluationId: string) => `${SUBJECT_PREFIX.events}.evaluation.${evaluationId}`,
  evalAll: `${SUBJECT_PREFIX.eval}.>`,
  /** The work queue of one evaluation's cases. */
  evalCases: (evaluationId: string) => `${SUBJECT_PREFIX.eval}.${evaluationId}.cases`,
  logsAll: `${SUBJECT_PREFIX.logs}.>`,
  /** One attempt's live log lines and its end (worker agent → gateway followers). */
  jobLogs: (jobId: string, attempt: number) => `${SUBJECT_PREFIX.logs}.${jobId}.${attempt}`,
  /** Every attempt's live log lines of a job. */
  jobLogsAll: (jobId: string) => `${SUBJECT_PREFIX.logs}.${jobId}.*`,
} as const;

/** Request/reply subjects; each service listens in a queue group named after itself. */
export const RPC = {
  submitJob: `${SUBJECT_PREFIX.rpc}.scheduler.jobs.submit`,
  getJob: `${SUBJECT_PREFIX.rpc}.scheduler.jobs.get`,
  listJobs: `${SUBJECT_PREFIX.rpc}.scheduler.jobs.list`,
  cancelJob: `${SUBJECT_PREFIX.rpc}.scheduler.jobs.cancel`,
  failJob: `${SUBJECT_PREFIX.rpc}.scheduler.jobs.fail`,
  listWorkers: `${SUBJECT_PREFIX.rpc}.scheduler.workers.list`,
  /** A job's stored metric series (metrics service). */
  jobMetrics: `${SUBJECT_PREFIX.rpc}.metrics.jobs.series`,
  /** A job's training-health alerts, latest event of each (metrics service). */
  jobAlerts: `${SUBJECT_PREFIX.rpc}.metrics.jobs.alerts`,
  /** Checkpoints service: read and import (workers upload through WORKER_RPC). */
  checkpointsResolve: `${SUBJECT_PREFIX.rpc}.checkpoints.resolve`,
  checkpointsList: `${SUBJECT_PREFIX.rpc}.checkpoints.list`,
  checkpointsDownloadPart: `${SUBJECT_PREFIX.rpc}.checkpoints.download.part`,
  checkpointsImportUpload: `${SUBJECT_PREFIX.rpc}.checkpoints.imports.upload`,
  checkpointsImportStart: `${SUBJECT_PREFIX.rpc}.checkpoints.imports.start`,
  /** Auto-evaluation verdicts on a checkpoint (evaluation service → checkpoints service). */
  checkpointsEvaluation: `${SUBJECT_PREFIX.rpc}.checkpoints.evaluation`,
  /** Attempt logs (checkpoints service): the gateway reads them; workers store them through WORKER_RPC. */
  logsRead: `${SUBJECT_PREFIX.rpc}.checkpoints.logs.read`,
  /** Uploaded project code, content-addressed (checkpoints service): the gateway stats and stores it. */
  codeStat: `${SUBJECT_PREFIX.rpc}.checkpoints.code.stat`,
  codeUpload: `${SUBJECT_PREFIX.rpc}.checkpoints.code.upload`,
  codeCommit: `${SUBJECT_PREFIX.rpc}.checkpoints.code.commit`,
  /** Evaluation service: create, read and report files (gateway); shards call WORKER_RPC. */
  evaluationsCreate: `${SUBJECT_PREFIX.rpc}.evaluation.create`,
  evaluationsGet: `${SUBJECT_PREFIX.rpc}.evaluation.get`,
  evaluationsList: `${SUBJECT_PREFIX.rpc}.evaluation.list`,
  /** A read grant for one stored file of a scored case (`preview.png`, `implant.nrrd`, `points.npy`). */
  evaluationsCaseFile: `${SUBJECT_PREFIX.rpc}.evaluation.cases.file`,
  /** A read grant for one report of a succeeded evaluation (the gateway streams it to the user). */
  evaluationsReport: `${SUBJECT_PREFIX.rpc}.evaluation.report`,
} as const;

/**
 * Requests a worker makes (the agent, or a built-in task it runs), each on a per-worker subject
 * `hf.rpc.w.<worker>.<call>` (`workerRpcSubject`). NATS lets a worker publish under its own id
 * only, so the service that answers knows which worker asks; services listen on
 * `hf.rpc.w.*.<call>`. The call's first token names the serving service. A new worker call is one
 * line here: the permissions (libs/messaging/src/nats-permissions.ts) follow from it.
 */
export const WORKER_RPC = {
  /** Checkpoints service: upload (begin, part grant, part verified, commit), read (resume, evaluation models). */
  checkpointsUploadBegin: 'checkpoints.uploads.begin',
  checkpointsUploadPart: 'checkpoints.uploads.part',
  checkpointsPartUploaded: 'checkpoints.uploads.part-uploaded',
  checkpointsCommit: 'checkpoints.uploads.commit',
  checkpointsResolve: 'checkpoints.resolve',
  checkpointsDownloadPart: 'checkpoints.download.part',
  /** A `checkpoint_import` task's read grant for the legacy file it converts. */
  checkpointsImportSource: 'checkpoints.imports.source',
  /** A read grant for the uploaded code of a job placed on the asking worker. */
  codeSource: 'checkpoints.code.source',
  /** Evaluation service: an `evaluation_shard` task's context, plan, artefact grants and results. */
  evaluationsShardContext: 'evaluation.shards.context',
  evaluationsPlan: 'evaluation.shards.plan',
  evaluationsArtifact: 'evaluation.shards.artifact',
  evaluationsResult: 'evaluation.shards.result',
  /** Attempt logs: where to store a segment (a grant), then make it readable (checkpoints service). */
  logsSegmentGrant: 'checkpoints.logs.grant',
  logsSegmentCommit: 'checkpoints.logs.commit',
  /** Scheduler: is this attempt still the job's current one on this worker (re-adoption after an agent restart)? */
  attemptCurrent: 'scheduler.attempts.current',
} as const;
export type WorkerRpcCall = (typeof WORKER_RPC)[keyof typeof WORKER_RPC];

export const WORKER_RPC_PREFIX = `${SUBJECT_PREFIX.rpc}.w`;
/** The subject worker `workerId` sends `call` on. */
export const workerRpcSubject = (workerId: string, call: WorkerRpcCall) => `${WORKER_RPC_PREFIX}.${workerId}.${call}`;
/** The subject a service listens on for `call` from every worker. */
export const workerRpcListenSubject = (call: WorkerRpcCall) => `${WORKER_RPC_PREFIX}.*.${call}`;

/** Core NATS request subject on which a worker accepts cancellation of one attempt. */
export const workerCancelSubject = (workerId: string) => `hf.worker.${workerId}.cancel`;

/** Durable consumer names. */
export const CONSUMERS = {
  worker: (workerId: string) => `worker-${workerId}`,
  scheduler: 'scheduler',
  metrics: 'metrics',
  /** The evaluation service's view of committed checkpoints (auto-evaluation). */
  autoEvaluation: 'evaluation-auto',
  /** The shards' shared pull consumer of one evaluation's cases. */
  evaluation: (evaluationId: string) => `eval-${evaluationId}`,
} as const;
