#!/usr/bin/env python3
"""The events `stackfold fold` prints, as the documents of tantivy-cli's reference schema.

    stackfold fold LOGS... | benches/reference_jsonl.py > events.jsonl

So tantivy-cli can index the same events as `stackfold index` from logs that `stackfold-gen`
did not write (its `--reference-jsonl` does this for the generated corpus): `body` is the
first line's message and the continuation lines, as `stackfold-gen` writes it; `timestamp`,
`level`, `logger` and `thread` when the header had them. Then, with the schema of
`benches/tantivy-meta.json` copied to DIR/meta.json: `tantivy index -i DIR -f events.jsonl -t 2`.
Uses only the Python standard library.
"""
import json
import sys


def reference(event):
    text = event["text"]
    newline = text.find("\n")
    doc = {"body": event["message"] + (text[newline:] if newline >= 0 else "")}
    for field in ("level", "logger", "thread"):
        if event.get(field):
            doc[field] = event[field]
    if event.get("ts"):
        doc["timestamp"] = event["ts"]
    return doc


def main():
    out = sys.stdout
    for line in sys.stdin:
        out.write(json.dumps(reference(json.loads(line))) + "\n")


if __name__ == "__main__":
    main()
