import { CONSUMERS, RPC, STREAMS, SUBJECT_PREFIX, SUBJECTS, WORKER_RPC_PREFIX, workerCancelSubject } from '@hounsfield/contracts';
import { inboxPrefixOf } from './nats-client';

/**
 * Who may publish and subscribe to what on NATS: the one place to change when a subject is added.
 *
 * - A new service RPC: add it to `RPC` (contracts) and its callers to `RPC_CALLERS` below (the
 *   compiler asks for the entry). The serving service's subscription follows from the subject.
 * - A new worker call: add it to `WORKER_RPC` (contracts); nothing here (workers publish under
 *   `hf.rpc.w.<own id>.>`, services listen on `hf.rpc.w.*.<service>.>`).
 * - A new event a service publishes: add its subject to `SERVICE_PUBLISHES`; one a worker publishes:
 *   to `workerPublishes`.
 *
 * Replies need no entry: every identity may answer a request it received (`allow_responses`) and
 * subscribes to its own inbox prefix only (`_INBOX.<user>.>`), so nobody reads another's replies.
 */
export const PLATFORM_SERVICES = ['gateway', 'scheduler', 'checkpoints', 'metrics', 'evaluation'] as const;
export type PlatformService = (typeof PLATFORM_SERVICES)[number];

/** The services that call each service RPC (`hf.rpc.<service>.…`, served by `<service>`). */
export const RPC_CALLERS: Record<keyof typeof RPC, readonly PlatformService[]> = {
  submitJob: ['gateway', 'checkpoints', 'evaluation'],
  getJob: ['gateway', 'checkpoints', 'evaluation', 'metrics'],
  listJobs: ['gateway', 'metrics'],
  cancelJob: ['gateway'],
  failJob: ['metrics'],
  listWorkers: ['gateway', 'metrics'],
  jobMetrics: ['gateway'],
  jobAlerts: ['gateway'],
  checkpointsResolve: ['gateway', 'scheduler', 'evaluation'],
  checkpointsList: ['gateway'],
  checkpointsDownloadPart: ['gateway'],
  checkpointsImportUpload: ['gateway'],
  checkpointsImportStart: ['gateway'],
  checkpointsEvaluation: ['evaluation'],
  logsRead: ['gateway'],
  codeStat: ['gateway'],
  codeUpload: ['gateway'],
  codeCommit: ['gateway'],
  evaluationsCreate: ['gateway'],
  evaluationsGet: ['gateway'],
  evaluationsList: ['gateway'],
  evaluationsCaseFile: ['gateway'],
  evaluationsReport: ['gateway'],
};

/** Events and work items each service publishes (JetStream or core NATS). */
export const SERVICE_PUBLISHES: Record<PlatformService, readonly string[]> = {
  gateway: [],
  scheduler: [SUBJECTS.assignAll, SUBJECTS.jobStateAll, workerCancelSubject('*')],
  // Job notices: a refused (fenced) checkpoint commit is shown on its job.
  checkpoints: [SUBJECTS.checkpointEventsAll, SUBJECTS.jobNoticeAll],
  metrics: [SUBJECTS.jobAlert('*')],
  evaluation: [SUBJECTS.evalAll, SUBJECTS.evaluationEvents('*')],
};

/**
 * What a worker publishes besides its calls: its heartbeats, status, progress, notices and environment builds of jobs
 * (a trainer's `report_event`, such as a warm start or a graceful stop), and the
 * live lines of attempt logs. Job subjects are keyed by job, not worker, so they are open to every
 * worker; the scheduler takes a status only from the worker the attempt was placed on.
 */
export function workerPublishes(workerId: string): string[] {
  return [SUBJECTS.workerHeartbeat(workerId), SUBJECTS.jobStatus('*'), SUBJECTS.jobProgress('*'), SUBJECTS.jobNotice('*'), SUBJECTS.jobEnvironment('*'), SUBJECTS.logsAll];
}

export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
}

/** NATS user names: services by name, workers as `worker-<id>`. */
export const serviceUser = (service: PlatformService) => service;
export const workerUser = (workerId: string) => `worker-${workerId}`;

function servingService(subject: string): string {
  return subject.split('.')[SUBJECT_PREFIX.rpc.split('.').length];
}

/**
 * A service: its RPCs and worker calls (subscribe), the RPCs it calls and what it publishes, and
 * the JetStream API (streams are provisioned by every service at boot; consumers are acked).
 */
export function servicePermissions(service: PlatformService): NatsPermissions {
  const calls = Object.entries(RPC_CALLERS)
    .filter(([, callers]) => callers.includes(service))
    .map(([name]) => RPC[name as keyof typeof RPC]);
  const serves = new Set(Object.values(RPC).map(servingService)).has(service);
  return {
    publish: [...calls, ...SERVICE_PUBLISHES[service], '$JS.API.>', '$JS.ACK.>'],
    subscribe: [
      `${inboxPrefixOf(serviceUser(service))}.>`,
      ...(serves ? [`${SUBJECT_PREFIX.rpc}.${service}.>`, `${WORKER_RPC_PREFIX}.*.${service}.>`] : []),
    ],
  };
}

/**
 * A worker: its own heartbeats, job events, calls on its own subjects, its own assignment
 * consumer, the evaluation case queues (any worker may run a shard), and its cancel subject.
 * Nothing else: not another worker's subjects, not assignments, not service RPCs.
 */
export function workerPermissions(workerId: string): NatsPermissions {
  const consumer = CONSUMERS.worker(workerId);
  // Every evaluation's consumer (a wildcard is a whole token: `eval-*` would be a literal name).
  const evalConsumers = '*';
  return {
    publish: [
      ...workerPublishes(workerId),
      `${WORKER_RPC_PREFIX}.${workerId}.>`,
      `$JS.API.CONSUMER.INFO.${STREAMS.assign}.${consumer}`,
      `$JS.API.CONSUMER.MSG.NEXT.${STREAMS.assign}.${consumer}`,
      `$JS.ACK.${STREAMS.assign}.${consumer}.>`,
      `$JS.API.CONSUMER.INFO.${STREAMS.eval}.${evalConsumers}`,
      `$JS.API.CONSUMER.MSG.NEXT.${STREAMS.eval}.${evalConsumers}`,
      `$JS.ACK.${STREAMS.eval}.${evalConsumers}.>`,
    ],
    subscribe: [`${inboxPrefixOf(workerUser(workerId))}.>`, workerCancelSubject(workerId)],
  };
}

export interface NatsUser {
  user: string;
  password: string;
  permissions: NatsPermissions;
}

/**
 * The `authorization` block of a nats-server configuration for these users: each may publish and
 * subscribe where its permissions allow, and answer requests it received (allow_responses).
 * Everything else is refused with a permissions violation.
 */
export function renderNatsAuthorization(users: NatsUser[]): string {
  const quote = (value: string) => JSON.stringify(value);
  const list = (subjects: string[]) => `[${subjects.map(quote).join(', ')}]`;
  const entries = users.map(
    (u) =>
      `    { user: ${quote(u.user)}, password: ${quote(u.password)}, permissions: { publish: { allow: ${list(u.permissions.publish)} }, subscribe: { allow: ${list(u.permissions.subscribe)} }, allow_responses: { max: 1, expires: "10m" } } }`,
  );
  return `authorization {\n  users: [\n${entries.join(',\n')}\n  ]\n}\n`;
}
