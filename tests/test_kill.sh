#!/usr/bin/env bash
# test_kill.sh [ROUNDS]: `srl run` killed with SIGKILL at random moments and started again, until
# it finishes, ends with exactly the files of an uninterrupted run: the final checkpoint byte
# for byte, and the report. Every file srl writes goes to a temporary name and is renamed into
# place; a stage is done only when its last output is in place; training resumes from its last
# checkpoint; so no kill can leave a half-written file that a restart would take as complete.
# ROUNDS (default 3) repeats the whole test, each time with new kill moments.
set -euo pipefail
cd "$(dirname "$0")/.."
SRL=${SRL:-./srl}
rounds=${1:-3}
tmp=$(mktemp -d /tmp/srl_test_kill.XXXXXX)
trap 'kill -9 $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

source tests/tiny_world.sh
tiny_world "$tmp" 5 200

# checkpoints every few steps, so that kills also land in resumed training
run_args=(--model "$tmp/m0" --data "$tmp/world" --iterations 1 --prompts 5 --candidates 3 --judge-samples 2
          --eft-prompts 8 --eft-answers 1 --sft-epochs 2 --m1-epochs 2 --batch 16 --max-new-tokens 16
          --judge-max-new-tokens 40 --eval-judge-samples 1 --dpo-lr 1e-4 --save-every 3)
start=$(date +%s.%N)
$SRL run "${run_args[@]}" --out "$tmp/clean" >"$tmp/clean.log" 2>&1 || { cat "$tmp/clean.log"; exit 1; }
clean_seconds=$(echo "$(date +%s.%N) - $start" | bc)

for round in $(seq 1 "$rounds"); do
    out="$tmp/killed$round"
    kills=0
    while :; do
        $SRL run "${run_args[@]}" --out "$out" >>"$tmp/killed$round.log" 2>&1 &
        pid=$!
        # a random moment within a window that starts at a quarter of a whole run's length and
        # grows by an eighth with every kill: several kills per round, landing in every stage,
        # and a run that always gets to finish (a stage that is not training restarts from scratch)
        delay=$(awk -v s="$clean_seconds" -v k="$kills" -v r="$RANDOM" 'BEGIN { printf "%.2f", s * (k + 2) / 8 * r / 32768 }')
        sleep "$delay"
        if kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            kills=$((kills + 1))
            [ $kills -gt 60 ] && { echo "FAIL: round $round: the run never finished"; exit 1; }
        else
            wait "$pid" || { echo "FAIL: round $round: a restarted run failed"; tail -5 "$tmp/killed$round.log"; exit 1; }
            break
        fi
    done
    if cmp -s "$tmp/clean/m2/model.safetensors" "$out/m2/model.safetensors" && cmp -s "$tmp/clean/report.json" "$out/report.json"; then
        echo "  ok: round $round: killed $kills times, final checkpoint and report identical to the uninterrupted run"
    else
        echo "FAIL: round $round: killed $kills times, the final checkpoint or report differs"
        exit 1
    fi
    leftovers=$(find "$out" -name '*.tmp.*' | wc -l)
    echo "     ($leftovers temporary files of killed writers left in the run folder, never read)"
done
echo "test_kill: all $rounds rounds passed"
