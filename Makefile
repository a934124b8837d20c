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

LIB_SRCS = model.c tokenizer.c dpo.c judge.c world.c report.c util.c ifeval.c
HEADERS = model.h tokenizer.h dpo.h judge.h world.h report.h util.h ifeval.h unicode_table.h
TESTS = tests/test_model tests/test_bf16 tests/test_checkpoint_errors tests/test_tokenizer tests/test_world tests/test_judge tests/test_ifeval
BENCHES = tests/bench_model tests/bench_tokenizer

.PHONY: all test test-kill test-sanitize bench run data tinymodels clean

all: srl

srl: srl.c $(LIB_SRCS) $(HEADERS)
	$(CC) $(CFLAGS) -o $@ srl.c $(LIB_SRCS) $(LDLIBS)

tests/%: tests/%.c tests/check.h $(LIB_SRCS) $(HEADERS)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_SRCS) $(LDLIBS)

test: srl $(TESTS)
	@set -e; for t in $(TESTS); do echo "== $$t"; ./$$t; done; \
	echo "== tests/test_data.sh"; bash tests/test_data.sh; \
	echo "== tests/test_run.sh"; bash tests/test_run.sh; \
	echo "== tests/test_real_data.sh"; bash tests/test_real_data.sh; echo "== all tests passed"

# make test-kill [KILL_ROUNDS=3]: a miniature run killed with SIGKILL at random moments and
# restarted until it finishes, each round ending byte-identical to an uninterrupted run
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
# (about 50 minutes on 2 cores); tinymodels/README.md records what it printed. Two stages:
# 7 epochs on the committed corpus, then 2 epochs on the same world's corpus at four times the
# size (srl world writes it in a second; its first 3 MB are data/world/pretrain.txt).
TINY_PRETRAIN = --seq 256 --batch 16 --epochs 7 --lr 2e-3 --lr-min 1e-4 --warmup 0.02 --eval-every 300 --save-every 300
TINY_CONTINUE = --seq 256 --batch 16 --epochs 2 --lr 1e-3 --lr-min 5e-5 --warmup 0.02 --eval-every 300 --save-every 300 --seed 7
TINY_CORPUS_BYTES = 12000000
tinymodels: srl
	./srl train-tokenizer --data data/world/pretrain.txt,data/world/ift_seed.jsonl,data/world/eft_seed.jsonl \
	    --vocab-size 2048 --out tinymodels/tokenizer.json
	./srl pretrain --data data/world/pretrain.txt --tokenizer tinymodels/tokenizer.json --config tinymodels/m0_config.json \
	    --out build/tinymodels/m0_stage1 --force $(TINY_PRETRAIN)
	./srl world --out build/tinymodels/world --pretrain-bytes $(TINY_CORPUS_BYTES)
	./srl pretrain --data build/tinymodels/world/pretrain.txt --tokenizer tinymodels/tokenizer.json \
	    --config tinymodels/m0_config.json --init build/tinymodels/m0_stage1 --out tinymodels/m0 --force $(TINY_CONTINUE)

# make run: the whole method on the task world (RUN_ARGS adds options, e.g. RUN_ARGS="--iterations 3")
RUN_ARGS ?=
run: srl
	./srl run --model tinymodels/m0 --data data/world --out runs/world $(RUN_ARGS)

# make test-sanitize: every test built with AddressSanitizer and UndefinedBehaviorSanitizer,
# stopping at the first report, in build/sanitize (the normal build is left alone)
SAN_FLAGS = -O1 -g -march=native -std=gnu11 -ffp-contract=fast -fopenmp -fsanitize=address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer
SAN_DIR = build/sanitize
test-sanitize:
	@mkdir -p $(SAN_DIR)/tests
	$(CC) $(SAN_FLAGS) -o $(SAN_DIR)/srl srl.c $(LIB_SRCS) $(LDLIBS)
	@set -e; for t in $(TESTS); do $(CC) $(SAN_FLAGS) -o $(SAN_DIR)/$$t $$t.c $(LIB_SRCS) $(LDLIBS); done
	@set -e; export SRL=$(SAN_DIR)/srl SRL_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1; \
	for t in $(TESTS); do echo "== $$t (sanitized)"; ./$(SAN_DIR)/$$t; done; \
	echo "== tests/test_run.sh (sanitized)"; bash tests/test_run.sh; echo "== all sanitized tests passed"

clean:
	rm -rf srl $(TESTS) $(BENCHES) build

# fuzzing: make fuzz FUZZ_SECONDS=N, make fuzz-regress (tests/fuzz/README.md)
-include tests/fuzz/fuzz.mk
