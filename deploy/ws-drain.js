// A light WebSocket consumer for measuring consume rates (the Node.js client of docs/performance.md's
// 345k msgs/s backlog figure): binary format, RDY N, and for every binary WebSocket message (NSQ
// message frames back to back) one text frame with a FIN line per message. Prints msgs/s.
//
//   npm install ws@8 && NODE_PATH=./node_modules node deploy/ws-drain.js HOST:PORT TOPIC CHANNEL SECONDS [RDY] [CONNECTIONS]
'use strict';
const WebSocket = require('ws');
const [addr, topic, channel, seconds, rdy = '1000', conns = '1'] = process.argv.slice(2);
if (!seconds) {
  console.error('usage: node ws-drain.js HOST:PORT TOPIC CHANNEL SECONDS [RDY] [CONNECTIONS]');
  process.exit(2);
}
let consumed = 0;
let started = 0;
let bad = 0;
const sockets = [];
for (let i = 0; i < Number(conns); i++) {
  const ws = new WebSocket(`ws://${addr}/sub?topic=${topic}&channel=${channel}&format=binary`);
  ws.binaryType = 'nodebuffer';
  ws.on('open', () => {
    ws.send(`RDY ${rdy}`);
    if (!started) {
      started = process.hrtime.bigint();
      setTimeout(finish, Number(seconds) * 1000);
    }
  });
  ws.on('message', (data, isBinary) => {
    if (!isBinary) return; // the greeting and errors are text
    const fins = [];
    for (let at = 0; at + 4 <= data.length;) {
      const size = data.readUInt32BE(at);
      if (data.readUInt32BE(at + 4) !== 2) bad++;
      fins.push('FIN ' + data.toString('latin1', at + 18, at + 34));
      at += 4 + size;
    }
    consumed += fins.length;
    ws.send(fins.join('\n'));
  });
  ws.on('error', e => { console.error(String(e)); process.exit(1); });
  sockets.push(ws);
}
let last = 0;
const progress = setInterval(() => {
  console.log(`${consumed - last} msgs in the last second`);
  last = consumed;
}, 1000);
function finish() {
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  clearInterval(progress);
  console.log(`consumed: ${consumed} messages in ${secs.toFixed(2)} s: ${Math.round(consumed / secs)} msgs/s` +
      (bad ? ` (${bad} frames not messages!)` : ''));
  sockets.forEach(s => s.terminate());
  process.exit(0);
}
