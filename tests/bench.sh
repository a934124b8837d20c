#!/usr/bin/env bash
# bench.sh: srl's speed beside the PyTorch peer (../shared/bench/torch_peer.py), same machine,
# same run, one JSON line each, then the ratios. Usage: tests/bench.sh [config ...]
#   configs: tiny small smollm135 (default: all); modes: train, dpo, generate (as the issue asks:
#   dpo on small, generate on small and smollm135).
set -u
cd "$(dirname "$0")/.."
configs=("$@")
[ ${#configs[@]} -eq 0 ] && configs=(tiny small smollm135)
peer=../shared/bench/torch_peer.py
have_peer=0
if [ -f "$peer" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then have_peer=1; fi
[ $have_peer -eq 0 ] && echo "# the PyTorch peer is not available (apt-get install python3-torch python3-numpy libopenblas0-pthread): srl only" >&2

field() {  # field KEY JSON -> number
    echo "$2" | sed -n "s/.*\"$1\": \([-0-9.e+]*\).*/\1/p"
}
ratios=()
tmp_err=$(mktemp)
trap 'rm -f "$tmp_err"' EXIT
for c in "${configs[@]}"; do
    modes=(train)
    [ "$c" = small ] && modes=(train dpo generate)
    [ "$c" = smollm135 ] && modes=(train generate)
    for m in "${modes[@]}"; do
        steps=10
        [ "$c" = smollm135 ] && steps=3
        [ "$m" = generate ] && steps=5
        srl=$(./tests/bench_model --config "$c" --mode "$m" --steps $steps)
        echo "$srl"
        if [ $have_peer -eq 1 ]; then
            p=$(/usr/bin/time -f 'PEAK_KB %M' /usr/bin/python3 "$peer" --config "$c" --mode "$m" --steps $steps --json 2>"$tmp_err" | tail -1)
            peak=$(sed -n 's/^PEAK_KB //p' "$tmp_err")
            p=$(echo "$p" | sed "s/}\$/, \"peak_rss_mib\": $((peak / 1024))}/")
            echo "{\"bench\": \"torch_peer\", $(echo "$p" | sed 's/^{//')"
            if [ "$m" = train ]; then
                ratios+=("$(printf '%-10s %-9s %-20s srl %10s  peer %10s  (MiB)' "$c" "$m" "peak_rss" "$(field peak_rss_mib "$srl")" "$((peak / 1024))")")
            fi
            for key in tokens_per_s pairs_per_s decode_tokens_per_s; do
                a=$(field $key "$srl"); b=$(field $key "$p")
                [ "$m" = dpo ] && [ $key = tokens_per_s ] && continue
                if [ -n "$a" ] && [ -n "$b" ]; then
                    ratios+=("$(printf '%-10s %-9s %-20s srl %10.1f  peer %10.1f  ratio %5.2fx' "$c" "$m" "$key" "$a" "$b" "$(echo "$a / $b" | bc -l)")")
                fi
            done
        fi
    done
done
./tests/bench_tokenizer
if [ ${#ratios[@]} -gt 0 ]; then
    echo "# srl / peer, measured side by side in this run:"
    printf '%s\n' "${ratios[@]}"
fi
