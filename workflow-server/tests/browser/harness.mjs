// What the browser tests share: a server (the protocol fixture in its `ui`
// mode, under the base path /wf with a token, its approval's steps held at
// gate files), a headless Chromium cut off from the network, screenshots.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const fixture = process.env.WORKFLOW_SERVER_FIXTURE;
const screenshots = process.env.SCREENSHOTS || 'screenshots';
const uiDir = process.env.DEBUGGER_DIR; // the unpacked debugger bundle

function freePort() {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

export async function startServer() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'workflow-ui-'));
  const gate = join(dir, 'gate');
  const token = 'browser-secret';
  const args = [String(port), 'ui', '--token', token, '--base', '/wf'];
  if (uiDir) args.push('--ui-dir', uiDir);
  const child = spawn(fixture, args, { env: { ...process.env, WORKFLOW_UI_GATE: gate }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (data) => { if (String(data).includes('listening on')) resolve(); });
    child.on('exit', (code) => reject(new Error(`the server exited with ${code}`)));
  });
  return {
    origin: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    token,
    // The approval's `receive` waits for gate 1, its `review` for gate 2.
    openGate: (n) => writeFileSync(`${gate}.${n}`, 'open'),
    closeGates: () => { rmSync(`${gate}.1`, { force: true }); rmSync(`${gate}.2`, { force: true }); },
    stop: () => { child.kill(); rmSync(dir, { recursive: true, force: true }); },
  };
}

// Chromium with every name resolving to nothing and every request that is
// not for `server` refused and written down in `outside`.
export async function openBrowser(server) {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
  });
  const context = await browser.newContext({ viewport: { width: 1300, height: 900 } });
  const outside = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.host === server.host || url.protocol === 'data:') return route.continue();
    outside.push(url.href);
    return route.abort();
  });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error('page error:', error.message));
  return { browser, context, page, outside };
}

export async function shoot(page, name) {
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}
