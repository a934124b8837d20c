// test_checkpoint_errors.c: bad model files give one clear error naming the file and the
// problem, never a crash, and never an allocation larger than the file justifies.
//
// Each case writes a damaged copy of tests/ref/tiny into a temporary folder and loads it in a
// child process whose address space is capped at 512 MiB: an allocation sized from a lying
// header would fail there and show up as the wrong message or a crash. The same cases are
// then run through the srl binary, which must exit non-zero with one line on stderr.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../model.h"
#include "../util.h"
#include "check.h"

static char tmp_root[] = "/tmp/srl_badckpt_XXXXXX";

static const char *srl_binary(void) {  // the srl to test: $SRL, else ./srl
    const char *s = getenv("SRL");
    return s && *s ? s : "./srl";
}
static char *good_config, *good_weights;
static size_t good_config_len, good_weights_len;

static char *case_dir(const char *name) {
    char *d = path_join(tmp_root, name);
    if (make_dirs(d) < 0) fatal("%s", srl_error);
    return d;
}

static void put(const char *dir, const char *file, const void *data, size_t len) {
    char *p = path_join(dir, file);
    if (write_file_atomic(p, data, len) < 0) fatal("%s", srl_error);
    free(p);
}

// A folder with the good config.json and the given model.safetensors bytes.
static char *folder_with_weights(const char *name, const void *weights, size_t len) {
    char *d = case_dir(name);
    put(d, "config.json", good_config, good_config_len);
    put(d, "model.safetensors", weights, len);
    return d;
}

// A folder with the good weights and the given config.json text.
static char *folder_with_config(const char *name, const char *config) {
    char *d = case_dir(name);
    put(d, "config.json", config, strlen(config));
    put(d, "model.safetensors", good_weights, good_weights_len);
    return d;
}

// The good config with one field's value replaced (the value text as it appears after "key": ).
static char *config_with(const char *key, const char *value) {
    Buf b = {0};
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    const char *at = strstr(good_config, pattern);
    if (!at) fatal("config has no %s", key);
    const char *end = at + strlen(pattern);
    while (*end && *end != ',' && *end != '\n') end++;
    buf_append(&b, good_config, (size_t)(at - good_config));
    if (value) buf_printf(&b, "%s%s", pattern, value);
    else buf_append_str(&b, "\"removed_field\": 0");
    buf_append_str(&b, end);
    return b.data;
}

// The good safetensors file with its header text edited: the first occurrence of `from`
// replaced by `to` (same length, so the data stays where it is).
static char *weights_with_header_edit(const char *from, const char *to) {
    char *w = xmalloc(good_weights_len);
    memcpy(w, good_weights, good_weights_len);
    char *at = memmem(w + 8, good_weights_len - 8, from, strlen(from));
    if (!at || strlen(from) != strlen(to)) fatal("header edit %s -> %s not possible", from, to);
    memcpy(at, to, strlen(to));
    return w;
}

// Loads path in a child with a 512 MiB address-space cap; the child writes srl_error to a pipe.
// Returns 1 when the load failed cleanly with a message containing `expect` and the file name.
static void expect_load_error(const char *path, const char *expect, const char *what) {
    int fds[2];
    if (pipe(fds) != 0) fatal("pipe failed");
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        // (AddressSanitizer reserves terabytes of address space, so a sanitized build skips the cap)
        struct rlimit lim = {512u << 20, 512u << 20};
        if (!getenv("SRL_SANITIZED")) setrlimit(RLIMIT_AS, &lim);
        Model m;
        int rc = model_load(&m, path);
        if (write(fds[1], srl_error, strlen(srl_error)) < 0) _exit(3);
        _exit(rc < 0 ? 0 : 2);
    }
    close(fds[1]);
    char msg[1100] = "";
    size_t got = 0;
    ssize_t r;
    while ((r = read(fds[0], msg + got, sizeof msg - 1 - got)) > 0) got += (size_t)r;
    msg[got] = 0;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    CHECK(clean, "%s: load must fail cleanly (exit status %d, signal %d)", what, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
          WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    CHECK(strstr(msg, expect) != NULL, "%s: message should mention \"%s\", got: %s", what, expect, msg);
    const char *base = strrchr(path, '/');
    CHECK(strstr(msg, base ? base + 1 : path) != NULL || strstr(msg, tmp_root) != NULL,
          "%s: message should name the file, got: %s", what, msg);
    printf("  %-34s -> %s\n", what, msg);
}

// The srl binary on the same input: non-zero exit, exactly one line on stderr, nothing on stdout.
static void expect_cli_error(const char *path, const char *what) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s info --model '%s' >%s/out.txt 2>%s/err.txt", getenv("SRL_SANITIZED") ? "" : "ulimit -v 1048576;",
             srl_binary(), path, tmp_root, tmp_root);
    int status = system(cmd);
    char *out_path = path_join(tmp_root, "out.txt"), *err_path = path_join(tmp_root, "err.txt"), *out, *err;
    size_t out_len = 0, err_len = 0;
    read_file(out_path, &out, &out_len, 0);
    read_file(err_path, &err, &err_len, 0);
    int lines = 0;
    for (size_t i = 0; i < err_len; i++) lines += err[i] == '\n';
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0, "srl info on %s: non-zero exit", what);
    CHECK(lines == 1 && out_len == 0, "srl info on %s: one line on stderr (%d), none on stdout (%zu bytes)", what, lines, out_len);
    free(out), free(err), free(out_path), free(err_path);
}

int main(void) {
    if (!mkdtemp(tmp_root)) fatal("mkdtemp failed");
    if (read_file("tests/ref/tiny/config.json", &good_config, &good_config_len, 0) < 0 ||
        read_file("tests/ref/tiny/model.safetensors", &good_weights, &good_weights_len, 0) < 0)
        fatal("%s (run from the project folder)", srl_error);
    int have_srl = access(srl_binary(), X_OK) == 0;
    struct {
        char *path;
        const char *expect, *what;
    } cases[32];
    int n = 0;

    // safetensors damage
    cases[n++] = (typeof(cases[0])){folder_with_weights("truncated", good_weights, good_weights_len / 2), "outside",
                                    "truncated safetensors"};
    unsigned char big_header[16];
    memcpy(big_header, good_weights, 16);
    big_header[5] = 0x10;  // header length ~ 2^40
    cases[n++] = (typeof(cases[0])){folder_with_weights("header_len", big_header, 16), "runs past the end",
                                    "header length beyond the file"};
    cases[n++] = (typeof(cases[0])){folder_with_weights("tiny_file", good_weights, 5), "too short",
                                    "5-byte safetensors"};
    cases[n++] = (typeof(cases[0])){folder_with_weights("empty_weights", "", 0), "empty", "empty safetensors"};
    char *w = weights_with_header_edit("\"data_offsets\":[0,", "\"data_offsets\":[9,");
    cases[n++] = (typeof(cases[0])){folder_with_weights("offsets", w, good_weights_len), "data_offsets",
                                    "data offsets not matching shape"};
    free(w);
    w = weights_with_header_edit("\"shape\":[67,48]", "\"shape\":[67,49]");
    cases[n++] = (typeof(cases[0])){folder_with_weights("shape", w, good_weights_len), "bytes", "shape larger than data"};
    free(w);
    w = weights_with_header_edit("\"dtype\":\"F32\"", "\"dtype\":\"I64\"");
    cases[n++] = (typeof(cases[0])){folder_with_weights("dtype", w, good_weights_len), "dtype I64", "unsupported dtype"};
    free(w);
    w = weights_with_header_edit("lm_head.weight", "lm_head.wxight");
    cases[n++] = (typeof(cases[0])){folder_with_weights("missing", w, good_weights_len), "lm_head.weight is missing",
                                    "missing tensor"};
    free(w);
    w = weights_with_header_edit("{\"__metadata__\"", "[\"__metadata__\"");
    cases[n++] = (typeof(cases[0])){folder_with_weights("badjson", w, good_weights_len), "header", "malformed header JSON"};
    free(w);

    // config.json damage
    char *cfg;
    cfg = config_with("hidden_size", NULL);
    cases[n++] = (typeof(cases[0])){folder_with_config("cfg_missing", cfg), "missing field \"hidden_size\"", "config without hidden_size"};
    free(cfg);
    cfg = config_with("num_hidden_layers", "-2");
    cases[n++] = (typeof(cases[0])){folder_with_config("cfg_negative", cfg), "num_hidden_layers", "negative layer count"};
    free(cfg);
    cfg = config_with("num_hidden_layers", "1000000000");
    cases[n++] = (typeof(cases[0])){folder_with_config("cfg_billion", cfg), "num_hidden_layers", "a billion layers"};
    free(cfg);
    cfg = config_with("num_attention_heads", "5");
    cases[n++] = (typeof(cases[0])){folder_with_config("cfg_heads", cfg), "num_key_value_heads", "heads not dividing"};
    free(cfg);
    cfg = config_with("head_dim", "null");
    char *cfg2 = xstrdup(cfg);
    free(cfg);
    {  // without head_dim, 48 wide with 5 heads: heads do not divide the width
        char *c3 = strstr(cfg2, "\"num_attention_heads\": 4");
        if (c3) c3[23] = '5';
        char *nk = strstr(cfg2, "\"num_key_value_heads\": 2");
        if (nk) nk[23] = '5';
    }
    cases[n++] = (typeof(cases[0])){folder_with_config("cfg_width", cfg2), "does not divide hidden_size", "heads not dividing the width"};
    free(cfg2);
    cfg = config_with("vocab_size", "70");
    cases[n++] = (typeof(cases[0])){folder_with_config("cfg_vocab", cfg), "shape", "tensor shape vs config"};
    free(cfg);
    cfg = config_with("model_type", "\"mistral\"");
    cases[n++] = (typeof(cases[0])){folder_with_config("cfg_type", cfg), "model_type", "unsupported architecture"};
    free(cfg);
    cfg = config_with("rope_theta", "\"big\"");
    cases[n++] = (typeof(cases[0])){folder_with_config("cfg_theta", cfg), "rope_theta", "rope_theta not a number"};
    free(cfg);
    cases[n++] = (typeof(cases[0])){folder_with_config("cfg_empty", ""), "config.json", "empty config.json"};
    cases[n++] = (typeof(cases[0])){folder_with_config("cfg_trunc", "{\"vocab_size\": 67, \"hidden_"), "config.json",
                                    "truncated config.json"};

    // llama2.c files and paths
    int32_t header[7] = {48, 80, 2, 4, 2, 67, 256};
    char *d = case_dir("bin");
    put(d, "short.bin", header, sizeof header);
    cases[n++] = (typeof(cases[0])){path_join(d, "short.bin"), "header implies", "llama2.c file shorter than its header says"};
    int32_t bad[7] = {48, 80, 2, 5, 2, 67, 256};
    put(d, "heads.bin", bad, sizeof bad);
    cases[n++] = (typeof(cases[0])){path_join(d, "heads.bin"), "heads must divide", "llama2.c heads not dividing"};
    put(d, "empty.bin", "", 0);
    cases[n++] = (typeof(cases[0])){path_join(d, "empty.bin"), "empty", "empty .bin file"};
    cases[n++] = (typeof(cases[0])){path_join(tmp_root, "does/not/exist"), "no such file", "a path that does not exist"};
    free(d);

    for (int i = 0; i < n; i++) {
        expect_load_error(cases[i].path, cases[i].expect, cases[i].what);
        if (have_srl) expect_cli_error(cases[i].path, cases[i].what);
        free(cases[i].path);
    }
    if (!have_srl) printf("  skip: ./srl not built, not testing the command line\n");
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_root);
    free(good_config);
    free(good_weights);
    return check_summary("test_checkpoint_errors");
}
