import { EvaluationCaseResult, EvaluationPostprocess, EvaluationRecord, EvaluationSummary, MetricStats } from '@hounsfield/contracts';

/** The three report files of a finished evaluation, rendered from its record and per-case results. */
export interface RenderedReports {
  markdown: string;
  yaml: string;
  csv: string;
}

const METRIC_ORDER = ['DSC', 'bDSC', 'HD95', 'CD'];

function metricNames(summary: EvaluationSummary): string[] {
  const names = Object.keys(summary.overall);
  return [...METRIC_ORDER.filter((m) => names.includes(m)), ...names.filter((m) => !METRIC_ORDER.includes(m)).sort()];
}

const fmt = (value: number) => (Number.isInteger(value) ? String(value) : value.toFixed(4));
const cell = (stats: MetricStats | undefined) => (stats ? `${fmt(stats.mean)} ± ${fmt(stats.std)} (median ${fmt(stats.median)})` : '–');

function samplerLine({ sampler, ensembleSize }: EvaluationRecord['spec']): string {
  const method = sampler.method === 'ddim' ? `DDIM-${sampler.steps}, eta ${sampler.eta}` : 'DDPM';
  const start = sampler.tStart !== undefined ? `, from t = ${sampler.tStart}` : ', from the last step';
  const ensemble = ensembleSize > 1 ? `ensemble ${ensembleSize} (voted, then post-processed)` : 'one sample per case';
  return `${method}${start}, ${ensemble}, x0 clip ${sampler.clipX0 || 'off'}`;
}

/** The steps that ran, in pipeline order, with their settings ("off" for a switched-off step). */
function postprocessLine(p: EvaluationPostprocess): string {
  return [
    `near points ${p.nearPoints ? `≤ ${p.maxPointDistanceVox} vox` : 'off'}`,
    `opening ${p.opening ? `×${p.openingIterations}` : 'off'}`,
    `largest component ${p.largestComponent ? 'on' : 'off'}`,
    `median ${p.median ? `${p.medianSize}³` : 'off'}`,
    `closing ${p.closing ? `×${p.closingIterations}` : 'off'}`,
    `fill holes ${p.fillHoles ? 'on' : 'off'}`,
  ].join(', ');
}

export function renderMarkdown(record: EvaluationRecord, summary: EvaluationSummary): string {
  const metrics = metricNames(summary);
  const { spec, models } = record;
  const lines = [
    `# Evaluation ${record.id}${record.name ? ` — ${record.name}` : ''}`,
    '',
    `- diffusion: job ${models.diffusion.jobId}, checkpoint ${models.diffusion.checkpointId} (step ${models.diffusion.step})`,
    `- voxelization: job ${models.voxelization.jobId}, checkpoint ${models.voxelization.checkpointId} (step ${models.voxelization.step})`,
    `- dataset: ${spec.dataset.root}, split ${spec.dataset.splitCsv ? `${spec.dataset.split} of ${spec.dataset.splitCsv}` : '(all cases)'}`,
    `- sampler: ${samplerLine(spec)}`,
    `- post-processing: ${postprocessLine(spec.postprocess)}`,
    `- cases: ${summary.cases} (post-processing fell back to the unfiltered mask on ${summary.fallbacks}); HD95 and CD (surface Chamfer distance) in mm`,
    '',
    `| defect class | cases | ${metrics.join(' | ')} |`,
    `|---|---:|${metrics.map(() => '---').join('|')}|`,
    ...Object.entries(summary.byDefectClass).map(
      ([defectClass, group]) => `| ${defectClass} | ${group.cases} | ${metrics.map((m) => cell(group.metrics[m])).join(' | ')} |`,
    ),
    `| **all** | ${summary.cases} | ${metrics.map((m) => cell(summary.overall[m])).join(' | ')} |`,
    '',
    'Values are mean ± standard deviation (population) over cases, with the median.',
    '',
  ];
  return lines.join('\n');
}

const yamlString = (value: string) => JSON.stringify(value);
const yamlNumber = (value: number) => (Number.isFinite(value) ? String(value) : value > 0 ? '.inf' : value < 0 ? '-.inf' : '.nan');

function yamlStats(stats: Record<string, MetricStats>, indent: string): string[] {
  return Object.entries(stats).flatMap(([name, s]) => [
    `${indent}${yamlString(name)}:`,
    ...(['count', 'mean', 'std', 'median', 'min', 'max'] as const).map((k) => `${indent}  ${k}: ${yamlNumber(s[k])}`),
  ]);
}

/** YAML written by hand (flat maps of numbers and quoted strings), so no YAML library is needed. */
export function renderYaml(record: EvaluationRecord, summary: EvaluationSummary): string {
  const lines = [
    `evaluation: ${yamlString(record.id)}`,
    ...(record.name ? [`name: ${yamlString(record.name)}`] : []),
    'models:',
    ...(['diffusion', 'voxelization'] as const).flatMap((kind) => [
      `  ${kind}:`,
      `    job: ${yamlString(record.models[kind].jobId)}`,
      `    checkpoint: ${yamlString(record.models[kind].checkpointId)}`,
      `    step: ${record.models[kind].step}`,
    ]),
    'sampler:',
    `  method: ${record.spec.sampler.method}`,
    `  steps: ${record.spec.sampler.steps}`,
    `  eta: ${record.spec.sampler.eta}`,
    `  clipX0: ${record.spec.sampler.clipX0}`,
    ...(record.spec.sampler.tStart !== undefined ? [`  tStart: ${record.spec.sampler.tStart}`] : []),
    `ensembleSize: ${record.spec.ensembleSize}`,
    'postprocess:',
    ...Object.entries(record.spec.postprocess).map(([name, value]) => `  ${name}: ${String(value)}`),
    `cases: ${summary.cases}`,
    `fallbacks: ${summary.fallbacks}`,
    'overall:',
    ...yamlStats(summary.overall, '  '),
    'byDefectClass:',
    ...Object.entries(summary.byDefectClass).flatMap(([defectClass, group]) => [
      `  ${yamlString(defectClass)}:`,
      `    cases: ${group.cases}`,
      '    metrics:',
      ...yamlStats(group.metrics, '      '),
    ]),
    '',
  ];
  return lines.join('\n');
}

const csvField = (value: string) => (/[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);

/** One row per case, sorted by case id: id, defect class, each metric, fallback, seconds, shard job. */
export function renderCsv(results: EvaluationCaseResult[], summary: EvaluationSummary): string {
  const metrics = metricNames(summary);
  const rows = [...results]
    .sort((a, b) => a.caseId.localeCompare(b.caseId))
    .map((r) =>
      [r.caseId, r.defectClass, ...metrics.map((m) => (m in r.metrics ? String(r.metrics[m]) : '')), String(r.fallback), r.seconds.toFixed(3), r.shardJobId ?? '']
        .map(csvField)
        .join(','),
    );
  return [['case_id', 'defect_class', ...metrics, 'fallback', 'seconds', 'shard_job'].join(','), ...rows, ''].join('\n');
}

export function renderReports(record: EvaluationRecord, results: EvaluationCaseResult[], summary: EvaluationSummary): RenderedReports {
  return { markdown: renderMarkdown(record, summary), yaml: renderYaml(record, summary), csv: renderCsv(results, summary) };
}
