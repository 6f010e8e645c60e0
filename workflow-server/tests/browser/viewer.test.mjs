// Our run viewer (`/ui/`) end to end in headless Chromium (Debian's, driven
// by playwright-core), with the network cut off, the bearer token on and the
// server under a base path: the workflow list, the approval's graph, a run
// started from the generated form, its step seen running (held at a gate
// this test opens), the input request answered from the page, the result,
// and a second run cancelled. Every request must go to the server itself.
// Screenshots go to $SCREENSHOTS. Run by scripts/check-ui.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, openBrowser, shoot } from './harness.mjs';

test('the viewer shows, starts, answers and cancels runs, loading nothing from outside', async () => {
  const server = await startServer();
  const { browser, page, outside } = await openBrowser(server);
  try {
    // The one-time link sets the cookie and drops the token from the address.
    await page.goto(`${server.origin}/wf/ui?token=${server.token}`);
    assert.equal(new URL(page.url()).pathname, '/wf/ui/');
    assert.equal(new URL(page.url()).search, '');
    await page.locator('[data-workflow=approval]').waitFor();
    assert.deepEqual(await page.locator('[data-workflow]').allTextContents(), ['approval', 'greeting']);
    await shoot(page, 'viewer-1-workflows');

    await page.click('[data-workflow=approval]');
    await page.locator('#graph g.wf-step').first().waitFor();
    const steps = await page.locator('#graph g.wf-step text').allTextContents();
    assert.deepEqual(steps.sort(), ['decide', 'receive', 'review']);
    await shoot(page, 'viewer-2-graph');

    // The form generated from RefundRequest's schema: strings, a number, an
    // enum, an array of objects, an optional field.
    await page.fill('#start-fields input[name=order]', 'A-17');
    await page.fill('#start-fields input[name=amount_cents]', '1250');
    await page.selectOption('#start-fields select[name=reason]', { label: 'Late' });
    await page.click('#start-fields [data-field=lines] button.add');
    await page.fill('#start-fields [data-field=lines] input[name=sku]', 'tent');
    await page.fill('#start-fields [data-field=lines] input[name=quantity]', '2');
    await page.check('#start-fields input[title="include note"]');
    await page.fill('#start-fields input[name=note]', 'torn on arrival');
    await page.click('#start');

    // Held at the gates: the page shows each step running, invoked once.
    const running = (step) => page.locator('#graph g.wf-step[data-state=running]', { hasText: step });
    await running('receive').waitFor();
    server.openGate(1);
    await running('review').waitFor();
    assert.equal(await running('review').locator('text.wf-count').textContent(), '×1');
    assert.equal(await page.locator('#graph g.wf-step[data-state=done]', { hasText: 'receive' }).count(), 1);
    assert.equal(await page.textContent('#run-status'), 'running');
    await shoot(page, 'viewer-3-running');

    server.openGate(2);
    await page.locator('#answer-form').waitFor({ state: 'visible' });
    assert.match(await page.textContent('#request-text'), /Refund 1250 cents on A-17 \(Late\)\?/);
    await shoot(page, 'viewer-4-asked');
    await page.fill('#answer-fields input[name=response]', 'yes');
    await page.click('#answer');
    await page.locator('#run-status', { hasText: 'completed' }).waitFor();
    const result = JSON.parse(await page.textContent('#result-json'));
    assert.deepEqual(result, { order: 'A-17', approved: true, refunded_cents: 1250 });
    assert.equal(await page.locator('#graph g.wf-step[data-state=done]').count(), 3);
    await page.locator('#log li[data-type=Decision]').waitFor();
    await shoot(page, 'viewer-5-result');

    // A second run, held at the closed gate, cancelled from the page.
    server.closeGates();
    await page.click('[data-workflow=approval]');
    await page.fill('#start-fields input[name=order]', 'B-2');
    await page.fill('#start-fields input[name=amount_cents]', '5');
    await page.click('#start');
    await running('receive').waitFor();
    await page.click('#cancel');
    await page.locator('#run-status', { hasText: 'cancelled' }).waitFor();
    await page.locator('#log li[data-type=WorkflowCancelledEvent]').waitFor();
    // The step it was held in stopped there; nothing shows running.
    await page.locator('#graph g.wf-step[data-state=stopped]', { hasText: 'receive' }).waitFor();
    assert.equal(await page.locator('#graph g.wf-step[data-state=running]').count(), 0);
    assert.equal(await page.textContent('#result-json'), 'The run was cancelled.');
    await page.locator('#runs .badge.cancelled').waitFor();
    await shoot(page, 'viewer-6-cancelled');

    assert.deepEqual(outside, [], 'the viewer asked for something outside the server');
  } finally {
    await browser.close();
    server.stop();
  }
});

test('the raw JSON fallback starts a run too', async () => {
  const server = await startServer();
  const { browser, page, outside } = await openBrowser(server);
  try {
    await page.goto(`${server.origin}/wf/ui?token=${server.token}`);
    await page.click('[data-workflow=greeting]');
    await page.check('#start-raw');
    await page.fill('#start-json', JSON.stringify({ greeting: 'Hello', name: 'Ada' }));
    await page.click('#start');
    await page.locator('#run-status', { hasText: 'completed' }).waitFor();
    assert.deepEqual(JSON.parse(await page.textContent('#result-json')), { greeting: 'Hello Ada!!' });
    assert.deepEqual(outside, []);
  } finally {
    await browser.close();
    server.stop();
  }
});

