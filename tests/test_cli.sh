#!/usr/bin/env bash
# test_cli.sh: the command line as a newcomer meets it (issue 19), a few seconds:
#  - a misspelled option is named as itself, not as the required option it was meant to be;
#  - --out into a folder that does not exist is refused before any work, naming the folder;
#  - every switch srl declares is an option of some command, and every option read is documented;
#  - sft's and eval's --tokenizer, run's token budgets are in their help;
#  - an error names no option the command lacks (eft-prep with a llama2.c file, no tokenizer);
#  - srl eval on requests that are not task-world instructions says why there is no accuracy;
#  - srl info on a file that is no model says what a model is;
#  - a pipeline stage that meets a bad record returns an error naming the file and line, which the
#    command prints, and writes no output (pairs alone, and inside srl run).
set -euo pipefail
cd "$(dirname "$0")/.."
SRL=${SRL:-./srl}
tmp=$(mktemp -d /tmp/srl_test_cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "  ok: $1"; }
bad() { echo "FAIL: $1"; fail=1; }
names() { grep -qE -- "--$1([^a-z0-9_-]|\$)" "$2"; }   # names OPTION FILE: FILE names --OPTION (not a longer one)

# runs srl with the given arguments, expecting it to fail; its stderr in $err
fails() {
    if "$SRL" "$@" >"$tmp/out" 2>"$tmp/err"; then err="(it succeeded)"; return 1; fi
    err=$(cat "$tmp/err")
}

# 1. the unknown option first
if fails generate --modle tinymodels/m0 --prompt hi && [[ $err == *"unknown option --modle"* ]]; then
    ok "generate --modle: named as unknown"
else
    bad "generate --modle: $err"
fi
if fails gen-prompts --seed-data x --out x --model tinymodels/m0 --temprature 1 && [[ $err == *"unknown option --temprature"* ]]; then
    ok "gen-prompts --temprature: named as unknown"
else
    bad "gen-prompts --temprature: $err"
fi

# 2. --out into a missing folder, refused before the work: the inputs named do not exist either,
# so a command that starts work first fails on them instead
missing="$tmp/no_such_folder"
while IFS='|' read -r name args; do
    # shellcheck disable=SC2086
    if fails $args --out "$missing/out.jsonl" && [[ $err == *"folder $missing does not exist"* ]]; then
        ok "$name --out into a missing folder: refused first"
    else
        bad "$name --out into a missing folder: $err"
    fi
done <<EOF
gen-prompts|gen-prompts --model $tmp/none --seed-data $tmp/none.jsonl
gen-responses|gen-responses --model $tmp/none --prompts $tmp/none.jsonl
judge|judge --model $tmp/none --candidates $tmp/none.jsonl
pairs|pairs --judgments $tmp/none.jsonl
recall|recall --model $tmp/none
grade|grade --data $tmp/none.jsonl
train-tokenizer|train-tokenizer --data $tmp/none.txt --vocab-size 300
EOF

# 3. the declared switches and the options read, each documented by some command's help
commands=$("$SRL" --help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
for c in $commands; do "$SRL" "$c" --help; done >"$tmp/all_help.txt"
switches=$(awk '/switch_names\[\] = \{/ { p = 1 } p { print } p && /NULL\};/ { exit }' srl.c | grep -o '"[a-z-]*"' | tr -d '"')
read_options=$(grep -o 'opt_[a-z]*(o, "[a-z0-9-]*"' srl.c | sed 's/.*"\(.*\)"/\1/' | sort -u)
undocumented=""
for name in $switches $read_options; do
    [ "$name" = help ] && continue
    names "$name" "$tmp/all_help.txt" || undocumented="$undocumented --$name"
done
if [ -z "$undocumented" ] && [ -n "$switches" ]; then
    ok "every switch ($(echo $switches | wc -w)) and option read ($(echo $read_options | wc -w)) is in some command's help"
else
    bad "declared or read, but in no command's help:$undocumented"
fi

# 4. the options a command reads are in its own help
for case in "sft tokenizer" "eval tokenizer" "run max-new-tokens" "run judge-max-new-tokens" "gen-prompts id-prefix"; do
    set -- $case
    "$SRL" "$1" --help >"$tmp/help.txt"
    if names "$2" "$tmp/help.txt"; then ok "$1 --help names --$2"; else bad "$1 --help lacks --$2"; fi
done

# 5. eft-prep with a llama2.c file (which holds no tokenizer): the error names no option eft-prep
# lacks. The model: 7 int32 (dim 8, hidden 16, 1 layer, 2 heads, 2 kv heads, vocab 16, seq 8),
# then 824 zero floats (792 weights, 32 unused RoPE values).
{
    printf '\x08\0\0\0\x10\0\0\0\x01\0\0\0\x02\0\0\0\x02\0\0\0\x10\0\0\0\x08\0\0\0'
    head -c $((824 * 4)) /dev/zero
} >"$tmp/tiny.bin"
"$SRL" eft-prep --help >"$tmp/eft_help.txt"
if fails eft-prep --model "$tmp/tiny.bin" --world data/world --out "$tmp/eft"; then
    foreign=""
    for o in $(grep -o -- '--[a-z][a-z-]*' <<<"$err" | sort -u); do
        [ "$o" = --from ] || [ "$o" = --to ] || names "${o#--}" "$tmp/eft_help.txt" || foreign="$foreign $o"
    done
    if [ -z "$foreign" ] && [[ $err == *"tokenizer"* ]]; then ok "eft-prep on a .bin model: $err"
    else bad "eft-prep's error suggests options it lacks ($foreign): $err"; fi
else
    bad "eft-prep on a .bin model without a tokenizer succeeded"
fi

# 6. srl eval on requests outside the task world: why there is no accuracy, not "nan%"
echo '{"id": "x1", "messages": [{"role": "user", "content": "Tell me a joke about cats."}]}' >"$tmp/plain.jsonl"
"$SRL" eval --model tinymodels/m0 --data "$tmp/plain.jsonl" --max-new-tokens 4 --batch 1 >"$tmp/eval.txt" 2>/dev/null
if ! grep -qi nan "$tmp/eval.txt" && grep -q "no accuracy: none of the 1 requests is a task-world instruction" "$tmp/eval.txt"; then
    ok "eval on a plain request says why there is no accuracy"
else
    bad "eval on a plain request: $(cat "$tmp/eval.txt")"
fi

# 7. srl info on a config.json: what a model is
if fails info --model tinymodels/m0/config.json && [[ $err == *"a model is a Hugging Face folder"*"llama2.c .bin"* ]]; then
    ok "info --model config.json: says what a model is"
else
    bad "info --model config.json: $err"
fi

# 8. a stage's error names the file and the line, and no output (nor a temp file) is left
printf '%s\n' '{"id": "p1", "candidate": 0, "prompt": "a", "response": "b", "mean": 5, "n_scored": 1}' \
    '{"id": "p1", "prompt": "a", "response": "c", "mean": 1, "n_scored": 1}' >"$tmp/judged.jsonl"
if fails pairs --judgments "$tmp/judged.jsonl" --out "$tmp/pairs.jsonl" &&
    [[ $err == *"$tmp/judged.jsonl:2: a candidate record needs"* ]] && [ -z "$(ls "$tmp" | grep '^pairs')" ]; then
    ok "pairs on a bad record: $err, no pairs file"
else
    bad "pairs on a bad record: $err; left: $(ls "$tmp" | grep '^pairs' | tr '\n' ' ')"
fi
mkdir -p "$tmp/badworld"
head -2 data/world/ift_seed.jsonl >"$tmp/badworld/ift_seed.jsonl"
echo '{"id": "broken", "messages": [{"role": "user"}]}' >>"$tmp/badworld/ift_seed.jsonl"
if fails run --model tinymodels/m0 --data "$tmp/badworld" --out "$tmp/run" &&
    [[ $err == *"$tmp/badworld/ift_seed.jsonl:3: message 1 needs"* ]] && [ ! -e "$tmp/run/sft/srl_done.json" ]; then
    ok "run on a bad IFT record: the SFT stage's error reaches the command line: $err"
else
    bad "run on a bad IFT record: $err"
fi

if [ $fail -ne 0 ]; then echo "test_cli: FAILED"; exit 1; fi
echo "test_cli: all checks passed"
