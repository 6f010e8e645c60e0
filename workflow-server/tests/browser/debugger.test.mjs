// LlamaIndex's own debugger (@llamaindex/workflow-debugger, unchanged, its
// bundle served from a local directory with --ui-dir) against our server,
// in headless Chromium with the network cut off, the token on and the
// server under a base path: the workflow list, the approval's graph, a run
// started from its form, its step seen running (held at a gate), the input
// request answered with its Send Event dialog, the result, and a second run
// cancelled. Screenshots go to $SCREENSHOTS. Run by scripts/check-ui.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, openBrowser, shoot } from './harness.mjs';

async function startApproval(page, order, amount) {
  await page.getByText('Select workflow...').click();
  await page.getByRole('option', { name: 'approval' }).click();
  await page.getByPlaceholder('Enter amount_cents').fill(String(amount));
  await page.getByPlaceholder('["item1", "item2"]').fill('[{"sku": "tent", "quantity": 2}]');
  await page.getByPlaceholder('Enter order').fill(order);
  await page.getByPlaceholder('Enter value as JSON').fill('"Late"');
  await page.getByRole('button', { name: 'Run Workflow' }).click();
}

test("LlamaIndex's debugger drives a run on our server", { skip: !process.env.DEBUGGER_DIR && 'DEBUGGER_DIR not set' }, async () => {
  const server = await startServer();
  const { browser, page, outside } = await openBrowser(server);
  const failures = [];
  page.on('pageerror', (error) => failures.push(error.message));
  try {
    await page.goto(`${server.origin}/wf?token=${server.token}`);
    // The page added the API's address, base path included.
    assert.equal(new URL(page.url()).searchParams.get('api'), `${server.origin}/wf`);
    await page.getByText('Select workflow...').click();
    assert.deepEqual(await page.getByRole('option').allTextContents(), ['approval', 'greeting']);
    await shoot(page, 'debugger-1-workflows');
    await page.keyboard.press('Escape');

    await startApproval(page, 'A-17', 1250);
    // The graph, as the debugger draws it from /representation.
    const nodes = page.locator('.react-flow__node');
    await nodes.filter({ hasText: 'external_step' }).waitFor();
    for (const name of ['receive', 'review', 'decide', 'RefundRequest', 'Received', 'Proposal', 'HumanResponseEvent', 'Decision']) {
      assert.equal(await nodes.filter({ hasText: name }).count() > 0, true, `no ${name} node`);
    }
    assert.equal(await page.getByText('running', { exact: true }).count() > 0, true);
    // Internal events on. The debugger reads a run's events from when it
    // opens it: `receive` started before; `review` starts now and waits at gate 2.
    await page.getByRole('switch').click();
    server.openGate(1);
    await page.getByText('"name": "review"').first().waitFor();
    await page.getByText('"step_state": "running"').first().waitFor();
    await shoot(page, 'debugger-2-running');

    server.openGate(2);
    await page.getByText('"text": "Refund 1250 cents on A-17 (Late)?"').waitFor();
    await shoot(page, 'debugger-3-asked');
    await page.getByRole('button', { name: 'Send Event' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('combobox').click();
    await page.getByRole('option', { name: 'HumanResponseEvent' }).click();
    await dialog.getByText('response', { exact: true }).waitFor();
    await dialog.locator('textarea, input:not([type=hidden])').first().fill('yes');
    await shoot(page, 'debugger-4-answer');
    await dialog.getByRole('button', { name: 'Send Event' }).click();
    await dialog.getByText('Event sent successfully!').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await page.getByText('completed', { exact: true }).first().waitFor();
    await page.getByText('"refunded_cents": 1250').first().waitFor();
    await shoot(page, 'debugger-5-result');

    // A second run, held at the closed gate, cancelled: the debugger has no
    // cancel button of its own, so the page's API does it, and the page shows it.
    server.closeGates();
    await page.goto(page.url());
    await startApproval(page, 'B-2', 5);
    await page.getByText('running', { exact: true }).first().waitFor();
    const id = (await page.locator('text=/^[A-Za-z0-9]{10}$/').first().textContent()).trim();
    const cancelled = await page.evaluate(async ([base, handler]) => {
      const response = await fetch(`${base}/handlers/${handler}/cancel`, { method: 'POST' });
      return response.json();
    }, [`${server.origin}/wf`, id]);
    assert.deepEqual(cancelled, { status: 'cancelled' });
    await page.getByText('cancelled', { exact: true }).first().waitFor();
    await shoot(page, 'debugger-6-cancelled');

    // Its bundle came from the server; it also asks Google for a font, which the cut-off network refuses.
    assert.deepEqual(outside.filter((url) => !url.startsWith('https://fonts.googleapis.com/')), []);
    assert.deepEqual(failures, []);
  } finally {
    await browser.close();
    server.stop();
  }
});
