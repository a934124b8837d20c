#!/usr/bin/env python3
"""oasst_expected.py TREES: what `srl prepare-oasst` should make of Open Assistant message trees,
counted independently of srl (Python's json module, not srl's parser or its code), written as the
lines tests/test_real_data.sh compares with srl's output:

  counts trees N ift N eft N
  ift TREE_ID PREFIX      an IFT seed example: the tree's first turn (an English prompt) and its
                          rank-0 English reply; PREFIX is how the reply's first 200 characters
                          read inside a JSON string (quote, backslash, newline, carriage return
                          and tab escaped; other characters as UTF-8), cut before any other
                          control character, whose escape JSON writers spell differently
  eft TREE_ID R0,R1,...   a prompt with two or more ranked English replies: their ranks, sorted

Paper (Yuan et al. 2024, section 3.1): the IFT seed is the first conversational turn of English
Open Assistant trees, with only the highest-quality (rank 0) human reply. A message is English
when "lang" is "en" and it is not deleted; a reply counts when its role is "assistant", it has a
"rank" and its text is not empty or blank.

Made with: python3 tests/oasst_expected.py $SRL_FIXTURES/data/oasst_en_100_trees.jsonl >tests/ref/oasst_en_100_expected.txt
"""
import json
import sys


def english(msg):
    return msg.get("lang") == "en" and not msg.get("deleted", False)


def blank(text):
    return text.strip(" \t\r\n") == ""


ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def prefix(text):
    out = ""
    for ch in text[:200]:
        if ch in ESCAPES:
            out += ESCAPES[ch]
        elif ch < " " or ch == "\x7f":
            break
        else:
            out += ch
    return out


def main(path):
    ift, eft, trees = [], [], 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            tree = json.loads(line)
            trees += 1
            prompt = tree["prompt"]
            if prompt["role"] != "prompter" or not english(prompt) or blank(prompt["text"]):
                continue
            replies = [r for r in prompt.get("replies", [])
                       if r.get("role") == "assistant" and english(r) and "rank" in r and not blank(r["text"])]
            replies.sort(key=lambda r: r["rank"])
            best = [r for r in replies if r["rank"] == 0]
            if best:
                ift.append((tree["message_tree_id"], prefix(best[0]["text"])))
            if len(replies) >= 2:
                eft.append((tree["message_tree_id"], ",".join(str(r["rank"]) for r in replies)))
    print(f"counts trees {trees} ift {len(ift)} eft {len(eft)}")
    for tid, p in ift:
        print(f"ift {tid} {p}")
    for tid, ranks in eft:
        print(f"eft {tid} {ranks}")


if __name__ == "__main__":
    main(sys.argv[1])
