import { runService } from '@hounsfield/runtime';
import { gatewayModule } from './app.module';
import { loadGatewayConfig } from './config';

runService(
  loadGatewayConfig,
  gatewayModule,
  (config) => config.HOUNSFIELD_HTTP_PORT,
  (config) => config.HOUNSFIELD_JSON_BODY_LIMIT_BYTES,
);
