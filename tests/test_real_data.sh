#!/usr/bin/env bash
# test_real_data.sh: the real-data stages with a tiny model, in seconds: srl eval --ifeval (on a
# responses file and on the model's own answers), srl eval --mt-bench (answers, the judge, the
# per-category means), srl eft-prep --candidates (its new-token budget, replies too long for the
# context and empty ones skipped and counted, the held-out prompts written as ranked judge data,
# which srl eval --judge-data scores against the human ranks), and bad real data: a record without
# ranks, a malformed line, a tree without ranks, an empty message: a clear error naming the file
# and line, or a counted skip, and nothing half-written. With SRL_FIXTURES set, also the real
# Open Assistant trees and MT-Bench questions.
set -euo pipefail
cd "$(dirname "$0")/.."
SRL=${SRL:-./srl}
tmp=$(mktemp -d /tmp/srl_test_real.XXXXXX)
trap "rm -rf \"$tmp\"" EXIT
fail=0
source tests/tiny_world.sh
tiny_world "$tmp" 5 20

# --- IFEval on a responses file: no model needed
cat >"$tmp/ifeval.jsonl" <<'JSONL'
{"key": 1, "prompt": "Say hi without commas.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}
{"key": 2, "prompt": "Answer in German, in quotes.", "instruction_id_list": ["language:response_language", "startend:quotation"], "kwargs": [{"language": "de"}, {}]}
{"key": 3, "prompt": "Give a title.", "instruction_id_list": ["detectable_format:title"], "kwargs": [{}]}
JSONL
cat >"$tmp/responses.jsonl" <<'JSONL'
{"prompt": "Say hi without commas.", "response": "Hi there friend."}
{"prompt": "Answer in German, in quotes.", "response": "Sure:\n\"Guten Tag.\""}
{"prompt": "Give a title.", "response": "No title here, sorry."}
JSONL
$SRL eval --ifeval "$tmp/ifeval.jsonl" --responses "$tmp/responses.jsonl" --out "$tmp/ife" >"$tmp/ife.txt"
check "ifeval strict: 1 of 2 checked prompts, 2 of 3 checked instructions" grep -q 'strict prompt-level 50.00% (2 prompts checked; all 3: 33.33-33.33%), instruction-level 33.33% (3 checked' "$tmp/ife.txt"
check "ifeval loose: the quotation followed without the first line" grep -q 'loose  prompt-level 50.00%.*instruction-level 66.67% (3 checked' "$tmp/ife.txt"
check "ifeval: the language instruction is not checked, and counted" grep -q '"instructions_not_checked": 1' "$tmp/ife/ifeval_metrics.json"
check "ifeval results: null for the unchecked verdict" grep -q '"follow_instruction_list": \[null, false\]' "$tmp/ife/ifeval_results.jsonl"
# --- IFEval on the model's own answers; a prompt too long for the context is skipped and counted
$SRL eval --ifeval "$tmp/ifeval.jsonl" --model "$tmp/m0" --max-new-tokens 8 --out "$tmp/ife_model" >"$tmp/ife_model.txt" 2>&1
check "ifeval with a model writes its responses" test "$(wc -l <"$tmp/ife_model/ifeval_responses.jsonl")" -eq 3
$SRL eval --ifeval "$tmp/ifeval.jsonl" --model "$tmp/m0" --max-new-tokens 505 >"$tmp/ife_long.txt" 2>&1
check "ifeval: prompts that leave no room for 505 new tokens are skipped and counted, not fatal" \
    grep -q '3 prompts without a response (scored as empty; 3 too long for the context)' "$tmp/ife_long.txt"

# --- MT-Bench: both turns answered, the judge's prompts too long for a 512-position model: counted
cat >"$tmp/mt.jsonl" <<'JSONL'
{"question_id": 1, "category": "writing", "turns": ["Write a haiku.", "Now make it sad."]}
{"question_id": 2, "category": "math", "turns": ["What is 2+2?", "And 3+3?"], "reference": ["4", "6"]}
JSONL
$SRL eval --mt-bench "$tmp/mt.jsonl" --model "$tmp/m0" --judge-model "$tmp/m0" --max-new-tokens 8 --judge-max-new-tokens 8 \
    --out "$tmp/mt" >"$tmp/mt.txt" 2>&1 || { cat "$tmp/mt.txt"; exit 1; }
check "mt-bench: 2 questions x 2 turns answered" test "$(grep -c '"answer": "' "$tmp/mt/mt_bench_judgments.jsonl")" -eq 4
check "mt-bench: the math question is judged against its reference (or skipped and counted)" \
    grep -q '"questions": 2, "skipped_turn1": 0, "skipped_turn2": 0, "judgments": 4' "$tmp/mt/mt_bench_metrics.json"
if $SRL eval --mt-bench "$tmp/mt.jsonl" --data "$tmp/world/test.jsonl" --model "$tmp/m0" >/dev/null 2>"$tmp/mix.err"; then
    check "eval refuses --mt-bench with --data" false
else
    check "eval refuses --mt-bench with --data: $(cut -c1-70 "$tmp/mix.err")" grep -q 'run on their own' "$tmp/mix.err"
fi

# --- eft-prep --candidates: an empty reply and a reply too long for the context are skipped and
# counted; a prompt left with one reply is skipped; the budget is an option
long=$(printf 'word %.0s' $(seq 1 600))
cat >"$tmp/cands.jsonl" <<JSONL
{"id": "p0", "instruction": "Name an animal.", "responses": ["bear", "cat", "   "], "ranks": [0, 1, 2]}
{"id": "p1", "instruction": "Name a color.", "responses": ["red", "$long"], "ranks": [0, 1]}
{"id": "p2", "instruction": "Name a tool.", "responses": ["axe", "saw"], "ranks": [1, 0]}
{"id": "p3", "instruction": "Name a food.", "responses": ["jam", "egg", "rice"], "ranks": [2, 0, 1]}
JSONL
$SRL eft-prep --model "$tmp/m0" --candidates "$tmp/cands.jsonl" --out "$tmp/eft" --samples 1 --max-new-tokens 16 \
    --eval-fraction 0.5 >"$tmp/eft.txt" 2>&1 || { cat "$tmp/eft.txt"; exit 1; }
check "eft-prep: 1 empty reply, 1 too long, 1 prompt left with one reply, counted" \
    grep -q 'skipped 1 empty replies, 1 replies whose judge prompt leaves no room for 16 new tokens in the model.s 512 positions, and 1 prompts left with fewer than two replies' "$tmp/eft.txt"
check "eft-prep writes the held-out prompts (p1, p3) as ranked judge data: p3 only, p1 was skipped" \
    test "$(cat "$tmp/eft/eft_eval_ranked.jsonl")" = '{"id": "p3", "instruction": "Name a food.", "responses": ["jam", "egg", "rice"], "ranks": [2, 0, 1]}'
$SRL eval --model "$tmp/m0" --judge-data "$tmp/cands.jsonl" --judge-samples 1 --judge-max-new-tokens 8 --out "$tmp/jr" >"$tmp/jr.txt" 2>/dev/null || true
$SRL eval --model "$tmp/m0" --judge-data "$tmp/eft/eft_eval_ranked.jsonl" --judge-samples 1 --judge-max-new-tokens 8 \
    --out "$tmp/jr" >"$tmp/jr.txt" 2>&1
check "eval --judge-data reads human ranks: gold = -rank" \
    test "$(grep -o '"gold": [-0-9]*' "$tmp/jr/judgments.jsonl" | tr '\n' ' ')" = '"gold": -2 "gold": 0 "gold": -1 '
check "and reports the judge metrics" grep -q ' judge: pairwise' "$tmp/jr.txt"
# a larger budget than the context allows skips every reply: counted, not fatal
$SRL eft-prep --model "$tmp/m0" --candidates "$tmp/cands.jsonl" --out "$tmp/eft_big" --samples 1 --max-new-tokens 505 >"$tmp/eft_big.txt" 2>&1
check "eft-prep --max-new-tokens 505: every prompt skipped and counted, the run finishes" grep -q 'and 4 prompts left with fewer than two replies' "$tmp/eft_big.txt"

# --- bad real data: a clear error naming the file and line, nothing written
bad_run() {  # bad_run NAME EXPECTED_MESSAGE command...
    local name=$1 want=$2
    shift 2
    if "$@" >/dev/null 2>"$tmp/$name.err"; then
        check "$name fails" false
    else
        check "$name: $(cut -c1-110 "$tmp/$name.err" | head -1)" grep -q -- "$want" "$tmp/$name.err"
    fi
}
head -1 "$tmp/cands.jsonl" >"$tmp/noranks.jsonl"
echo '{"id": "q", "instruction": "Hi.", "responses": ["a", "b"]}' >>"$tmp/noranks.jsonl"
bad_run "a record without ranks" "noranks.jsonl:2: a ranked record needs \"ranks\": the human ranking of each response" \
    $SRL eft-prep --model "$tmp/m0" --candidates "$tmp/noranks.jsonl" --out "$tmp/eft_bad"
check "and nothing is written" test ! -e "$tmp/eft_bad"
printf '%s\n{"id": "q", "instruction": "Hi.", "responses": ["a", \n' "$(head -1 "$tmp/cands.jsonl")" >"$tmp/malformed.jsonl"
bad_run "a malformed candidates line" "malformed.jsonl:2:" $SRL eft-prep --model "$tmp/m0" --candidates "$tmp/malformed.jsonl" --out "$tmp/eft_bad"
check "and nothing is written" test ! -e "$tmp/eft_bad"
cat >"$tmp/trees.jsonl" <<'JSONL'
{"message_tree_id": "t1", "prompt": {"role": "prompter", "lang": "en", "text": "Name a fruit.", "replies": [{"role": "assistant", "lang": "en", "text": "apple", "rank": 0}, {"role": "assistant", "lang": "en", "text": "pear", "rank": 1}]}}
{"message_tree_id": "t2", "prompt": {"role": "prompter", "lang": "en", "text": "Name a tree.", "replies": [{"role": "assistant", "lang": "en", "text": "oak"}]}}
{"message_tree_id": "t3", "prompt": {"role": "prompter", "lang": "en", "text": "  ", "replies": []}}
{"message_tree_id": "t4", "prompt": {"role": "prompter", "lang": "en", "text": "Name a bird.", "replies": [{"role": "assistant", "lang": "en", "text": " ", "rank": 0}, {"role": "assistant", "lang": "en", "text": "owl", "rank": 1}, {"role": "assistant", "lang": "en", "text": "jay", "rank": 2}]}}
JSONL
$SRL prepare-oasst --trees "$tmp/trees.jsonl" --out "$tmp/oa" >"$tmp/oa.txt"
check "prepare-oasst: a tree without ranks and empty messages are counted skips" \
    grep -q '4 trees: 1 IFT seed examples .*, 2 prompts with ranked replies .*; skipped: 1 English prompts without a ranked English reply, 2 empty messages' "$tmp/oa.txt"
cp "$tmp/trees.jsonl" "$tmp/trees_bad.jsonl"
echo '{"message_tree_id": "t5", "prompt": ' >>"$tmp/trees_bad.jsonl"
bad_run "a malformed tree line" "trees_bad.jsonl:5:" $SRL prepare-oasst --trees "$tmp/trees_bad.jsonl" --out "$tmp/oa_bad"
check "and neither output is written, not even in part" test -z "$(ls "$tmp/oa_bad" 2>/dev/null)"
echo '{"message_tree_id": "t6", "prompt": {"lang": "en", "text": "x"}}' >"$tmp/trees_norole.jsonl"
bad_run "a tree without a role" 'trees_norole.jsonl:1: a tree needs "message_tree_id" and a "prompt" message with "text" and "role"' \
    $SRL prepare-oasst --trees "$tmp/trees_norole.jsonl" --out "$tmp/oa_bad2"

# --- the real files
if [ -n "${SRL_FIXTURES:-}" ]; then
    # against an independent count: tests/oasst_expected.py (Python's json module) wrote
    # tests/ref/oasst_en_100_expected.txt from the same file (the command is in the script)
    $SRL prepare-oasst --trees "$SRL_FIXTURES/data/oasst_en_100_trees.jsonl" --out "$tmp/oasst" >"$tmp/oasst.txt"
    expected=tests/ref/oasst_en_100_expected.txt
    counts=$(sed -n 's/^\([0-9]*\) trees: \([0-9]*\) IFT seed examples .*, \([0-9]*\) prompts with ranked replies.*/counts trees \1 ift \2 eft \3/p' \
        "$tmp/oasst.txt")
    check "the 100 real trees: $counts, as counted by tests/oasst_expected.py" test "$counts" = "$(head -1 "$expected")"
    check "the IFT seed holds the expected trees, in order" \
        test "$(sed -n 's/^{"id": "\([^"]*\)".*/ift \1/p' "$tmp/oasst/ift_seed.jsonl")" = "$(grep '^ift ' "$expected" | cut -d' ' -f1,2)"
    # each example's reply is the rank-0 one: it opens with that reply's first 200 characters
    # (as they read in JSON), which no other ranked reply of the fixture's trees shares
    rank0=$(LC_ALL=C awk 'NR == FNR { if ($1 == "ift") want[$2] = substr($0, length($1) + length($2) + 3); next }
        { id = $0; sub(/^\{"id": "/, "", id); sub(/".*/, "", id)
          reply = $0; sub(/.*\{"role": "assistant", "content": "/, "", reply)
          same += (id in want) && substr(reply, 1, length(want[id])) == want[id] }
        END { print same + 0 }' "$expected" "$tmp/oasst/ift_seed.jsonl")
    check "each IFT example's reply is its tree's rank-0 reply ($rank0 of $(grep -c '^ift ' "$expected"))" \
        test "$rank0" -eq "$(grep -c '^ift ' "$expected")"
    check "the EFT candidates: the expected prompts, in order, with their replies' ranks sorted" \
        test "$(sed -n 's/^{"id": "\([^"]*\)".*"ranks": \[\([0-9, ]*\)\]}$/eft \1 \2/p' "$tmp/oasst/eft_candidates.jsonl" | sed 's/, /,/g')" = \
        "$(grep '^eft ' "$expected")"
    head -4 "$tmp/oasst/eft_candidates.jsonl" >"$tmp/oasst8.jsonl"
    $SRL eft-prep --model "$tmp/m0" --candidates "$tmp/oasst8.jsonl" --out "$tmp/oasst_eft" --samples 1 --max-new-tokens 8 \
        >"$tmp/oasst_eft.txt" 2>&1
    check "eft-prep on 4 real prompts: replies too long for the tiny model are skipped and counted, the run finishes" \
        grep -q 'replies whose judge prompt leaves no room for 8 new tokens' "$tmp/oasst_eft.txt"
    check "and its files are written" test -e "$tmp/oasst_eft/eft_train.jsonl" -a -e "$tmp/oasst_eft/eft_eval_ranked.jsonl"
    head -3 "$SRL_FIXTURES/data/mt_bench_questions.jsonl" >"$tmp/mt3.jsonl"
    $SRL eval --mt-bench "$tmp/mt3.jsonl" --model "$tmp/m0" --max-new-tokens 8 --judge-max-new-tokens 8 --out "$tmp/mt3" >"$tmp/mt3.txt" 2>&1
    check "MT-Bench's real questions: $(grep '^mt-bench:' "$tmp/mt3.txt" | cut -c1-80)" grep -q '^mt-bench: 3 questions' "$tmp/mt3.txt"
else
    echo "  skip: SRL_FIXTURES unset, not testing the real Open Assistant trees and MT-Bench questions"
fi
if [ $fail -ne 0 ]; then echo "test_real_data: FAILED"; exit 1; fi
echo "test_real_data: all checks passed"
