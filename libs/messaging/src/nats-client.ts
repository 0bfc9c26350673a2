import { Logger } from '@nestjs/common';
import { jetstream, JetStreamClient, jetstreamManager, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { provisionStreams } from './topology';

export interface NatsClientOptions {
  url: string;
  /** Connection name shown by the server (`nats server report connections`). */
  name: string;
  /** Give up connecting after this long; services retry forever in the background instead. */
  connectTimeoutMs?: number;
  /** Credentials of this identity (a user of the server's config, see nats-permissions.ts). */
  user?: string;
  password?: string;
  /** Copies NATS keeps of each stream (num_replicas); 1 unless the server is a cluster. */
  streamReplicas?: number;
}

/**
 * Replies come to `_INBOX.<user>.…`: each identity may subscribe to its own inboxes only, so no
 * client can read the answers meant for another (grants, records).
 */
export function inboxPrefixOf(user: string | undefined): string {
  return user === undefined ? '_INBOX' : `_INBOX.${user}`;
}

/** One NATS connection with its JetStream client and manager; streams are provisioned on connect. */
export class NatsClient {
  private readonly logger = new Logger(NatsClient.name);
  private linkUp = true;

  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
  ) {
    void this.watchStatus();
  }

  /** Tracks the link: the client reconnects by itself, but health must say when it is down. */
  private async watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'disconnect') {
        this.linkUp = false;
        this.logger.warn('NATS connection lost; reconnecting');
      } else if (status.type === 'reconnect') {
        this.linkUp = true;
        this.logger.log('NATS connection restored');
      }
    }
  }

  static async connect(options: NatsClientOptions): Promise<NatsClient> {
    const deadline = Date.now() + (options.connectTimeoutMs ?? 30_000);
    let lastError: unknown;
    while (Date.now() < deadline) {
      try {
        const nc = await connect({
          servers: options.url,
          name: options.name,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
          ...(options.user !== undefined ? { user: options.user, pass: options.password, inboxPrefix: inboxPrefixOf(options.user) } : {}),
        });
        let jsm: JetStreamManager;
        try {
          jsm = await jetstreamManager(nc);
          await provisionStreams(jsm, options.streamReplicas);
        } catch (error) {
          // Connected but unusable (JetStream refused the topology): do not leave the link open.
          await nc.close().catch(() => undefined);
          throw error;
        }
        const client = new NatsClient(nc, jetstream(nc), jsm);
        client.logger.log(`connected to ${options.url} as ${options.name}${options.user ? ` (user ${options.user})` : ''}`);
        return client;
      } catch (error) {
        lastError = error;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    throw new Error(`could not connect to NATS at ${options.url}: ${String(lastError)}`);
  }

  get connected(): boolean {
    return this.linkUp && !this.nc.isClosed();
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain().catch(() => this.nc.close());
  }
}
