// The other side for blk's negentropy interop test: the Negentropy class of
// @nostr-dev-kit/sync (an independent TypeScript implementation of Protocol
// V1) behind the same line protocol as tests/negentropy/harness.cpp:
//
//   in:  item,<timestamp>,<hex id>   seal   initiate   msg,<hex>
//   out: msg,<hex>   have,<hex id>   need,<hex id>   done
//
// FRAMESIZELIMIT (environment) sets the frame size limit. Any failure: one
// line on stderr and exit status 1.
import readline from 'node:readline';
import {
  Negentropy,
  NegentropyStorage,
  hexToUint8Array,
  uint8ArrayToHex,
} from '@nostr-dev-kit/sync';

const frameSizeLimit = Number.parseInt(process.env.FRAMESIZELIMIT || '0', 10);

function fail(message) {
  process.stderr.write(`peer.mjs: ${message}\n`);
  process.exit(1);
}

function send(msg) {
  if (frameSizeLimit && msg.length > frameSizeLimit) {
    fail(`frame size limit exceeded: ${msg.length} > ${frameSizeLimit}`);
  }
  process.stdout.write(`msg,${uint8ArrayToHex(msg)}\n`);
}

const storage = new NegentropyStorage();
let ne = null;
let initiator = false;

async function handle(line) {
  const fields = line.split(',');
  switch (fields[0]) {
    case 'item': {
      if (fields.length !== 3) fail('item needs a timestamp and an id');
      // Numbers, not BigInts, in this library: fine below 2^53.
      storage.insert(Number.parseInt(fields[1], 10), fields[2]);
      break;
    }
    case 'seal':
      storage.seal();
      ne = new Negentropy(storage, frameSizeLimit);
      break;
    case 'initiate':
      initiator = true;
      send(await ne.initiate());
      break;
    case 'msg': {
      const { nextMessage, have, need } = await ne.reconcile(hexToUint8Array(fields[1] || ''));
      if (!initiator) {
        send(nextMessage);
        break;
      }
      let out = '';
      for (const id of have) out += `have,${uint8ArrayToHex(id)}\n`;
      for (const id of need) out += `need,${uint8ArrayToHex(id)}\n`;
      process.stdout.write(out);
      if (nextMessage === undefined) process.stdout.write('done\n');
      else send(nextMessage);
      break;
    }
    default:
      fail(`unknown command: ${fields[0]}`);
  }
}

// One line at a time: the library is async, and a message must be answered
// before the next line is read.
const lines = readline.createInterface({ input: process.stdin, terminal: false });
try {
  for await (const line of lines) {
    if (line !== '') await handle(line);
  }
} catch (e) {
  fail(e && e.message ? e.message : String(e));
}
