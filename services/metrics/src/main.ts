import { runService } from '@hounsfield/runtime';
import { metricsModule } from './app.module';
import { loadMetricsConfig } from './config';

runService(loadMetricsConfig, metricsModule, (config) => config.HOUNSFIELD_METRICS_PORT);
