import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TrainingJobSpecInput } from '@hounsfield/contracts';
import { VENV_BIN } from '@hounsfield/testing';
import { finished } from './checkpoints-fixture';
import { expectReportWithPreviews, postEvaluation, readReport, waitForEvaluation } from './evaluation-fixture';
import { Fixture, startSkullStack } from './stack-fixture';

/** A tiny CPU training of one of the two PCDiff networks on synthetic skulls (a few steps, cpu-tiny). */
function training(kind: 'pcdiff' | 'voxelization'): TrainingJobSpecInput {
  return {
    name: `tiny-${kind}`,
    kind,
    resources: { gpus: 0, cpuProcesses: 1 },
    hyperparameters: { globalBatch: 2, baseLr: 1e-3, maxSteps: 2, seed: 0 },
    config: { preset: 'cpu-tiny', synthetic: { subjects: 2, shape: 32 } },
  };
}

/** The pids of this evaluation's shard processes (children the test's own worker started). */
function shardPids(evaluationId: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes('hounsfield.evaluation.shard') && line.includes(evaluationId) && !line.includes('hounsfield.worker.launcher'))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

describe('evaluation end to end: tiny PCDiff + voxelizer, 2 CPU shards, a killed shard, a restarted service', () => {
  let fixture: Fixture;

  beforeAll(async () => {
    fixture = await startSkullStack({
      prefix: 'hf-e2e-eval-',
      workerId: 'eval-node',
      subjects: 2,
      seed: 3,
      env: { HOUNSFIELD_EVALUATION_RECONCILE_INTERVAL_MS: '1000' },
    });
  });
  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('rejects an invalid spec with field paths', async () => {
    const { status, body } = await postEvaluation(fixture, { checkpoints: { diffusion: { job: 'x', ref: 'soon' } }, dataset: {}, shards: 0 });
    expect(status).toBe(400);
    const paths = (body.errors as { path: string }[]).map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['checkpoints.diffusion.ref', 'checkpoints.voxelization', 'dataset.root', 'shards']));
  });

  it('scores every case once, aggregates exactly and writes the reports despite a killed shard and a service restart', async () => {
    const [diffusion, voxelization] = await Promise.all([finished(fixture, training('pcdiff')), finished(fixture, training('voxelization'))]);
    expect([diffusion.state, voxelization.state]).toEqual(['succeeded', 'succeeded']);

    const { status, body } = await postEvaluation(fixture, {
      name: 'tiny',
      checkpoints: { diffusion: { job: diffusion.id, ref: 'latest' }, voxelization: { job: voxelization.id } },
      dataset: { root: 'skulls' },
      sampler: { method: 'ddim', steps: 2 },
      ensembleSize: 2,
      shards: 2,
      device: 'cpu',
      caseTimeoutSeconds: 4,
    });
    expect(status).toBe(201);
    const id = String(body.id);

    // Kill one shard in the middle of its work, then restart the evaluation service.
    await waitForEvaluation(fixture, id, (r) => r.progress.done >= 2, 120_000);
    const pids = shardPids(id);
    expect(pids.length).toBeGreaterThan(0);
    process.kill(pids[0], 'SIGKILL');
    await fixture.stack.services.get('evaluation')?.stop();
    await fixture.stack.startService('evaluation');

    const record = await waitForEvaluation(fixture, id, (r) => r.status === 'succeeded' || r.status === 'failed', 150_000);
    expect(record.status).toBe('succeeded');
    expect(record.progress).toMatchObject({ total: 10, done: 10 });

    const csv = (await readReport(fixture, id, 'csv')).trim().split('\n');
    const header = csv[0].split(',');
    const rows = csv.slice(1).map((line) => line.split(','));
    const caseIds = rows.map((r) => r[0]);
    expect(new Set(caseIds).size).toBe(caseIds.length);
    expect(caseIds).toHaveLength(10);
    for (const metric of ['DSC', 'bDSC', 'HD95', 'CD']) {
      const column = header.indexOf(metric);
      const mean = rows.reduce((sum, r) => sum + Number(r[column]), 0) / rows.length;
      expect(record.summary?.overall[metric].mean).toBeCloseTo(mean, 9);
    }
    const classes = [...new Set(rows.map((r) => r[1]))];
    expect(classes).toHaveLength(5);
    const markdown = await readReport(fixture, id, 'markdown');
    const yaml = await readReport(fixture, id, 'yaml');
    for (const defectClass of classes) {
      expect(markdown).toContain(`| ${defectClass} |`);
      expect(yaml).toContain(`"${defectClass}":`);
    }
    expect(existsSync(join(fixture.dataDir, 'objects', 'evaluations', id, 'cases', caseIds[0], 'implant.nrrd'))).toBe(true);
    // The Markdown links every case's preview, which the gateway serves.
    expect(markdown).toContain('- family: pcdiff');
    await expectReportWithPreviews(fixture, record, ['DSC', 'bDSC', 'HD95', 'CD']);

    // Listed newest first; and from a directory that is no checkout, the `hounsfield` command reads
    // the report over HTTP only (gateway URL and token, no NATS, no shared disk).
    const listed = (await (await fixture.api('/v1/evaluations?limit=5')).json()) as { evaluations: { id: string }[] };
    expect(listed.evaluations.map((e) => e.id)).toContain(id);
    const elsewhere = mkdtempSync(join(tmpdir(), 'hf-e2e-client-'));
    const cliCsv = execFileSync(join(VENV_BIN, 'hounsfield'), ['evaluations', 'report', id, '--format', 'csv'], {
      cwd: elsewhere,
      env: { PATH: process.env.PATH, HOME: elsewhere, HOUNSFIELD_URL: fixture.stack.gatewayUrl, HOUNSFIELD_TOKEN: fixture.stack.adminToken },
      encoding: 'utf8',
    });
    expect(cliCsv.trim().split('\n')).toEqual(csv);
    // Each scored case has a preview image, served by the gateway and fetched by the CLI.
    const preview = await fixture.api(`/v1/evaluations/${id}/cases/${caseIds[0]}/preview.png`);
    expect(preview.headers.get('content-type')).toBe('image/png');
    const png = Buffer.from(await preview.arrayBuffer());
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    execFileSync(join(VENV_BIN, 'hounsfield'), ['evaluations', 'preview', id, caseIds[0], '--out', join(elsewhere, 'p.png')], {
      cwd: elsewhere,
      env: { PATH: process.env.PATH, HOME: elsewhere, HOUNSFIELD_URL: fixture.stack.gatewayUrl, HOUNSFIELD_TOKEN: fixture.stack.adminToken },
    });
    expect(readFileSync(join(elsewhere, 'p.png'))).toEqual(png);

    // The metrics service saw the evaluation's events: every case once (the killed shard's case
    // included), and the run counted as succeeded.
    const sample = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    const deadline = Date.now() + 30_000;
    let exposition = '';
    while (Date.now() < deadline) {
      exposition = await (await fetch(`http://127.0.0.1:${fixture.stack.portOf('metrics')}/metrics`)).text();
      if (sample(exposition, 'hounsfield_evaluations_total{status="succeeded"}') === 1) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(sample(exposition, 'hounsfield_evaluations_total{status="succeeded"}')).toBe(1);
    expect(sample(exposition, `hounsfield_evaluation_cases{evaluation_id="${id}",state="done"}`)).toBe(10);
    expect(sample(exposition, `hounsfield_evaluation_cases{evaluation_id="${id}",state="total"}`)).toBe(10);
    expect(sample(exposition, `hounsfield_evaluation_case_dice_ratio_count{evaluation_id="${id}"}`)).toBe(10);
    expect(sample(exposition, `hounsfield_evaluation_mean_dice_ratio{evaluation_id="${id}"}`)).toBeCloseTo(record.summary?.overall.DSC.mean ?? NaN, 9);
  });
});
