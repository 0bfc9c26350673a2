import { MonitoringPolicy } from '@hounsfield/contracts';

const LOSS_NAME = /loss/i;

/**
 * Whether a reported metric is a loss term: the ones the spec lists in `monitoring.lossTerms`, or,
 * without that list, every metric whose name contains "loss" (`loss`, `val_loss`, `loss_kl`...).
 * Loss terms get NaN, spike and divergence alerts; other scalars (PSNR, Dice) do not.
 */
export function isLossTerm(name: string, policy: MonitoringPolicy | undefined): boolean {
  return policy?.lossTerms ? policy.lossTerms.includes(name) : LOSS_NAME.test(name);
}
