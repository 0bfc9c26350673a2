import { collectDefaultMetrics, Registry } from 'prom-client';

/** Injection token of the service's Prometheus registry; services register their own metrics in it. */
export const PROMETHEUS_REGISTRY = Symbol('PROMETHEUS_REGISTRY');

/**
 * prom-client defaults that break Prometheus naming rules (gauges ending in `_total`): with them
 * `promtool check metrics` fails on every service, so they are left out.
 */
const NON_CONFORMING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** A registry with the process and Node.js runtime metrics every service exposes on /metrics. */
export function createServiceRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of NON_CONFORMING_DEFAULTS) registry.removeSingleMetric(name);
  return registry;
}
