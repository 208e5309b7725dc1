// Drives a Herald node with nsqjs, a real NSQ client, for NsqjsTest. Every line printed is JSON;
// the last one is {"result": ...}. The Java test asserts on what is printed here.
//
//   node driver.js roundtrip PUB_HOST:PORT SUB_HOST:PORT TOPIC
//   node driver.js publish HOST:PORT TOPIC          (publishes until the connection dies)
//   node driver.js drain HOST:PORT TOPIC CHANNEL FILE (consumes until every line of FILE was seen)
//   node driver.js tls HOST:PORT TOPIC CA_FILE      (publishes and consumes over TLS, verifying the node)
'use strict'
const fs = require('fs')
const nsq = require('nsqjs')

const LIMIT_MS = 120000
const [scenario, ...args] = process.argv.slice(2)

function print(o) {
  process.stdout.write(JSON.stringify(o) + '\n')
}

function finish(result, code = 0) {
  print({ result })
  process.exit(code)
}

function hostPort(a) {
  const i = a.lastIndexOf(':')
  return [a.slice(0, i), Number(a.slice(i + 1))]
}

function publish(writer, topic, msgs) {
  return new Promise((resolve, reject) => writer.publish(topic, msgs, (err) => (err ? reject(err) : resolve())))
}

function deferPublish(writer, topic, msg, ms) {
  return new Promise((resolve, reject) => writer.deferPublish(topic, msg, ms, (err) => (err ? reject(err) : resolve())))
}

function connectWriter(addr, options = {}) {
  const [host, port] = hostPort(addr)
  const writer = new nsq.Writer(host, port, options)
  return new Promise((resolve, reject) => {
    writer.on('ready', () => resolve(writer))
    writer.on('error', reject)
    writer.connect()
  })
}

// PUB, MPUB and DPUB through one writer; a reader (maxInFlight 3, msg_timeout 3 s) that REQs
// pub-1 with a delay, TOUCHes pub-2 past its timeout, lets pub-3 time out, and FINs the rest.
async function roundtrip(pubAddr, subAddr, topic) {
  const expected = ['pub-1', 'pub-2', 'pub-3', 'pub-4', 'pub-5', 'mpub-1', 'mpub-2', 'mpub-3', 'mpub-4', 'mpub-5', 'dpub']
  const events = []
  const finished = new Set()
  const times = {}
  let holding = 0
  let maxHolding = 0
  const reader = new nsq.Reader(topic, 'js', {
    nsqdTCPAddresses: [subAddr], maxInFlight: 3, messageTimeout: 3000, clientId: 'nsqjs-test',
  })
  const done = () => {
    if (finished.size === expected.length) {
      finish({ events, times, maxHolding, finished: [...finished].sort() })
    }
  }
  reader.on('message', (msg) => {
    const body = msg.body.toString()
    const at = Date.now()
    events.push({ body, attempts: msg.attempts, id: msg.id, at })
    const answer = (fn) => {
      holding--
      fn()
    }
    if (body === 'pub-3' && msg.attempts === 1) {
      times.pub3FirstAt = at
      return // never answered: the node takes it back after msg_timeout
    }
    holding++
    maxHolding = Math.max(maxHolding, holding)
    // Held a while, so that a node ignoring RDY would have more than 3 held at once.
    setTimeout(() => {
      if (body === 'pub-1' && msg.attempts === 1) {
        times.requeuedAt = Date.now()
        return answer(() => msg.requeue(1000, false))
      }
      if (body === 'pub-2' && msg.attempts === 1) {
        let touches = 0
        const timer = setInterval(() => {
          if (++touches <= 4) return msg.touch()
          clearInterval(timer)
          times.pub2FinishedAt = Date.now()
          answer(() => msg.finish())
          finished.add(body)
          done()
        }, 1000)
        times.pub2ReceivedAt = at
        return
      }
      answer(() => msg.finish())
      finished.add(body)
      done()
    }, 200)
  })
  reader.on('error', (err) => print({ readerError: String(err) }))
  await new Promise((resolve) => {
    reader.on('nsqd_connected', resolve)
    reader.connect()
  })
  const writer = await connectWriter(pubAddr)
  for (let i = 1; i <= 5; i++) {
    // No node can deliver pub-3 before this, so none can time it out before this + msg_timeout.
    if (i === 3) times.pub3PublishStartAt = Date.now()
    await publish(writer, topic, `pub-${i}`)
  }
  await publish(writer, topic, ['mpub-1', 'mpub-2', 'mpub-3', 'mpub-4', 'mpub-5'])
  times.dpubSentAt = Date.now()
  // nsqjs 0.13's deferPublish hands its message on as is, and its connection wants a list.
  await deferPublish(writer, topic, ['dpub'], 1500)
  print({ published: expected.length })
}

// Publishes k-1, k-2, ... with up to 8 awaiting their OK; prints each acknowledged body.
async function publishUntilGone(addr, topic) {
  const writer = await connectWriter(addr)
  let next = 1
  let outstanding = 0
  let gone = false
  writer.on('error', (err) => {
    gone = true
    finish({ acked: true, error: String(err) })
  })
  writer.on('closed', () => finish({ closed: true }))
  const pump = () => {
    while (!gone && outstanding < 8) {
      const body = `k-${next++}`
      outstanding++
      writer.publish(topic, body, (err) => {
        outstanding--
        if (err) return
        print({ acked: body })
        setImmediate(pump)
      })
    }
  }
  pump()
}

// FINs everything; ends once every body listed in FILE has been seen.
function drain(addr, topic, channel, file) {
  const wanted = new Set(fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0))
  const seen = new Set()
  let received = 0
  const reader = new nsq.Reader(topic, channel, { nsqdTCPAddresses: [addr], maxInFlight: 100 })
  const check = () => {
    for (const w of wanted) if (!seen.has(w)) return
    finish({ wanted: wanted.size, received, missing: [] })
  }
  reader.on('message', (msg) => {
    received++
    seen.add(msg.body.toString())
    msg.finish()
    check()
  })
  reader.on('error', (err) => print({ readerError: String(err) }))
  setTimeout(() => finish({ wanted: wanted.size, received, missing: [...wanted].filter((w) => !seen.has(w)).slice(0, 20) }, 1),
    LIMIT_MS - 1000).unref()
  reader.connect()
  check()
}

// A writer and a reader that ask for tls_v1 and verify the node's certificate against CA_FILE.
async function overTls(addr, topic, caFile) {
  const options = { tls: true, tlsVerification: true, ca: fs.readFileSync(caFile) }
  const writer = await connectWriter(addr, options)
  await publish(writer, topic, 'tls-1')
  await publish(writer, topic, ['tls-2', 'tls-3'])
  const seen = []
  const reader = new nsq.Reader(topic, 'js', { nsqdTCPAddresses: [addr], maxInFlight: 10, ...options })
  reader.on('message', (msg) => {
    seen.push(msg.body.toString())
    msg.finish()
    if (seen.length === 3) finish({ seen: seen.sort() })
  })
  reader.on('error', (err) => finish({ error: String(err) }, 1))
  reader.connect()
}

setTimeout(() => finish({ timedOut: true }, 1), LIMIT_MS).unref()
if (scenario === 'roundtrip') roundtrip(...args).catch((e) => finish({ error: String(e) }, 1))
else if (scenario === 'publish') publishUntilGone(...args).catch((e) => finish({ error: String(e) }, 1))
else if (scenario === 'drain') drain(...args)
else if (scenario === 'tls') overTls(...args).catch((e) => finish({ error: String(e) }, 1))
else finish({ error: `unknown scenario ${scenario}` }, 2)
