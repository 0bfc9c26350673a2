import { describe, expect, it } from '@jest/globals';
import { EvaluationCaseResult, EvaluationRecord, evaluationSpecSchema } from '@hounsfield/contracts';
import { aggregate } from './aggregate';
import { renderReports } from './report-render';

const model = { jobId: 'vq-job', checkpointId: 'ck-0123456789abcdef01234567', step: 4, config: { preset: 'cpu-tiny' } };

const result = (caseId: string, psnr: number, ssim: number): EvaluationCaseResult => ({
  v: 1,
  evaluationId: 'ev-1',
  caseId,
  defectClass: 'test',
  metrics: { psnr, ssim },
  fallback: false,
  seconds: 1.5,
  artifacts: [{ name: 'preview.png', key: `evaluations/ev-1/cases/${caseId}/preview.png` }],
  finishedAt: '2025-01-01T00:00:00.000Z',
});

describe('reports of a volume-family evaluation', () => {
  const record: EvaluationRecord = {
    id: 'ev-1',
    name: 'vq',
    status: 'running',
    spec: evaluationSpecSchema.parse({ kind: 'vqgan3d', checkpoints: { model: { job: 'vq-job' } }, dataset: { root: 'prepared' }, stride: [8, 8, 8] }),
    models: { model },
    options: { patch: [16, 16, 16], stride: [8, 8, 8], blend: 'gaussian', dataRange: 1 },
    shardJobs: [],
    progress: { total: 2, done: 2, etaSeconds: 0 },
    createdAt: '2025-01-01T00:00:00.000Z',
  };
  const results = [result('P001_ct_0', 20, 0.5), result('P000_ct_0', 30, 0.7)];
  const reports = renderReports(record, results, aggregate(results));

  it('states the family, the checkpoint and the options that ran, with mean ± std', () => {
    expect(reports.markdown).toContain('- family: vqgan3d');
    expect(reports.markdown).toContain('- model: job vq-job, checkpoint ck-0123456789abcdef01234567 (step 4)');
    expect(reports.markdown).toContain('- options: patch 16×16×16, stride 8×8×8, blend gaussian, dataRange 1');
    expect(reports.markdown).toContain('| **all** | 2 | 25 ± 5 (median 25) | 0.6000 ± 0.1000 (median 0.6000) |');
    expect(reports.yaml).toContain('kind: vqgan3d');
    expect(reports.yaml).toContain('  "stride": [8, 8, 8]');
    expect(reports.yaml).toContain('  model:\n    job: "vq-job"');
  });

  it('links one preview per case, in case order, at the gateway path', () => {
    const links = [...reports.markdown.matchAll(/!\[([^\]]+)\]\(([^)]+)\)/g)].map((m) => [m[1], m[2]]);
    expect(links).toEqual([
      ['P000_ct_0', '/v1/evaluations/ev-1/cases/P000_ct_0/preview.png'],
      ['P001_ct_0', '/v1/evaluations/ev-1/cases/P001_ct_0/preview.png'],
    ]);
    expect(reports.markdown).toContain('| P000_ct_0 | test | 30 | 0.7000 | [preview.png](/v1/evaluations/ev-1/cases/P000_ct_0/preview.png) |');
    expect(reports.csv.split('\n')[0]).toBe('case_id,defect_class,psnr,ssim,fallback,seconds,shard_job');
  });
});

describe('reports of a slice_interp evaluation', () => {
  const record: EvaluationRecord = {
    id: 'ev-2',
    status: 'running',
    spec: evaluationSpecSchema.parse({ kind: 'slice_interp', checkpoints: { model: { job: 'si-job' } }, dataset: { root: 'prepared', split: 'val' }, ddimSteps: 4 }),
    models: { model: { ...model, jobId: 'si-job' } },
    options: { ddimSteps: 4, thickSpacingMm: 5, thinSpacingMm: 1, thickMode: 'average', dataRange: 1 },
    shardJobs: [],
    progress: { total: 1, done: 1, etaSeconds: 0 },
    createdAt: '2025-01-01T00:00:00.000Z',
  };
  const one: EvaluationCaseResult = { ...result('P000_ct_0', 31, 0.9), evaluationId: 'ev-2', defectClass: 'val', metrics: { ssim_trilinear: 0.8, psnr: 31, psnr_trilinear: 28, ssim: 0.9 } };
  const reports = renderReports(record, [one], aggregate([one]));

  it('puts the model next to its trilinear baseline and describes the coronal preview', () => {
    expect(reports.markdown).toContain('- family: slice_interp');
    expect(reports.markdown).toContain('- dataset: prepared volumes prepared, split val');
    expect(reports.markdown).toContain('- options: ddimSteps 4, thickSpacingMm 5, thinSpacingMm 1, thickMode average, dataRange 1');
    expect(reports.markdown).toContain('| group | cases | psnr | ssim | psnr_trilinear | ssim_trilinear |');
    expect(reports.markdown).toContain('coronal reformat at mid y: thick input');
    expect(reports.csv.split('\n')[0]).toBe('case_id,defect_class,psnr,ssim,psnr_trilinear,ssim_trilinear,fallback,seconds,shard_job');
    expect(reports.yaml).toContain('kind: slice_interp');
    expect(reports.yaml).toContain('  "thickMode": "average"');
  });
});
