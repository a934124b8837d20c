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

LIB_SRCS = model.c tokenizer.c dpo.c judge.c world.c report.c util.c
HEADERS = model.h tokenizer.h dpo.h judge.h world.h report.h util.h unicode_table.h
TESTS = tests/test_model tests/test_checkpoint_errors tests/test_tokenizer tests/test_world tests/test_judge
BENCHES = tests/bench_model tests/bench_tokenizer

.PHONY: all test bench run clean

all: srl

srl: srl.c $(LIB_SRCS) $(HEADERS)
	$(CC) $(CFLAGS) -o $@ srl.c $(LIB_SRCS) $(LDLIBS)

tests/%: tests/%.c tests/check.h $(LIB_SRCS) $(HEADERS)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_SRCS) $(LDLIBS)

test: srl $(TESTS)
	@set -e; for t in $(TESTS); do echo "== $$t"; ./$$t; done; \
	echo "== tests/test_run.sh"; bash tests/test_run.sh; echo "== all tests passed"

# make bench [BENCH="tiny small"]: srl beside the PyTorch peer, same machine, same run
BENCH ?=
bench: $(BENCHES)
	bash tests/bench.sh $(BENCH)

# make run: the whole method on the task world (RUN_ARGS adds options, e.g. RUN_ARGS="--iterations 3")
RUN_ARGS ?=
run: srl
	./srl run --model tinymodels/m0 --data data/world --out runs/world $(RUN_ARGS)

clean:
	rm -f srl $(TESTS) $(BENCHES)
