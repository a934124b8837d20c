#!/usr/bin/env bash
# run_all.sh TEST...: runs each test (a binary, or a .sh script run with bash) in order, printing
# its output as it goes, and stops at the first that fails. At the end, a recap of every part a
# test skipped and why (its "skip: ..." lines: fixtures not given through SRL_FIXTURES, a build
# without OpenMP, a kernel this machine cannot run), so that "all tests passed" never hides
# what was not tested.
set -euo pipefail
log=$(mktemp /tmp/srl_run_all.XXXXXX)
trap 'rm -f "$log"' EXIT
skips=()
for t in "$@"; do
    echo "== $t"
    case $t in
        *.sh) bash "$t" | tee "$log" ;;
        /*) "$t" | tee "$log" ;;
        *) "./$t" | tee "$log" ;;
    esac
    while IFS= read -r line; do skips+=("$t: $line"); done < <(sed -n 's/^ *skip: //p' "$log")
done
if [ ${#skips[@]} -eq 0 ]; then
    echo "== all tests passed, nothing skipped"
else
    echo "== skipped (${#skips[@]}):"
    printf '   %s\n' "${skips[@]}"
    echo "== all tests passed, except the ${#skips[@]} parts skipped above"
fi
