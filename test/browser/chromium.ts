/**
 * Debian's Chromium (/usr/bin/chromium, installed by .ci/run) as the browser tests launch it:
 * headless, nothing in the background, and no name resolving to anything but loopback.
 */
import { existsSync } from 'node:fs';
import assert from 'node:assert/strict';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.HAREPOST_TEST_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--metrics-recording-only',
  '--no-default-browser-check',
  '--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication',
  // nothing but the loopback service: any other host name resolves to nothing (localhost is
  // loopback too, and a site of its own beside 127.0.0.1: the portal test frames across the two)
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
];

/** Launches it, with `extraArgs` after the common ones. */
export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...extraArgs], headless: true });
}
