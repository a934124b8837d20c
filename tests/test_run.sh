#!/usr/bin/env bash
# test_run.sh: a miniature `srl run` end to end, in well under a minute: a tiny task world, a
# tiny tokenizer and base model made on the spot, then the whole method with one iteration.
# Checks that every stage's file exists, that records are keyed by prompt id and candidate,
# that the report is written, that the run keeps pairs (from hand-made judgments) and trains M2
# on them with DPO, and that a run stopped after a stage and started again, or run on 1 and on
# 2 threads, ends with a final checkpoint byte-identical to an uninterrupted run's.
set -euo pipefail
cd "$(dirname "$0")/.."
SRL=${SRL:-./srl}
tmp=$(mktemp -d /tmp/srl_test_run.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0

source tests/tiny_world.sh
tiny_world "$tmp" 3 30

# SFT end to end: a handful of examples, trained on many times, are learned: their loss falls
# and greedy generation gives back their answers exactly
head -4 "$tmp/world/ift_seed.jsonl" >"$tmp/four.jsonl"
$SRL sft --model "$tmp/m0" --data "$tmp/four.jsonl" --out "$tmp/sft4" --epochs 200 --batch 4 --lr 3e-3 --lr-min 1e-3 \
    --heldout 0 --save-every 0 >/dev/null 2>&1
first=$(head -1 "$tmp/sft4/train_log.jsonl" | sed -n 's/.*"loss": \([0-9.]*\).*/\1/p')
last=$(tail -1 "$tmp/sft4/train_log.jsonl" | sed -n 's/.*"loss": \([0-9.]*\).*/\1/p')
check "SFT lowers the loss of its examples ($first -> $last)" awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a / 10) }'
$SRL eval --model "$tmp/sft4" --data "$tmp/four.jsonl" --out "$tmp/sft4/eval" >/dev/null 2>&1
same=0
while IFS= read -r line; do
    id=$(echo "$line" | sed -n 's/.*"id": "\([^"]*\)".*/\1/p')
    want=$(grep "\"id\": \"$id\"" "$tmp/four.jsonl" | sed -n 's/.*"assistant", "content": \("[^"]*"\).*/\1/p')
    got=$(echo "$line" | sed -n 's/.*"response": \("[^"]*"\).*/\1/p')
    [ -n "$want" ] && [ "$want" = "$got" ] && same=$((same + 1))
done <"$tmp/sft4/eval/responses.jsonl"
check "greedy generation reproduces the 4 trained answers ($same of 4)" test "$same" -eq 4

# a training step that blows up stops with a message naming the step, and the last good
# checkpoint survives; no model is written
if $SRL sft --model "$tmp/m0" --data "$tmp/four.jsonl" --out "$tmp/blowup" --epochs 40 --batch 2 --lr 1e30 --warmup 0 \
    --save-every 1 --heldout 0 >/dev/null 2>"$tmp/blowup.err"; then
    check "a diverging SFT fails" false
else
    check "a diverging SFT names the step: $(tail -1 "$tmp/blowup.err" | cut -c1-90)" grep -q "step [0-9]*: the .* is not finite" "$tmp/blowup.err"
    check "its last good checkpoint survives" test -s "$tmp/blowup/checkpoints/latest"
    check "and no model is marked done" test ! -e "$tmp/blowup/srl_done.json"
fi

run_args=(--model "$tmp/m0" --data "$tmp/world" --iterations 1 --prompts 5 --candidates 3 --judge-samples 2
          --eft-prompts 8 --eft-answers 1 --sft-epochs 1 --m1-epochs 1 --batch 16 --max-new-tokens 16
          --judge-max-new-tokens 40 --eval-judge-samples 1 --eval-samples 4 --dpo-lr 1e-4 --dpo-batch 2 --dpo-epochs 2)
# A base model this small writes judgments that never parse, so on its own the miniature run
# keeps no pairs and M2 is M1. Every run below therefore stops once the model has judged its
# candidates, and its judgments are replaced by hand-made ones (scores 5, 3, 1 by candidate
# index; hand_judged in tests/tiny_world.sh) before it goes on: pairs survive, DPO trains, and
# the resume and thread checks below compare runs that went through DPO.
run_judged() {  # run_judged RUN_DIR LOG: the run, with hand-made judgments
    $SRL run "${run_args[@]}" --out "$1" --stop-after judgments1 >"$2" 2>&1 || { cat "$2"; exit 1; }
    hand_judged "$1"
    $SRL run "${run_args[@]}" --out "$1" >>"$2" 2>&1 || { cat "$2"; exit 1; }
}
run_judged "$tmp/a" "$tmp/a.log"

for f in sft/model.safetensors sft/srl_done.json eft/eft_train.jsonl m1/srl_done.json iter1/prompts.jsonl \
         iter1/candidates.jsonl iter1/judgments.jsonl iter1/pairs.stats.json \
         m2/model.safetensors m2/srl_done.json \
         eval/sft/metrics.json eval/m1/metrics.json eval/m2/metrics.json report.md report.json accuracy.svg \
         judge.svg pairs.svg dpo.svg; do
    check "run wrote $f" test -s "$tmp/a/$f"
done
n_pairs=$(grep -c '"chosen": ' "$tmp/a/iter1/pairs.jsonl" || true)
check "run kept pairs from the hand-made judgments ($n_pairs of 5 prompts)" test "$n_pairs" -ge 3
n_steps=$(wc -l <"$tmp/a/m2/train_log.jsonl")
check "and trained M2 on them with DPO, 2 pairs a step for 2 epochs ($n_steps steps)" test "$n_steps" -ge 4
check "M2 differs from M1" bash -c "! cmp -s '$tmp/a/m1/model.safetensors' '$tmp/a/m2/model.safetensors'"
n_prompts=$(grep -c '"id": "it1-' "$tmp/a/iter1/prompts.jsonl" || true)
n_cands=$(grep -c '"candidate": ' "$tmp/a/iter1/candidates.jsonl" || true)
check "prompts keyed by id ($n_prompts)" test "$n_prompts" -ge 1
check "3 candidates per prompt, keyed by id and candidate ($n_cands)" test "$n_cands" -eq $((3 * n_prompts))
check "judgments keyed by id and candidate" test "$(grep -c '"id": "it1-.*"candidate": ' "$tmp/a/iter1/judgments.jsonl")" -eq "$n_cands"
check "no checkpoints left behind" test ! -e "$tmp/a/m2/checkpoints"
check "report names every model" grep -q '| m2 |' "$tmp/a/report.md"
# eval's share of answers that name an item twice agrees with the grader's own judgments of them
$SRL grade --data "$tmp/a/eval/m1/responses.jsonl" --out "$tmp/m1_grades.jsonl" >/dev/null
n_graded=$(grep -c '"score": [0-9]' "$tmp/m1_grades.jsonl" || true)
n_repeat=$(grep -c 'Extra: [^"]*repeat' "$tmp/m1_grades.jsonl" || true)
share=$(sed -n 's/.*"repeat_share": \([0-9.]*\).*/\1/p' "$tmp/a/eval/m1/metrics.json")
check "eval: an item repeated in $share of the answers ($n_repeat of $n_graded by the grader's judgments)" \
    awk -v s="$share" -v r="$n_repeat" -v n="$n_graded" 'BEGIN { exit !(n > 0 && s != "" && (s - r / n) ^ 2 < 1e-10) }'
# eval samples 4 answers of every request at the loop's temperature; the report sets their
# shares side by side, item by item: hand-made counts (M1 1 of 4 perfect on every item, M2 3
# of 4) give 25 % and 75 %, and a difference of +50 points whatever the resampling
n_items=$(wc -l <"$tmp/a/eval/m1/responses.jsonl")
check "eval: 4 sampled answers counted for each of the $n_items requests" \
    test "$(grep -c '"samples": 4, "sampled_perfect": [0-4]}' "$tmp/a/eval/m1/responses.jsonl")" -eq "$n_items"
cp -r "$tmp/a" "$tmp/s"
sed -i 's/"sampled_perfect": [0-9]*/"sampled_perfect": 1/' "$tmp/s/eval/m1/responses.jsonl"
sed -i 's/"sampled_perfect": [0-9]*/"sampled_perfect": 3/' "$tmp/s/eval/m2/responses.jsonl"
$SRL run "${run_args[@]}" --out "$tmp/s" >"$tmp/s.log" 2>&1
check "report: sampled accuracy 25 % then 75 %, +50 points [+50, +50] against M1" \
    grep -q '^| m2 | 75.0 \[75.0, 75.0\] | +50.0 \[+50.0, +50.0\] |' "$tmp/s/report.md"
check "and report.json says so" grep -q '"sampled_accuracy_fact_diff": 0.500000' "$tmp/s/report.json"
# every judgment of the judge set is set beside the grader's judgment of the same response
n_judge_responses=$(grep -o '"scores": \[[^]]*\]' "$tmp/world/judge_test.jsonl" | tr -cd ',\n' | wc -c)
n_compared=$(sed -n 's/.*"judge_compared": \([0-9]*\).*/\1/p' "$tmp/a/eval/m1/metrics.json")
check "eval compared all $n_judge_responses judge-set judgments with the grader's ($n_compared)" \
    test "$n_compared" -eq "$n_judge_responses"
# ... but only under the world's judge template, whose format the grader's judgments follow
printf 'Rate this answer.\nQ: {instruction}\nA: {response}\nScore:' >"$tmp/own_template.txt"
$SRL eval --model "$tmp/a/m1" --judge-data "$tmp/world/judge_test.jsonl" --judge-template "$tmp/world/judge_template.txt" \
    --judge-samples 1 --judge-max-new-tokens 8 >"$tmp/eval_world_template.txt" 2>/dev/null
$SRL eval --model "$tmp/a/m1" --judge-data "$tmp/world/judge_test.jsonl" --judge-template "$tmp/own_template.txt" \
    --judge-samples 1 --judge-max-new-tokens 8 >"$tmp/eval_own_template.txt" 2>/dev/null
check "eval sets judgments beside the grader's under the world's template" grep -q "against the grader's judgments ($n_judge_responses)" \
    "$tmp/eval_world_template.txt"
# without --judge-template, eval judges with the judge_template.txt beside the judge data (the
# template the run trained the judge on), not the built-in one: the same judgments, byte for byte
$SRL eval --model "$tmp/a/m1" --judge-data "$tmp/world/judge_test.jsonl" --judge-samples 1 --judge-max-new-tokens 8 \
    >"$tmp/eval_default_template.txt" 2>/dev/null
check "eval without --judge-template uses the data folder's judge_template.txt" \
    cmp -s <(grep -v '^judge template:' "$tmp/eval_default_template.txt") "$tmp/eval_world_template.txt"
check "and not under a template of one's own (the judge was measured: $(grep -c ' judge: pairwise' "$tmp/eval_own_template.txt"))" \
    test "$(grep -c "against the grader's" "$tmp/eval_own_template.txt")" -eq 0 -a "$(grep -c ' judge: pairwise' "$tmp/eval_own_template.txt")" -eq 1

# DPO on its own, on pairs of the tiny world (the gold answer chosen over a refusal): the reference log-probs are stored, the loss
# falls and the chosen answer ends up preferred.
sed -n 's/^{"id": "\([^"]*\)".*"user", "content": \("[^"]*"\)}, {"role": "assistant", "content": \("[^"]*"\)}.*/{"id": "\1", "prompt": \2, "chosen": \3, "rejected": "I do not know."}/p' \
    "$tmp/world/ift_seed.jsonl" | awk "NR <= 32" >"$tmp/pairs.jsonl"
$SRL dpo --model "$tmp/m0" --pairs "$tmp/pairs.jsonl" --out "$tmp/dpo" --epochs 4 --batch 8 --lr 3e-3 --lr-min 3e-3 \
    --beta 0.1 --save-every 0 >/dev/null 2>&1
check "dpo stored the reference log-probs of its 32 pairs" test "$(grep -c '"ref_chosen"' "$tmp/dpo/reference_logprobs.jsonl")" -eq 32
first=$(head -1 "$tmp/dpo/train_log.jsonl" | sed -n 's/.*"loss": \([0-9.]*\).*/\1/p')
last=$(tail -1 "$tmp/dpo/train_log.jsonl" | sed -n 's/.*"loss": \([0-9.]*\).*/\1/p')
acc=$(tail -1 "$tmp/dpo/train_log.jsonl" | sed -n 's/.*"accuracy": \([0-9.]*\).*/\1/p')
check "DPO lowers its loss ($first -> $last)" awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a / 2) }'
check "and prefers the chosen answers (reward accuracy $acc)" awk -v a="$acc" 'BEGIN { exit !(a >= 0.9) }'
# DPO with replay: the IFT seed trained beside the pairs, its loss in every step's log line
$SRL dpo --model "$tmp/m0" --pairs "$tmp/pairs.jsonl" --out "$tmp/dpo_replay" --epochs 6 --batch 8 --lr 3e-3 --lr-min 3e-3 \
    --replay "$tmp/world/ift_seed.jsonl" --replay-weight 1 --save-every 0 >/dev/null 2>&1
check "dpo --replay logs a replay loss on every step" \
    test "$(grep -c '"replay_loss": ' "$tmp/dpo_replay/train_log.jsonl")" -eq "$(wc -l <"$tmp/dpo_replay/train_log.jsonl")" -a \
    "$(wc -l <"$tmp/dpo_replay/train_log.jsonl")" -gt 0
rfirst=$(head -1 "$tmp/dpo_replay/train_log.jsonl" | sed -n 's/.*"replay_loss": \([0-9.]*\).*/\1/p')
rlast=$(tail -1 "$tmp/dpo_replay/train_log.jsonl" | sed -n 's/.*"replay_loss": \([0-9.]*\).*/\1/p')
check "and the replayed examples' loss falls ($rfirst -> $rlast)" awk -v a="$rfirst" -v b="$rlast" 'BEGIN { exit !(b < a) }'

# pairs from hand-made judged candidates: an empty response takes no part even when its score
# would make it the rejected (or the chosen) one, since DPO refuses a pair with an empty side
cat >"$tmp/judged.jsonl" <<'JUDGED'
{"id": "q1", "candidate": 0, "prompt": "Name two animals.", "response": "bear, bat", "tokens": 3, "scores": [5], "status": ["ok"], "mean": 5, "n_scored": 1, "judgments": ["Score: 5"]}
{"id": "q1", "candidate": 1, "prompt": "Name two animals.", "response": "", "tokens": 0, "scores": [0], "status": ["ok"], "mean": 0, "n_scored": 1, "judgments": ["Score: 0"]}
{"id": "q1", "candidate": 2, "prompt": "Name two animals.", "response": "cat", "tokens": 1, "scores": [2], "status": ["ok"], "mean": 2, "n_scored": 1, "judgments": ["Score: 2"]}
{"id": "q2", "candidate": 0, "prompt": "Name a color.", "response": "", "tokens": 0, "scores": [5], "status": ["ok"], "mean": 5, "n_scored": 1, "judgments": ["Score: 5"]}
{"id": "q2", "candidate": 1, "prompt": "Name a color.", "response": "red", "tokens": 1, "scores": [1], "status": ["ok"], "mean": 1, "n_scored": 1, "judgments": ["Score: 1"]}
JUDGED
$SRL pairs --judgments "$tmp/judged.jsonl" --out "$tmp/hand_pairs.jsonl" >/dev/null 2>&1
check "pairs: one pair (q2 has one non-empty candidate left)" test "$(wc -l <"$tmp/hand_pairs.jsonl")" -eq 1
check "pairs: q1's rejected is candidate 2, not the empty candidate 1" grep -q '"chosen_candidate": 0, "rejected_candidate": 2' "$tmp/hand_pairs.jsonl"
check "pairs: two empty responses counted" grep -q '"empty_candidates": 2' "$tmp/hand_pairs.stats.json"
check "pairs: q2 dropped as too few" grep -q '"dropped_too_few": 1' "$tmp/hand_pairs.stats.json"
# --min-chosen: a pair is kept only when its chosen mean reaches the threshold
cat >>"$tmp/judged.jsonl" <<'JUDGED'
{"id": "q3", "candidate": 0, "prompt": "Name a tool.", "response": "axe", "tokens": 1, "scores": [5, 4], "status": ["ok", "ok"], "mean": 4.5, "n_scored": 2, "judgments": ["Score: 5", "Score: 4"]}
{"id": "q3", "candidate": 1, "prompt": "Name a tool.", "response": "red", "tokens": 1, "scores": [1, 1], "status": ["ok", "ok"], "mean": 1, "n_scored": 2, "judgments": ["Score: 1", "Score: 1"]}
JUDGED
$SRL pairs --judgments "$tmp/judged.jsonl" --out "$tmp/min_pairs.jsonl" --min-chosen 5 >/dev/null 2>&1
check "pairs --min-chosen 5: q1 (chosen 5) kept, q3 (chosen 4.5) dropped" \
    test "$(grep -c '"id": "q1"' "$tmp/min_pairs.jsonl")" -eq 1 -a "$(wc -l <"$tmp/min_pairs.jsonl")" -eq 1
check "pairs --min-chosen 5: q3 counted as chosen too low" grep -q '"dropped_low_chosen": 1' "$tmp/min_pairs.stats.json"

# stopped after a stage, then started again: the same final model, byte for byte
$SRL run "${run_args[@]}" --out "$tmp/b" --stop-after m1 >"$tmp/b1.log" 2>&1
check "stopped after m1: no iteration yet" test ! -e "$tmp/b/iter1/candidates.jsonl"
$SRL run "${run_args[@]}" --out "$tmp/b" --stop-after judgments1 >"$tmp/b2.log" 2>&1
check "stopped after judgments1: no pairs yet" test ! -e "$tmp/b/iter1/pairs.jsonl"
hand_judged "$tmp/b"
$SRL run "${run_args[@]}" --out "$tmp/b" --stop-after pairs1 >"$tmp/b3.log" 2>&1
check "stopped after pairs1: pairs, no M2 yet" test -s "$tmp/b/iter1/pairs.jsonl" -a ! -e "$tmp/b/m2/srl_done.json"
$SRL run "${run_args[@]}" --out "$tmp/b" >"$tmp/b4.log" 2>&1
check "a resumed run ends with the same M2 checkpoint (DPO on $n_pairs pairs)" \
    cmp -s "$tmp/a/m2/model.safetensors" "$tmp/b/m2/model.safetensors"
check "and the same report" cmp -s "$tmp/a/report.json" "$tmp/b/report.json"

# one thread gives the same run as two, byte for byte; an srl built without OpenMP (no GOMP or
# libomp entry point in the binary) runs on one thread whatever OMP_NUM_THREADS says
if grep -qa -e GOMP_parallel -e __kmpc_fork_call "$SRL"; then
    OMP_NUM_THREADS=1 run_judged "$tmp/c" "$tmp/c.log"
    OMP_NUM_THREADS=2 run_judged "$tmp/d" "$tmp/d.log"
    check "1 and 2 threads: the same M2 checkpoint (DPO on $(grep -c '"chosen": ' "$tmp/c/iter1/pairs.jsonl") pairs)" \
        cmp -s "$tmp/c/m2/model.safetensors" "$tmp/d/m2/model.safetensors"
    check "and the same report" cmp -s "$tmp/c/report.json" "$tmp/d/report.json"
else
    echo "  skip: $SRL built without OpenMP, not comparing runs on 1 and 2 threads"
fi

# the report's on-policy count of candidates the judge scored 5, on a copy of the run whose
# judgments are replaced by hand-made ones: two world instructions answered with their gold
# answers (perfect) or "I do not know." (not), and one request the grader cannot read.
# Scored 5: records 1, 2 and 4 (record 5 is not gradeable); perfect among them: 1 and 4.
cp -r "$tmp/a" "$tmp/e"
judged() {  # judged LINE_OF_TEST_JSONL RESPONSE_OR_GOLD MEAN CANDIDATE
    local rec id user gold response
    rec=$(sed -n "$1p" "$tmp/world/test.jsonl")
    id=$(echo "$rec" | sed -n 's/^{"id": \("[^"]*"\).*/\1/p')
    user=$(echo "$rec" | sed -n 's/.*"user", "content": \("[^"]*"\)}.*/\1/p')
    gold=$(echo "$rec" | sed -n 's/.*"gold": \("[^"]*"\)}$/\1/p')
    response=$2
    [ "$response" = gold ] && response=$gold
    echo "{\"id\": $id, \"candidate\": $4, \"prompt\": $user, \"response\": $response, \"tokens\": 3, \"scores\": [$3], \"status\": [\"ok\"], \"mean\": $3, \"n_scored\": 1, \"judgments\": [\"Score: $3\"]}"
}
{
    judged 1 gold 5 0
    judged 1 '"I do not know."' 5 1
    judged 2 gold 4 0
    judged 2 gold 5 1
    echo '{"id": "it1-x", "candidate": 0, "prompt": "Hello there.", "response": "Hi.", "tokens": 2, "scores": [5], "status": ["ok"], "mean": 5, "n_scored": 1, "judgments": ["Score: 5"]}'
} >"$tmp/e/iter1/judgments.jsonl"
$SRL run "${run_args[@]}" --out "$tmp/e" >"$tmp/e.log" 2>&1
check "report: 3 candidates scored 5 by the judge, 2 of them perfect, 3 of 5 candidates perfect" \
    grep -q '"candidate_accuracy": 0.600000, .*"onpolicy_scored_5": 3, "onpolicy_scored_5_accuracy": 0.666667' "$tmp/e/report.json"
check "and the report's table says so" grep -q '| 3 | 66.7 | 60.0 |$' "$tmp/e/report.md"
# those judgments are a bare "Score: N": every check line of the grader's judgments of the
# gold answers (all passes; "I do not know." has no check line) finds no verdict to keep
check "report: no check line in 'Score: N' judgments keeps a pass" \
    grep -q '"onpolicy_judgments_fails_caught": null, "onpolicy_judgments_passes_kept": 0.000000' "$tmp/e/report.json"
check "and the check table says so" grep -q '^| every check | - (0) | 0.0 ([1-9][0-9]*) |$' "$tmp/e/report.md"

# a finished stage is skipped
$SRL run "${run_args[@]}" --out "$tmp/a" >"$tmp/a2.log" 2>&1
check "a rerun of a finished run changes nothing" cmp -s "$tmp/a/report.json" "$tmp/b/report.json"

if [ $fail -ne 0 ]; then echo "test_run: FAILED"; exit 1; fi
echo "test_run: all checks passed"
