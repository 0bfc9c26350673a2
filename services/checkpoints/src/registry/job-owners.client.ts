import { Inject, Injectable, Logger } from '@nestjs/common';
import { SERVICE_RPCS } from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';

/** The job's current attempt as the scheduler sees it (fencing of commits from superseded attempts). */
export interface JobAttempt {
  attempt: number;
  state: string;
}

/** Whose a job is, asked of the scheduler when a checkpoint is committed (the record keeps it). */
@Injectable()
export class JobOwnersClient {
  private readonly logger = new Logger(JobOwnersClient.name);

  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  /** The owner, or undefined for a job without one or when the scheduler cannot say (then only admins and viewers read it). */
  async ownerOf(jobId: string): Promise<string | undefined> {
    try {
      return (await requestRpc(this.nats.nc, SERVICE_RPCS.getJob, { id: jobId }, 5000)).owner;
    } catch (error) {
      this.logger.warn(`owner of job ${jobId} unknown (${error instanceof Error ? error.message : String(error)}); its checkpoint is recorded without one`);
      return undefined;
    }
  }

  /**
   * The job's current attempt, or undefined when the scheduler does not answer (a commit is then
   * not fenced: refusing every commit while the scheduler restarts would lose more than it saves).
   */
  async currentAttempt(jobId: string): Promise<JobAttempt | undefined> {
    try {
      const job = await requestRpc(this.nats.nc, SERVICE_RPCS.getJob, { id: jobId }, 5000);
      return { attempt: job.attempt, state: job.state };
    } catch (error) {
      this.logger.warn(`current attempt of job ${jobId} unknown (${error instanceof Error ? error.message : String(error)}); the commit is not fenced`);
      return undefined;
    }
  }
}
