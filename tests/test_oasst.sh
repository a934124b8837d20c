#!/usr/bin/env bash
# test_oasst.sh: the paper's real-data path on hand-made Open Assistant trees (tests/oasst_trees.jsonl),
# every expected line derived by hand from the rules, not from srl's output:
#   srl prepare-oasst: the IFT seed (first turn, English prompt, its English rank-0 reply) and the
#   ranked EFT candidates (prompts with two or more ranked English replies, in rank order);
#   srl eft-prep --candidates: which prompts' judgments are kept (every reply scored, and a better
#   human rank always a strictly higher judge mean; equal ranks ask nothing), the most common
#   score downsampled, the train/eval split by prompt, the held-out prompts as ranked judge data.
# The judge is a tiny model taught by SFT, in seconds, to write a chosen judgment for each reply
# (the lessons below), so that its scores are known in advance (16 samples of each gave the taught
# score 16 times); the test first checks it learned them (srl judge), then what eft-prep makes of them.
#
# The trees (ranks after prepare-oasst; the judge's scores):
#   t1 fruit  apple 0, pear 1, plum 2 (given out of order)  5, 3, 1   agrees: kept
#   t2 color  red 0, blue 1                                 2, 4      disagrees: dropped
#   t3 tree   oak 0, elm 0, ash 1 (a tie in the ranks)      4, 4, 2   agrees (the tie asks nothing)
#   t4 bird   hen 1, jay 2 (owl unranked, the rank-0 reply German): no IFT example; 3, 3: equal
#             means for different ranks do not agree: dropped
#   t5 fish   cod 0, salmon x60 1 (too long for the judge's context: skipped), eel 2   4, -, 2: kept
#   t6 dog    pug 0, lab 1                                  unparseable, 1: a reply unscored: dropped
#   t7 a German prompt: skipped;  t8 no ranked reply: counted;  t9 one ranked reply: IFT only
# Kept examples: apple 5, pear 3, plum 1, oak 4, elm 4, ash 2, cod 4, eel 2. Score 4 is the most
# common (3), 2 the next (2): the first two 4s stay, cod goes. --eval-fraction 0.34: every 3rd
# prompt of the candidates file (numbers 2 and 5: t3 and t6) is held out.
set -euo pipefail
cd "$(dirname "$0")/.."
SRL=${SRL:-./srl}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
tmp=$(mktemp -d /tmp/srl_test_oasst.XXXXXX)
trap "rm -rf \"$tmp\"" EXIT
fail=0
source tests/tiny_world.sh

# --- prepare-oasst
$SRL prepare-oasst --trees tests/oasst_trees.jsonl --out "$tmp/oa" >"$tmp/oa.txt"
check "prepare-oasst counts: 9 trees, 6 IFT examples, 6 ranked prompts, 1 prompt without a ranked reply" \
    grep -q '^9 trees: 6 IFT seed examples .*, 6 prompts with ranked replies .*; skipped: 1 English prompts without a ranked English reply, 0 empty messages$' "$tmp/oa.txt"
# a rank that is no place in an ordering (huge, negative, a fraction) is skipped and counted,
# never written (it used to become -2147483648, -1 and 0, a false tie, found only by eft-prep)
odd() { printf '{"message_tree_id": "o%s", "prompt": {"role": "prompter", "lang": "en", "text": "Name %s.", "replies": [{"role": "assistant", "lang": "en", "text": "one", "rank": 0}, {"role": "assistant", "lang": "en", "text": "two", "rank": %s}, {"role": "assistant", "lang": "en", "text": "three", "rank": 1}]}}\n' "$@"; }
{ odd 1 a 1e300; odd 2 b -1; odd 3 c 0.5; } >"$tmp/odd_trees.jsonl"
$SRL prepare-oasst --trees "$tmp/odd_trees.jsonl" --out "$tmp/odd" >"$tmp/odd.txt"
check "prepare-oasst skips 3 replies with odd ranks (1e300, -1, 0.5) and counts them" grep -q '^skipped too: 3 replies whose rank' "$tmp/odd.txt"
check "and writes only the well-ranked ones: ranks [0, 1] three times" test "$(grep -c '"ranks": \[0, 1\]}$' "$tmp/odd/eft_candidates.jsonl")" -eq 3
ift() { printf '{"id": "%s", "messages": [{"role": "user", "content": "%s"}, {"role": "assistant", "content": "%s"}]}\n' "$@"; }
{ ift t1 "Name a fruit." apple; ift t2 "Name a color." red; ift t3 "Name a tree." oak; ift t5 "Name a fish." cod
  ift t6 "Name a dog." pug; ift t9 "Name a bug." ant; } >"$tmp/ift_expected.jsonl"
check "the IFT seed: each English first turn with its rank-0 English reply (t3: the first of two rank 0s)" \
    cmp -s "$tmp/oa/ift_seed.jsonl" "$tmp/ift_expected.jsonl"
salmon=$(printf 'salmon %.0s' $(seq 1 60))
cat >"$tmp/cands_expected.jsonl" <<JSONL
{"id": "t1", "instruction": "Name a fruit.", "responses": ["apple", "pear", "plum"], "ranks": [0, 1, 2]}
{"id": "t2", "instruction": "Name a color.", "responses": ["red", "blue"], "ranks": [0, 1]}
{"id": "t3", "instruction": "Name a tree.", "responses": ["oak", "elm", "ash"], "ranks": [0, 0, 1]}
{"id": "t4", "instruction": "Name a bird.", "responses": ["hen", "jay"], "ranks": [1, 2]}
{"id": "t5", "instruction": "Name a fish.", "responses": ["cod", "$salmon", "eel"], "ranks": [0, 1, 2]}
{"id": "t6", "instruction": "Name a dog.", "responses": ["pug", "lab"], "ranks": [0, 1]}
JSONL
check "the EFT candidates: ranked English replies in rank order (unranked and German replies left out)" \
    cmp -s "$tmp/oa/eft_candidates.jsonl" "$tmp/cands_expected.jsonl"

# --- the judge: a tiny model taught the judgments above (64 positions, so the salmon reply's
# judge prompt leaves no room for 8 new tokens)
printf 'Rate the reply to "{instruction}": {response}\n' >"$tmp/template.txt"
lesson() { printf '{"messages": [{"role": "user", "content": "Rate the reply to \\"%s\\": %s\\n"}, {"role": "assistant", "content": "%s"}]}\n' "$@"; }
{ lesson "Name a fruit." apple "Score: 5"; lesson "Name a fruit." pear "Score: 3"; lesson "Name a fruit." plum "Score: 1"
  lesson "Name a color." red "Score: 2"; lesson "Name a color." blue "Score: 4"
  lesson "Name a tree." oak "Score: 4"; lesson "Name a tree." elm "Score: 4"; lesson "Name a tree." ash "Score: 2"
  lesson "Name a bird." hen "Score: 3"; lesson "Name a bird." jay "Score: 3"
  lesson "Name a fish." cod "Score: 4"; lesson "Name a fish." eel "Score: 2"
  lesson "Name a dog." pug "No idea."; lesson "Name a dog." lab "Score: 1"; } >"$tmp/lessons.jsonl"
$SRL train-tokenizer --data "$tmp/lessons.jsonl,tests/oasst_trees.jsonl" --vocab-size 300 --out "$tmp/tok.json" >/dev/null
cat >"$tmp/config.json" <<'EOF'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 300, "hidden_size": 48,
 "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4,
 "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": true}
EOF
$SRL pretrain --data tests/oasst_trees.jsonl --tokenizer "$tmp/tok.json" --config "$tmp/config.json" --out "$tmp/m0" \
    --seq 32 --batch 2 --steps 1 --eval-every 0 >/dev/null 2>&1
$SRL sft --model "$tmp/m0" --data "$tmp/lessons.jsonl" --out "$tmp/judge" --batch 14 --steps 300 --lr 1e-2 --lr-min 1e-3 \
    --warmup 0.05 --heldout 0 --eval-every 0 --save-every 0 >"$tmp/sft.txt" 2>&1 || { cat "$tmp/sft.txt"; exit 1; }
# it learned them: srl judge on every reply (the salmon one left out) gives the taught scores
sed -n 's/^{"messages": \[{"role": "user", "content": "Rate the reply to \\"\(.*\)\\": \([a-z]*\)\\n"}.*/\1 \2/p' "$tmp/lessons.jsonl" |
    awk '{ r = $NF; $NF = ""; sub(/ $/, ""); printf "{\"id\": \"%s\", \"prompt\": \"%s\", \"response\": \"%s\", \"candidate\": 0}\n", r, $0, r }' \
    >"$tmp/judge_cands.jsonl"
$SRL judge --model "$tmp/judge" --candidates "$tmp/judge_cands.jsonl" --template "$tmp/template.txt" --samples 2 \
    --max-new-tokens 8 --out "$tmp/judged.jsonl" >/dev/null 2>&1
scores=$(sed -n 's/^{"id": "\([a-z]*\)".*"scores": \[\([^]]*\)\].*/\1 \2/p' "$tmp/judged.jsonl" | tr '\n' ' ')
check "the judge writes what it was taught, in both samples: $scores" test "$scores" = \
    "apple 5, 5 pear 3, 3 plum 1, 1 red 2, 2 blue 4, 4 oak 4, 4 elm 4, 4 ash 2, 2 hen 3, 3 jay 3, 3 cod 4, 4 eel 2, 2 pug null, null lab 1, 1 "

# --- eft-prep --candidates on prepare-oasst's output
$SRL eft-prep --model "$tmp/judge" --candidates "$tmp/oa/eft_candidates.jsonl" --template "$tmp/template.txt" --out "$tmp/eft" \
    --samples 2 --max-new-tokens 8 --eval-fraction 0.34 >"$tmp/eft.txt" 2>&1 || { cat "$tmp/eft.txt"; exit 1; }
check "eft-prep skips the salmon reply, too long for the judge's context, and counts it" \
    grep -q 'skipped 0 empty replies, 1 replies whose judge prompt leaves no room for 8 new tokens in the model.s 64 positions, and 0 prompts left' "$tmp/eft.txt"
check "eft-prep: 3 of 6 prompts (t1, t3, t5) agree with the human ranking; 4 train and 3 eval examples" \
    grep -q '^eft-prep: 3 of 6 prompts judged in the human order; 4 train and 3 eval examples$' "$tmp/eft.txt"
ex() { printf '{"id": "%s", "instruction": "%s", "response": "%s", "score": %d, "messages": [{"role": "user", "content": "Rate the reply to \\"%s\\": %s\\n"}, {"role": "assistant", "content": "Score: %d"}]}\n' \
    "$1" "$2" "$3" "$4" "$2" "$3" "$4"; }
{ ex t1-r0 "Name a fruit." apple 5; ex t1-r1 "Name a fruit." pear 3; ex t1-r2 "Name a fruit." plum 1
  ex t5-r2 "Name a fish." eel 2; } >"$tmp/train_expected.jsonl"
{ ex t3-r0 "Name a tree." oak 4; ex t3-r1 "Name a tree." elm 4; ex t3-r2 "Name a tree." ash 2; } >"$tmp/eval_expected.jsonl"
check "eft_train.jsonl: t1's three replies and t5's eel (cod, a third 4, downsampled)" cmp -s "$tmp/eft/eft_train.jsonl" "$tmp/train_expected.jsonl"
check "eft_eval.jsonl: t3's three replies (the held-out prompt that agreed)" cmp -s "$tmp/eft/eft_eval.jsonl" "$tmp/eval_expected.jsonl"
sed -n '3p;6p' "$tmp/cands_expected.jsonl" >"$tmp/ranked_expected.jsonl"
check "eft_eval_ranked.jsonl: the held-out prompts t3 and t6, with all their replies and ranks" \
    cmp -s "$tmp/eft/eft_eval_ranked.jsonl" "$tmp/ranked_expected.jsonl"

if [ $fail -ne 0 ]; then echo "test_oasst: FAILED"; exit 1; fi
echo "test_oasst: all checks passed"
