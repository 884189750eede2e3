/**
 * The README's walkthroughs, "Your first webhook" and "Events: destinations and fan-out", read
 * from README.md and run as written against a local Harepost: the `harepost` CLI command as a
 * child process on the service's database, every curl with its own method, headers and body. What
 * changes is only what must: http://127.0.0.1:8080 → this service, `$KEY` → the key the CLI
 * printed, `hr_…`/`dest_…` → the ids earlier answers held, and https://your-app.com gains the
 * receiver's port (your-app.com resolves to 127.0.0.1 through the test DNS server, which serves
 * the TXT record when the README says to publish it). Every response is checked against the shape
 * the README's comment shows, and the webhook and the event are seen arriving.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type DocLine,
  assertShape,
  documentedShape,
  parseShell,
  readCurl,
  shellBlocks,
} from '../support/doc-commands.js';
import { PROJECT_ROOT, runCli, showCli } from '../support/run-cli.js';
import { startStack, type ApiResponse, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

const README = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
const ID = /^(acct|hr|dest|evt|sub)_[A-Za-z0-9]+$/;

describe('README walkthroughs, run as written', () => {
  let stack: Stack;
  const vars: Record<string, string> = {};
  /** The newest id of each kind seen in any answer (hr, dest, evt, sub, acct). */
  const ids: Record<string, string> = {};
  let lastJson: unknown;
  let lastResponse: ApiResponse | null = null;
  const ran: string[] = [];
  /** The README comments whose answer shape was checked. */
  const checked: string[] = [];

  before(async () => {
    stack = await startStack({ certNames: ['your-app.com'] });
    stack.dns.setA('your-app.com', ['127.0.0.1']);
  });
  after(async () => stack.close());

  function remember(value: unknown): void {
    if (typeof value === 'string' && ID.test(value)) ids[value.split('_')[0]!] = value;
    else if (Array.isArray(value)) value.forEach(remember);
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(remember);
  }

  /** What the reader substitutes: the service's address, variables, ids from earlier answers, the receiver's port. */
  function fill(text: string): string {
    return text
      .replaceAll('http://127.0.0.1:8080', stack.hp.url!)
      .replace(/\$([A-Z_]+)/g, (_, name: string) => {
        assert.ok(name in vars, `$${name} is used before it is set`);
        return vars[name]!;
      })
      .replace(/\b(hr|dest|evt|sub|acct)_…/g, (_, kind: string) => {
        assert.ok(ids[kind], `${kind}_… is used before any answer held one`);
        return ids[kind]!;
      })
      .replaceAll('https://your-app.com/', `https://your-app.com:${stack.receiver.port}/`);
  }

  /** A value like `hp_live_…` in `export KEY=…`: the string of the last JSON output it stands for. */
  function resolvePlaceholder(value: string): string {
    if (!value.includes('…')) return value;
    const found = Object.values(lastJson as Record<string, unknown>).find(
      (v) => typeof v === 'string' && v.startsWith(value.split('…')[0]!),
    );
    assert.ok(typeof found === 'string', `nothing printed before matches ${value}`);
    return found;
  }

  async function runCurl(words: string[]): Promise<ApiResponse> {
    const call = readCurl(words.map(fill));
    assert.ok(call.url.startsWith(stack.hp.url!), `the README calls ${call.url}`);
    const r = await stack.api(call.method, call.url.slice(stack.hp.url!.length), {
      headers: call.headers,
      ...(call.body === undefined ? {} : { rawBody: call.body }),
    });
    assert.ok(r.status >= 200 && r.status < 300, `${words.join(' ')}\n→ ${r.status} ${r.text}`);
    remember(r.body);
    return r;
  }

  /** Runs one section's shell blocks in order; a comment's shape is checked against the command it documents. */
  async function runSection(heading: string): Promise<void> {
    const blocks = shellBlocks(README, heading);
    assert.ok(blocks.length > 0, `no commands under ${heading}`);
    for (const block of blocks) {
      const lines: DocLine[] = parseShell(block);
      let expectNext: ReturnType<typeof documentedShape> = null;
      for (const line of lines) {
        if (line.kind === 'comment') {
          const shape = documentedShape(line.text);
          const aboutPrevious = line.text.startsWith('→') || line.text.startsWith('{');
          if (shape && aboutPrevious) {
            assert.ok(lastResponse || lastJson !== undefined, `"${line.text}" follows no command`);
            if (shape.status !== null) assert.equal(lastResponse?.status, shape.status, line.text);
            assertShape(lastResponse ? lastResponse.body : lastJson, shape.shape);
            checked.push(line.text);
          } else if (shape) {
            expectNext = shape;
          }
          if (/publish that TXT record/i.test(line.text)) {
            const record = (lastResponse?.body as { record: { name: string; value: string } }).record;
            stack.dns.setTxt(record.name, [record.value]);
          }
          continue;
        }
        const [cmd, ...rest] = line.words;
        ran.push(line.words.join(' '));
        if (cmd === 'npx' && rest[0] === 'harepost') {
          const r = await runCli(rest.slice(1), { HAREPOST_DATABASE_URL: stack.env.HAREPOST_DATABASE_URL! });
          assert.equal(r.code, 0, showCli(r));
          lastJson = JSON.parse(r.stdout);
          lastResponse = null;
          remember(lastJson);
        } else if (cmd === 'export') {
          const [name, value] = rest[0]!.split(/=(.*)/s) as [string, string];
          vars[name] = resolvePlaceholder(value);
        } else if (cmd === 'curl') {
          lastResponse = await runCurl(line.words);
          if (expectNext) {
            if (expectNext.status !== null) assert.equal(lastResponse.status, expectNext.status);
            assertShape(lastResponse.body, expectNext.shape);
            checked.push(JSON.stringify(expectNext.shape));
            expectNext = null;
          }
        } else {
          assert.fail(`the README runs ${cmd}, which this test does not know`);
        }
      }
      assert.equal(expectNext, null, 'a documented answer with no command after it');
    }
  }

  it('"Your first webhook": an account from the CLI, a verified domain, a send, and reading it back', async () => {
    await runSection('Your first webhook');
    assert.ok(ran.some((c) => c.startsWith('npx harepost accounts create')), 'the CLI made the account');
    assert.match(vars.KEY ?? '', /^hp_live_/);
    assert.ok(checked.length >= 3, `the CLI output, the domain and the send answers were checked: ${checked.join(' | ')}`);
    // the send arrived and its delivery says so
    const queueId = ids.hr!;
    const req = await waitFor(() => stack.receiver.requests.find((r) => r.headers['x-harepost-queue-id'] === queueId), {
      message: 'the webhook did not arrive',
    });
    assert.equal(req.path, '/webhook');
    assert.deepEqual(JSON.parse(req.body.toString('utf8')), { event: 'order.paid', id: 'ord_123' });
    assert.equal(req.headers['x-harepost-idempotency-key'], 'ord_123-paid');
    await waitFor(async () => (await stack.api('GET', `/v1/deliveries/${queueId}`, { key: vars.KEY! })).body.status === 'delivered');
  });

  it('"Events: destinations and fan-out": a destination, a subscription, an event that lands, flow control', async () => {
    assert.ok(vars.KEY, 'runs after the first walkthrough, with its key');
    const [ranBefore, checkedBefore] = [ran.length, checked.length];
    await runSection('Events: destinations and fan-out');
    assert.ok(ran.length - ranBefore >= 4);
    assert.ok(checked.length > checkedBefore, 'the publish answer was checked');
    const queueId = ids.hr!;
    const req = await waitFor(() => stack.receiver.requests.find((r) => r.headers['x-harepost-queue-id'] === queueId), {
      message: 'the event did not arrive',
    });
    assert.equal(req.path, '/webhooks');
    assert.equal(req.headers['x-harepost-event'], 'order.created');
    assert.deepEqual(JSON.parse(req.body.toString('utf8')), { order_id: 'ord_123', amount_cents: 4500 });
    const dest = await stack.api('GET', `/v1/destinations/${ids.dest}`, { key: vars.KEY! });
    assert.deepEqual([dest.body.rate_limit, dest.body.max_in_flight], [{ per_second: 20 }, 4], 'the flow-control PATCH took');
  });
});
