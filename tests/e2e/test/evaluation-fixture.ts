import { expect } from '@jest/globals';
import { EvaluationRecord, evaluationRecordSchema } from '@hounsfield/contracts';
import { getJson } from './checkpoints-fixture';
import { Fixture } from './stack-fixture';

/** `POST /v1/evaluations` with `spec` as JSON: the status and the body. */
export async function postEvaluation(fixture: Fixture, spec: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fixture.api(`/v1/evaluations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(spec),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export const getEvaluation = (fixture: Fixture, id: string) => getJson(fixture, `/v1/evaluations/${id}`, evaluationRecordSchema);

/** Polls the evaluation until `done` holds. */
export async function waitForEvaluation(fixture: Fixture, id: string, done: (r: EvaluationRecord) => boolean, timeoutMs: number): Promise<EvaluationRecord> {
  const deadline = Date.now() + timeoutMs;
  let last: EvaluationRecord | undefined;
  while (Date.now() < deadline) {
    last = await getEvaluation(fixture, id).catch(() => last);
    if (last && done(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`evaluation ${id} did not get there in ${timeoutMs} ms: ${JSON.stringify(last?.progress)} ${last?.status} ${last?.error ?? ''}`);
}

/** A report of a succeeded evaluation, read through the gateway. */
export async function readReport(fixture: Fixture, id: string, format: 'csv' | 'markdown' | 'yaml'): Promise<string> {
  const response = await fixture.api(`/v1/evaluations/${id}/reports/${format}`);
  if (!response.ok) throw new Error(`report ${format} of ${id}: ${response.status} ${await response.text()}`);
  return response.text();
}

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * The checks every family's evaluation passes once it succeeded: one CSV row per case whose
 * column means are the summary's, and a Markdown report linking one preview per case that the
 * gateway serves as a PNG. Returns the CSV rows by metric and the Markdown.
 */
export async function expectReportWithPreviews(fixture: Fixture, record: EvaluationRecord, metrics: string[]): Promise<{ caseIds: string[]; markdown: string }> {
  const csv = (await readReport(fixture, record.id, 'csv')).trim().split('\n');
  const header = csv[0].split(',');
  const rows = csv.slice(1).map((line) => line.split(','));
  const caseIds = rows.map((r) => r[0]);
  expect(caseIds).toHaveLength(record.progress.total ?? -1);
  for (const metric of metrics) {
    const column = header.indexOf(metric);
    expect(column).toBeGreaterThan(0);
    const values = rows.map((r) => Number(r[column]));
    const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
    const std = Math.sqrt(values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / values.length);
    expect(record.summary?.overall[metric].mean).toBeCloseTo(mean, 9);
    expect(record.summary?.overall[metric].std).toBeCloseTo(std, 9);
  }
  const markdown = await readReport(fixture, record.id, 'markdown');
  const links = [...markdown.matchAll(/!\[([^\]]+)\]\((\/v1\/evaluations\/[^)]+\/preview\.png)\)/g)];
  expect(links.map((m) => m[1]).sort()).toEqual([...caseIds].sort());
  for (const [, caseId, path] of links) {
    expect(path).toBe(`/v1/evaluations/${record.id}/cases/${caseId}/preview.png`);
    const response = await fixture.api(path);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await response.arrayBuffer()).subarray(0, 8)).toEqual(PNG_MAGIC);
  }
  return { caseIds, markdown };
}
