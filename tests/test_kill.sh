#!/usr/bin/env bash
# test_kill.sh [ROUNDS]: `srl run` killed with SIGKILL and started again ends with exactly the
# files of an uninterrupted run: the SFT baseline, M1, the pairs, M2 and the report, byte for
# byte. Every file srl writes goes to a temporary name and is renamed into place; a stage is done
# only when its last output is in place; training resumes from its last checkpoint (weights and
# AdamW state); so no kill can leave a half-written file that a restart would take as complete.
#
# First, kills aimed at training: the run is killed once the SFT baseline's training has saved
# a checkpoint, once M1's has, and once DPO's has (M2). Each kill is checked to have landed there
# (the stage's checkpoint pointer names a step, the stage is not done), and each restart to have
# resumed from that checkpoint (its log names it). Then ROUNDS (default 3) rounds of kills at
# random moments, each counted by where it landed: mid-SFT (the baseline or M1), mid-DPO, or
# elsewhere (generation, judging, evaluation, between stages).
# Like test_run.sh, every run stops once the model has judged its candidates; its judgments are
# replaced by hand-made ones (tests/tiny_world.sh: hand_judged), so that pairs survive and DPO
# trains; then it goes on to the end. KEEP=1 keeps the temporary folder (its path is printed
# by mktemp's name, /tmp/srl_test_kill.*) for a look at a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
SRL=${SRL:-./srl}
rounds=${1:-3}
tmp=$(mktemp -d /tmp/srl_test_kill.XXXXXX)
trap 'kill -9 $(jobs -p) 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
fail=0

source tests/tiny_world.sh
tiny_world "$tmp" 5 200

# checkpoints every 3 steps; the SFT baseline trains 30 steps, M1 20 and DPO 200 (one pair a
# step), long enough for a kill to land inside each
run_args=(--model "$tmp/m0" --data "$tmp/world" --iterations 1 --prompts 5 --candidates 3 --judge-samples 2
          --eft-prompts 8 --eft-answers 1 --sft-epochs 6 --m1-epochs 2 --batch 16 --max-new-tokens 16
          --judge-max-new-tokens 40 --eval-judge-samples 1 --dpo-lr 1e-4 --dpo-batch 1 --dpo-epochs 40 --save-every 3)
# the two legs of every run: up to the model's judgments of its candidates, and on to the end
leg_args=("--stop-after judgments1" "")
finals=(sft/model.safetensors m1/model.safetensors iter1/pairs.jsonl m2/model.safetensors report.json)

start=$(date +%s.%N)
$SRL run "${run_args[@]}" --out "$tmp/clean" --stop-after judgments1 >"$tmp/clean.log" 2>&1 || { cat "$tmp/clean.log"; exit 1; }
leg_seconds=("$(echo "$(date +%s.%N) - $start" | bc)")
hand_judged "$tmp/clean"
start=$(date +%s.%N)
$SRL run "${run_args[@]}" --out "$tmp/clean" >>"$tmp/clean.log" 2>&1 || { cat "$tmp/clean.log"; exit 1; }
leg_seconds+=("$(echo "$(date +%s.%N) - $start" | bc)")
n_pairs=$(grep -c '"chosen": ' "$tmp/clean/iter1/pairs.jsonl" || true)
check "the uninterrupted run keeps pairs ($n_pairs) and trains M2 on them" test "$n_pairs" -ge 3 -a -s "$tmp/clean/m2/model.safetensors"

same_as_clean() {  # same_as_clean OUT: every final file byte-identical to the uninterrupted run's
    local f
    for f in "${finals[@]}"; do cmp -s "$tmp/clean/$f" "$1/$f" || { echo "differs: $f"; return 1; }; done
}

# where_killed OUT: where a kill left the run: "mid-TRAINING STAGE STEP LOGGED" when a training
# stage has a checkpoint (at STEP, LOGGED steps in its log) and is not done, else "elsewhere"
where_killed() {
    local out=$1 stage
    for stage in sft m1 m2; do
        if [ -s "$out/$stage/checkpoints/latest" ] && [ ! -e "$out/$stage/srl_done.json" ]; then
            echo "mid-training $stage $(cat "$out/$stage/checkpoints/latest") $(wc -l <"$out/$stage/train_log.jsonl")"
            return
        fi
    done
    echo elsewhere
}

# --- kills aimed at training
out=$tmp/aimed
starts=0
aimed_kill() {  # aimed_kill STAGE LEG: start the run's leg, SIGKILL it once STAGE's training has saved a checkpoint
    local stage=$1 pid
    starts=$((starts + 1))
    # shellcheck disable=SC2086
    $SRL run "${run_args[@]}" --out "$out" ${leg_args[$2]} >"$tmp/aimed$starts.log" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null && [ ! -s "$out/$stage/checkpoints/latest" ]; do sleep 0.01; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
resumed() {  # resumed STAGE STEP LOGFILE: the start logged in LOGFILE resumed STAGE's training from STEP
    grep -q "^resuming from $out/$1/checkpoints/step-$(printf %06d "$2") (step $2)$" "$3"
}
aimed_landed=0
declare -A aimed_step
for target in "sft 0" "m1 0" "m2 1"; do
    read -r stage leg <<<"$target"
    [ "$stage" = m2 ] && { hand_judged "$out"; }
    aimed_kill "$stage" "$leg"
    read -r what kstage step logged _ <<<"$(where_killed "$out") - - - -"
    if [ "$what $kstage" = "mid-training $stage" ]; then
        aimed_landed=$((aimed_landed + 1))
        aimed_step[$stage]=$step
        check "a kill landed mid-training in $stage: $logged steps logged, checkpoint at step $step" test "$step" -gt 0
    else
        check "a kill landed mid-training in $stage (it landed: $what $kstage)" false
    fi
    if [ "$stage" = m1 ]; then
        $SRL run "${run_args[@]}" --out "$out" --stop-after judgments1 >"$tmp/aimed_leg1.log" 2>&1 ||
            { cat "$tmp/aimed_leg1.log"; exit 1; }
    fi
done
$SRL run "${run_args[@]}" --out "$out" >"$tmp/aimed_end.log" 2>&1 || { cat "$tmp/aimed_end.log"; exit 1; }
check "3 aimed kills, all 3 landed mid-training ($aimed_landed)" test "$aimed_landed" -eq 3
check "the next start resumed the SFT baseline from its step-${aimed_step[sft]:-?} checkpoint" resumed sft "${aimed_step[sft]:-x}" "$tmp/aimed2.log"
check "the next start resumed M1 from its step-${aimed_step[m1]:-?} checkpoint" resumed m1 "${aimed_step[m1]:-x}" "$tmp/aimed_leg1.log"
check "the next start resumed DPO (M2) from its step-${aimed_step[m2]:-?} checkpoint" resumed m2 "${aimed_step[m2]:-x}" "$tmp/aimed_end.log"
check "resumed from those checkpoints: SFT baseline, M1, pairs, M2 and report identical to the uninterrupted run" same_as_clean "$out"

# --- kills at random moments
for round in $(seq 1 "$rounds"); do
    out=$tmp/killed$round
    kills=0
    declare -A landed=([sft]=0 [m1]=0 [m2]=0 [elsewhere]=0)
    for leg in 0 1; do
        [ "$leg" = 1 ] && hand_judged "$out"
        k=0
        while :; do
            # shellcheck disable=SC2086
            $SRL run "${run_args[@]}" --out "$out" ${leg_args[$leg]} >>"$tmp/killed$round.log" 2>&1 &
            pid=$!
            # a random moment within a window that starts at a quarter of the uninterrupted leg's
            # length and grows by an eighth with every kill: several kills per leg, landing in every
            # stage, and a leg that always gets to finish (a stage that is not training restarts
            # from scratch)
            delay=$(awk -v s="${leg_seconds[$leg]}" -v k="$k" -v r="$RANDOM" 'BEGIN { printf "%.2f", s * (k + 2) / 8 * r / 32768 }')
            sleep "$delay"
            if kill -0 "$pid" 2>/dev/null; then
                kill -9 "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
                read -r what kstage _ <<<"$(where_killed "$out") -"
                [ "$what" = mid-training ] && landed[$kstage]=$((landed[$kstage] + 1)) || landed[elsewhere]=$((landed[elsewhere] + 1))
                k=$((k + 1))
                [ $k -gt 60 ] && { echo "FAIL: round $round: the run never finished"; exit 1; }
            else
                wait "$pid" || { echo "FAIL: round $round: a restarted run failed"; tail -5 "$tmp/killed$round.log"; exit 1; }
                break
            fi
        done
        kills=$((kills + k))
    done
    where="mid-SFT baseline ${landed[sft]}, mid-M1 ${landed[m1]}, mid-DPO ${landed[m2]}, elsewhere ${landed[elsewhere]}"
    # the first kill of each leg comes within a quarter of its uninterrupted length
    check "round $round: killed $kills times ($where)" test "$kills" -ge 2
    check "round $round: every final file identical to the uninterrupted run" same_as_clean "$out"
    leftovers=$(find "$out" -name '*.tmp.*' | wc -l)
    echo "     ($leftovers temporary files of killed writers left in the run folder, never read)"
done
if [ $fail -ne 0 ]; then echo "test_kill: FAILED"; exit 1; fi
echo "test_kill: all checks passed (3 aimed kills, $rounds rounds of random ones)"
