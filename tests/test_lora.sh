#!/usr/bin/env bash
# test_lora.sh: LoRA through the command line, on a tiny task world (tests/tiny_world.sh) with
# its base model stored as bf16, so the adapters train on a frozen bf16 base:
#   srl sft --lora: the loss of 4 examples falls; the folder holds a PEFT adapter, not a model
#   --adapter on a forward-only command gives the same as the adapter folder as --model
#   srl merge: the merged folder's log-probs equal base + adapter within float rounding
#   the folders pretrain, convert and merge write hold tokenizer_config.json and
#   generation_config.json with the tokenizer's own special tokens and ids
#   srl dpo --lora from the SFT adapter: the reference log-probs are base + that adapter's; the
#   loss falls; the adapter trained on names the same base; another rank is refused
#   srl run --lora end to end: every model a PEFT folder on the bf16 base, M2 trained by DPO
set -euo pipefail
cd "$(dirname "$0")/.."
SRL=${SRL:-./srl}
tmp=$(mktemp -d /tmp/srl_test_lora.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
loss_of() { sed -n 's/.*"loss": \([0-9.]*\).*/\1/p'; }

source tests/tiny_world.sh
tiny_world "$tmp" 5 30
$SRL convert --from "$tmp/m0" --to "$tmp/m0_bf16" --dtype bf16 >/dev/null
cp "$tmp/m0/tokenizer.json" "$tmp/m0_bf16/" 2>/dev/null || true

head -4 "$tmp/world/ift_seed.jsonl" >"$tmp/four.jsonl"
sft=(--model "$tmp/m0_bf16" --data "$tmp/four.jsonl" --epochs 60 --batch 4 --lr 1e-2 --lr-min 1e-3 --heldout 0 --lora
     --lora-r 4 --lora-alpha 8)
$SRL sft "${sft[@]}" --out "$tmp/sft" --save-every 0 >"$tmp/sft.log" 2>&1 || { cat "$tmp/sft.log"; exit 1; }
first=$(head -1 "$tmp/sft/train_log.jsonl" | loss_of)
last=$(tail -1 "$tmp/sft/train_log.jsonl" | loss_of)
# (slowly: the base is barely pretrained and its embeddings and head stay frozen; 60 steps take
# the loss from 5.09 to 4.57)
check "sft --lora on a bf16 base lowers the loss of its examples ($first -> $last)" awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a - 0.3) }'
check "the folder holds a PEFT adapter (adapter_config.json, adapter_model.safetensors)" \
    test -s "$tmp/sft/adapter_config.json" -a -s "$tmp/sft/adapter_model.safetensors" -a ! -e "$tmp/sft/model.safetensors"
check "adapter_config.json names the base and PEFT's target modules" \
    grep -q "\"base_model_name_or_path\": \"$(realpath "$tmp/m0_bf16")\"" "$tmp/sft/adapter_config.json"
check "adapter_model.safetensors holds PEFT's names" grep -qa 'base_model.model.model.layers.1.mlp.down_proj.lora_B.weight' \
    "$tmp/sft/adapter_model.safetensors"

# --adapter, and the adapter folder as --model
prompt=(--prompt "Name a creature" --temperature 0 -n 12 --print-ids)
a=$($SRL generate --model "$tmp/m0_bf16" --adapter "$tmp/sft" "${prompt[@]}")
b=$($SRL generate --model "$tmp/sft" "${prompt[@]}")
check "generate --adapter equals the adapter folder as --model ($a)" test "$a" = "$b"

# merge: the merged model's log-probs equal base + adapter's (both in float32)
$SRL merge --model "$tmp/m0_bf16" --adapter "$tmp/sft" --out "$tmp/merged" >/dev/null
ids=$(echo "$a" | tr -s ' ')
s1=$($SRL score --model "$tmp/sft" --ids "1 $ids" | awk '$1 == "total" { print $2 }')
s2=$($SRL score --model "$tmp/merged" --ids "1 $ids" | awk '$1 == "total" { print $2 }')
check "merged log-prob $s2 equals base + adapter's $s1 within float rounding" \
    awk -v a="$s1" -v b="$s2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-4 * (a < 0 ? -a : a)) }'
s0=$($SRL score --model "$tmp/m0_bf16" --ids "1 $ids" | awk '$1 == "total" { print $2 }')
check "(the base's alone is $s0)" awk -v a="$s1" -v b="$s0" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d > 0.1) }'

# tokenizer_config.json and generation_config.json, what Hugging Face reads beside a model folder:
# the special tokens are the tokenizer's own. bos_token is the token `tokenize --bos` puts first,
# and generation_config.json's ids are those of bos_token, eos_token and <|eot_id|> (srl stops on
# both); model_max_length is config.json's context.
id_of() { printf '%s' "$2" | $SRL tokenize --tokenizer "$1" --allow-special | tr -d ' \n'; }
hf_files_check() {  # hf_files_check DIR WHAT
    local dir=$1 tc=$1/tokenizer_config.json bos eos gen want ctx
    bos=$(sed -n 's/^  "bos_token": "\(.*\)",$/\1/p' "$tc")
    eos=$(sed -n 's/^  "eos_token": "\(.*\)",$/\1/p' "$tc")
    check "$2: tokenizer_config.json's bos_token $bos is the tokenizer's ($(printf '' | $SRL tokenize --tokenizer "$dir" --bos))" \
        test -n "$bos" -a "$(id_of "$dir" "$bos")" = "$(printf '' | $SRL tokenize --tokenizer "$dir" --bos | tr -d ' \n')"
    gen=$(tr -d ' \n' <"$dir/generation_config.json")
    want="{\"bos_token_id\":$(id_of "$dir" "$bos"),\"eos_token_id\":[$(id_of "$dir" "$eos"),$(id_of "$dir" '<|eot_id|>')],"
    check "$2: generation_config.json $gen has the ids of $bos, $eos, <|eot_id|>" test "${gen#"$want"}" != "$gen"
    ctx=$(sed -n 's/^  "max_position_embeddings": \([0-9]*\),$/\1/p' "$dir/config.json")
    check "$2: model_max_length is the context, $ctx" grep -q "^  \"model_max_length\": $ctx,\$" "$tc"
    check "$2: the chat template is llama-3-instruct's" grep -q '"chat_template": "<|begin_of_text|>{% for message in messages %}' "$tc"
}
hf_files_check "$tmp/m0" "pretrain"
hf_files_check "$tmp/m0_bf16" "convert"
hf_files_check "$tmp/merged" "merge"
check "the adapter folder has the base's tokenizer_config.json" cmp -s "$tmp/m0/tokenizer_config.json" "$tmp/sft/tokenizer_config.json"

# DPO with LoRA, from the SFT adapter: the reference is base + that adapter
sed -n 's/^{"id": "\([^"]*\)".*"user", "content": \("[^"]*"\)}, {"role": "assistant", "content": \("[^"]*"\)}.*/{"id": "\1", "prompt": \2, "chosen": \3, "rejected": "I do not know."}/p' \
    "$tmp/world/ift_seed.jsonl" | awk "NR <= 16" >"$tmp/pairs.jsonl"
$SRL dpo --model "$tmp/sft" --pairs "$tmp/pairs.jsonl" --out "$tmp/dpo" --epochs 8 --batch 8 --lr 3e-3 --lr-min 3e-3 \
    --lora-r 4 --lora-alpha 8 --save-every 0 >"$tmp/dpo.log" 2>&1 || { cat "$tmp/dpo.log"; exit 1; }
# the same reference as full DPO computes from the adapter folder (merged, float32; the bf16
# kernel differs in rounding), and not the base's alone
$SRL dpo --model "$tmp/sft" --pairs "$tmp/pairs.jsonl" --out "$tmp/dpo_full" --epochs 1 --batch 8 --lr 0 --lr-min 0 \
    --save-every 0 >/dev/null 2>&1
$SRL dpo --model "$tmp/m0_bf16" --pairs "$tmp/pairs.jsonl" --out "$tmp/dpo_base" --epochs 1 --batch 8 --lr 0 --lr-min 0 \
    --lora-r 4 --save-every 0 >/dev/null 2>&1
ref_diff() {  # the largest relative difference of ref_chosen between two reference_logprobs.jsonl
    paste -d' ' <(sed -n 's/.*"ref_chosen": \([-0-9.e]*\).*/\1/p' "$1") <(sed -n 's/.*"ref_chosen": \([-0-9.e]*\).*/\1/p' "$2") |
        awk '{ d = $1 - $2; if (d < 0) d = -d; s = $1 < 0 ? -$1 : $1; if (d / s > m) m = d / s } END { printf "%.3g", m + 0 }'
}
near=$(ref_diff "$tmp/dpo/reference_logprobs.jsonl" "$tmp/dpo_full/reference_logprobs.jsonl")
far=$(ref_diff "$tmp/dpo/reference_logprobs.jsonl" "$tmp/dpo_base/reference_logprobs.jsonl")
check "dpo --lora's reference log-probs are base + the SFT adapter's (within $near of full DPO's; the base's differ by $far)" \
    awk -v a="$near" -v b="$far" 'BEGIN { exit !(a < 0.02 && b > 0.1) }'
first=$(head -1 "$tmp/dpo/train_log.jsonl" | loss_of)
last=$(tail -1 "$tmp/dpo/train_log.jsonl" | loss_of)
check "dpo --lora lowers its loss ($first -> $last; 0.69 -> 0.36 measured)" awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a * 0.7) }'
check "the DPO adapter names the same base" \
    grep -q "\"base_model_name_or_path\": \"$(realpath "$tmp/m0_bf16")\"" "$tmp/dpo/adapter_config.json"
if $SRL dpo --model "$tmp/sft" --pairs "$tmp/pairs.jsonl" --out "$tmp/dpo_bad" --lora-r 2 >"$tmp/bad.log" 2>&1; then
    check "a rank other than the adapter's is refused" false
else
    check "a rank other than the adapter's is refused: $(tail -1 "$tmp/bad.log" | cut -c1-80)" grep -q "rank 4" "$tmp/bad.log"
fi

# srl run --lora, end to end: every training stage (SFT, M1, DPO) trains adapters on the bf16
# base, every model is a PEFT folder naming it. The tiny base's own judgments never parse, so
# the run stops after judging and hand-made judgments (scores 5, 3, 1 by candidate) go in, as
# in test_run.sh, so that pairs survive and DPO trains.
run_args=(--model "$tmp/m0_bf16" --data "$tmp/world" --iterations 1 --prompts 5 --candidates 3 --judge-samples 2
          --eft-prompts 8 --eft-answers 1 --sft-epochs 1 --m1-epochs 1 --batch 16 --max-new-tokens 16
          --judge-max-new-tokens 40 --eval-judge-samples 1 --dpo-lr 1e-3 --dpo-batch 2 --dpo-epochs 2 --gap-items 2
          --lora --lora-r 4)
$SRL run "${run_args[@]}" --out "$tmp/run" --stop-after judgments1 >"$tmp/run.log" 2>&1 || { cat "$tmp/run.log"; exit 1; }
c=$tmp/run/iter1/candidates.jsonl j=$tmp/run/iter1/judgments.jsonl
sed -e '/"candidate": 0,/s/}$/, "scores": [5], "status": ["ok"], "mean": 5, "n_scored": 1, "judgments": ["Score: 5"]}/' \
    -e '/"candidate": 1,/s/}$/, "scores": [3], "status": ["ok"], "mean": 3, "n_scored": 1, "judgments": ["Score: 3"]}/' \
    -e '/"candidate": 2,/s/}$/, "scores": [1], "status": ["ok"], "mean": 1, "n_scored": 1, "judgments": ["Score: 1"]}/' \
    "$c" >"$j"
$SRL run "${run_args[@]}" --out "$tmp/run" >>"$tmp/run.log" 2>&1 || { cat "$tmp/run.log"; exit 1; }
for d in sft m1 m2; do
    check "run --lora: $d is a PEFT adapter folder on the bf16 base" \
        grep -q "\"base_model_name_or_path\": \"$(realpath "$tmp/m0_bf16")\"" "$tmp/run/$d/adapter_config.json"
done
n_steps=$(wc -l <"$tmp/run/m2/train_log.jsonl")
check "run --lora trained M2 with DPO ($n_steps steps)" test "$n_steps" -ge 4
check "M2's adapter differs from M1's" bash -c "! cmp -s '$tmp/run/m1/adapter_model.safetensors' '$tmp/run/m2/adapter_model.safetensors'"
check "run --lora evaluated M2 and wrote the report" test -s "$tmp/run/eval/m2/metrics.json" -a -s "$tmp/run/report.md"

[ "$fail" -eq 0 ] && echo "test_lora.sh: all checks passed" || { echo "test_lora.sh: FAILED"; exit 1; }
