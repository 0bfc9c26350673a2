import { Inject, Injectable } from '@nestjs/common';
import { GpuInfo, WorkerHeartbeat } from '@hounsfield/contracts';
import { PROMETHEUS_REGISTRY } from '@hounsfield/runtime';
import { Gauge, Registry } from 'prom-client';
import { WorkerTelemetry } from '../cluster/worker-telemetry';

/**
 * Per-GPU telemetry from worker heartbeats, labelled by worker and GPU index, in base units
 * (utilisation as a 0–1 ratio, memory in bytes). The GPU's model and uuid are on `hounsfield_gpu_info`
 * only, so the value series stay lean. The gauges are filled from the latest heartbeat of each
 * live worker (WorkerTelemetry) when Prometheus scrapes, so a heartbeat costs nothing here, and a
 * worker that went silent (or a GPU it no longer reports) simply has no series.
 */
@Injectable()
export class GpuMetrics {
  constructor(@Inject(PROMETHEUS_REGISTRY) registry: Registry, telemetry: WorkerTelemetry) {
    const registers = [registry];
    const perGpu = (name: string, help: string, read: (gpu: GpuInfo) => number | undefined) =>
      new Gauge({
        name,
        help,
        labelNames: ['worker_id', 'gpu'],
        registers,
        collect() {
          this.reset();
          for (const heartbeat of telemetry.heartbeats()) {
            for (const gpu of heartbeat.gpus) {
              const value = read(gpu);
              if (value !== undefined) this.set({ worker_id: heartbeat.workerId, gpu: String(gpu.index) }, value);
            }
          }
        },
      });
    perGpu('hounsfield_gpu_utilization_ratio', 'GPU utilisation (0–1) as NVML reports it.', (g) => g.utilizationPercent / 100);
    perGpu('hounsfield_gpu_memory_used_bytes', 'GPU memory in use, by any process.', (g) => g.memoryUsedBytes);
    perGpu('hounsfield_gpu_memory_total_bytes', 'GPU memory in total.', (g) => g.memoryTotalBytes);
    perGpu('hounsfield_gpu_temperature_celsius', 'GPU temperature.', (g) => g.temperatureCelsius);
    perGpu('hounsfield_gpu_power_watts', 'GPU power draw (when the worker reports it).', (g) => g.powerWatts);
    perGpu('hounsfield_gpu_foreign_processes', '1 when processes the platform did not start hold memory on the GPU.', (g) => (g.foreignProcesses ? 1 : 0));
    new Gauge({
      name: 'hounsfield_gpu_info',
      help: 'Always 1; the GPU model and uuid.',
      labelNames: ['worker_id', 'gpu', 'uuid', 'name'],
      registers,
      collect() {
        this.reset();
        for (const h of telemetry.heartbeats()) for (const g of h.gpus) this.set({ worker_id: h.workerId, gpu: String(g.index), uuid: g.uuid, name: g.name }, 1);
      },
    });
    const perWorker = (name: string, help: string, labelNames: string[], read: (h: WorkerHeartbeat) => [Record<string, string>, number]) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const heartbeat of telemetry.heartbeats()) {
            const [labels, value] = read(heartbeat);
            this.set({ worker_id: heartbeat.workerId, ...labels }, value);
          }
        },
      });
    perWorker('hounsfield_worker_info', 'Always 1; the worker host and whether its GPUs are simulated.', ['worker_id', 'hostname', 'simulated'], (h) => [
      { hostname: h.hostname || h.workerId, simulated: String(h.simulated) },
      1,
    ]);
    perWorker('hounsfield_worker_last_heartbeat_timestamp_seconds', 'When the worker last sent a heartbeat (its clock).', ['worker_id'], (h) => [{}, Date.parse(h.at) / 1000]);
    perWorker('hounsfield_worker_running_attempts', 'Job attempts the worker runs now.', ['worker_id'], (h) => [{}, h.running.length]);
  }

}
