# tests/fuzz/fuzz.mk: libFuzzer targets for srl's parsers (included by the Makefile; see
# tests/fuzz/README.md).
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="json world"]
#       builds every target into build/fuzz/ and runs each for FUZZ_SECONDS; prints per target
#       the executions and whether it found anything; fails when one did. The crashing input is
#       saved as build/fuzz/artifacts/<target>/crash-*, the log as build/fuzz/logs/<target>.log.
#   make fuzz-regress
#       builds the targets and runs every file of tests/fuzz/regressions/<target>/ and
#       tests/fuzz/corpus/<target>/ through its target once (what CI runs; needs no fixtures).
# With SRL_FIXTURES set, `make fuzz` also seeds each target with the real files that suit it
# (linked, never copied, from build/fuzz/seeds/<target>/). The first corpus folder given to
# libFuzzer is the one it writes new inputs to: build/fuzz/corpus/<target>/, so the committed
# corpora stay as they are.

CC_FUZZ ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= json safetensors shard_index config llama2c tokenizer_json tokenizer_model encode_decode \
                score_parser world jsonl ifeval rating_parser

FUZZ_DIR = build/fuzz
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS = -O1 -g -std=gnu11 -Wall -Wextra -fno-omit-frame-pointer $(FUZZ_SAN)
# libFuzzer's options for `make fuzz`: a time budget, a memory ceiling (an input that makes srl
# use more than 1 GiB, or ask for it in one malloc, is a finding) and a per-input time limit.
FUZZ_RUN_FLAGS = -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 -timeout=10 -print_final_stats=1
# Replaying: every input runs in milliseconds, so 5 s means a regression to a slow path (the
# tokenizer_model regression took 10 s under the sanitizers before its fix).
FUZZ_REGRESS_FLAGS = -rss_limit_mb=1024 -timeout=5

# The fixtures (paths under $SRL_FIXTURES) that seed each target.
FUZZ_SEEDS_json = hf_tokenizer/tokenizer.json llama3/meta_vectors.json stories260K/expected_greedy_200_ids.json
FUZZ_SEEDS_llama2c = stories260K/stories260K.bin
FUZZ_SEEDS_tokenizer_json = hf_tokenizer/tokenizer.json
FUZZ_SEEDS_tokenizer_model = llama3/tokenizer.model
FUZZ_SEEDS_encode_decode = stories260K/expected_greedy_200.txt data/mt_bench_questions.jsonl
FUZZ_SEEDS_jsonl = data/mt_bench_questions.jsonl data/ifeval_input_data.jsonl data/oasst_en_100_trees.jsonl

FUZZ_LIB_OBJS = $(LIB_SRCS:%.c=$(FUZZ_DIR)/lib/%.o)
FUZZ_BINS = $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

.PHONY: fuzz fuzz-build fuzz-regress
.SECONDARY: $(FUZZ_LIB_OBJS)

# The library is compiled once, with coverage instrumentation but without libFuzzer's main
# (-Wno-psabi: model.c's 64-byte vectors warn when not built for AVX-512, which is harmless here).
$(FUZZ_DIR)/lib/%.o: %.c $(HEADERS)
	@mkdir -p $(FUZZ_DIR)/lib
	$(CC_FUZZ) $(FUZZ_CFLAGS) -Wno-psabi -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_LIB_OBJS)
	$(CC_FUZZ) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJS) -lm

fuzz-build: $(FUZZ_BINS)

# The targets write each input to a file in a scratch folder under $TMPDIR (tests/fuzz/fuzz.h); a
# crash leaves its folder behind, so every make run gets a TMPDIR of its own, on the RAM disk
# when there is one, and removes it at the end.
fuzz_scratch_begin = base=/dev/shm; [ -d $$base ] || base=$${TMPDIR:-/tmp}; \
	export TMPDIR=$$(mktemp -d $$base/srl-fuzz-make.XXXXXX)

# One target's run, as shell commands: link its fixture seeds (with SRL_FIXTURES), fuzz, and
# print a line of the table from libFuzzer's final stats.
fuzz_run_one = \
	mkdir -p $(FUZZ_DIR)/corpus/$(1) $(FUZZ_DIR)/artifacts/$(1) $(FUZZ_DIR)/seeds/$(1); \
	rm -f $(FUZZ_DIR)/seeds/$(1)/*; seeds=""; \
	if [ -n "$$SRL_FIXTURES" ]; then \
	    for f in $(FUZZ_SEEDS_$(1)); do \
	        [ -f "$$SRL_FIXTURES/$$f" ] && ln -s "$$(cd "$$SRL_FIXTURES" && pwd)/$$f" $(FUZZ_DIR)/seeds/$(1)/; \
	    done; \
	    seeds=$(FUZZ_DIR)/seeds/$(1); \
	fi; \
	./$(FUZZ_DIR)/fuzz_$(1) $(FUZZ_DIR)/corpus/$(1) tests/fuzz/corpus/$(1) $$seeds $(FUZZ_RUN_FLAGS) \
	    -artifact_prefix=$(FUZZ_DIR)/artifacts/$(1)/ > $(FUZZ_DIR)/logs/$(1).log 2>&1; rc=$$?; \
	runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_DIR)/logs/$(1).log | tail -1); \
	rate=$$(sed -n 's/^stat::average_exec_per_sec: *//p' $(FUZZ_DIR)/logs/$(1).log | tail -1); \
	if [ $$rc -eq 0 ]; then result="nothing found"; \
	else found=1; result="FOUND: $(FUZZ_DIR)/artifacts/$(1)/$$(ls -t $(FUZZ_DIR)/artifacts/$(1) | head -1), log $(FUZZ_DIR)/logs/$(1).log"; fi; \
	printf '%-16s %12s %9s  %s\n' $(1) "$${runs:-?}" "$${rate:-?}" "$$result";

fuzz: fuzz-build
	@$(fuzz_scratch_begin); mkdir -p $(FUZZ_DIR)/logs; found=0; \
	printf '%-16s %12s %9s  %s\n' target executions exec/s result; \
	$(foreach t,$(FUZZ_TARGETS),$(call fuzz_run_one,$(t))) \
	rm -rf "$$TMPDIR"; exit $$found

fuzz-regress: fuzz-build
	@$(fuzz_scratch_begin); failed=""; for t in $(FUZZ_TARGETS); do \
	    files=$$(find tests/fuzz/regressions/$$t tests/fuzz/corpus/$$t -type f 2>/dev/null | sort); \
	    [ -n "$$files" ] || continue; \
	    if ./$(FUZZ_DIR)/fuzz_$$t $(FUZZ_REGRESS_FLAGS) $$files > $(FUZZ_DIR)/regress_$$t.log 2>&1; then \
	        echo "fuzz_$$t: $$(echo "$$files" | wc -l) inputs replayed, all pass"; \
	    else \
	        grep -m3 -E 'broken contract|srl_error|ERROR|runtime error|SUMMARY' $(FUZZ_DIR)/regress_$$t.log; \
	        echo "fuzz_$$t: FAILED on $$(sed -n 's/^Running: //p' $(FUZZ_DIR)/regress_$$t.log | tail -1) (log $(FUZZ_DIR)/regress_$$t.log)"; \
	        failed="$$failed $$t"; \
	    fi; \
	done; rm -rf "$$TMPDIR"; \
	if [ -n "$$failed" ]; then echo "== fuzz regressions FAILED:$$failed"; exit 1; fi; echo "== all fuzz regressions pass"
