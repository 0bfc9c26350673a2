import { AlertEvent, AlertKind } from '@hounsfield/contracts';

/** Critical alerts mean the run is wasting its GPUs now; warnings mean it could do better. */
export const ALERT_SEVERITY: Record<AlertKind, AlertEvent['severity']> = {
  non_finite_loss: 'critical',
  loss_divergence: 'critical',
  stall: 'critical',
  loss_spike: 'warning',
  data_bound: 'warning',
  tiny_per_device_batch: 'warning',
};
