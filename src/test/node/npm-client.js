'use strict'
// The npm `spdy` package as a SPDY/3.1 client (TLS, ALPN spdy/3.1) against our server, all
// requests on ONE session. Usage:
//   node npm-client.js <port> <requests> <cancelEvery> <uploadEvery> <concurrency>
// Request i is a cancelled download when i % cancelEvery == 0 (GET /bytes of 256 KiB, aborted after
// its first body chunk, so DATA frames are in flight), else an upload when i % uploadEvery == 0
// (POST /echo of a body, checked byte for byte), else a download checked for its length (the
// example server does not specify the content of /bytes).
// Prints one JSON object with the counts on stdout (the Java test makes the assertions), then
// keeps the session open until stdin closes.
const crypto = require('crypto')
const https = require('https')
const spdy = require('spdy')

const [port, total, cancelEvery, uploadEvery, concurrency] = process.argv.slice(2).map(Number)
const CANCELLED_SIZE = 256 * 1024

const report = {
  protocol: null,
  requests: total,
  completed: 0,
  cancelled: 0,
  failed: 0,
  wrongBytes: 0,
  basics: {},
  errors: [],
  connections: 0,
  goawayReceived: 0,
  closedEarly: false,
  rstSent: {},
  rstReceived: {}
}

function fail (what) {
  report.failed++
  if (report.errors.length < 10) report.errors.push(String(what))
}

const agent = spdy.createAgent({
  host: '127.0.0.1',
  port,
  rejectUnauthorized: false, // the test's self-signed certificate; the session is what is tested
  spdy: { protocols: ['spdy/3.1'] }
})
// Without a listener a connection error would be an uncaught exception (spdy's README).
agent.on('error', (e) => {
  fail('agent: ' + e.message)
  if (!agent._spdyState.connection) finish() // it never connected: nothing more will happen
})

let done = false
agent.once('_connect', () => {
  const state = agent._spdyState
  const connection = state.connection
  report.connections++
  report.protocol = state.socket.alpnProtocol
  // Count what crosses the wire in both directions, without changing it.
  const framer = connection._spdyState.framer
  const rstFrame = framer.rstFrame
  framer.rstFrame = function (frame, callback) {
    report.rstSent[frame.code] = (report.rstSent[frame.code] || 0) + 1
    return rstFrame.call(this, frame, callback)
  }
  connection.on('frame', (frame) => {
    if (frame.type === 'GOAWAY') report.goawayReceived++
    if (frame.type === 'RST') report.rstReceived[frame.code] = (report.rstReceived[frame.code] || 0) + 1
  })
  state.socket.once('close', () => {
    if (done) return
    // Ended under us: requests in flight may never settle, so report what we have now.
    report.closedEarly = true
    finish()
  })
})
process.on('uncaughtException', (e) => {
  fail('uncaught: ' + (e && e.stack))
  finish()
})

// Prints the report once, then keeps the session open until the test closes our stdin.
function finish () {
  if (done) return
  done = true
  process.stdout.write(JSON.stringify(report) + '\n')
  process.stdin.resume()
  process.stdin.on('end', () => {
    if (agent._spdyState.connection) agent.close(() => process.exit(0))
    setTimeout(() => process.exit(0), 2000).unref()
  })
}

function request (options, body) {
  return new Promise((resolve) => {
    const req = https.request(Object.assign({ host: '127.0.0.1', port, agent }, options), (res) => {
      resolve({ req, res })
    })
    req.on('error', (e) => resolve({ error: e }))
    req.end(body)
  })
}

function readAll (res) {
  return new Promise((resolve) => {
    const chunks = []
    res.on('data', (d) => chunks.push(d))
    res.on('end', () => resolve(Buffer.concat(chunks)))
    res.on('error', (e) => resolve(e))
    res.on('aborted', () => resolve(new Error('aborted')))
  })
}

async function download (n) {
  const r = await request({ path: '/bytes?n=' + n })
  if (r.error) return fail('GET /bytes: ' + r.error.message)
  const body = await readAll(r.res)
  if (body instanceof Error) return fail('GET /bytes body: ' + body.message)
  if (r.res.statusCode !== 200 || body.length !== n ||
      Number(r.res.headers['content-length']) !== n) {
    report.wrongBytes++
    return fail('GET /bytes?n=' + n + ': status ' + r.res.statusCode + ', ' + body.length + ' bytes')
  }
  report.completed++
}

async function upload (n, seed) {
  const body = crypto.createHash('sha256').update(String(seed)).digest()
  const data = Buffer.alloc(n)
  for (let i = 0; i < n; i += body.length) body.copy(data, i)
  // spdy's http.Agent glue crashes on request bodies under node >= 15 (handle-thing writes
  // before its stream exists), so uploads go through the agent's own spdy-transport connection:
  // the same session and the same protocol engine, minus node's http layer.
  const stream = agent._spdyState.connection.request({
    method: 'POST', path: '/echo', host: '127.0.0.1', headers: { 'content-length': String(n) }
  })
  const result = await new Promise((resolve) => {
    const chunks = []
    let status = 0
    stream.on('response', (code) => { status = code })
    stream.on('data', (d) => chunks.push(d))
    stream.on('end', () => resolve({ status, echoed: Buffer.concat(chunks) }))
    stream.on('error', (e) => resolve({ error: e }))
    stream.end(data)
  })
  if (result.error) return fail('POST /echo: ' + result.error.message)
  if (result.status !== 200 || !result.echoed.equals(data)) {
    report.wrongBytes++
    return fail('POST /echo of ' + n + ': status ' + result.status + ', ' + result.echoed.length + ' bytes')
  }
  report.completed++
}

async function cancelledDownload () {
  const r = await request({ path: '/bytes?n=' + CANCELLED_SIZE })
  if (r.error) return fail('GET to cancel: ' + r.error.message)
  await new Promise((resolve) => {
    r.res.once('data', () => {
      // Abort while the rest of the body is streaming: spdy sends RST_STREAM CANCEL and answers
      // every DATA frame still in flight with RST_STREAM INVALID_STREAM.
      r.req.destroy()
      resolve()
    })
    r.res.once('end', resolve)
    r.res.once('error', resolve)
  })
  report.cancelled++
}

async function basics () {
  // Headers both ways, a 1 MiB body each way (flow control: more than the 64 KiB initial window).
  const hello = await request({ path: '/', headers: { 'x-interop': 'npm-spdy' } })
  if (hello.error) return fail('GET /: ' + hello.error.message)
  const text = (await readAll(hello.res)).toString()
  report.basics.helloStatus = hello.res.statusCode
  report.basics.helloBody = text
  report.basics.helloContentType = hello.res.headers['content-type']
  const before = report.completed
  await download(1 << 20)
  await upload(1 << 20, 'basics')
  report.basics.megabyteBothWays = report.completed - before === 2
  report.completed = before
}

async function main () {
  await new Promise((resolve) => agent.once('_connect', resolve))
  await basics()
  let next = 0
  async function worker () {
    while (next < total && !done) {
      const i = next++
      if (i % cancelEvery === 0) {
        await cancelledDownload()
      } else if (i % uploadEvery === 0) {
        await upload(16 * 1024 + (i % 7) * 4096, i)
      } else {
        await download(1024 + (i % 13) * 1000)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  finish()
}

main().catch((e) => {
  fail('script: ' + (e && e.stack))
  finish()
})
