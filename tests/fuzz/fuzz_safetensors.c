// fuzz_safetensors: safetensors_open, safetensors_find and safetensors_read (model.h) on a file
// holding the input.
//
// A checkpoint downloaded from anywhere is mmap'd and trusted only as far as its header is
// checked: an 8-byte length, a JSON header, then the tensor bytes. Every size and offset the
// header claims must be checked against the file before a byte is read, so here the header
// lies in every way the fuzzer can find. For every tensor the header names (and a few names
// it may not hold) it checks:
//   - safetensors_find either fails with a message or gives a tensor that lies wholly inside
//     the file's data section, with numel the product of its shape and a known dtype;
//   - safetensors_read then converts exactly numel values (AddressSanitizer watches the
//     reads of the mapping and the writes of the floats).
#include "fuzz.h"

static size_t dtype_bytes(int dtype) { return dtype == DTYPE_F32 ? 4 : 2; }

static void check_tensor(const SafeTensors *st, const char *name) {
    SafeTensor t;
    if (safetensors_find(st, name, &t) < 0) {
        FUZZ_CHECK(srl_error[0], "safetensors_find failed without a message");
        return;
    }
    FUZZ_CHECK(t.dtype == DTYPE_F32 || t.dtype == DTYPE_BF16 || t.dtype == DTYPE_F16, "unknown dtype %d", t.dtype);
    FUZZ_CHECK(t.ndim >= 0 && t.ndim <= 8, "ndim %d", t.ndim);
    size_t numel = 1;
    for (int d = 0; d < t.ndim; d++) {
        FUZZ_CHECK(t.shape[d] >= 0, "a negative dimension");
        numel *= (size_t)t.shape[d];
    }
    FUZZ_CHECK(numel == t.numel, "numel %zu is not the product of the shape (%zu)", t.numel, numel);
    const unsigned char *data_begin = st->file.data + st->data_start, *file_end = st->file.data + st->file.size;
    FUZZ_CHECK(t.data >= data_begin && t.data <= file_end && t.numel * dtype_bytes(t.dtype) <= (size_t)(file_end - t.data),
               "tensor %s lies outside the data section", name);
    float *values;
    SafeTensor info;
    FUZZ_CHECK(safetensors_read(st, name, &values, &info) == 0, "safetensors_read failed where safetensors_find succeeded");
    FUZZ_CHECK(info.numel == t.numel && info.data == t.data, "safetensors_read disagrees with safetensors_find");
    free(values);
}

static char *path;   // the file the input is written to

static void setup(void) {
    if (!path) path = fuzz_scratch_path("model.safetensors");
}

static void check_input(const uint8_t *data, size_t size) {
    fuzz_write_file(path, data, size);
    SafeTensors st;
    if (safetensors_open(&st, path) < 0) {
        FUZZ_CHECK(strstr(srl_error, path) != NULL, "the error does not name the file: %s", srl_error);
        return;
    }
    FUZZ_CHECK(st.header.root && st.header.root->type == JSON_OBJECT, "an open file without a header object");
    FUZZ_CHECK(st.data_start >= 8 && st.data_start + st.data_size == st.file.size, "data section [%zu, +%zu) in %zu bytes",
               st.data_start, st.data_size, st.file.size);
    int n = 0;
    for (const JsonValue *e = st.header.root->child; e && n < 256; e = e->next, n++) check_tensor(&st, e->key);
    const char *others[] = {"model.embed_tokens.weight", "lm_head.weight", "__metadata__", ""};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) check_tensor(&st, others[i]);
    safetensors_close(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    fuzz_watch_allocations();
    check_input(data, size);
    fuzz_check_allocations(size);
    return 0;
}
