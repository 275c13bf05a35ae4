'use strict';
// Drives the origin's request inspector page in headless Chromium (puppeteer-core), for
// InspectorPageTest: the list (newest first), the filter, one request's bodies (JSON pretty-printed,
// then hex), an edited replay, and the replay showing up marked as one. Prints one JSON report line.
// Usage: node inspector-page.js INSPECTOR_URL CHROMIUM_PATH
const puppeteer = require('puppeteer-core');

const [url, chromium] = process.argv.slice(2);

async function main() {
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions',
      '--disable-background-networking', '--disable-component-update'],
  });
  const messages = [];
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(15000);
    page.on('console', m => messages.push(m.type() + ': ' + m.text()));
    page.on('pageerror', e => messages.push('pageerror: ' + e.message));
    page.on('requestfailed', r => messages.push('requestfailed: ' + r.url() + ' ' + r.failure().errorText));
    page.on('response', r => { if (r.status() >= 400) messages.push('http ' + r.status() + ': ' + r.url()); });
    await page.goto(url, { waitUntil: 'load' });

    const rowPaths = () => page.$$eval('#requests tbody tr td.path', tds => tds.map(td => td.firstChild.textContent));
    await page.waitForFunction(() => document.querySelectorAll('#requests tbody tr').length >= 2);
    const listed = await rowPaths();

    await page.type('#filter', 'post 200');
    await page.waitForFunction(() => document.querySelectorAll('#requests tbody tr').length === 1);
    const filtered = await rowPaths();

    await page.click('#requests tbody tr');
    await page.waitForSelector('#detail:not([hidden]) #req-body pre');
    const title = await page.$eval('#detail-title', e => e.textContent);
    const requestJson = await page.$eval('#req-body pre', e => e.textContent);
    const responseView = await page.$eval('#res-body button.on', e => e.dataset.view);
    await page.click('#req-body button[data-view="hex"]');
    const requestHex = await page.$eval('#req-body pre', e => e.textContent);

    // Edit the path and the body, then replay.
    await page.$eval('#replay-path', e => { e.value = '/echo?replayed=1'; });
    await page.$eval('#replay-body', e => { e.value = '{"edited":true}'; });
    await page.click('#replay-send');
    await page.waitForFunction(() => /^replayed as #/.test(document.getElementById('replay-result').textContent));
    const replayResult = await page.$eval('#replay-result', e => e.textContent);
    await page.$eval('#filter', e => { e.value = ''; e.dispatchEvent(new Event('input')); });
    await page.waitForFunction(() => document.querySelectorAll('#requests tbody tr').length >= 3
        && document.querySelector('#requests tbody tr .badge.replay'));
    const afterReplay = await rowPaths();
    const badge = await page.$eval('#requests tbody tr .badge.replay', e => e.textContent);
    const firstRowBadge = await page.$eval('#requests tbody tr', tr => {
      const b = tr.querySelector('.badge.replay');
      return b ? b.textContent : '';
    });
    const replayBody = await page.$eval('#res-body pre', e => e.textContent);
    console.log(JSON.stringify({ listed, filtered, title, requestJson, responseView, requestHex, replayResult,
      afterReplay, badge, firstRowBadge, replayBody, messages }));
  } finally {
    await browser.close();
  }
}

main().catch(e => {
  console.log(JSON.stringify({ error: String(e && e.stack || e) }));
  process.exitCode = 1;
});
