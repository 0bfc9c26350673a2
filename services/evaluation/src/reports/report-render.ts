import { EvaluationCaseResult, EvaluationPostprocess, EvaluationRecord, EvaluationSummary, MetricStats, PcdiffEvaluationSpec, ResolvedModel } from '@hounsfield/contracts';

/** The three report files of a finished evaluation, rendered from its record and per-case results. */
export interface RenderedReports {
  markdown: string;
  yaml: string;
  csv: string;
}

const METRIC_ORDER = ['DSC', 'bDSC', 'HD95', 'CD', 'psnr', 'ssim', 'psnr_trilinear', 'ssim_trilinear', 'perplexity', 'codes_used', 'dice', 'cldice', 'surface_dice', 'voi'];

function metricNames(summary: EvaluationSummary): string[] {
  const names = Object.keys(summary.overall);
  return [...METRIC_ORDER.filter((m) => names.includes(m)), ...names.filter((m) => !METRIC_ORDER.includes(m)).sort()];
}

const fmt = (value: number) => (Number.isInteger(value) ? String(value) : value.toFixed(4));
const cell = (stats: MetricStats | undefined) => (stats ? `${fmt(stats.mean)} ± ${fmt(stats.std)} (median ${fmt(stats.median)})` : '–');

function samplerLine({ sampler, ensembleSize }: PcdiffEvaluationSpec): string {
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

/** The pinned checkpoints of a record by role (`diffusion`, `voxelization`; `model`). */
function modelsOf(record: EvaluationRecord): [string, ResolvedModel][] {
  return Object.entries(record.models);
}

const optionValue = (value: unknown) => (Array.isArray(value) ? value.join('×') : String(value));

/** The header lines that say what ran: the family's checkpoints, dataset and options. */
function familyLines(record: EvaluationRecord, summary: EvaluationSummary): string[] {
  const { spec } = record;
  const models = modelsOf(record).map(([role, m]) => `- ${role}: job ${m.jobId}, checkpoint ${m.checkpointId} (step ${m.step})`);
  if (spec.kind === 'pcdiff') {
    return [
      '- family: pcdiff',
      ...models,
      `- dataset: ${spec.dataset.root}, split ${spec.dataset.splitCsv ? `${spec.dataset.split} of ${spec.dataset.splitCsv}` : '(all cases)'}`,
      `- sampler: ${samplerLine(spec)}`,
      `- post-processing: ${postprocessLine(spec.postprocess)}`,
      `- cases: ${summary.cases} (post-processing fell back to the unfiltered mask on ${summary.fallbacks}); HD95 and CD (surface Chamfer distance) in mm`,
    ];
  }
  const options = Object.entries(record.options ?? {}).map(([name, value]) => `${name} ${optionValue(value)}`);
  const dataset =
    spec.kind === 'vqgan3d' || spec.kind === 'slice_interp'
      ? `prepared volumes ${spec.dataset.root}, split ${spec.dataset.split}`
      : `${spec.dataset.root} (images/, labels/), split ${spec.dataset.split}`;
  return [
    `- family: ${spec.kind}`,
    ...models,
    `- dataset: ${dataset}${spec.dataset.cases ? `, cases ${spec.dataset.cases.join(', ')}` : ''}${spec.dataset.maxCases ? `, first ${spec.dataset.maxCases}` : ''}`,
    `- options: ${options.length > 0 ? options.join(', ') : '(as in the checkpoint config)'}`,
    `- cases: ${summary.cases}`,
  ];
}

const PREVIEW_CAPTIONS: Record<EvaluationRecord['spec']['kind'], string> = {
  pcdiff: 'three orthogonal slices through the implant: skull grey, implant red',
  vqgan3d: 'mid axial slice: input | reconstruction | absolute difference',
  slice_interp: 'coronal reformat at mid y: thick input (each slice repeated over its slab) | trilinear | model | thin ground truth, superior up',
  topo_unet: 'slice with the most surface: input | prediction | label; prediction white = agreed, red = false positive, blue = missed, grey = unlabelled',
};

/** The gateway path of a case's file: the Markdown is read through the gateway, so its links are too. */
export const caseFilePath = (evaluationId: string, caseId: string, file: string) => `/v1/evaluations/${evaluationId}/cases/${caseId}/${file}`;

export function renderMarkdown(record: EvaluationRecord, summary: EvaluationSummary, results: EvaluationCaseResult[] = []): string {
  const metrics = metricNames(summary);
  const sorted = [...results].sort((a, b) => a.caseId.localeCompare(b.caseId));
  const preview = (r: EvaluationCaseResult) => r.artifacts.find((a) => a.name === 'preview.png');
  const group = record.spec.kind === 'pcdiff' ? 'defect class' : 'group';
  const lines = [
    `# Evaluation ${record.id}${record.name ? ` — ${record.name}` : ''}`,
    '',
    ...familyLines(record, summary),
    '',
    `| ${group} | cases | ${metrics.join(' | ')} |`,
    `|---|---:|${metrics.map(() => '---').join('|')}|`,
    ...Object.entries(summary.byDefectClass).map(
      ([defectClass, g]) => `| ${defectClass} | ${g.cases} | ${metrics.map((m) => cell(g.metrics[m])).join(' | ')} |`,
    ),
    `| **all** | ${summary.cases} | ${metrics.map((m) => cell(summary.overall[m])).join(' | ')} |`,
    '',
    'Values are mean ± standard deviation (population) over cases, with the median.',
    '',
    ...(sorted.length > 0
      ? [
          '## Cases',
          '',
          `| case | ${group} | ${metrics.join(' | ')} | preview |`,
          `|---|---|${metrics.map(() => '---:').join('|')}|---|`,
          ...sorted.map((r) => {
            const file = preview(r);
            const link = file ? `[preview.png](${caseFilePath(record.id, r.caseId, file.name)})` : '–';
            return `| ${r.caseId} | ${r.defectClass} | ${metrics.map((m) => (m in r.metrics ? fmt(r.metrics[m]) : '–')).join(' | ')} | ${link} |`;
          }),
          '',
          `Previews (${PREVIEW_CAPTIONS[record.spec.kind]}):`,
          '',
          ...sorted.flatMap((r) => {
            const file = preview(r);
            return file ? [`![${r.caseId}](${caseFilePath(record.id, r.caseId, file.name)})`] : [];
          }),
          '',
        ]
      : []),
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

/** The family's settings: PCDiff's sampler, ensemble and post-processing; a volume family's options as they ran. */
function yamlFamily(record: EvaluationRecord): string[] {
  const { spec } = record;
  if (spec.kind !== 'pcdiff') {
    return ['options:', ...Object.entries(record.options ?? {}).map(([name, value]) => `  ${yamlString(name)}: ${Array.isArray(value) ? `[${value.join(', ')}]` : typeof value === 'string' ? yamlString(value) : String(value)}`)];
  }
  return [
    'sampler:',
    `  method: ${spec.sampler.method}`,
    `  steps: ${spec.sampler.steps}`,
    `  eta: ${spec.sampler.eta}`,
    `  clipX0: ${spec.sampler.clipX0}`,
    ...(spec.sampler.tStart !== undefined ? [`  tStart: ${spec.sampler.tStart}`] : []),
    `ensembleSize: ${spec.ensembleSize}`,
    'postprocess:',
    ...Object.entries(spec.postprocess).map(([name, value]) => `  ${name}: ${String(value)}`),
  ];
}

/** YAML written by hand (flat maps of numbers and quoted strings), so no YAML library is needed. */
export function renderYaml(record: EvaluationRecord, summary: EvaluationSummary): string {
  const lines = [
    `evaluation: ${yamlString(record.id)}`,
    ...(record.name ? [`name: ${yamlString(record.name)}`] : []),
    `kind: ${record.spec.kind}`,
    'models:',
    ...modelsOf(record).flatMap(([role, model]) => [
      `  ${role}:`,
      `    job: ${yamlString(model.jobId)}`,
      `    checkpoint: ${yamlString(model.checkpointId)}`,
      `    step: ${model.step}`,
    ]),
    `dataset: ${yamlString(record.spec.dataset.root)}`,
    `split: ${yamlString(record.spec.dataset.split)}`,
    ...yamlFamily(record),
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
  return { markdown: renderMarkdown(record, summary, results), yaml: renderYaml(record, summary), csv: renderCsv(results, summary) };
}
