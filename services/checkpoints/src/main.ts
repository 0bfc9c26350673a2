import { runService } from '@hounsfield/runtime';
import { checkpointsModule } from './app.module';
import { loadCheckpointsConfig } from './config';

runService(loadCheckpointsConfig, checkpointsModule, (config) => config.HOUNSFIELD_CHECKPOINTS_PORT);
