'use strict'
// The npm `ws` package as the browser side: drives one case against a WebSocket app (directly or
// through the proxy) and prints one JSON line with the result, then exits. Usage:
//   node ws-client.js <case> <base-url> [n] [--ca <cert.pem>] [--host <host>]
// <base-url> is ws://host:port or wss://host:port; the case picks the path. Cases:
//   echo-text N     N text messages to /echo (all sent at once), checked back in order
//   binary MIB      one binary message of MIB MiB to /echo, SHA-256 compared
//   many N          N sockets to /echo open at once, each echoing one message
//   close-client    the client closes /echo with 4000 "bye"; reports the code the app echoed
//   close-server    /close?code=4001&reason=x; reports the code and reason received
//   die             one message to /die; reports the close code (1006: abnormal)
// Every result has "ok" and "millis"; failures say why in "error".
const crypto = require('crypto')
const fs = require('fs')
const WebSocket = require('ws')

const args = process.argv.slice(2)
const opt = (name) => {
  const i = args.indexOf(name)
  if (i < 0) return undefined
  const v = args[i + 1]
  args.splice(i, 2)
  return v
}
const ca = opt('--ca')
const host = opt('--host')
const [kase, base, nArg] = args
const n = Number(nArg || 1)
const MAX_MESSAGE = 128 * 1024 * 1024
const GUARD_MS = 60000
const started = Date.now()

function connect (path) {
  const options = { maxPayload: MAX_MESSAGE, perMessageDeflate: false, handshakeTimeout: GUARD_MS }
  if (ca) options.ca = fs.readFileSync(ca)
  if (ca) options.checkServerIdentity = () => undefined // the test certificate names localhost
  if (host) options.headers = { host }
  return new WebSocket(base + path, options)
}

function finish (result) {
  result.case = kase
  result.millis = Date.now() - started
  console.log(JSON.stringify(result))
  process.exit(0)
}

function fail (e) {
  finish({ ok: false, error: String(e && e.message ? e.message : e) })
}

setTimeout(() => fail('no result within ' + GUARD_MS + ' ms'), GUARD_MS).unref()

const cases = {
  'echo-text' () {
    const ws = connect('/echo')
    let expected = 0
    let outOfOrder = 0
    ws.on('error', fail)
    ws.on('open', () => {
      for (let i = 0; i < n; i++) ws.send('message ' + i)
    })
    ws.on('message', (data, isBinary) => {
      if (isBinary || data.toString() !== 'message ' + expected) outOfOrder++
      expected++
      if (expected === n) {
        ws.close(1000)
        finish({ ok: outOfOrder === 0, received: expected, outOfOrder })
      }
    })
  },

  binary () {
    const size = n * 1024 * 1024
    const data = crypto.randomBytes(size)
    const sent = crypto.createHash('sha256').update(data).digest('hex')
    const ws = connect('/echo')
    ws.on('error', fail)
    ws.on('open', () => ws.send(data, { binary: true }))
    ws.on('message', (back, isBinary) => {
      const got = crypto.createHash('sha256').update(back).digest('hex')
      ws.close(1000)
      finish({ ok: isBinary && got === sent, bytes: back.length, sha256Sent: sent, sha256Received: got })
    })
  },

  many () {
    let opened = 0
    let echoed = 0
    let failed = 0
    const sockets = []
    const done = () => {
      if (echoed + failed < n) return
      for (const s of sockets) s.terminate()
      finish({ ok: failed === 0 && echoed === n, opened, echoed, failed })
    }
    for (let i = 0; i < n; i++) {
      const ws = connect('/echo')
      sockets.push(ws)
      ws.on('error', () => { failed++; done() })
      ws.on('open', () => {
        // Nobody sends before all are open: the app sees every socket open at the same time.
        if (++opened === n) for (const s of sockets) s.send('hello ' + sockets.indexOf(s))
      })
      ws.on('message', (data) => {
        if (data.toString() === 'hello ' + i) echoed++
        else failed++
        done()
      })
    }
  },

  'close-client' () {
    const ws = connect('/echo')
    ws.on('error', fail)
    ws.on('open', () => ws.close(4000, 'bye'))
    ws.on('close', (code, reason) => finish({ ok: code === 4000, code, reason: reason.toString() }))
  },

  'close-server' () {
    const ws = connect('/close?code=4001&reason=x')
    ws.on('error', fail)
    ws.on('close', (code, reason) => finish({ ok: code === 4001, code, reason: reason.toString() }))
  },

  die () {
    const ws = connect('/die')
    let opened = false
    ws.on('error', (e) => { if (!opened) fail(e) }) // after the handshake the abrupt end is the point
    ws.on('open', () => { opened = true; ws.send('first') })
    ws.on('close', (code) => finish({ ok: opened && code === 1006, opened, code }))
  }
}

if (!cases[kase]) {
  fail('unknown case ' + kase + ' (expected one of ' + Object.keys(cases).join(', ') + ')')
} else {
  cases[kase]()
}
