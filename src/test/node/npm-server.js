'use strict'
// The npm `spdy` package as a SPDY/3.1 server (TLS, ALPN spdy/3.1 only) for our client. Usage:
//   node npm-server.js <cert.pem> <key.pem>
// Listens on an ephemeral loopback port and prints {"port":N} as its first line. Serves
//   GET  /            a greeting, echoing the x-interop request header back
//   GET  /bytes?n=N   N bytes (at most 1 MiB) of a fixed pattern: byte i is i % 251
//   POST /echo        the response head at once, then the request body back once it ended
//   POST /reject      413 at once, then RST_STREAM CANCEL while the request body is still coming
// When stdin closes it prints one JSON object with what crossed the wire and exits.
const fs = require('fs')
const spdy = require('spdy')

const [certFile, keyFile] = process.argv.slice(2)

const report = {
  sessions: 0,
  requests: 0,
  goawaySent: 0,
  goawayReceived: 0,
  sessionsClosed: 0,
  errors: [],
  rstSent: {},
  rstReceived: {}
}

function note (what) {
  if (report.errors.length < 10) report.errors.push(String(what))
}

// Each response body goes out in one write: spdy's http layer under node 20 stalls a response
// written in several pieces while its request is still being read (its 'drain' never comes), a
// bug of the package's node glue, not of the protocol engine under test.
const PATTERN = Buffer.allocUnsafe(1 << 20)
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = i % 251

const server = spdy.createServer({
  cert: fs.readFileSync(certFile),
  key: fs.readFileSync(keyFile),
  spdy: { protocols: ['spdy/3.1'] }
}, (req, res) => {
  report.requests++
  req.on('error', (e) => note('request: ' + e.message))
  res.on('error', (e) => note('response: ' + e.message))
  const url = new URL(req.url, 'https://localhost')
  if (req.method === 'GET' && url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-interop': req.headers['x-interop'] || '' })
    res.end('hello from npm spdy\n')
  } else if (req.method === 'GET' && url.pathname === '/bytes') {
    const n = Math.min(Number(url.searchParams.get('n')), PATTERN.length)
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(n) })
    res.end(PATTERN.subarray(0, n))
  } else if (req.method === 'POST' && url.pathname === '/echo') {
    // The head goes out at once (a client may cancel on it while its body is in flight); the
    // body comes back whole once the request ended (see PATTERN above for why not streamed).
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    res.flushHeaders()
    const chunks = []
    req.on('data', (d) => chunks.push(d))
    req.on('end', () => res.end(Buffer.concat(chunks)))
  } else if (req.method === 'POST' && url.pathname === '/reject') {
    // Refuses an upload mid-body, as a server does with one too large: answers 413, then resets
    // the stream, so the client's DATA frames still in flight get RST_STREAM INVALID_STREAM.
    res.writeHead(413, { 'content-type': 'text/plain' })
    res.end('upload refused\n', () => req.spdyStream.abort())
  } else {
    res.writeHead(404)
    res.end()
  }
})

server.on('secureConnection', (socket) => {
  report.sessions++
  socket.once('close', () => report.sessionsClosed++)
})
// Count the frames of every session, without changing them.
const createConnection = require('spdy-transport').connection.create
require('spdy-transport').connection.create = function (socket, options) {
  const connection = createConnection.call(this, socket, options)
  const framer = connection._spdyState.framer
  const rstFrame = framer.rstFrame
  framer.rstFrame = function (frame, callback) {
    report.rstSent[frame.code] = (report.rstSent[frame.code] || 0) + 1
    return rstFrame.call(this, frame, callback)
  }
  const goawayFrame = framer.goawayFrame
  framer.goawayFrame = function (frame, callback) {
    report.goawaySent++
    return goawayFrame.call(this, frame, callback)
  }
  connection.on('frame', (frame) => {
    if (frame.type === 'GOAWAY') report.goawayReceived++
    if (frame.type === 'RST') report.rstReceived[frame.code] = (report.rstReceived[frame.code] || 0) + 1
  })
  return connection
}

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n')
})

process.stdin.resume()
process.stdin.on('end', () => {
  process.stdout.write(JSON.stringify(report) + '\n')
  process.exit(0)
})
