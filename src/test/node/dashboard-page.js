'use strict'
// Drives the proxy's dashboard page in the system Chromium (puppeteer-core) for
// DashboardPageTest. Usage:
//   node dashboard-page.js <dashboard-url> <chromium-path>
// Prints one JSON line per step; takes commands on stdin, one per line:
//   tunnel NAME        waits until the page lists tunnel NAME
//   requests JSON      waits until the page lists a request whose path is the JSON string, and
//                      the tunnel's traffic shown is above zero (totals, and a rate at some second)
// Closing stdin closes the browser. Every report carries "problems": console errors and
// warnings, page errors, failed requests, answers >= 400, and dialogs (alert() and the like).
const readline = require('readline')
const puppeteer = require('puppeteer-core')

const [url, executablePath] = process.argv.slice(2)
const GUARD_MS = 20000
const problems = []
let dialogs = 0
const out = (o) => process.stdout.write(JSON.stringify(Object.assign(o, { problems, dialogs })) + '\n')

async function main () {
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions']
  })
  let closing = false
  try {
    const page = await browser.newPage()
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warn' || m.type() === 'warning') problems.push('console ' + m.type() + ': ' + m.text())
    })
    page.on('pageerror', (e) => problems.push('page error: ' + e.message))
    page.on('requestfailed', (r) => { if (!closing) problems.push('failed: ' + r.url() + ' ' + (r.failure() && r.failure().errorText)) })
    page.on('response', (r) => { if (r.status() >= 400) problems.push('answer ' + r.status() + ': ' + r.url()) })
    page.on('dialog', async (d) => { dialogs++; problems.push('dialog: ' + d.message()); await d.dismiss() })

    const response = await page.goto(url, { waitUntil: 'load', timeout: GUARD_MS })
    const headers = response.headers()
    await page.waitForFunction(() => document.getElementById('health-version').textContent !== '',
      { timeout: GUARD_MS })
    // The largest rate from the origin the page ever showed, whatever second it was in.
    await page.evaluate(() => {
      window.__maxFromOriginRate = 0
      new MutationObserver(() => {
        for (const td of document.querySelectorAll('#tunnels td.from-origin-rate')) {
          window.__maxFromOriginRate = Math.max(window.__maxFromOriginRate, Number(td.dataset.value))
        }
      }).observe(document.getElementById('tunnels'), { childList: true, subtree: true })
    })
    out({
      event: 'loaded',
      title: await page.title(),
      csp: headers['content-security-policy'] || null,
      live: await page.$eval('#live', (e) => e.textContent),
      noTunnelsShown: await page.$eval('#no-tunnels', (e) => !e.hidden),
      version: await page.$eval('#health-version', (e) => e.textContent)
    })

    const rl = readline.createInterface({ input: process.stdin })
    for await (const line of rl) {
      const space = line.indexOf(' ')
      const command = line.slice(0, space)
      const arg = line.slice(space + 1)
      if (command === 'tunnel') {
        await page.waitForFunction((name) => [...document.querySelectorAll('#tunnels tr')]
          .some((tr) => tr.dataset.tunnel === name), { timeout: GUARD_MS, polling: 'mutation' }, arg)
        const row = await page.$eval('#tunnels tr', (tr) => [...tr.cells].map((c) => c.textContent))
        out({ event: 'tunnel', row })
      } else if (command === 'requests') {
        const path = JSON.parse(arg)
        await page.waitForFunction((p) => [...document.querySelectorAll('#requests td.path')]
          .some((td) => td.textContent === p), { timeout: GUARD_MS, polling: 'mutation' }, path)
        await page.waitForFunction(() => window.__maxFromOriginRate > 0 &&
          Number(document.querySelector('#tunnels td.from-origin').dataset.value) > 0,
        { timeout: GUARD_MS, polling: 'mutation' })
        const shown = await page.evaluate((p) => {
          const td = [...document.querySelectorAll('#requests td.path')].find((c) => c.textContent === p)
          return {
            pathHtml: td.innerHTML,
            pathRow: [...td.parentElement.cells].map((c) => c.textContent),
            images: document.querySelectorAll('img').length,
            rows: document.querySelectorAll('#requests tr').length,
            maxFromOriginRate: window.__maxFromOriginRate,
            fromOriginBytes: Number(document.querySelector('#tunnels td.from-origin').dataset.value)
          }
        }, path)
        out(Object.assign({ event: 'requests' }, shown))
      } else {
        out({ event: 'error', error: 'unknown command: ' + line })
      }
    }
  } finally {
    closing = true
    await browser.close()
  }
}

main().catch((e) => {
  out({ event: 'error', error: String(e && e.stack || e) })
  process.exitCode = 1
})
