/** The operator's default limits per account, from the configuration (HAREPOST_MAX_*). */
import type { LimitDefaults } from '../core/limits.js';
import type { Config } from '../config.js';

export function limitDefaultsOf(config: Config): LimitDefaults {
  return {
    max_destinations: config.maxDestinations,
    max_keys: config.maxKeys,
    max_domains: config.maxDomains,
    max_pending_deliveries: config.maxPendingDeliveries,
  };
}
