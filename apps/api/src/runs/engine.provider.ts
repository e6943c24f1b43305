import type { Provider } from '@nestjs/common';
import { type Engine, openEngine } from '@paas/engine';
import { API_CONFIG, type ApiConfig } from '../config';

/** The container engine of the control plane's own node, for one-off runs. */
export const ENGINE = Symbol('ENGINE');

export const engineProvider: Provider = {
  provide: ENGINE,
  inject: [API_CONFIG],
  useFactory: (config: ApiConfig): Promise<Engine> => openEngine(config.paths, config.engine),
};
