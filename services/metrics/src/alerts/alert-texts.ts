import { ResolvedHyperparameters } from '@hounsfield/contracts';
import { suggestBatch } from './tiny-batch';

/** What an alert says: the observation with its numbers, and what to change. */
export interface AlertText {
  summary: string;
  advice: string;
}

const n = (x: number) => Number(x.toPrecision(3)).toString();
const pct = (ratio: number) => `${Math.round(ratio * 100)} %`;

function lrText(r: ResolvedHyperparameters | undefined): string {
  if (!r) return 'the learning rate';
  if (r.lrScaling === 'none' || r.globalBatch === r.referenceBatch) return `the learning rate (${n(r.lr)})`;
  return `the learning rate (${n(r.lr)}, scaled ${r.lrScaling} from base ${n(r.baseLr)} at reference batch ${r.referenceBatch} to global batch ${r.globalBatch})`;
}

export function nonFiniteLossText(metric: string, value: string, step: number, r: ResolvedHyperparameters | undefined, failFast: boolean): AlertText {
  return {
    summary: `loss term "${metric}" is ${value} at step ${step}${failFast ? '; the job is being stopped (monitoring.failOnNonFiniteLoss)' : ''}`,
    advice:
      `Lower ${lrText(r)} or add a warm-up; clip gradients (torch.nn.utils.clip_grad_norm_); keep the loss in float32 ` +
      `under bf16/fp16 autocast or use a GradScaler; look for log(0), division by zero or sqrt of a negative in the loss; ` +
      `check the inputs of this step for NaN (a corrupt volume).` +
      (failFast ? '' : ' Set monitoring.failOnNonFiniteLoss in the job spec to stop such runs at once instead of burning GPU hours.'),
  };
}

export function lossSpikeText(metric: string, value: number, average: number, factor: number, step: number, r: ResolvedHyperparameters | undefined): AlertText {
  return {
    summary: `loss term "${metric}" jumped to ${n(value)} at step ${step}, ${n(value / average)}× its recent average ${n(average)} (alert above ${n(factor)}×)`,
    advice:
      `Isolated spikes often come from one bad batch: check the samples of this step. Repeated spikes mean the optimizer ` +
      `overshoots: lower ${lrText(r)}, add gradient clipping, or lengthen the warm-up.`,
  };
}

export function lossDivergenceText(metric: string, level: number, best: number, step: number, r: ResolvedHyperparameters | undefined): AlertText {
  return {
    summary: `loss term "${metric}" is diverging: its moving median is ${n(level)} at step ${step}, ${n(level / best)}× the best ${n(best)} and not coming back`,
    advice:
      `Stop and resume from the last good checkpoint with ${lrText(r)} lowered (halve it), gradient clipping, or a warm-up. ` +
      `A large global batch scaled linearly is a frequent cause: try lrScaling "sqrt".`,
  };
}

export function stallText(silentSeconds: number, lastStep: number | undefined, workerId: string): AlertText {
  const since = lastStep === undefined ? 'since the trainer started' : `after step ${lastStep}`;
  return {
    summary: `no progress for ${Math.round(silentSeconds)} s ${since}, while the trainer process is alive on worker ${workerId}`,
    advice:
      `Read the job's log tail. Usual causes: a DDP collective waiting for a rank that crashed or took another code path ` +
      `(every rank must run the same all-reduces), a DataLoader worker deadlock (confirm with num_workers=0, or set timeout=), ` +
      `a hung network filesystem, or a long evaluation inside the loop that reports nothing (report progress from it). ` +
      `Cancel the job to free its GPUs if it does not recover.`,
  };
}

export function stallResolvedText(step: number): AlertText {
  return { summary: `progress resumed at step ${step}`, advice: 'No action needed.' };
}

export function dataBoundText(waitRatio: number, waitSeconds: number, stepSeconds: number, utilizationPercent: number, gpus: number): AlertText {
  return {
    summary:
      `data-bound: each step waits ${n(waitSeconds)} s of ${n(stepSeconds)} s for data (${pct(waitRatio)}) ` +
      `while the job's ${gpus} GPU(s) average ${Math.round(utilizationPercent)} % utilisation`,
    advice:
      `Feed the GPUs faster: raise the DataLoader's num_workers (about 4 per GPU, within the node's CPU cores), ` +
      `set prefetch_factor=4, persistent_workers=True (workers survive epochs instead of restarting) and pin_memory=True ` +
      `(faster host-to-GPU copies), and cache decoded volumes and preprocessing instead of decoding NRRD/NIfTI every step.`,
  };
}

export function dataBoundResolvedText(utilizationPercent: number | undefined): AlertText {
  return {
    summary: `no longer data-bound${utilizationPercent === undefined ? '' : ` (GPUs at ${Math.round(utilizationPercent)} %)`}`,
    advice: 'No action needed.',
  };
}

export function tinyBatchText(r: ResolvedHyperparameters): AlertText {
  const s = suggestBatch(r);
  const accumulation = r.gradAccumSteps > 1 ? ` × ${r.gradAccumSteps} accumulation steps (maxPerDeviceBatch caps the device at 1)` : '';
  const lrRule = r.lrScaling === 'none' ? `lr stays ${n(r.baseLr)} (lrScaling "none")` : `the ${r.lrScaling} rule from base lr ${n(r.baseLr)} at reference batch ${r.referenceBatch} gives lr ${n(s.lr)}`;
  return {
    summary: `global batch ${r.globalBatch} over ${r.worldSize} processes is 1 sample per device${accumulation}; lr ${n(r.lr)}`,
    advice:
      `One sample per device starves BatchNorm statistics and leaves the GPUs idle between all-reduces. If you meant ` +
      `${s.perDeviceBatch} per GPU, submit hyperparameters.globalBatch ${s.globalBatch} (${s.perDeviceBatch} × ${r.worldSize}${r.gradAccumSteps > 1 ? ` × ${r.gradAccumSteps}` : ''}): ` +
      `${lrRule}. To keep global batch ${r.globalBatch}, request ${s.gpusForCurrentBatch} GPU(s) instead` +
      `${r.gradAccumSteps > 1 ? ' or raise hyperparameters.maxPerDeviceBatch' : ''}. If memory allows only one volume per device, ` +
      `prefer GroupNorm over BatchNorm.`,
  };
}
