import {
  AckPolicy,
  ConsumerConfig,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  JetStreamManager,
  RetentionPolicy,
  StorageType,
  StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { CONSUMERS, STREAMS, SUBJECTS } from '@hounsfield/contracts';

const DAY_NS = nanos(24 * 60 * 60 * 1000);
const MiB = 1024 * 1024;

/**
 * Every stream the platform uses, defined in this one place. The duplicate window bounds how long
 * a message id de-duplicates a re-publish (the outbox reconciler retries well within it).
 */
export const STREAM_CONFIGS: Record<keyof typeof STREAMS, Partial<StreamConfig> & { name: string; subjects: string[] }> = {
  assign: {
    name: STREAMS.assign,
    subjects: [SUBJECTS.assignAll],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(10 * 60 * 1000),
    max_age: 7 * DAY_NS,
  },
  events: {
    name: STREAMS.events,
    subjects: [SUBJECTS.eventsAll],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(10 * 60 * 1000),
    max_age: 14 * DAY_NS,
    max_msgs_per_subject: 200_000,
  },
  eval: {
    name: STREAMS.eval,
    subjects: [SUBJECTS.evalAll],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(10 * 60 * 1000),
    max_age: 30 * DAY_NS,
  },
  /**
   * Live log lines only: followers read the stored log first and need the stream to cover what
   * was not stored yet (stores happen every few seconds), so an hour and a size cap are plenty.
   */
  logs: {
    name: STREAMS.logs,
    subjects: [SUBJECTS.logsAll],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(2 * 60 * 1000),
    max_age: nanos(60 * 60 * 1000),
    max_bytes: 512 * MiB,
    max_msg_size: MiB,
  },
};

/** The per-worker durable pull consumer on the assignment work queue. */
export function workerConsumerConfig(workerId: string): Partial<ConsumerConfig> {
  return {
    durable_name: CONSUMERS.worker(workerId),
    filter_subject: SUBJECTS.assign(workerId),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(60_000),
    max_deliver: -1,
  };
}

/** A service's durable consumer on the events stream. */
export function eventsConsumerConfig(durable: string, filterSubjects: string[]): Partial<ConsumerConfig> {
  return {
    durable_name: durable,
    filter_subjects: filterSubjects,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(30_000),
    max_deliver: 20,
  };
}

function isNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && (error.code === 404 || /not found/i.test(error.message));
}

/** Every stream's configuration with `replicas` copies kept by a NATS cluster. */
export function streamConfigs(replicas = 1): (Partial<StreamConfig> & { name: string; subjects: string[] })[] {
  return Object.values(STREAM_CONFIGS).map((config) => ({ ...config, num_replicas: replicas }));
}

/**
 * Creates or updates every stream; safe to call from every service at boot. An update also moves
 * an existing stream to `replicas` copies (a single server to a cluster).
 */
export async function provisionStreams(jsm: JetStreamManager, replicas = 1): Promise<void> {
  for (const config of streamConfigs(replicas)) {
    try {
      await jsm.streams.info(config.name);
      await jsm.streams.update(config.name, config);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await jsm.streams.add(config);
    }
  }
}

/** Creates a durable consumer if it does not exist (its config is fixed here, so no update). */
export async function ensureConsumer(jsm: JetStreamManager, stream: string, config: Partial<ConsumerConfig>): Promise<void> {
  const name = config.durable_name;
  if (!name) throw new Error('a durable consumer needs durable_name');
  try {
    await jsm.consumers.info(stream, name);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await jsm.consumers.add(stream, config);
  }
}

export function ensureWorkerConsumer(jsm: JetStreamManager, workerId: string): Promise<void> {
  return ensureConsumer(jsm, STREAMS.assign, workerConsumerConfig(workerId));
}

/**
 * The shards' shared durable pull consumer on one evaluation's cases. A case a shard stops
 * reporting on (`in_progress()`) for `ackWaitMs` goes to another shard; it is never dropped.
 */
export function evaluationConsumerConfig(evaluationId: string, ackWaitMs: number): Partial<ConsumerConfig> {
  return {
    durable_name: CONSUMERS.evaluation(evaluationId),
    filter_subject: SUBJECTS.evalCases(evaluationId),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ackWaitMs),
    max_deliver: -1,
    max_ack_pending: 1000,
  };
}
