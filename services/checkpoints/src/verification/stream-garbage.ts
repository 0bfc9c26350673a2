/**
 * Frees the chunks a stream has finished with, every few MiB, instead of when V8 gets to them.
 *
 * Each chunk read from an object store is a Buffer whose memory lives outside the JavaScript heap:
 * the small Buffer objects fill the young generation slowly, so V8 collects them only once some
 * 64 MB of chunk memory has piled up (its external-memory limit), and that pile is most of the
 * checkpoint service's resident memory during a transfer. When the service runs with `--expose-gc`
 * (SERVICE_NODE_FLAGS, NODE_OPTIONS in deploy/compose.yaml) a young-generation collection every
 * RECLAIM_BYTES frees them early; it costs well under a millisecond with 1 MiB semi-spaces. Without
 * the flag this does nothing.
 */
const RECLAIM_BYTES = 8 * 1024 * 1024;

type MinorGc = (options: { type: 'minor' }) => void;

export class StreamGarbage {
  private readonly gc = (globalThis as { gc?: MinorGc }).gc;
  private pending = 0;

  /** Counts `bytes` the caller is done with; collects the young generation every RECLAIM_BYTES. */
  done(bytes: number): void {
    if (this.gc === undefined) return;
    this.pending += bytes;
    if (this.pending < RECLAIM_BYTES) return;
    this.pending = 0;
    this.gc({ type: 'minor' });
  }
}
