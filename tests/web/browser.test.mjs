// `sinan serve` in a real browser: Debian's Chromium, driven by playwright-core (version pinned in
// package-lock.json).
//   - The chat page at / : the key field, the model list, a question sent with Enter, the streamed
//     reasoning (folded) and answer shown exactly as the server sent them, the confidence line,
//     the history sent with the next question, and Stop (the server ends the generation).
//   - CORS: a page of another origin (a loopback one, allowed by default) calls the API with a key,
//     streaming, and reads the error of a request without one; a server started with
//     --cors-origin naming only another origin is out of that page's reach.
//   - DNS rebinding: a page whose own name resolves to this machine reads nothing of the server
//     (it answers only requests addressed to a loopback name).
//
// Run by CTest (web_browser) as `node browser.test.mjs` with SINAN_BINARY and SINAN_SHARED_DIR set;
// exits 77 (CTest's skip) with a message when node_modules (`npm ci` here), Chromium
// (SINAN_CHROMIUM, default /usr/bin/chromium: Debian's chromium package) or ../shared is absent.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { prerequisites, runSinan, skip, startServer } from '../js/serve_process.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { sinan, vocab } = prerequisites(here, 'playwright-core');
const chromiumPath = process.env.SINAN_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(chromiumPath)) skip(`no Chromium at ${chromiumPath} (Debian package chromium; scripts/install-deps.sh)`);

const { chromium } = await import('playwright-core');
const { test, before, after } = await import('node:test');
const assert = (await import('node:assert/strict')).default;

const work = mkdtempSync(join(tmpdir(), 'sinan-web-'));
const servers = [];
let browser;
let sinanURL;  // the server with a model and a key; default CORS (loopback)
let apiKey;
let pageServer;  // a loopback origin of its own: http://127.0.0.1:<other port>
let pageOrigin;

// Starts `sinan serve` on a free loopback port with args: { url, child, log() }.
async function startSinan(args) {
  const server = await startServer(sinan, ['serve', '--host', '127.0.0.1', '--port', '0', ...args]);
  servers.push(server);
  return server;
}

async function waitFor(what, condition, ms = 20_000) {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

before(async () => {
  const model = join(work, 'tiny.gguf');
  runSinan(sinan, ['model', 'synth', '--shape', 'tiny', '--type', 'q8_0', '--vocab', vocab, '--seed', '1', '-o', model]);
  const data = join(work, 'data');
  apiKey = runSinan(sinan, ['keys', 'create', '--name', 'web', '--data-dir', data]).trim();
  // A 256-token context: the page sets no max_tokens, so an answer ends at the context.
  sinanURL = (await startSinan(['-m', model, '--data-dir', data, '--ctx-size', '256', '--parallel', '2'])).url;
  pageServer = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>another origin</title><p>a page that calls sinan</p>');
  });
  await new Promise((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
  pageOrigin = `http://127.0.0.1:${pageServer.address().port}`;
  browser = await chromium.launch({
    executablePath: chromiumPath,
    // As root without a display; no connection attempts to Google's services (this machine reaches
    // none); /tmp rather than a possibly small /dev/shm.
    // rebind.test resolves to this machine, as a page's own name does in a DNS-rebinding attack;
    // Chromium's own guard against such calls (Local Network Access) is off, to play a browser
    // without it (Firefox, Safari, an older Chromium): the server must refuse them itself.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           '--host-resolver-rules=MAP rebind.test 127.0.0.1',
           '--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights'],
  });
});

after(async () => {
  await browser?.close();
  pageServer?.close();
  for (const s of servers) s.child.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
});

// Runs in the page before its own script: records what each of the page's /api/v1/chat fetches
// receives, decoded as the page decodes it (window.chatStreams[i]: status, text, reads, done).
function recordChatStreams() {
  const fetchOriginal = window.fetch;
  window.chatStreams = [];
  window.fetch = async (...args) => {
    const response = await fetchOriginal(...args);
    if (!String(args[0]).endsWith('/api/v1/chat')) return response;
    const [forPage, forTest] = response.body.tee();
    const record = { status: response.status, text: '', reads: 0, done: false };
    window.chatStreams.push(record);
    (async () => {
      const reader = forTest.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        record.reads += 1;
        record.text += decoder.decode(value, { stream: true });
      }
      record.done = true;
    })();
    return new Response(forPage, { status: response.status, statusText: response.statusText,
                                   headers: response.headers });
  };
}

// The texts of a /api/v1/chat stream (SSE), by event type.
function chatEvents(sse) {
  const out = { reasoning: '', answer: '', done: null };
  for (const block of sse.split('\n\n')) {
    if (!block.startsWith('data: ') || block === 'data: [DONE]') continue;
    const m = JSON.parse(block.slice(6));
    if (m.type === 'reasoning') out.reasoning += m.text;
    else if (m.type === 'answer') out.answer += m.text;
    else if (m.type === 'done') out.done = m;
  }
  return out;
}

test('the chat page asks for the key, streams reasoning (folded) and answer as sent, with the confidence',
     async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.addInitScript(recordChatStreams);
  await page.goto(`${sinanURL}/`);
  // Without a key the model list cannot load: the page says why.
  await page.locator('#status').filter({ hasText: 'needs an API key' }).waitFor({ timeout: 20_000 });
  await page.fill('#key', apiKey);
  await page.dispatchEvent('#key', 'change');
  await page.locator('#model option[value="tiny"]').waitFor({ state: 'attached', timeout: 20_000 });
  assert.equal(await page.textContent('#status'), '');

  let asked = 0;
  const ask = async (question) => {
    const request = page.waitForRequest((r) => r.url().endsWith('/api/v1/chat'), { timeout: 60_000 });
    await page.fill('#input', question);
    await page.press('#input', 'Enter');
    const sent = (await request).postDataJSON();
    const box = page.locator('.msg.assistant').last();
    await box.locator('.meta').filter({ hasText: 'confidence' }).waitFor({ timeout: 60_000 });
    await page.waitForFunction((i) => window.chatStreams[i]?.done, asked, { timeout: 10_000 });
    const stream = await page.evaluate((i) => window.chatStreams[i], asked++);
    assert.equal(stream.status, 200);
    assert.ok(stream.reads > 1, `the answer streamed in (${stream.reads} reads)`);
    return { sent, events: chatEvents(stream.text), box };
  };

  const first = await ask('Name three colours.');
  assert.equal(first.sent.query, 'Name three colours.');
  assert.equal(first.sent.stream, true);
  assert.equal(first.sent.model, 'tiny');
  assert.deepEqual(first.sent.history, []);
  assert.equal(await page.locator('.msg.user').last().textContent(), 'Name three colours.');
  const { events, box } = first;
  assert.ok(events.done, 'the stream ends with a done event');
  assert.ok(events.reasoning.length + events.answer.length > 0, 'the model generated text');
  // What the page shows is exactly what the server streamed, reasoning folded away.
  const details = box.locator('details');
  assert.equal(await details.evaluate((d) => d.open), false, 'the reasoning is folded');
  assert.equal(await details.locator('summary').textContent(), 'reasoning');
  assert.equal(await details.locator('div').textContent(), events.reasoning);
  assert.equal(await details.isVisible(), events.reasoning.length > 0);
  assert.equal(await box.locator(':scope > div:not(.meta)').first().textContent(), events.answer);
  const meta = await box.locator('.meta').textContent();
  assert.match(meta, new RegExp(`^confidence ${events.done.confidence.toFixed(3).replace('.', '\\.')} · ` +
                                `${events.done.usage.completion_tokens} tokens · `));
  // Unfolding shows the reasoning.
  await details.locator('summary').click();
  assert.equal(await details.evaluate((d) => d.open), true);

  // The next question carries the conversation so far.
  const second = await ask('And three more?');
  assert.deepEqual(second.sent.history, [
    { role: 'user', content: 'Name three colours.' },
    { role: 'assistant', content: events.answer },
  ]);
  assert.equal(await page.locator('.msg.assistant').count(), 2);
  assert.deepEqual(errors, [], 'no script error on the page');
  await page.close();
});

test('Stop ends the answer being streamed, on the page and in the server', async () => {
  const long = await startSinan(['-m', join(work, 'tiny.gguf'), '--api-keys', 'off', '--data-dir', join(work, 'stop'),
                                 '--parallel', '1']);
  const page = await browser.newPage();
  // The page sets no max_tokens: its answer ends at the context (a second or two here). With a
  // limit far beyond it the chat route shifts the context and goes on, until Stop.
  await page.addInitScript(() => {
    const fetchOriginal = window.fetch;
    window.fetch = (url, init) => fetchOriginal(url, String(url).endsWith('/api/v1/chat')
      ? { ...init, body: JSON.stringify({ ...JSON.parse(init.body), max_tokens: 1_000_000 }) } : init);
  });
  await page.goto(`${long.url}/`);
  await page.locator('#model option[value="tiny"]').waitFor({ state: 'attached', timeout: 20_000 });
  await page.fill('#input', 'Count to a million.');
  await page.press('#input', 'Enter');
  const box = page.locator('.msg.assistant').last();
  await box.locator('details div').filter({ hasText: /./ }).waitFor({ state: 'attached', timeout: 30_000 });
  assert.equal(await page.textContent('#send'), 'Stop');
  await page.press('#input', 'Enter');  // Enter while streaming does not stop it
  assert.equal(await page.textContent('#send'), 'Stop');
  await page.click('#send');
  await box.locator('.meta').filter({ hasText: 'stopped' }).waitFor({ timeout: 10_000 });
  assert.equal(await page.textContent('#send'), 'Send');
  assert.equal(await box.evaluate((b) => b.classList.contains('error')), false);
  // The server ended the generation when the connection closed: its slot is free again.
  await waitFor('the request log line', () => /route="POST \/api\/v1\/chat"/.test(long.log()));
  const tokens = Number(long.log().match(/route="POST \/api\/v1\/chat".*completion_tokens=(\d+)/)[1]);
  assert.ok(tokens > 0 && tokens < 1_000_000, `${tokens} tokens`);
  const ready = await (await fetch(`${long.url}/ready`)).json();
  assert.equal(ready.models[0].running, 0, JSON.stringify(ready));
  await page.close();
});

// Runs fetch(url, init) in the page (its origin's CORS rules apply); resolves to
// { status, body, requestId } or { error } when the browser refused to let the page read it.
function fetchFrom(page, url, init) {
  return page.evaluate(async ({ url, init }) => {
    try {
      const r = await fetch(url, init);
      return { status: r.status, body: await r.text(), requestId: r.headers.get('X-Request-Id') };
    } catch (e) {
      return { error: String(e) };
    }
  }, { url, init });
}

test('a page of another (loopback) origin streams a completion with its key and reads why a request was refused',
     async () => {
  const page = await browser.newPage();
  await page.goto(`${pageOrigin}/`);
  const body = JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8,
                                temperature: 0, stream: true });
  const streamed = await fetchFrom(page, `${sinanURL}/v1/chat/completions`, {
    method: 'POST', body, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${apiKey}` },
  });
  assert.equal(streamed.error, undefined, `the browser let the page read the stream: ${streamed.error}`);
  assert.equal(streamed.status, 200);
  assert.match(streamed.body, /data: \[DONE\]/);
  assert.match(streamed.requestId ?? '', /^req-/, 'X-Request-Id is exposed to the page');
  const refused = await fetchFrom(page, `${sinanURL}/v1/chat/completions`, {
    method: 'POST', body, headers: { 'Content-Type': 'application/json' },
  });
  assert.equal(refused.status, 401);
  assert.match(JSON.parse(refused.body).error.message, /needs an API key/);
  await page.close();
});

test('--cors-origin naming another origin keeps this page out', async () => {
  const empty = join(work, 'no-models');
  mkdirSync(empty, { recursive: true });
  const strict = (await startSinan(['--models-dir', empty, '--api-keys', 'off', '--data-dir', join(work, 'strict'),
                                    '--cors-origin', 'https://chat.example.com'])).url;
  const page = await browser.newPage();
  await page.goto(`${pageOrigin}/`);
  const r = await fetchFrom(page, `${strict}/v1/models`, {});
  assert.match(r.error ?? '', /Failed to fetch/, `the browser kept the response from the page: ${JSON.stringify(r)}`);
  const post = await fetchFrom(page, `${strict}/v1/chat/completions`, {
    method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' },
  });
  assert.match(post.error ?? '', /Failed to fetch/, 'the preflight was refused');
  // The same page reads the default-policy server.
  const allowed = await fetchFrom(page, `${sinanURL}/health`, {});
  assert.equal(allowed.status, 200);
  await page.close();
});

test('a page whose own name resolves to this machine (DNS rebinding) reads nothing of the server', async () => {
  const port = new URL(sinanURL).port;
  const page = await browser.newPage();
  // The attacker's page, as its server sent it before its name was pointed at this machine.
  await page.route(`http://rebind.test:${port}/attack.html`, (route) => route.fulfill({
    contentType: 'text/html', body: '<!doctype html><title>attack</title><p>a page on the internet</p>',
  }));
  await page.goto(`http://rebind.test:${port}/attack.html`);
  // Same origin for the browser, so no CORS check: the server itself refuses the name.
  for (const path of ['/v1/models', '/api/v1/kb', '/']) {
    const r = await fetchFrom(page, path, { headers: { Authorization: `Bearer ${apiKey}` } });
    assert.equal(r.status, 403, `${path}: ${JSON.stringify(r)}`);
    assert.equal(JSON.parse(r.body).error.code, 'host_not_allowed');
  }
  // The same browser, addressing the server by a loopback name, reads it.
  const direct = await page.goto(`${sinanURL}/v1/models`, { waitUntil: 'load' });
  assert.equal(direct.status(), 401);  // it asks for the key: the server is there and answers
  await page.close();
});
