import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary } from './binaries';
import { freePort, waitForPort } from './ports';
import { startProcess } from './process';
import { ServerHandle } from './servers';

/** What `promtool check metrics` said about an exposition: exit code 0 and no lint problems means it passed. */
export interface PromtoolResult {
  ok: boolean;
  output: string;
}

/** Runs `promtool check metrics` (Debian's `prometheus` package; HOUNSFIELD_PROMTOOL overrides) on exposition text. */
export function promtoolCheckMetrics(exposition: string): PromtoolResult {
  const result = spawnSync(findBinary('promtool', 'HOUNSFIELD_PROMTOOL'), ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (result.error) throw result.error;
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}`.trim() };
}

export interface PrometheusOptions {
  /** `host:port` targets scraped at /metrics, one scrape job named `hounsfield`. */
  targets: string[];
  scrapeIntervalSeconds?: number;
}

/**
 * A Prometheus server (Debian's `prometheus` package; HOUNSFIELD_PROMETHEUS overrides) on a free
 * loopback port, with a generated config scraping the given targets and a temporary TSDB.
 */
export async function startPrometheusServer(options: PrometheusOptions): Promise<ServerHandle> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'hf-prometheus-'));
  const interval = `${options.scrapeIntervalSeconds ?? 1}s`;
  const config = [
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    'scrape_configs:',
    '  - job_name: hounsfield',
    '    metrics_path: /metrics',
    '    static_configs:',
    `      - targets: [${options.targets.map((t) => JSON.stringify(t)).join(', ')}]`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  mkdirSync(join(dir, 'data'));
  const proc = startProcess({
    name: 'prometheus',
    command: findBinary('prometheus', 'HOUNSFIELD_PROMETHEUS'),
    args: [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    logPath: join(dir, 'prometheus.log'),
  });
  try {
    await Promise.race([
      waitForPort(port, 30_000, 'prometheus'),
      proc.wait().then((code) => {
        throw new Error(`prometheus exited with code ${code} during start; see ${join(dir, 'prometheus.log')}`);
      }),
    ]);
  } catch (error) {
    await proc.kill();
    throw error;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir: dir,
    process: proc,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
