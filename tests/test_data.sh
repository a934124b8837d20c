#!/usr/bin/env bash
# test_data.sh: the committed task world and base model are what their commands make.
#  - `srl world --seed 1` regenerates every file of data/world byte for byte;
#  - the larger corpus of M0's second stage (make tinymodels) begins with the committed one;
#  - tinymodels/m0 reloads and gives the held-out loss its pretraining recorded (on the tail of
#    the checks corpus of its second stage, which it was last trained on).
set -euo pipefail
cd "$(dirname "$0")/.."
SRL=${SRL:-./srl}
tmp=$(mktemp -d /tmp/srl_test_data.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0

$SRL world --out "$tmp/world" --seed 1 >/dev/null
for f in data/world/*; do
    name=$(basename "$f")
    if cmp -s "$f" "$tmp/world/$name"; then echo "  ok: srl world regenerates $name"; else echo "FAIL: $name differs from a fresh srl world"; fail=1; fi
done
for f in "$tmp"/world/*; do
    [ -e "data/world/$(basename "$f")" ] || { echo "FAIL: srl world writes $(basename "$f"), which data/world lacks"; fail=1; }
done

# M0's first stage trains on the same world's corpus at TINY_CORPUS_BYTES (Makefile)
bytes=$(sed -n 's/^TINY_CORPUS_BYTES = \([0-9]*\)$/\1/p' Makefile)
$SRL world --out "$tmp/world_large" --seed 1 --pretrain-bytes "$bytes" >/dev/null
committed=$(stat -c %s data/world/pretrain.txt)
if [ "$(stat -c %s "$tmp/world_large/pretrain.txt")" -gt "$committed" ] &&
   head -c "$committed" "$tmp/world_large/pretrain.txt" | cmp -s - data/world/pretrain.txt; then
    echo "  ok: the $bytes-byte corpus of make tinymodels begins with data/world/pretrain.txt"
else
    echo "FAIL: the $bytes-byte corpus does not begin with data/world/pretrain.txt"; fail=1
fi

# its second stage on the checks corpus at TINY_CHECKS_BYTES
checks_bytes=$(sed -n 's/^TINY_CHECKS_BYTES = \([0-9]*\)$/\1/p' Makefile)
$SRL world --out "$tmp/world_checks" --seed 1 --corpus checks --pretrain-bytes "$checks_bytes" >/dev/null
recorded=$(sed -n 's/.*"heldout_loss": \([0-9.]*\).*/\1/p' tinymodels/m0/pretrain_result.json)
seq=$(sed -n 's/.*"seq": \([0-9]*\).*/\1/p' tinymodels/m0/pretrain_result.json)
fraction=$(sed -n 's/.*"heldout_fraction": \([0-9.e-]*\).*/\1/p' tinymodels/m0/pretrain_result.json)
measured=$($SRL perplexity --model tinymodels/m0 --data "$tmp/world_checks/pretrain.txt" --seq "$seq" --heldout "$fraction" | sed -n 's/^loss \([0-9.]*\).*/\1/p')
if awk -v a="$recorded" -v b="$measured" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-4 && a > 0) }'; then
    echo "  ok: tinymodels/m0 held-out loss $measured (recorded $recorded)"
else
    echo "FAIL: tinymodels/m0 held-out loss $measured, recorded $recorded"; fail=1
fi
if [ $fail -ne 0 ]; then echo "test_data: FAILED"; exit 1; fi
echo "test_data: all checks passed"
