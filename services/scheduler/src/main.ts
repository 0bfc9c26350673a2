import { runService } from '@hounsfield/runtime';
import { schedulerModule } from './app.module';
import { loadSchedulerConfig } from './config';

runService(loadSchedulerConfig, schedulerModule, (config) => config.HOUNSFIELD_SCHEDULER_PORT);
