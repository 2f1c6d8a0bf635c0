// A MongoDB wire-protocol server for the MongoDB log store's tests
// (tests/log-mongo.bats): @push.rocks/smartmongo's congodb, in memory,
// on 127.0.0.1 and a free port (or --port N).  Prints "port N" once it listens; stops
// on SIGTERM.  Install its packages with `npm ci` in this folder.
import { CongoServer } from './node_modules/@push.rocks/smartmongo/dist_ts/congodb/index.js';

// --port N: that port (a restart on the same address); else a free one.
const i = process.argv.indexOf('--port');
const port = i > 0 ? Number(process.argv[i + 1]) : 0;
const server = new CongoServer({ host: '127.0.0.1', port });
await server.start();
process.stdout.write(`port ${server.server.address().port}\n`);
const stop = async () => { await server.stop(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
