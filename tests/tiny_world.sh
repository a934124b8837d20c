# tiny_world.sh: sourced by test_run.sh, test_kill.sh, test_lora.sh and test_real_data.sh. tiny_world DIR SEED STEPS writes a
# tiny task world (DIR/world), a 400-token tokenizer trained on it (DIR/tokenizer.json) and a
# base model of 2 layers, width 48 and grouped-query attention pretrained STEPS steps on it
# (DIR/m0): enough for a miniature `srl run` in seconds. Needs $SRL. hand_judged (below) gives
# such a run judgments that keep pairs.
# check "what" command...: runs the command, prints "ok: what" or "FAIL: what" and then sets
# fail=1 (the sourcing script starts with fail=0 and exits with it)
check() {  # check "what" command...
    local what=$1
    shift
    if "$@"; then echo "  ok: $what"; else echo "FAIL: $what"; fail=1; fi
}

tiny_world() {
    local dir=$1 seed=$2 steps=$3
    $SRL world --out "$dir/world" --seed "$seed" --pretrain-bytes 80000 --ift 80 --eft 80 --eft-eval 20 --test 24 \
        --judge-test 6 >/dev/null
    $SRL train-tokenizer --data "$dir/world/pretrain.txt,$dir/world/ift_seed.jsonl,$dir/world/eft_seed.jsonl" \
        --vocab-size 400 --out "$dir/tokenizer.json" >/dev/null
    cat >"$dir/config.json" <<'EOF'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 400, "hidden_size": 48,
 "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
 "max_position_embeddings": 512, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": true}
EOF
    $SRL pretrain --data "$dir/world/pretrain.txt" --tokenizer "$dir/tokenizer.json" --config "$dir/config.json" \
        --out "$dir/m0" --seq 64 --batch 8 --steps "$steps" --lr 3e-3 --eval-every 0 >/dev/null 2>&1
}

# hand_judged RUN_DIR: the run's judgments of its iteration-1 candidates replaced by hand-made
# ones, scores 5, 3, 1 by candidate index (a base model this small writes judgments that never
# parse, so the run would keep no pairs): pairs survive and M2 is trained with DPO.
hand_judged() {  # hand_judged RUN_DIR
    local c=$1/iter1/candidates.jsonl j=$1/iter1/judgments.jsonl s
    test -s "$j" || { echo "FAIL: $j was not written"; exit 1; }
    sed -e '/"candidate": 0,/s/}$/, "scores": [5], "status": ["ok"], "mean": 5, "n_scored": 1, "judgments": ["Score: 5"]}/' \
        -e '/"candidate": 1,/s/}$/, "scores": [3], "status": ["ok"], "mean": 3, "n_scored": 1, "judgments": ["Score: 3"]}/' \
        -e '/"candidate": 2,/s/}$/, "scores": [1], "status": ["ok"], "mean": 1, "n_scored": 1, "judgments": ["Score: 1"]}/' \
        "$c" >"$j.tmp"
    mv "$j.tmp" "$j"
}
