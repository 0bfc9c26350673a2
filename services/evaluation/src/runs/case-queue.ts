import { Inject, Injectable } from '@nestjs/common';
import { JetStreamApiError } from '@nats-io/jetstream';
import { CONSUMERS, EvaluationCase, evaluationCaseSchema, SCHEMA_VERSION, STREAMS, SUBJECTS } from '@hounsfield/contracts';
import { ensureConsumer, evaluationConsumerConfig, NatsClient, publishValidated } from '@hounsfield/messaging';
import { PlannedCase } from './evaluation.repository';

/** The EVAL work queue of one evaluation: its shards' shared consumer and one message per case. */
@Injectable()
export class CaseQueue {
  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  ensureConsumer(evaluationId: string, caseTimeoutSeconds: number): Promise<void> {
    return ensureConsumer(this.nats.jsm, STREAMS.eval, evaluationConsumerConfig(evaluationId, caseTimeoutSeconds * 1000));
  }

  /** Publishes each case with message id `<eval>:<case>`, so a re-publish within the window is dropped. */
  async publish(evaluationId: string, cases: PlannedCase[]): Promise<void> {
    for (const c of cases) {
      const message: EvaluationCase = { v: SCHEMA_VERSION, evaluationId, ...c };
      await publishValidated(this.nats.js, SUBJECTS.evalCases(evaluationId), evaluationCaseSchema, message, `${evaluationId}:${c.caseId}`);
    }
  }

  /** Cases waiting plus cases a shard holds; undefined when the consumer does not exist. */
  async outstanding(evaluationId: string): Promise<number | undefined> {
    try {
      const info = await this.nats.jsm.consumers.info(STREAMS.eval, CONSUMERS.evaluation(evaluationId));
      return info.num_pending + info.num_ack_pending;
    } catch (error) {
      if (error instanceof JetStreamApiError) return undefined;
      throw error;
    }
  }

  /** Drops the consumer and any message left (the evaluation is over). */
  async remove(evaluationId: string): Promise<void> {
    await this.nats.jsm.consumers.delete(STREAMS.eval, CONSUMERS.evaluation(evaluationId)).catch(() => undefined);
    await this.nats.jsm.streams.purge(STREAMS.eval, { filter: SUBJECTS.evalCases(evaluationId) }).catch(() => undefined);
  }
}
