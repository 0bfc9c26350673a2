import { Injectable } from '@nestjs/common';
import { WorkerHeartbeat } from '@hounsfield/contracts';

export interface WorkerSighting {
  heartbeat: WorkerHeartbeat;
  /** When this service received it (its own clock), for liveness. */
  receivedAtMs: number;
}

/** The latest heartbeat of every worker: GPU utilisation for the data-bound check, live attempts for stalls. */
@Injectable()
export class WorkerTelemetry {
  private readonly workers = new Map<string, WorkerSighting>();

  record(heartbeat: WorkerHeartbeat, receivedAtMs: number): void {
    const current = this.workers.get(heartbeat.workerId);
    // Heartbeats of one worker arrive in order; a redelivered older one must not win.
    if (current && Date.parse(current.heartbeat.at) > Date.parse(heartbeat.at)) return;
    this.workers.set(heartbeat.workerId, { heartbeat, receivedAtMs });
  }

  get(workerId: string): WorkerSighting | undefined {
    return this.workers.get(workerId);
  }

  /** The latest heartbeat of every live worker. */
  *heartbeats(): IterableIterator<WorkerHeartbeat> {
    for (const sighting of this.workers.values()) yield sighting.heartbeat;
  }

  /** Mean utilisation (percent) of the given GPUs of a worker, or undefined when it reports none of them. */
  meanUtilizationPercent(workerId: string, gpuIndices: number[]): number | undefined {
    const gpus = this.workers.get(workerId)?.heartbeat.gpus.filter((g) => gpuIndices.includes(g.index)) ?? [];
    if (gpus.length === 0) return undefined;
    return gpus.reduce((sum, g) => sum + g.utilizationPercent, 0) / gpus.length;
  }

  /** Forgets workers not heard from since `cutoffMs` and returns their ids. */
  expire(cutoffMs: number): string[] {
    const gone: string[] = [];
    for (const [workerId, sighting] of this.workers) {
      if (sighting.receivedAtMs < cutoffMs) {
        this.workers.delete(workerId);
        gone.push(workerId);
      }
    }
    return gone;
  }
}
