import { runService } from '@hounsfield/runtime';
import { evaluationModule } from './app.module';
import { loadEvaluationConfig } from './config';

runService(loadEvaluationConfig, evaluationModule, (config) => config.HOUNSFIELD_EVALUATION_PORT);
