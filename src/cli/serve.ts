/** `harepost serve`: runs until SIGTERM/SIGINT, then shuts down gracefully. */
import type { Config } from '../config.js';
import { startHarepost } from './compose.js';

export async function serveCommand(config: Config): Promise<number> {
  const hp = await startHarepost(config);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      hp.logger.info({ signal }, 'signal received');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await hp.close();
  return 0;
}
