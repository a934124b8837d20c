# srl: Self-Rewarding Language Models in plain C.
#   make            build ./srl
#   make test       build and run every test (reads SRL_FIXTURES when set)
#   make bench      speed: srl beside the PyTorch peer, one JSON line per config and mode
#   make run        the whole self-rewarding method on the task world
#   make clean
# OpenMP is used when the compiler has it; `make OMP=0` builds without it.

CC ?= cc
OMP ?= 1
# -ffp-contract=fast: a*b+c becomes one fused multiply-add everywhere (GCC's default in GNU C,
# spelled out so clang does the same); no other floating-point liberties are taken.
CFLAGS ?= -O3 -march=native
CFLAGS += -std=gnu11 -ffp-contract=fast -Wall -Wextra
LDLIBS = -lm

ifeq ($(OMP),1)
  HAVE_OMP := $(shell printf 'int main(void){return 0;}' | $(CC) -fopenmp -x c - -o /dev/null 2>/dev/null && echo yes)
  ifeq ($(HAVE_OMP),yes)
    CFLAGS += -fopenmp
  endif
endif

LIB_SRCS = model.c tokenizer.c dpo.c judge.c world.c report.c util.c ifeval.c pipeline.c
HEADERS = model.h tokenizer.h dpo.h judge.h world.h report.h util.h ifeval.h pipeline.h unicode_table.h
TESTS = tests/test_model tests/test_lora tests/test_bf16 tests/test_checkpoint_errors tests/test_tokenizer tests/test_world tests/test_judge tests/test_ifeval
BENCHES = tests/bench_model tests/bench_tokenizer

.PHONY: all test test-kill test-sanitize bench run run-dense fresh data tinymodels clean

all: srl

srl: srl.c $(LIB_SRCS) $(HEADERS)
	$(CC) $(CFLAGS) -o $@ srl.c $(LIB_SRCS) $(LDLIBS)

tests/%: tests/%.c tests/check.h tests/ref.h $(LIB_SRCS) $(HEADERS)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_SRCS) $(LDLIBS)

# tests/run_all.sh ends with a recap of every part a test skipped and why
test: srl $(TESTS)
	@bash tests/run_all.sh $(TESTS) tests/test_cli.sh tests/test_data.sh tests/test_run.sh tests/test_lora.sh tests/test_real_data.sh tests/test_oasst.sh

# make test-kill [KILL_ROUNDS=3]: a miniature run killed with SIGKILL inside the SFT baseline's,
# M1's and DPO's training, then at random moments, and restarted until it finishes: each time
# byte-identical to an uninterrupted run (the kills counted by where they landed)
KILL_ROUNDS ?= 3
test-kill: srl
	bash tests/test_kill.sh $(KILL_ROUNDS)

# make bench [BENCH="tiny small"]: srl beside the PyTorch peer, same machine, same run
BENCH ?=
bench: $(BENCHES)
	bash tests/bench.sh $(BENCH)

# make data: the task world, regenerated (byte for byte the committed data/world)
data: srl
	./srl world --out data/world --seed 1

# make tinymodels: the tokenizer and the base model M0, remade bit for bit from data/world
# (tinymodels/README.md records what it printed and how long it took). The tokenizer learns
# from the committed files. M0 trains in two stages: 3 epochs on the world's corpus at 8 MB
# (its first 3 MB are data/world/pretrain.txt), which states every fact of the bestiary some
# 800 times; then one epoch on the world's second corpus (srl world --corpus checks): answers
# checked in the judge's manner, lists copied, creature facts, where M0 learns to copy an
# answer's items, which a judge must do before it can check them. srl recall measures what
# M0 remembers after each stage.
TINY_PRETRAIN = --seq 256 --batch 16 --epochs 3 --lr 2e-3 --lr-min 2e-4 --warmup 0.02 --eval-every 500 --save-every 500
TINY_CHECKS = --seq 256 --batch 16 --epochs 1 --lr 1e-3 --lr-min 1e-4 --warmup 0.02 --eval-every 200 --save-every 200 --seed 7
TINY_CORPUS_BYTES = 8000000
TINY_CHECKS_BYTES = 16000000
tinymodels: srl
	./srl train-tokenizer --data data/world/pretrain.txt,data/world/ift_seed.jsonl,data/world/eft_seed.jsonl \
	    --vocab-size 3072 --out tinymodels/tokenizer.json
	./srl world --out build/tinymodels/world --pretrain-bytes $(TINY_CORPUS_BYTES)
	./srl pretrain --data build/tinymodels/world/pretrain.txt --tokenizer tinymodels/tokenizer.json \
	    --config tinymodels/m0_config.json --out build/tinymodels/m0_stage1 --force $(TINY_PRETRAIN)
	./srl recall --model build/tinymodels/m0_stage1 --out build/tinymodels/m0_stage1/recall.json
	./srl world --out build/tinymodels/world_checks --corpus checks --pretrain-bytes $(TINY_CHECKS_BYTES)
	./srl pretrain --data build/tinymodels/world_checks/pretrain.txt --tokenizer tinymodels/tokenizer.json \
	    --config tinymodels/m0_config.json --init build/tinymodels/m0_stage1 --out tinymodels/m0 --force $(TINY_CHECKS)
	./srl recall --model tinymodels/m0 --out tinymodels/m0/recall.json

# make run: the whole method on the task world (RUN_ARGS adds options, e.g. RUN_ARGS="--iterations 3")
RUN_ARGS ?=
run: srl
	./srl run --model tinymodels/m0 --data data/world --out runs/world $(RUN_ARGS)

# make run-dense: the loop where it turns: 2,000 prompts per iteration (a held-out request's trait
# combination met about 11 times, not 3), DPO 4 epochs with the EFT data replayed at weight 0.5
# (so that the judge is kept). About 40 minutes on 2 cores, beyond make run's 15; the SFT
# baseline, EFT data, M1 and the gap are make run's, byte for byte. Writes runs/world_dense.
run-dense: srl
	./srl run --model tinymodels/m0 --data data/world --out runs/world_dense --prompts 2000 --dpo-epochs 4 --dpo-replay 0.5 $(RUN_ARGS)

# make fresh (after make run): every model of runs/world on a fresh test set, requests drawn
# anew from FRESH_SEED over the same world and kept out of everything M0 and the loop trained
# on (M0's two corpora are rewritten first, in seconds). The seed was chosen once, before any
# result, and is never tuned. Writes runs/world_fresh (the run's models, evaluated anew).
FRESH_SEED = 2026
fresh: srl
	./srl world --out build/tinymodels/world --pretrain-bytes $(TINY_CORPUS_BYTES)
	./srl world --out build/tinymodels/world_checks --corpus checks --pretrain-bytes $(TINY_CHECKS_BYTES)
	./srl world --out build/world_fresh --test-seed $(FRESH_SEED) \
	    --avoid build/tinymodels/world/pretrain.txt,build/tinymodels/world_checks/pretrain.txt
	rm -rf runs/world_fresh && mkdir -p runs/world_fresh && cp -r runs/world/. runs/world_fresh/ && rm -rf runs/world_fresh/eval
	./srl run --model tinymodels/m0 --data data/world --eval-data build/world_fresh --out runs/world_fresh $(RUN_ARGS)

# make test-sanitize: every test built with AddressSanitizer and UndefinedBehaviorSanitizer,
# stopping at the first report, in build/sanitize (the normal build is left alone)
SAN_FLAGS = -O1 -g -march=native -std=gnu11 -ffp-contract=fast -fopenmp -fsanitize=address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer
SAN_DIR = build/sanitize
test-sanitize:
	@mkdir -p $(SAN_DIR)/tests
	$(CC) $(SAN_FLAGS) -o $(SAN_DIR)/srl srl.c $(LIB_SRCS) $(LDLIBS)
	@set -e; for t in $(TESTS); do $(CC) $(SAN_FLAGS) -o $(SAN_DIR)/$$t $$t.c $(LIB_SRCS) $(LDLIBS); done
	@export SRL=$(SAN_DIR)/srl SRL_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1; \
	bash tests/run_all.sh $(addprefix $(SAN_DIR)/,$(TESTS)) tests/test_cli.sh tests/test_run.sh tests/test_oasst.sh

clean:
	rm -rf srl $(TESTS) $(BENCHES) build

# fuzzing: make fuzz FUZZ_SECONDS=N, make fuzz-regress (tests/fuzz/README.md)
-include tests/fuzz/fuzz.mk
