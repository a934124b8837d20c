#!/usr/bin/env python3
# probe_m0.py: can a base model copy a list, and compare two items, as a judge must before it
# checks an answer? Greedy continuations (srl generate --temperature 0) of new lists in the
# checks corpus's phrasings; prints how many come out exactly right. Used for
# tinymodels/README.md and docs/experiments.md.
#
#   python3 tools/probe_m0.py MODEL_DIR [CORPUS]   (CORPUS: build/tinymodels/world/pretrain.txt,
#                                                    where the creature names are read from)
#
# copy:   "Here is a list: a, b, c. Again:" -> " a, b, c" (and two other phrasings), 16 lists
# differ: "Some items: a, b, a. Differ" -> " a, b: yes.\nDiffer a, a: no.\nDiffer b, a: yes."
#         40 lists of two or three creatures, half with one named twice; each pair line counts
import random
import re
import subprocess
import sys

model = sys.argv[1]
corpus = sys.argv[2] if len(sys.argv) > 2 else "build/tinymodels/world/pretrain.txt"
names = sorted(set(re.findall(r"^([a-z]+) lives in", open(corpus).read(4000000), re.M)))
words = "hammer saw drill apple pear fox bear crow river forest garden ferry waiter chisel orchid tomato".split()


def generate(prompt, n):
    out = subprocess.run(["./srl", "generate", "--model", model, "--prompt", prompt, "-n", str(n), "--temperature", "0", "--bos"],
                         capture_output=True, text=True, check=True).stdout
    return out[len(prompt):] if out.startswith(prompt) else out


def probe_copy():
    rng = random.Random(5)
    ok = 0
    for i in range(16):
        k = rng.randint(3, 5)
        pool = names if i % 2 == 0 else words
        items = rng.sample(pool, k) if i % 4 != 3 else [str(rng.randint(0, 99)) for _ in range(k)]
        if i % 3 == 0:
            prompt, want = "Here is a list: " + ", ".join(items) + ". Again:", " " + ", ".join(items)
        elif i % 3 == 1:
            prompt, want = "The answer " + "; ".join(items) + ". Items:", " " + " | ".join(items)
        else:
            prompt, want = "Some items: " + ", ".join(items) + ". Repeated:", " " + ", ".join(items)
        ok += generate(prompt, 24).startswith(want)
    print(f"copy: {ok} of 16 new lists copied exactly")


def probe_differ():
    rng = random.Random(11)
    right = {"same": [0, 0], "different": [0, 0]}
    for i in range(40):
        k = rng.choice([2, 3])
        items = rng.sample(names, k)
        if i % 2 == 0:
            a, b = rng.sample(range(k), 2)
            items[b] = items[a]
        got = {}
        for line in ("Differ" + generate("Some items: " + ", ".join(items) + ". Differ", 40)).split("\n"):
            m = re.match(r"Differ (\w+), (\w+): (yes|no)\.", line.strip())
            if m:
                got[(m.group(1), m.group(2))] = m.group(3)
        for x in range(k):
            for y in range(x + 1, k):
                kind = "same" if items[x] == items[y] else "different"
                right[kind][1] += 1
                right[kind][0] += got.get((items[x], items[y])) == ("no" if kind == "same" else "yes")
    print(f"differ: {right['same'][0]} of {right['same'][1]} repeated pairs and "
          f"{right['different'][0]} of {right['different'][1]} different pairs said right")


probe_copy()
probe_differ()
