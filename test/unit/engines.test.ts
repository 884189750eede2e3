/**
 * `npm install` on Node 20 prints no engine warning: every package the lock file installs admits
 * every Node 20 release that Harepost itself admits (package.json `engines.node`). A dependency
 * that creeps in needing Node 22 (as cookie@2 did, through Fastify's light-my-request) fails here.
 *
 * Optional packages are left out: npm does not check their engines and simply skips one that does
 * not fit (e.g. rollup's @napi-rs/lzma-linux-x64-gnu), without a warning.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import semver from 'semver';

const ROOT = new URL('../../', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { engines?: { node?: string } };
const lock = JSON.parse(readFileSync(new URL('package-lock.json', ROOT), 'utf8')) as {
  packages: Record<string, { version?: string; optional?: boolean; engines?: Record<string, string> | string[] }>;
};

/** The node range of an `engines` field: an object `{node}` or, in old packages, an array like ["node >= 0.8"]. */
function nodeRange(engines: Record<string, string> | string[] | undefined): string | null {
  if (engines === undefined) return null;
  if (Array.isArray(engines)) {
    const entry = engines.find((e) => /^\s*node\b/.test(e));
    return entry === undefined ? null : entry.replace(/^\s*node\s*/, '');
  }
  return engines.node ?? null;
}

describe('engines', () => {
  const ours = manifest.engines?.node;
  const floor = ours === undefined ? null : semver.minVersion(ours);
  /** Every Node 20 release Harepost admits. */
  const node20 = floor === null ? '' : `>=${floor.version} <21.0.0-0`;

  it('Harepost itself runs on Node 20', () => {
    assert.ok(ours, 'package.json has engines.node');
    assert.ok(floor, `engines.node "${ours}" admits no version`);
    assert.equal(floor.major, 20, `engines.node "${ours}" starts at ${floor.version}, not on Node 20`);
    assert.ok(semver.subset(node20, ours), `"${ours}" admits all of ${node20}`);
  });

  it('every package in package-lock.json admits those Node 20 releases', () => {
    const refused: string[] = [];
    let checked = 0;
    for (const [path, pkg] of Object.entries(lock.packages)) {
      if (path === '' || pkg.optional) continue;
      const range = nodeRange(pkg.engines);
      if (range === null) continue;
      checked++;
      if (!semver.validRange(range) || !semver.subset(node20, range)) refused.push(`${path}@${pkg.version}: node ${range}`);
    }
    assert.ok(checked > 20, `only ${checked} packages state engines: is this the lock file?`);
    assert.deepEqual(refused, [], `npm install would warn EBADENGINE on Node 20 (${node20}) for:\n${refused.join('\n')}`);
  });
});
