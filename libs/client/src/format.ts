import { AlertEvent, JobEvent, JobRecord } from '@hounsfield/contracts';

function metricText(metrics: Record<string, number | string>): string {
  return Object.entries(metrics)
    .map(([name, value]) => `${name}=${typeof value === 'number' ? Number(value.toPrecision(4)) : value}`)
    .join(' ');
}

/** One line per event, for the demo's log. */
export function formatEvent(event: JobEvent): string {
  switch (event.type) {
    case 'progress': {
      const total = event.totalSteps ? `/${event.totalSteps}` : '';
      const rate = event.samplesPerSecond !== undefined ? ` ${event.samplesPerSecond.toFixed(1)} samples/s` : '';
      return `  step ${event.step}${total}${event.epoch !== undefined ? ` epoch ${event.epoch}` : ''}  ${metricText(event.metrics)}${rate}`;
    }
    case 'status': {
      const runtime = event.runtime ? ` (CUDA_VISIBLE_DEVICES="${event.runtime.cudaVisibleDevices}", world size ${event.runtime.worldSize})` : '';
      const exit = event.exitCode !== undefined ? ` exit code ${event.exitCode}` : '';
      return `  worker ${event.workerId}: ${event.state}${runtime}${exit}${event.reason ? ` — ${event.reason}` : ''}`;
    }
    case 'state':
      return `  ${event.from ?? 'new'} → ${event.state}${event.reason ? ` (${event.reason})` : ''}`;
    case 'alert':
      return formatAlert(event);
    case 'notice':
      return `  ${event.level === 'warning' ? 'warning' : 'note'} (${event.kind}): ${event.message}`;
    case 'environment':
      return `  environment ${event.outcome} on ${event.workerId}${event.key ? ` (${event.key}${event.cached ? ', cached' : ''})` : ''}${event.reason ? ` — ${event.reason}` : ''}`;
  }
}

/** An alert with what was seen and what to change. */
export function formatAlert(alert: AlertEvent): string {
  const head = `  ${alert.status === 'firing' ? `ALERT ${alert.severity}` : 'resolved'} ${alert.kind} (attempt ${alert.attempt})`;
  return alert.status === 'firing' ? `${head}: ${alert.summary}\n    advice: ${alert.advice}` : `${head}: ${alert.summary}`;
}

export function formatJob(job: JobRecord): string {
  const lines = [
    `${job.id}  ${job.spec.kind} "${job.spec.name}"  ${job.state}  attempt ${job.attempt}`,
  ];
  if (job.pendingReason) lines.push(`  pending: ${job.pendingReason}${job.queuePosition ? ` (position ${job.queuePosition})` : ''}`);
  if (job.nodes?.length) {
    const meet = job.rendezvous ? `  rendezvous ${job.rendezvous.host}:${job.rendezvous.port} (${job.rendezvous.id})` : '';
    lines.push(`  ${job.nodes.length} nodes${meet}`);
    for (const node of job.nodes) {
      lines.push(`    node ${node.nodeRank}: worker ${node.workerId}  CUDA_VISIBLE_DEVICES="${node.cudaVisibleDevices}"  ranks ${node.ranks.join(',')}`);
    }
  } else if (job.workerId) lines.push(`  worker ${job.workerId}  CUDA_VISIBLE_DEVICES="${job.cudaVisibleDevices ?? ''}"`);
  if (job.resolved) {
    const r = job.resolved;
    lines.push(`  batch ${r.globalBatch} = ${r.perDeviceBatch} per device × ${r.worldSize} × ${r.gradAccumSteps} accumulation; lr ${r.lr} (${r.lrScaling} from ${r.baseLr} @ ${r.referenceBatch})`);
  }
  if (job.lastProgress) lines.push(`  last progress: step ${job.lastProgress.step} ${metricText(job.lastProgress.metrics)}`);
  if (job.exitCode !== undefined) lines.push(`  exit code ${job.exitCode}${job.reason ? ` — ${job.reason}` : ''}`);
  for (const alert of job.alerts ?? []) lines.push(formatAlert(alert));
  return lines.join('\n');
}
