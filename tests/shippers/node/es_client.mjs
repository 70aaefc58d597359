// The official Node.js Elasticsearch client against stackfold serve, driven by
// ../test_elasticsearch_client.py: `info()`, `helpers.bulk` of a log file one document per
// line (with an _id each), the same bulk again, then `create` of the same ids.
//   node es_client.mjs URL LOGFILE  → prints a JSON summary
import { readFileSync } from "node:fs";
import { Client } from "@elastic/elasticsearch";

const [url, path] = process.argv.slice(2);
const client = new Client({ node: url });
const lines = readFileSync(path, "utf8").split("\n").filter((_, i, all) => i < all.length - 1);
// One document per line, as a shipper without multiline configuration sends them.
const ids = new Map();
const docs = lines.map((line, n) => {
  const doc = { message: line, host: { name: "node01" }, log: { file: { path } } };
  ids.set(doc, `node:${n}`);
  return doc;
});
const bulk = (operation) =>
  client.helpers.bulk({
    datasource: docs,
    flushBytes: 4096,
    // One request at a time: a stream's lines must arrive in order to be folded (the
    // helper sends 5 at once by default, which can reorder them).
    concurrency: 1,
    onDocument: (doc) => ({ [operation]: { _index: "logs", _id: ids.get(doc) } }),
    onDrop: () => {},
  });

const info = await client.info();
const first = await bulk("index");
const again = await bulk("index");
const conflicts = await bulk("create");
console.log(JSON.stringify({
  version: info.version.number,
  lines: lines.length,
  first: { successful: first.successful, failed: first.failed },
  again: { successful: again.successful, failed: again.failed },
  conflicts: { successful: conflicts.successful, failed: conflicts.failed },
}));
