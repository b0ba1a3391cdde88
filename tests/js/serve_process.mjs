// What the Node tests (tests/api/openai_sdk, tests/web) share: CTest's skip, the sinan binary and
// the reference vocabulary they need, running `sinan` commands, and starting a server process and
// waiting for its "listening on http://HOST:PORT" line.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '../../..');

// Ends the test program with CTest's skip code (77) and the reason.
export function skip(why) {
  console.log(`SKIP: ${why}`);
  process.exit(77);
}

// The sinan binary (SINAN_BINARY) and the DeepSeek-R1 vocabulary of ../shared (SINAN_SHARED_DIR);
// skips without them, or without the npm package `needs` in `dir`'s node_modules (`npm ci` there).
export function prerequisites(dir, needs) {
  if (!existsSync(join(dir, 'node_modules', needs))) skip(`no node_modules in ${dir}; run \`npm ci\` there`);
  const sinan = process.env.SINAN_BINARY;
  if (!sinan || !existsSync(sinan)) skip('SINAN_BINARY does not name the sinan binary');
  const models = join(process.env.SINAN_SHARED_DIR ?? join(root, '../shared'), 'models');
  const vocab = join(models, 'ggml-vocab-deepseek-r1-qwen.gguf');
  if (!existsSync(vocab)) skip(`reference vocab not found: ${vocab}`);
  return { sinan, models, vocab, root };
}

// Runs sinan with args; its stdout. Throws with its stderr when it fails.
export function runSinan(sinan, args) {
  const r = spawnSync(sinan, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sinan ${args.join(' ')} exited with ${r.status}: ${r.stderr}`);
  return r.stdout;
}

// Starts command with args (a server that prints "listening on http://HOST:PORT"); resolves to
// { url, child, log() } once it listens (log: its stderr so far), rejects if it exits first.
export function startServer(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) resolve({ url: m[1], child, log: () => log });
    });
    child.on('exit', (code) => reject(new Error(`${command} exited with ${code}: ${log}`)));
  });
}
