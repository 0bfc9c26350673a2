import { Injectable } from '@nestjs/common';

/**
 * Asks for a scheduling pass soon. Kept apart from the scheduler so that whoever changes
 * capacity or the queue (submissions, heartbeats, finished jobs) can ask without depending on it.
 */
@Injectable()
export class SchedulingTrigger {
  private listener?: () => void;

  onKick(listener: () => void): void {
    this.listener = listener;
  }

  kick(): void {
    this.listener?.();
  }
}
