#!/usr/bin/env python3
"""Grouping accuracy of stackfold's patterns on the Loghub-2k logs.

    benches/patterns_ga.py LOG_DIR LABEL_DIR [STACKFOLD]

LOG_DIR holds the `<Name>_2k.log` files (../shared/reallogs/loghub), LABEL_DIR the
`<Name>_2k.log_structured.csv` files the Loghub project publishes with their template labels
(github.com/logpai/loghub; not in this repository, whose licence differs). Each file is run
through `stackfold fold` with no configuration. A line is grouped correctly when the lines
sharing its pattern are exactly the lines sharing its label (the grouping accuracy of Zhu et
al., "Tools and Benchmarks for Automated Log Parsing", ICSE-SEIP 2019). A line folded into
the event before it has no pattern of its own and counts as a group of one.
"""
import collections
import csv
import json
import os
import subprocess
import sys


def grouping_accuracy(predicted, labels):
    by_pred = collections.defaultdict(set)
    by_label = collections.defaultdict(set)
    for line, group in predicted.items():
        by_pred[group].add(line)
    for line, label in labels.items():
        by_label[label].add(line)
    correct = sum(1 for line in labels if by_pred[predicted[line]] == by_label[labels[line]])
    return correct / len(labels)


def main():
    log_dir, label_dir = sys.argv[1], sys.argv[2]
    binary = sys.argv[3] if len(sys.argv) > 3 else "target/release/stackfold"
    results = []
    for name in sorted(os.listdir(log_dir)):
        if not name.endswith("_2k.log"):
            continue
        labels_path = os.path.join(label_dir, name + "_structured.csv")
        if not os.path.exists(labels_path):
            continue
        with open(labels_path, newline="", encoding="utf-8", errors="replace") as f:
            labels = {int(row["LineId"]): row["EventId"] for row in csv.DictReader(f)}
        out = subprocess.run(
            [binary, "fold", "--tz", "UTC", os.path.join(log_dir, name)],
            check=True, capture_output=True, text=True,
        ).stdout
        predicted = {}
        folded = 0
        for record in map(json.loads, out.splitlines()):
            first = record["line"]
            if record.get("pattern"):
                group = "p:" + record["pattern"]["id"]
            elif record.get("exception"):
                group = "x:" + record["exception"]["fingerprint"]
            else:
                group = "line:%d" % first
            predicted[first] = group
            for extra in range(first + 1, first + record["lines"]):
                predicted[extra] = "folded:%d" % extra
                folded += 1
        for line in labels:
            predicted.setdefault(line, "missing:%d" % line)
        ga = grouping_accuracy(predicted, labels)
        groups = len(set(predicted[line] for line in labels))
        results.append((name[: -len("_2k.log")], ga, groups, len(set(labels.values())), folded))
    print("| log | GA | patterns | labelled templates | lines folded into another |")
    print("|---|---|---|---|---|")
    for name, ga, groups, templates, folded in results:
        print(f"| {name} | {ga:.3f} | {groups} | {templates} | {folded} |")
    average = sum(r[1] for r in results) / len(results)
    print(f"| **average** | **{average:.3f}** | | | |")


if __name__ == "__main__":
    main()
