/**
 * Starting one of Harepost's own modules as a worker thread (the delivery attempts' thread,
 * net/attempt-thread.ts).
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/** The module `name` beside `base` (an import.meta.url): .js when built, .ts when run from the sources under tsx. */
export function siblingModuleUrl(base: string, name: string): URL {
  return new URL(`./${name}${extname(fileURLToPath(base))}`, base);
}

/**
 * Starts the module at `url` as a worker thread. A .ts module (the tests run the sources under tsx)
 * needs tsx's loader, which a worker on Node 20 does not take from the parent's --import: it
 * registers it first.
 */
export function startModuleWorker(url: URL, workerData: unknown): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}
