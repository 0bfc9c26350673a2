import { Inject, Injectable, Logger } from '@nestjs/common';
import { RPC, userNameSchema } from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';
import { z } from 'zod';

/** Only the field this service needs of the scheduler's job record. */
const jobOwnerSchema = z.object({ owner: userNameSchema.optional() }).loose();

/** Whose a job is, asked of the scheduler when a checkpoint is committed (the record keeps it). */
@Injectable()
export class JobOwnersClient {
  private readonly logger = new Logger(JobOwnersClient.name);

  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  /** The owner, or undefined for a job without one or when the scheduler cannot say (then only admins and viewers read it). */
  async ownerOf(jobId: string): Promise<string | undefined> {
    try {
      return (await requestRpc(this.nats.nc, RPC.getJob, { id: jobId }, jobOwnerSchema, 5000)).owner;
    } catch (error) {
      this.logger.warn(`owner of job ${jobId} unknown (${error instanceof Error ? error.message : String(error)}); its checkpoint is recorded without one`);
      return undefined;
    }
  }
}
