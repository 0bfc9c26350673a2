import { Inject, Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import { METRICS_CONFIG, MetricsConfig } from '../config';
import { REDIS } from '@hounsfield/runtime';

/** One `evaluation_case` message: which case, and its EVENTS stream sequence. */
export interface CaseSighting {
  evaluationId: string;
  caseId: string;
  seq: number;
}

/**
 * Which cases of each evaluation have been counted, kept in Redis so a restart (or the consumer
 * reading the stream again) counts nothing twice. The first message of a case claims it with its
 * stream sequence (`HSETNX`); a later message of the same case (a redelivered case the evaluation
 * service scored again) finds another sequence and is not counted, while the same message delivered
 * again after a failed batch finds its own and still counts (the batch changed nothing in memory).
 */
@Injectable()
export class EvaluationCasesRepository {
  private readonly prefix: string;
  private readonly ttlSeconds: number;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(METRICS_CONFIG) config: MetricsConfig,
  ) {
    this.prefix = `${config.HOUNSFIELD_REDIS_PREFIX}metrics:evaluations:`;
    this.ttlSeconds = Math.ceil(config.HOUNSFIELD_METRICS_RETENTION_SECONDS);
  }

  /** For each sighting, in one round trip: is this the message that counts its case? */
  async claim(sightings: CaseSighting[]): Promise<boolean[]> {
    if (sightings.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const { evaluationId, caseId, seq } of sightings) {
      const key = `${this.prefix}${evaluationId}:cases`;
      pipeline.hsetnx(key, caseId, String(seq));
      pipeline.expire(key, this.ttlSeconds);
      pipeline.hget(key, caseId);
    }
    const results = (await pipeline.exec()) ?? [];
    if (results.length !== 3 * sightings.length) throw new Error('Redis answered part of the case claims');
    for (const [error] of results) if (error) throw error;
    return sightings.map((sighting, i) => results[3 * i + 2][1] === String(sighting.seq));
  }
}
