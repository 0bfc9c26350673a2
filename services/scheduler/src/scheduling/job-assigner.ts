import { Injectable, Logger } from '@nestjs/common';
import { Assignment, isTrainingSpec, JobNode, JobRecord, SCHEMA_VERSION, SUBJECTS } from '@hounsfield/contracts';
import { resolveHyperparameters } from '../jobs/batch-resolution';
import { JobCommands } from '../jobs/job-commands.service';
import { JobRepository, OutboxEntry } from '../jobs/job.repository';
import { nowIso, startAttempt, stateEventEntry, transition } from '../jobs/job-transitions';
import { leaseToken } from '../workers/worker.model';
import { environmentPhaseWork, PlacementResult } from './placement';
import { ResumePointService } from './resume-point.service';

/** A placement that succeeded. */
export type PlacedResult = Extract<PlacementResult, { placed: true }>;

/**
 * Commits one placement decision: the attempt's batch split resolved for its world size, its
 * resume and initial-weights points found, the job moved to `assigned` with its GPU lease and the
 * assignment message in one guarded Redis transaction (a decision that lost a race is refused and
 * the job waits for the next pass).
 */
@Injectable()
export class JobAssigner {
  private readonly logger = new Logger(JobAssigner.name);

  constructor(
    private readonly jobs: JobRepository,
    private readonly commands: JobCommands,
    private readonly resumePoints: ResumePointService,
  ) {}

  /**
   * Places a GPU job's environment build on a worker (its environment phase): the job stays
   * `queued`, leaves the queue and occupies one CPU slot there (no GPU lease), and the worker gets
   * an assignment with `phase: environment`. Its `environment` event brings the job back to the
   * GPU queue, or ends it (WorkerEvents.onEnvironment).
   */
  async assignEnvironment(job: JobRecord, workerId: string): Promise<boolean> {
    const at = nowIso();
    const buildId = `${job.id}:${job.attempt}:env:${Date.now().toString(36)}`;
    const order: Assignment = {
      v: SCHEMA_VERSION,
      assignmentId: buildId,
      jobId: job.id,
      attempt: job.attempt,
      workerId,
      spec: job.spec,
      gpuIndices: [],
      cudaVisibleDevices: '',
      nprocPerNode: 1,
      phase: 'environment',
      issuedAt: at,
    };
    const next: JobRecord = { ...job, environment: { state: 'building', workerId, requestedAt: at, buildId }, updatedAt: at };
    const result = await this.jobs.commit(next, {
      expectedAttempt: job.attempt,
      allowedStates: ['queued'],
      active: true,
      outbox: [{ msgId: buildId, subject: SUBJECTS.assign(workerId), payload: order }],
    });
    if (result !== 'ok') {
      this.logger.warn(`job ${job.id}: environment build on ${workerId} not applied (${result})`);
      return false;
    }
    this.logger.log(`job ${job.id}#${job.attempt}: ${environmentPhaseWork(job.spec).doing} on ${workerId} (one CPU slot, no GPU lease)`);
    return true;
  }

  /**
   * Places an attempt: on one worker, or for a multi-node job on all its nodes at once (every
   * node's GPUs leased in the same commit, one assignment per node, node 0 hosting the rendezvous).
   */
  async assign(job: JobRecord, placement: PlacedResult): Promise<boolean> {
    const { workerId, gpuIndices } = placement;
    const nodes = placement.nodes ?? [{ workerId, gpuIndices }];
    const perNode = gpuIndices.length > 0 ? gpuIndices.length : job.spec.resources.cpuProcesses;
    const worldSize = perNode * nodes.length;
    // Internal tasks train nothing: no batch or learning rate to resolve.
    const resolved = isTrainingSpec(job.spec) ? resolveHyperparameters(job.spec, worldSize, job.perDeviceBatchCap) : undefined;
    const cudaVisibleDevices = gpuIndices.join(',');
    const resume = await this.resumePoints.resumePoint(job);
    const init = await this.resumePoints.initPoint(job, resume);
    for (const point of [resume, init]) {
      if (point.kind === 'wait') {
        this.logger.warn(`job ${job.id}: not assigned yet: ${point.reason}`);
        return false;
      }
      if (point.kind === 'fail') {
        await this.commands.fail(job.id, point.reason, 0).catch((error: unknown) => this.logger.warn(`job ${job.id}: ${String(error)}`));
        return false;
      }
    }
    const multiNode = placement.nodes !== undefined && placement.rendezvous !== undefined;
    const rendezvous = multiNode && placement.rendezvous ? { ...placement.rendezvous, id: `${job.id}-${job.attempt}` } : undefined;
    const jobNodes: JobNode[] | undefined = multiNode
      ? nodes.map((node, rank) => ({
          nodeRank: rank,
          workerId: node.workerId,
          gpuIndices: node.gpuIndices,
          cudaVisibleDevices: node.gpuIndices.join(','),
          ranks: Array.from({ length: perNode }, (_, local) => rank * perNode + local),
        }))
      : undefined;
    const orders: OutboxEntry[] = nodes.map((node, rank) => {
      const assignment: Assignment = {
        v: SCHEMA_VERSION,
        // Node 0 keeps the one-node id, so its agent and the outbox treat it as before.
        assignmentId: rank === 0 ? `${job.id}:${job.attempt}` : `${job.id}:${job.attempt}:node-${rank}`,
        jobId: job.id,
        attempt: job.attempt,
        workerId: node.workerId,
        spec: job.spec,
        gpuIndices: node.gpuIndices,
        cudaVisibleDevices: node.gpuIndices.join(','),
        nprocPerNode: perNode,
        ...(rendezvous ? { node: { nodeRank: rank, nnodes: nodes.length, rdzvHost: rendezvous.host, rdzvPort: rendezvous.port, rdzvId: rendezvous.id } } : {}),
        ...(resolved ? { resolved } : {}),
        ...(resume.kind === 'resume' ? { resumeFrom: resume.checkpoint.id } : {}),
        ...(init.kind === 'resume' ? { initFrom: init.checkpoint.id } : {}),
        issuedAt: nowIso(),
      };
      return { msgId: assignment.assignmentId, subject: SUBJECTS.assign(node.workerId), payload: assignment };
    });
    const resumeNote =
      resume.kind === 'resume'
        ? `; resumes from checkpoint ${resume.checkpoint.id} (step ${resume.checkpoint.step})`
        : init.kind === 'resume'
          ? `; initial weights from checkpoint ${init.checkpoint.id}`
          : resume.kind === 'fresh' && resume.note
            ? `; ${resume.note}`
            : '';
    const split = resolved ? ` (${resolved.perDeviceBatch} per device × ${resolved.gradAccumSteps} accumulation × ${worldSize})` : '';
    const devices = (ids: number[]) => (ids.length ? `GPUs ${ids.join(',')}` : '(CPU)');
    const where = jobNodes && rendezvous
      ? `${jobNodes.length} nodes: ${jobNodes.map((n) => `node ${n.nodeRank} ${n.workerId} ${devices(n.gpuIndices)}`).join(', ')}; rendezvous ${rendezvous.host}:${rendezvous.port}`
      : `${workerId}${gpuIndices.length ? ` GPUs ${cudaVisibleDevices}` : ' (CPU)'}`;
    const next = startAttempt(
      transition(
        job,
        'assigned',
        { workerId, gpuIndices, cudaVisibleDevices, ...(jobNodes ? { nodes: jobNodes } : {}), ...(rendezvous ? { rendezvous } : {}), ...(resolved ? { resolved } : {}) },
        `placed on ${where}${split}${resumeNote}`,
      ),
      workerId,
      worldSize,
      resolved,
    );
    const leasing = nodes.some((node) => node.gpuIndices.length > 0);
    const result = await this.jobs.commit(next, {
      expectedAttempt: job.attempt,
      allowedStates: ['queued'],
      active: true,
      lease: leasing ? { op: 'claim', workerId, token: leaseToken(job.id, job.attempt), gpuIndices, ...(multiNode ? { nodes } : {}) } : undefined,
      outbox: [...orders, stateEventEntry(next, 'queued')],
    });
    if (result !== 'ok') {
      this.logger.warn(`job ${job.id}: assignment to ${nodes.map((n) => n.workerId).join(', ')} not applied (${result})`);
      return false;
    }
    this.logger.log(`job ${job.id}#${job.attempt} assigned to ${where}`);
    return true;
  }
}
