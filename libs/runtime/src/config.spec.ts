import { describe, expect, it } from '@jest/globals';
import { baseEnvSchema, ConfigError, parseEnv } from './config';

describe('environment parsing at boot', () => {
  it('fills defaults for the local stack', () => {
    expect(parseEnv(baseEnvSchema, {})).toMatchObject({ HOUNSFIELD_NATS_URL: 'nats://127.0.0.1:14222', HOUNSFIELD_REDIS_PREFIX: 'hf:' });
  });

  it('names the bad variable, what it should look like, and what it got', () => {
    expect(() => parseEnv(baseEnvSchema, { HOUNSFIELD_NATS_URL: 'localhost:4222' })).toThrow(ConfigError);
    expect(() => parseEnv(baseEnvSchema, { HOUNSFIELD_NATS_URL: 'localhost:4222' })).toThrow(
      /HOUNSFIELD_NATS_URL: a NATS URL such as nats:\/\/127.0.0.1:14222 \(got "localhost:4222"\)/,
    );
  });
});
