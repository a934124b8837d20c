// ref.h: the PyTorch reference tensors of srl's C tests (tests/ref/expected.safetensors, made by
// tests/make_reference.py). A test opens `expected` and reads tensors by name; a missing one
// ends the test with the reason.
#ifndef SRL_TEST_REF_H
#define SRL_TEST_REF_H

#include <stdio.h>
#include <stdlib.h>

#include "../model.h"
#include "../util.h"

static SafeTensors expected;

// The named reference tensor as float32 (to free); *numel its element count when asked.
static float *ref_tensor(const char *name, size_t *numel) {
    float *data;
    SafeTensor info;
    if (safetensors_read(&expected, name, &data, &info) < 0) {
        fprintf(stderr, "FAIL: %s\n", srl_error);
        exit(1);
    }
    if (numel) *numel = info.numel;
    return data;
}

// The named reference tensor (token ids stored as floats) as ints (to free). Inline: not every
// test that includes this reads ids.
static inline int *ref_ints(const char *name, size_t *numel) {
    size_t n;
    float *f = ref_tensor(name, &n);
    int *out = xmalloc(n * sizeof(int));
    for (size_t i = 0; i < n; i++) out[i] = (int)f[i];
    free(f);
    if (numel) *numel = n;
    return out;
}

#endif
