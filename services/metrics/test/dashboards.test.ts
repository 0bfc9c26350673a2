import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, ServerHandle, startPrometheusServer } from '@hounsfield/testing';
import { MetricsHarness, startMetricsHarness } from './metrics-harness';

const GRAFANA = join(REPO_ROOT, 'deploy/grafana');

interface Query {
  dashboard: string;
  where: string;
  expr: string;
}

interface Panel {
  title: string;
  datasource?: { uid?: string };
  targets?: { expr: string; datasource?: { uid?: string } }[];
  panels?: Panel[];
}

function dashboards(): { file: string; json: { uid: string; panels: Panel[]; templating: { list: { name: string; query: { query: string } | string }[] } } }[] {
  const dir = join(GRAFANA, 'dashboards');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((file) => ({ file, json: JSON.parse(readFileSync(join(dir, file), 'utf8')) }));
}

/** Every PromQL expression of every panel (rows included) and every template variable. */
function queries(): Query[] {
  const found: Query[] = [];
  for (const { file, json } of dashboards()) {
    const walk = (panels: Panel[]) => {
      for (const panel of panels) {
        for (const target of panel.targets ?? []) found.push({ dashboard: file, where: `panel "${panel.title}"`, expr: target.expr });
        walk(panel.panels ?? []);
      }
    };
    walk(json.panels);
    for (const variable of json.templating.list) {
      const text = typeof variable.query === 'string' ? variable.query : variable.query.query;
      const m = /^label_values\((.+),\s*\w+\)$/.exec(text);
      found.push({ dashboard: file, where: `variable $${variable.name}`, expr: m ? m[1] : text });
    }
  }
  return found;
}

/** Grafana's variables replaced by what Prometheus accepts, so the query can be parsed. */
function substituted(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval/g, '1m').replace(/\$\w+/g, '.*');
}

/** Metric families the service exports, by `# TYPE` line; histograms also answer to their series. */
function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

describe('provisioned Grafana dashboards', () => {
  let h: MetricsHarness;
  let prometheus: ServerHandle;

  beforeAll(async () => {
    h = await startMetricsHarness();
    prometheus = await startPrometheusServer({ targets: [h.url.replace('http://', '')] });
  });
  afterAll(async () => {
    await prometheus?.stop();
    await h?.close();
  });

  it('cover the cluster, training, queue and evaluations views', () => {
    expect(dashboards().map((d) => d.file).sort()).toEqual(['cluster.json', 'evaluations.json', 'queue.json', 'training.json']);
    expect(new Set(dashboards().map((d) => d.json.uid)).size).toBe(4);
  });

  it('query only metrics the metrics service exports', async () => {
    const exported = exportedNames(await h.scrapeText());
    const problems: string[] = [];
    for (const q of queries()) {
      const used = q.expr.match(/\bhounsfield_[a-z0-9_]+/g) ?? [];
      if (used.length === 0) problems.push(`${q.dashboard} ${q.where}: queries no hounsfield_ metric: ${q.expr}`);
      for (const name of used) if (!exported.has(name)) problems.push(`${q.dashboard} ${q.where}: ${name} is not exported`);
    }
    expect(problems).toEqual([]);
    expect(queries().length).toBeGreaterThan(30);
  });

  it('are valid PromQL, as Prometheus itself parses them', async () => {
    const problems: string[] = [];
    for (const q of queries()) {
      const response = await fetch(`${prometheus.url}/api/v1/query?${new URLSearchParams({ query: substituted(q.expr) })}`);
      const body = (await response.json()) as { status: string; error?: string };
      if (body.status !== 'success') problems.push(`${q.dashboard} ${q.where}: ${body.error}`);
    }
    expect(problems).toEqual([]);
  });

  it('use the provisioned datasource, and the provider loads the folder compose mounts', () => {
    const datasource = readFileSync(join(GRAFANA, 'provisioning/datasources/prometheus.yml'), 'utf8');
    const uid = /^\s+uid: (\S+)$/m.exec(datasource)?.[1];
    expect(uid).toBe('prometheus');
    for (const { file, json } of dashboards()) {
      for (const panel of json.panels) {
        expect([file, panel.title, panel.datasource?.uid]).toEqual([file, panel.title, uid]);
        for (const target of panel.targets ?? []) expect(target.datasource?.uid).toBe(uid);
      }
    }
    const provider = readFileSync(join(GRAFANA, 'provisioning/dashboards/hounsfield.yml'), 'utf8');
    const path = /^\s+path: (\S+)$/m.exec(provider)?.[1];
    const compose = readFileSync(join(REPO_ROOT, 'deploy/compose.yaml'), 'utf8');
    expect(compose).toContain(`./grafana/dashboards:${path}:ro`);
    expect(compose).toContain('./grafana/provisioning:/etc/grafana/provisioning:ro');
  });
});
