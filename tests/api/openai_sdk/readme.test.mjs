// The README's first-screen examples, run as written against the server `make run` starts: the
// model `make model` writes (r1-tiny), scripts/run-serve.sh (what `make run` execs), then the
// README's curl command through bash and its chat.mjs through node with the pinned openai SDK.
// Only the address changes: the README's 127.0.0.1:8080 becomes the free port the server took.
//
// Run by CTest (api_readme_examples) as `node readme.test.mjs` with SINAN_BINARY and
// SINAN_SHARED_DIR set; exits 77 (CTest's skip) with a message when node_modules (`npm ci` here),
// curl or ../shared is absent.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { prerequisites, runSinan, skip, startServer } from '../../js/serve_process.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { sinan, vocab, root } = prerequisites(here, 'openai');
if (spawnSync('curl', ['--version']).status !== 0) skip('curl is not installed (Debian package curl)');

const { test, before, after } = await import('node:test');
const assert = (await import('node:assert/strict')).default;

const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], text: m[2] }));
const curlExample = blocks.find((b) => b.lang === 'sh' && b.text.startsWith('curl '));
const sdkExample = blocks.find((b) => b.lang === 'js' && b.text.startsWith('// chat.mjs'));

const work = mkdtempSync(join(tmpdir(), 'sinan-readme-'));
let server;
let address;  // host:port the server took

before(async () => {
  assert.ok(curlExample, 'the README has a ```sh block that starts with curl');
  assert.ok(sdkExample, 'the README has a ```js block that starts with // chat.mjs');
  // What `make model` writes (scripts/make-model.sh), here in a temp dir.
  const model = join(work, 'r1-tiny.gguf');
  runSinan(sinan, ['model', 'synth', '--shape', 'tiny', '--type', 'q8_0', '--vocab', vocab, '-o', model]);
  server = await startServer('bash', [join(root, 'scripts', 'run-serve.sh'), sinan], {
    env: { ...process.env, MODEL: model, PORT: '0', DATA_DIR: join(work, 'data') },
  });
  address = new URL(server.url).host;
});

after(() => {
  server?.child.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
});

const asWritten = (text) => {
  assert.ok(text.includes('127.0.0.1:8080'), 'the example talks to the address make run prints');
  return text.replaceAll('127.0.0.1:8080', address);
};

test("the README's curl example gets a chat completion from r1-tiny", () => {
  const r = spawnSync('bash', ['-c', asWritten(curlExample.text)], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const body = JSON.parse(r.stdout);
  assert.equal(body.object, 'chat.completion', r.stdout);
  assert.equal(body.model, 'r1-tiny');
  const message = body.choices[0].message;
  assert.ok((message.content ?? '').length + (message.reasoning_content ?? '').length > 0, 'text came back');
  assert.ok(body.usage.completion_tokens > 0);
});

test("the README's chat.mjs streams with the openai SDK", () => {
  // Beside a node_modules that resolves `import "openai"` to this folder's pinned SDK.
  symlinkSync(join(here, 'node_modules'), join(work, 'node_modules'));
  writeFileSync(join(work, 'chat.mjs'), asWritten(sdkExample.text));
  const env = { ...process.env };
  delete env.SINAN_API_KEY;  // make run's data directory holds no key
  const r = spawnSync(process.execPath, ['chat.mjs'], { cwd: work, encoding: 'utf8', env, timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.trim().length > 0, 'the stream printed text');
  assert.ok(r.stdout.endsWith('\n'));
});
