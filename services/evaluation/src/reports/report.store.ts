import { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { AccessGrant } from '@hounsfield/contracts';
import { EVALUATION_CONFIG, EvaluationConfig } from '../config';
import { OBJECT_STORE, ObjectStore } from '@hounsfield/runtime';
import { RenderedReports } from './report-render';

/** Where an evaluation's bytes live: `evaluations/<eval>/report.{md,yaml}`, `cases.csv`, `cases/<case>/<file>`. */
export const evaluationKeys = {
  artifact: (evaluationId: string, caseId: string, file: string) => `evaluations/${evaluationId}/cases/${caseId}/${file}`,
  reports: (evaluationId: string) => ({
    markdown: `evaluations/${evaluationId}/report.md`,
    yaml: `evaluations/${evaluationId}/report.yaml`,
    csv: `evaluations/${evaluationId}/cases.csv`,
  }),
};

function toGrant(grant: Awaited<ReturnType<ObjectStore['presignGet']>>): AccessGrant {
  return grant.kind === 'url'
    ? { kind: 'url', url: grant.url, method: grant.method, expiresAt: grant.expiresAt.toISOString() }
    : { kind: 'path', path: grant.path };
}

/** Report files and artefact grants in the object store. */
@Injectable()
export class ReportStore {
  private readonly grantSeconds: number;

  constructor(
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    @Inject(EVALUATION_CONFIG) config: EvaluationConfig,
  ) {
    this.grantSeconds = config.HOUNSFIELD_EVALUATION_GRANT_SECONDS;
  }

  /** Writes the three files (each replaced atomically, so a rewrite after a crash is harmless). */
  async write(evaluationId: string, reports: RenderedReports): Promise<{ markdown: string; yaml: string; csv: string }> {
    const keys = evaluationKeys.reports(evaluationId);
    for (const name of ['markdown', 'yaml', 'csv'] as const) {
      const body = Buffer.from(reports[name], 'utf8');
      await this.store.put(keys[name], Readable.from([body]), { size: body.length });
    }
    return keys;
  }

  async artifactGrant(evaluationId: string, caseId: string, file: string): Promise<{ key: string; grant: AccessGrant }> {
    const key = evaluationKeys.artifact(evaluationId, caseId, file);
    return { key, grant: toGrant(await this.store.presignPut(key, this.grantSeconds)) };
  }

  async readGrant(key: string): Promise<AccessGrant> {
    return toGrant(await this.store.presignGet(key, this.grantSeconds));
  }
}
