import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CheckpointRecord, checkpointRecordSchema, EvaluationRecord, evaluationRecordSchema, TrainingJobSpecInput } from '@hounsfield/contracts';
import { finished, getJson, listCheckpoints } from './checkpoints-fixture';
import { Fixture, startSkullStack } from './stack-fixture';

const CASES = ['000_bilateral', '001_parietotemporal'];

/** Per-case HD95 from an evaluation's cases.csv (the report file, not its summary). */
async function caseHd95(fixture: Fixture, record: EvaluationRecord): Promise<number[]> {
  const response = await fixture.api(`/v1/evaluations/${record.id}/reports/csv`);
  if (!response.ok) throw new Error(`cases.csv of ${record.id}: ${response.status}`);
  const [header, ...rows] = (await response.text()).trim().split('\n');
  const column = header.split(',').indexOf('HD95');
  return rows.map((row) => Number(row.split(',')[column]));
}

describe('auto-evaluation: every committed checkpoint evaluated, metrics attached, the best by HD95 kept', () => {
  let fixture: Fixture;

  beforeAll(async () => {
    fixture = await startSkullStack({
      prefix: 'hf-e2e-auto-',
      workerId: 'auto-node',
      subjects: 2,
      seed: 5,
      env: {
        HOUNSFIELD_EVALUATION_RECONCILE_INTERVAL_MS: '1000',
        // Short pins (the evaluation's and the shard download's), so retired bytes go within the test.
        HOUNSFIELD_AUTO_EVALUATION_PIN_SECONDS: '2',
        HOUNSFIELD_CHECKPOINT_PIN_SECONDS: '2',
        HOUNSFIELD_CHECKPOINT_SWEEP_INTERVAL_MS: '500',
      },
    });
  });
  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('rejects auto-evaluation on a job that is not part of the implant pipeline', async () => {
    const response = await fixture.api(`/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'not-pcdiff',
        kind: 'script',
        script: { module: 'x' },
        hyperparameters: { globalBatch: 1, baseLr: 1e-3 },
        evaluation: { partner: { job: 'j' }, dataset: { root: 'skulls' } },
      }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: { path: string; message: string }[] };
    expect(body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'evaluation', message: expect.stringMatching(/pcdiff and voxelization/) })]));
  });

  it('attaches each evaluation’s means to its checkpoint and keeps exactly the latest and the best by eval.HD95', async () => {
    const voxelizer = await finished(fixture, {
      name: 'auto-voxelizer',
      kind: 'voxelization',
      resources: { gpus: 0, cpuProcesses: 1 },
      hyperparameters: { globalBatch: 2, baseLr: 1e-3, maxSteps: 2, seed: 0 },
      config: { preset: 'cpu-tiny', synthetic: { subjects: 2, shape: 32 } },
    });
    expect(voxelizer.state).toBe('succeeded');

    const spec: TrainingJobSpecInput = {
      name: 'auto-pcdiff',
      kind: 'pcdiff',
      resources: { gpus: 0, cpuProcesses: 1 },
      hyperparameters: { globalBatch: 2, baseLr: 1e-3, maxSteps: 3, seed: 0 },
      config: { preset: 'cpu-tiny', synthetic: { subjects: 2, shape: 32 }, checkpointEvery: 1 },
      checkpoint: { keepLast: 1, keepBest: { metric: 'eval.HD95', mode: 'min', count: 1 } },
      evaluation: {
        everyCheckpoints: 1,
        partner: { job: voxelizer.id },
        dataset: { root: 'skulls', cases: CASES },
        sampler: { method: 'ddim', steps: 2 },
        ensembleSize: 1,
        shards: 1,
        device: 'cpu',
      },
    };
    const diffusion = await finished(fixture, spec);
    expect(diffusion.state).toBe('succeeded');

    // Every committed checkpoint gets an evaluation; wait until each one has finished.
    const evaluationsDir = join(fixture.dataDir, 'objects', 'evaluations');
    const deadline = Date.now() + 240_000;
    let records: EvaluationRecord[] = [];
    while (Date.now() < deadline) {
      const ids = existsSync(evaluationsDir) ? readdirSync(evaluationsDir).filter((id) => id.startsWith('ev-auto-')) : [];
      records = await Promise.all(ids.map((id) => getJson(fixture, `/v1/evaluations/${id}`, evaluationRecordSchema)));
      const kept = await listCheckpoints(fixture, diffusion.id);
      const settled = kept.every((c) => c.evaluation?.state === 'succeeded' || c.evaluation?.state === 'failed');
      if (records.length === 3 && records.every((r) => r.status === 'succeeded') && settled) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(records.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    for (const record of records) {
      expect(record.origin?.jobId).toBe(diffusion.id);
      expect(record.models).toMatchObject({ voxelization: { jobId: voxelizer.id } });
      expect(record.progress).toMatchObject({ total: CASES.length, done: CASES.length });
    }

    // What the platform must keep, computed here from the per-case results: the latest checkpoint
    // and the one with the lowest mean HD95 (ties to the newer).
    const scored = (
      await Promise.all(
        records.map(async (r) => {
          const values = await caseHd95(fixture, r);
          return { checkpointId: r.origin!.checkpointId, step: 'diffusion' in r.models ? r.models.diffusion.step : -1, hd95: values.reduce((a, b) => a + b, 0) / values.length };
        }),
      )
    ).sort((a, b) => a.step - b.step);
    expect(scored.map((s) => s.step)).toEqual([1, 2, 3]);
    const best = [...scored].sort((a, b) => a.hd95 - b.hd95 || b.step - a.step)[0];
    const latest = scored[scored.length - 1];
    const expected = [...new Set([best.checkpointId, latest.checkpointId])].sort();

    const kept: CheckpointRecord[] = await listCheckpoints(fixture, diffusion.id);
    expect(kept.map((c) => c.id).sort()).toEqual(expected);
    for (const checkpoint of kept) {
      const own = scored.find((s) => s.checkpointId === checkpoint.id)!;
      expect(checkpoint.evaluation?.state).toBe('succeeded');
      expect(checkpoint.evaluation?.metrics['eval.HD95']).toBeCloseTo(own.hd95, 9);
      expect(Object.keys(checkpoint.evaluation?.metrics ?? {}).sort()).toEqual(['eval.CD', 'eval.DSC', 'eval.HD95', 'eval.bDSC']);
    }
    const resolved = await getJson(fixture, `/v1/checkpoints/${diffusion.id}:best:eval.HD95:min`, checkpointRecordSchema);
    expect(resolved.id).toBe(best.checkpointId);

    // The retired checkpoints' bytes leave the store once the evaluation's short pin has ended.
    const jobDir = join(fixture.dataDir, 'objects', 'checkpoints', diffusion.id);
    const storedIds = () => readdirSync(jobDir).flatMap((step) => readdirSync(join(jobDir, step)));
    const goneBy = Date.now() + 30_000;
    while (storedIds().length > expected.length && Date.now() < goneBy) await new Promise((r) => setTimeout(r, 500));
    expect(storedIds().sort()).toEqual(expected);
  });
});
