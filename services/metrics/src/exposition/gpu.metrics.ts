import { Inject, Injectable } from '@nestjs/common';
import { WorkerHeartbeat } from '@hounsfield/contracts';
import { PROMETHEUS_REGISTRY } from '@hounsfield/runtime';
import { Gauge, Registry } from 'prom-client';

type GpuLabels = { worker_id: string; gpu: string };

/**
 * Per-GPU telemetry from worker heartbeats, labelled by worker and GPU index, in base units
 * (utilisation as a 0–1 ratio, memory in bytes). The GPU's model and uuid are on `hounsfield_gpu_info`
 * only, so the value series stay lean.
 */
@Injectable()
export class GpuMetrics {
  /** GPU indices each worker reported last, so a GPU that disappears loses its series. */
  private readonly reported = new Map<string, { gpus: Map<string, { uuid: string; name: string }>; info: { hostname: string; simulated: string } }>();
  private readonly utilization: Gauge<keyof GpuLabels>;
  private readonly memoryUsed: Gauge<keyof GpuLabels>;
  private readonly memoryTotal: Gauge<keyof GpuLabels>;
  private readonly temperature: Gauge<keyof GpuLabels>;
  private readonly power: Gauge<keyof GpuLabels>;
  private readonly foreign: Gauge<keyof GpuLabels>;
  private readonly gpuInfo: Gauge<'worker_id' | 'gpu' | 'uuid' | 'name'>;
  private readonly workerInfo: Gauge<'worker_id' | 'hostname' | 'simulated'>;
  private readonly lastHeartbeat: Gauge<'worker_id'>;
  private readonly runningAttempts: Gauge<'worker_id'>;

  constructor(@Inject(PROMETHEUS_REGISTRY) registry: Registry) {
    const registers = [registry];
    const perGpu = (name: string, help: string) => new Gauge({ name, help, labelNames: ['worker_id', 'gpu'], registers });
    this.utilization = perGpu('hounsfield_gpu_utilization_ratio', 'GPU utilisation (0–1) as NVML reports it.');
    this.memoryUsed = perGpu('hounsfield_gpu_memory_used_bytes', 'GPU memory in use, by any process.');
    this.memoryTotal = perGpu('hounsfield_gpu_memory_total_bytes', 'GPU memory in total.');
    this.temperature = perGpu('hounsfield_gpu_temperature_celsius', 'GPU temperature.');
    this.power = perGpu('hounsfield_gpu_power_watts', 'GPU power draw (when the worker reports it).');
    this.foreign = perGpu('hounsfield_gpu_foreign_processes', '1 when processes the platform did not start hold memory on the GPU.');
    this.gpuInfo = new Gauge({ name: 'hounsfield_gpu_info', help: 'Always 1; the GPU model and uuid.', labelNames: ['worker_id', 'gpu', 'uuid', 'name'], registers });
    this.workerInfo = new Gauge({ name: 'hounsfield_worker_info', help: 'Always 1; the worker host and whether its GPUs are simulated.', labelNames: ['worker_id', 'hostname', 'simulated'], registers });
    this.lastHeartbeat = new Gauge({ name: 'hounsfield_worker_last_heartbeat_timestamp_seconds', help: 'When the worker last sent a heartbeat (its clock).', labelNames: ['worker_id'], registers });
    this.runningAttempts = new Gauge({ name: 'hounsfield_worker_running_attempts', help: 'Job attempts the worker runs now.', labelNames: ['worker_id'], registers });
  }

  observe(heartbeat: WorkerHeartbeat): void {
    const worker_id = heartbeat.workerId;
    const previous = this.reported.get(worker_id);
    const gpus = new Map<string, { uuid: string; name: string }>();
    for (const gpu of heartbeat.gpus) {
      const labels = { worker_id, gpu: String(gpu.index) };
      gpus.set(labels.gpu, { uuid: gpu.uuid, name: gpu.name });
      this.utilization.set(labels, gpu.utilizationPercent / 100);
      this.memoryUsed.set(labels, gpu.memoryUsedBytes);
      this.memoryTotal.set(labels, gpu.memoryTotalBytes);
      this.temperature.set(labels, gpu.temperatureCelsius);
      if (gpu.powerWatts !== undefined) this.power.set(labels, gpu.powerWatts);
      this.foreign.set(labels, gpu.foreignProcesses ? 1 : 0);
      const before = previous?.gpus.get(labels.gpu);
      if (before && (before.uuid !== gpu.uuid || before.name !== gpu.name)) this.gpuInfo.remove({ ...labels, ...before });
      this.gpuInfo.set({ ...labels, uuid: gpu.uuid, name: gpu.name }, 1);
    }
    for (const [gpu, info] of previous?.gpus ?? []) {
      if (!gpus.has(gpu)) this.removeGpu(worker_id, gpu, info);
    }
    const info = { hostname: heartbeat.hostname || worker_id, simulated: String(heartbeat.simulated) };
    if (previous && (previous.info.hostname !== info.hostname || previous.info.simulated !== info.simulated)) {
      this.workerInfo.remove({ worker_id, ...previous.info });
    }
    this.workerInfo.set({ worker_id, ...info }, 1);
    this.lastHeartbeat.set({ worker_id }, Date.parse(heartbeat.at) / 1000);
    this.runningAttempts.set({ worker_id }, heartbeat.running.length);
    this.reported.set(worker_id, { gpus, info });
  }

  /** Removes every series of a worker that stopped sending heartbeats. */
  removeWorker(workerId: string): void {
    const previous = this.reported.get(workerId);
    if (!previous) return;
    for (const [gpu, info] of previous.gpus) this.removeGpu(workerId, gpu, info);
    this.workerInfo.remove({ worker_id: workerId, ...previous.info });
    this.lastHeartbeat.remove({ worker_id: workerId });
    this.runningAttempts.remove({ worker_id: workerId });
    this.reported.delete(workerId);
  }

  private removeGpu(worker_id: string, gpu: string, info: { uuid: string; name: string }): void {
    const labels = { worker_id, gpu };
    for (const gauge of [this.utilization, this.memoryUsed, this.memoryTotal, this.temperature, this.power, this.foreign]) gauge.remove(labels);
    this.gpuInfo.remove({ ...labels, ...info });
  }
}
