import { JobSpec } from '@hounsfield/contracts';
import { WorkerState } from '../workers/worker.model';
import { Candidate, fittingGpus, freeCpuSlots, NodeChoice, PlacementPolicy, PlacementResult, skipReason } from './placement';

/**
 * Placement of multi-node jobs (`resources.nodes` > 1): every node on its own worker, all leased in
 * one decision or none. `resources.gpus` (or `cpuProcesses` for a CPU job) is per node. Node 0's
 * worker hosts torchrun's c10d rendezvous, so it must advertise an address and a free port.
 */

/** Nodes a job spans (records stored before `resources.nodes` existed have one). */
export function nodesOf(spec: JobSpec): number {
  return (spec.resources as { nodes?: number }).nodes ?? 1;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** What one node needs, with `free` said where the need is about now rather than ever. */
function describeNode(spec: JobSpec, free: boolean): string {
  const { gpus, gpuType, minGpuMemoryGiB, cpuProcesses } = spec.resources;
  const adjective = free ? 'free ' : '';
  if (gpus === 0) return `${cpuProcesses} ${adjective}CPU slot${cpuProcesses === 1 ? '' : 's'}`;
  const what = `${gpus} ${adjective}${gpuType ?? `GPU${gpus === 1 ? '' : 's'}`}`;
  const memory = minGpuMemoryGiB !== undefined ? ` with ≥ ${minGpuMemoryGiB} GiB free` : '';
  return `${what}${memory}`;
}

/** "needs 2 workers with 8 free H100 each": what a multi-node job waits for. */
export function describeGangNeed(spec: JobSpec, free = true): string {
  return `needs ${nodesOf(spec)} workers with ${describeNode(spec, free)} each`;
}

/** The rendezvous ports a worker offers, when it also says where it is reached; undefined when it cannot host node 0. */
export function rendezvousRange(candidate: Candidate): { first: number; last: number } | undefined {
  const { address, rendezvousPorts } = candidate.worker.heartbeat;
  return address ? rendezvousPorts : undefined;
}

/**
 * A port of the worker's rendezvous range that none of its multi-node attempts uses (none without
 * an address). The search starts `attempt - 1` ports into the range, wrapping around, so a
 * requeued job does not wait for the port its previous attempt's store may still hold (or that
 * another program took since).
 */
export function freeRendezvousPort(candidate: Candidate, attempt = 1): number | undefined {
  const range = rendezvousRange(candidate);
  if (!range) return undefined;
  const size = range.last - range.first + 1;
  for (let i = 0; i < size; i += 1) {
    const port = range.first + ((attempt - 1 + i) % size);
    if (!candidate.rendezvousPortsInUse?.has(port)) return port;
  }
  return undefined;
}

/** A worker that can hold one node now, with the GPUs it would give and how much it has spare. */
interface Fit {
  candidate: Candidate;
  gpuIndices: number[];
  spare: number;
}

function fitNow(spec: JobSpec, candidate: Candidate, policy: PlacementPolicy): Fit | undefined {
  const { gpus, cpuProcesses } = spec.resources;
  if (gpus === 0) {
    const free = freeCpuSlots(candidate);
    return free >= cpuProcesses ? { candidate, gpuIndices: [], spare: free - cpuProcesses } : undefined;
  }
  const eligible = candidate.worker.heartbeat.gpus
    .filter((gpu) => skipReason(gpu, spec, candidate.leases, policy) === undefined)
    .map((gpu) => gpu.index)
    .sort((a, b) => a - b);
  return eligible.length >= gpus ? { candidate, gpuIndices: eligible.slice(0, gpus), spare: eligible.length - gpus } : undefined;
}

const idOf = (fit: Fit) => fit.candidate.worker.heartbeat.workerId;

/** Best fit first (least spare capacity, so large blocks stay whole), then by worker id. */
function byBestFit(a: Fit, b: Fit): number {
  return a.spare - b.spare || idOf(a).localeCompare(idOf(b));
}

/**
 * `nodes` workers for the job out of `fits`, node 0 first: a worker with a free rendezvous port
 * hosts node 0, the others follow in best-fit order. Undefined when no worker could host it.
 */
function pickNodes(fits: Fit[], nodes: number, attempt: number): { chosen: Fit[]; port: number } | undefined {
  const ordered = [...fits].sort(byBestFit);
  const host = ordered.find((fit) => freeRendezvousPort(fit.candidate, attempt) !== undefined);
  if (!host || ordered.length < nodes) return undefined;
  const rest = ordered.filter((fit) => fit !== host).slice(0, nodes - 1);
  return { chosen: [host, ...rest], port: freeRendezvousPort(host.candidate, attempt) as number };
}

/**
 * All nodes of a multi-node job at once, or a reason. Among the workers that can each hold one
 * node now, a topology label (rack, network domain) that has enough of them wins (the one with the
 * fewest such workers, so larger domains stay free for larger jobs); else the nodes span labels.
 */
export function placeGang(spec: JobSpec, candidates: Candidate[], policy: PlacementPolicy, attempt = 1): PlacementResult {
  const nodes = nodesOf(spec);
  const fits = candidates.map((c) => fitNow(spec, c, policy)).filter((fit): fit is Fit => fit !== undefined);
  if (fits.length < nodes) {
    const names = fits.map(idOf).sort();
    const have = fits.length === 0 ? 'none has them' : `${fits.length} ${fits.length === 1 ? 'has' : 'have'} them (${names.join(', ')})`;
    return { placed: false, reason: `${describeGangNeed(spec)}; ${have}, of ${plural(candidates.length, 'live worker')}` };
  }
  const byTopology = new Map<string, Fit[]>();
  for (const fit of fits) {
    const label = fit.candidate.worker.heartbeat.topology;
    if (label !== undefined) byTopology.set(label, [...(byTopology.get(label) ?? []), fit]);
  }
  const domains = [...byTopology.entries()].filter(([, members]) => members.length >= nodes).sort(([a, x], [b, y]) => x.length - y.length || a.localeCompare(b));
  let picked: { chosen: Fit[]; port: number } | undefined;
  for (const [, members] of domains) {
    picked = pickNodes(members, nodes, attempt);
    if (picked) break;
  }
  picked ??= pickNodes(fits, nodes, attempt);
  if (!picked) {
    return {
      placed: false,
      reason: `${describeGangNeed(spec)}; ${fits.length} have them, but none advertises a rendezvous address with a free port (HOUNSFIELD_WORKER_ADDRESS, HOUNSFIELD_RENDEZVOUS_PORTS)`,
    };
  }
  const chosen: NodeChoice[] = picked.chosen.map((fit) => ({ workerId: idOf(fit), gpuIndices: fit.gpuIndices }));
  const host = picked.chosen[0].candidate.worker.heartbeat.address as string;
  return { placed: true, workerId: chosen[0].workerId, gpuIndices: chosen[0].gpuIndices, nodes: chosen, rendezvous: { host, port: picked.port } };
}

/**
 * Whether enough registered workers could each hold one node once idle (leases and use ignored;
 * GPU type, total memory and CPU slots respected). A reason a person can act on when not.
 */
export function gangCapacityShortfall(spec: JobSpec, workers: WorkerState[]): string | undefined {
  const nodes = nodesOf(spec);
  const { gpus, cpuProcesses } = spec.resources;
  const able = workers.filter((worker) =>
    gpus === 0 ? (worker.heartbeat.cpuSlots ?? Infinity) >= cpuProcesses : fittingGpus(spec, worker).length >= gpus,
  );
  if (able.length >= nodes) return undefined;
  const names = able.map((w) => w.heartbeat.workerId).sort();
  const have = able.length === 0 ? 'no registered worker has them' : `only ${able.length} registered worker${able.length === 1 ? ' has' : 's have'} them (${names.join(', ')})`;
  return `${describeGangNeed(spec, false)}; ${have}. Ask for fewer nodes, start more workers, or set resources.waitForCapacity to wait for them`;
}
