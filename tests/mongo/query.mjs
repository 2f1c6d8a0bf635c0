// query.mjs URI DB COMMAND [ARG]: a small MongoDB client for
// tests/log-mongo.bats, with the mongodb driver smartmongo brings.
//   find JSON-FILTER     the documents of execution_logs, JSON lines,
//                        sorted by context.seq
//   count JSON-FILTER    how many documents match
//   indexes              the names of execution_logs' indexes
//   insert JSON-DOC      one document (timestamp given as ms)
import { MongoClient } from 'mongodb';

const [uri, dbname, cmd, arg] = process.argv.slice(2);
const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
await client.connect();
const coll = client.db(dbname).collection('execution_logs');
if (cmd === 'find') {
	const docs = await coll.find(JSON.parse(arg || '{}'))
	    .sort({ 'context.seq': 1 }).toArray();
	for (const d of docs)
		console.log(JSON.stringify(d));
} else if (cmd === 'count') {
	console.log(await coll.countDocuments(JSON.parse(arg || '{}')));
} else if (cmd === 'indexes') {
	for (const i of await coll.listIndexes().toArray())
		console.log(i.name);
} else if (cmd === 'insert') {
	const d = JSON.parse(arg);
	d.timestamp = new Date(d.timestamp);
	await coll.insertOne(d);
}
await client.close();
