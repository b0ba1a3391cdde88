// The official `openai` Node SDK (version pinned in package-lock.json) against the real
// `sinan serve`: models.list, chat.completions (plain and streamed), completions, and API keys.
//
// Run by CTest (api_openai_sdk) as `node sdk.test.mjs` with SINAN_BINARY and SINAN_SHARED_DIR set;
// exits 77 (CTest's skip) with a message when node_modules (`npm ci` here) or ../shared is absent.
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { prerequisites, runSinan, skip, startServer } from '../../js/serve_process.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { sinan, models, vocab } = prerequisites(here, 'openai');
const bert = join(models, 'bert-tiny-f32.gguf');
if (!existsSync(bert)) skip(`reference embedding model not found: ${bert}`);

const { default: OpenAI } = await import('openai');
const { test, before, after } = await import('node:test');
const assert = (await import('node:assert/strict')).default;

const work = mkdtempSync(join(tmpdir(), 'sinan-sdk-'));
const model = join(work, 'tiny.gguf');
const run = (args) => runSinan(sinan, args);
let server;
let baseURL;
let apiKey;

before(async () => {
  run(['model', 'synth', '--shape', 'tiny', '--type', 'q8_0', '--vocab', vocab, '--seed', '1', '-o', model]);
  apiKey = run(['keys', 'create', '--name', 'sdk', '--data-dir', join(work, 'data')]).trim();
  // The embedding model is offered beside the generative one (--models-dir).
  mkdirSync(join(work, 'models'));
  symlinkSync(bert, join(work, 'models', 'bert-tiny.gguf'));
  server = await startServer(sinan, ['serve', '-m', model, '--models-dir', join(work, 'models'), '--models-max', '2',
                                     '--host', '127.0.0.1', '--port', '0', '--data-dir', join(work, 'data'),
                                     '--parallel', '2']);
  baseURL = `${server.url}/v1`;
});

after(() => {
  server?.child.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
});

const client = () => new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60_000 });
const messages = [{ role: 'user', content: 'Name three colours.' }];

test('models.list names the served model', async () => {
  const ids = [];
  for await (const m of client().models.list()) ids.push(m.id);
  assert.deepEqual(ids, ['tiny', 'bert-tiny']);
});

test('chat.completions without streaming: text, finish_reason and usage', async () => {
  const r = await client().chat.completions.create({ model: 'tiny', messages, max_tokens: 12, temperature: 0 });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  const c = r.choices[0];
  assert.equal(c.message.role, 'assistant');
  assert.equal(typeof c.message.content, 'string');
  assert.ok(['stop', 'length'].includes(c.finish_reason), c.finish_reason);
  assert.ok((c.message.content + (c.message.reasoning_content ?? '')).length > 0, 'some text was generated');
  assert.ok(r.usage.prompt_tokens > 0);
  assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 12, JSON.stringify(r.usage));
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  if (c.finish_reason === 'length') assert.equal(r.usage.completion_tokens, 12);
});

test('chat.completions streamed: the chunks assemble into the same answer, usage last', async () => {
  const request = { model: 'tiny', messages, max_tokens: 12, temperature: 0 };
  const whole = await client().chat.completions.create(request);
  const stream = await client().chat.completions.create({
    ...request, stream: true, stream_options: { include_usage: true },
  });
  let content = '';
  let reasoning = '';
  let finish = null;
  let usage = null;
  let ids = new Set();
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    ids.add(chunk.id);
    if (chunk.usage) usage = chunk.usage;
    for (const ch of chunk.choices) {
      content += ch.delta.content ?? '';
      reasoning += ch.delta.reasoning_content ?? '';
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  assert.equal(ids.size, 1, 'one id for the whole stream');
  assert.equal(content, whole.choices[0].message.content);
  assert.equal(reasoning, whole.choices[0].message.reasoning_content ?? '');
  assert.equal(finish, whole.choices[0].finish_reason);
  assert.ok(usage, 'stream_options.include_usage sends a usage chunk');
  assert.deepEqual(
    [usage.prompt_tokens, usage.completion_tokens, usage.total_tokens],
    [whole.usage.prompt_tokens, whole.usage.completion_tokens, whole.usage.total_tokens]);
});

test('completions: text and usage, streamed and not', async () => {
  const request = { model: 'tiny', prompt: 'Once upon a time', max_tokens: 8, temperature: 0 };
  const r = await client().completions.create(request);
  assert.equal(r.object, 'text_completion');
  assert.equal(typeof r.choices[0].text, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 8);
  let text = '';
  for await (const chunk of await client().completions.create({ ...request, stream: true })) {
    for (const ch of chunk.choices) text += ch.text ?? '';
  }
  assert.equal(text, r.choices[0].text);
});

test('embeddings.create: unit vectors per input (the SDK asks for base64 and decodes it), usage', async () => {
  const r = await client().embeddings.create({ model: 'bert-tiny', input: ['Hello world, this is a test.', 'Hi'] });
  assert.equal(r.data.length, 2);
  for (const [i, d] of r.data.entries()) {
    assert.equal(d.index, i);
    assert.equal(d.embedding.length, 64);
    const norm = Math.sqrt(d.embedding.reduce((s, v) => s + v * v, 0));
    assert.ok(Math.abs(norm - 1) < 1e-5, `norm ${norm}`);
  }
  // The same vector as decimals (float32's shortest forms): base64 carried the float32 values exactly.
  const floats = await client().embeddings.create({ model: 'bert-tiny', input: 'Hello world, this is a test.',
                                                    encoding_format: 'float' });
  assert.deepEqual(floats.data[0].embedding.map(Math.fround), r.data[0].embedding);
  assert.equal(r.usage.prompt_tokens, 10 + 3);
  await assert.rejects(client().embeddings.create({ model: 'tiny', input: 'x' }),
    (e) => e.status === 400 && /not an embedding model/.test(e.message));
});

test('a wrong API key is an AuthenticationError (401)', async () => {
  const bad = new OpenAI({ baseURL, apiKey: 'sk-sinan-wrong', maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
});

test('an unknown model is a BadRequestError or NotFoundError naming the model', async () => {
  await assert.rejects(
    client().chat.completions.create({ model: 'no-such-model', messages }),
    (e) => (e.status === 400 || e.status === 404) && /no-such-model/.test(e.message));
});

// Polls `call` until it resolves (true) or 10 s pass (false): the server re-reads keys.json at
// most once a second.
async function eventually(call) {
  for (let i = 0; i < 100; i++) {
    try {
      await call();
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return false;
}

test('keys created and revoked with `sinan keys` on the running server take effect', async () => {
  const dataDir = join(work, 'data');
  const late = run(['keys', 'create', '--name', 'late', '--data-dir', dataDir]).trim();
  const lateClient = new OpenAI({ baseURL, apiKey: late, maxRetries: 0 });
  assert.ok(await eventually(() => lateClient.models.list()), 'the new key is accepted');
  run(['keys', 'revoke', 'late', '--data-dir', dataDir]);
  const refused = await eventually(async () => {
    try {
      await lateClient.models.list();
    } catch (e) {
      if (e instanceof OpenAI.AuthenticationError) return;
      throw e;
    }
    throw new Error('still accepted');
  });
  assert.ok(refused, 'the revoked key is refused');
  await client().models.list();  // the first key still works
});
