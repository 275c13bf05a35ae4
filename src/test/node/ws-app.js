'use strict'
// The npm `ws` package as the app behind an origin's --upstream (plain HTTP). Usage:
//   node ws-app.js
// Listens on an ephemeral loopback port and prints {"port":N} as its first line. Modes by path,
// the same as the Java WebSocketApp:
//   /echo                       every message back as it came (text stays text), up to 128 MiB
//   /flood                      16 KiB binary messages for ever, each starting with its sequence
//                               number (8 bytes, big-endian), one more only once the last left
//   /close?code=4001&reason=x   a close frame with that code and reason after the handshake
//   /die                        the TCP connection destroyed (no close frame) after the first message
//   /events                     text/event-stream; one event per "event <data>" line on stdin,
//                               after which it prints {"published":N,"streams":M}
// When stdin closes it prints one JSON object with what it saw and exits.
const http = require('http')
const readline = require('readline')
const { WebSocketServer } = require('ws')

const MAX_MESSAGE = 128 * 1024 * 1024
const FLOOD_MESSAGE = 16 * 1024
const MODES = ['/echo', '/flood', '/close', '/die']

const report = { upgrades: 0, maxOpen: 0, messages: 0, floodBytes: 0, errors: [] }
let open = 0
const streams = new Set()
let nextEvent = 0

function note (what) {
  if (report.errors.length < 10) report.errors.push(String(what))
}

const server = http.createServer((req, res) => {
  if (req.url === '/events') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    res.flushHeaders()
    streams.add(res)
    res.on('close', () => streams.delete(res))
  } else if (MODES.includes(new URL(req.url, 'http://app').pathname)) {
    res.writeHead(400, { 'content-type': 'text/plain' })
    res.end(req.url + ' is a WebSocket endpoint: send an upgrade\n')
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' })
    res.end('no such mode: ' + req.url + '\n')
  }
})
const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE, perMessageDeflate: false })

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://app')
  if (!MODES.includes(url.pathname)) {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
    return
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    report.upgrades++
    open++
    report.maxOpen = Math.max(report.maxOpen, open)
    ws.on('close', () => { open-- })
    ws.on('error', (e) => note('ws: ' + e.message))
    if (url.pathname === '/echo') {
      ws.on('message', (data, isBinary) => {
        report.messages++
        // Back-pressure: stop reading this socket while our answer waits to be written.
        ws.send(data, { binary: isBinary }, (err) => {
          if (err) note('echo: ' + err.message)
          if (ws._socket && ws._socket.isPaused()) ws._socket.resume()
        })
        if (ws.bufferedAmount > 1024 * 1024 && ws._socket) ws._socket.pause()
      })
    } else if (url.pathname === '/flood') {
      let seq = 0
      const next = () => {
        if (ws.readyState !== ws.OPEN) return
        const m = Buffer.alloc(FLOOD_MESSAGE)
        m.writeBigUInt64BE(BigInt(seq++))
        // The callback runs once the socket took the bytes: at most one message waits in ws.
        ws.send(m, { binary: true }, (err) => {
          if (err) return
          report.floodBytes += FLOOD_MESSAGE
          next()
        })
      }
      next()
    } else if (url.pathname === '/close') {
      ws.close(Number(url.searchParams.get('code') || 1000), url.searchParams.get('reason') || '')
    } else {
      ws.once('message', () => ws._socket.destroy())
    }
  })
})

server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }))
})

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.startsWith('event ')) {
    const id = nextEvent++
    for (const res of streams) res.write('id: ' + id + '\ndata: ' + line.substring(6) + '\n\n')
    console.log(JSON.stringify({ published: id, streams: streams.size }))
  }
}).on('close', () => {
  console.log(JSON.stringify(report))
  process.exit(0)
})
