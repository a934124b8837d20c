// srl.c: the command line of srl, and the pipeline of the self-rewarding method.
//
//   srl <command> [options]        srl <command> --help
//
// Every command reads and writes plain files (model folders, JSON Lines) so that each stage of
// the method can be run, inspected and resumed on its own; `srl run` chains them.
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "dpo.h"
#include "judge.h"
#include "model.h"
#include "tokenizer.h"
#include "util.h"
#include "world.h"

// ----------------------------------------------------------------------------
// options: "--name value" pairs and "--flag" switches, looked up by name. Every option given
// must be used by the command, so a misspelled one is an error rather than silently ignored.

#define MAX_OPTIONS 64
typedef struct {
    const char *command;
    int n;
    const char *names[MAX_OPTIONS];
    const char *values[MAX_OPTIONS];  // NULL for a switch
    int used[MAX_OPTIONS];
} Options;

// Names that take no value.
static const char *const switch_names[] = {"help", "print-ids", "bos", "force", "quiet", "joint", "grader-pairs",
                                           "allow-special", "no-progress", NULL};

static int is_switch(const char *name) {
    for (int i = 0; switch_names[i]; i++)
        if (strcmp(switch_names[i], name) == 0) return 1;
    return 0;
}

static void options_parse(Options *o, const char *command, int argc, char **argv) {
    memset(o, 0, sizeof *o);
    o->command = command;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0) a = "--help";
        if (strcmp(a, "-n") == 0) a = "--max-new-tokens";
        if (strncmp(a, "--", 2) != 0 || a[2] == 0) fatal("%s: unexpected argument '%s' (see srl %s --help)", command, a, command);
        if (o->n == MAX_OPTIONS) fatal("%s: too many options", command);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        if (eq) {  // --name=value
            o->names[o->n] = xstrndup(name, (size_t)(eq - name));
            o->values[o->n] = eq + 1;
        } else if (is_switch(name)) {
            o->names[o->n] = name;
            o->values[o->n] = NULL;
        } else {
            if (i + 1 >= argc) fatal("%s: option --%s needs a value (see srl %s --help)", command, name, command);
            o->names[o->n] = name;
            o->values[o->n] = argv[++i];
        }
        o->n++;
    }
}

static const char *opt_str(Options *o, const char *name, const char *fallback) {
    const char *v = fallback;
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->names[i], name) == 0) {
            o->used[i] = 1;
            v = o->values[i] ? o->values[i] : "";
        }
    return v;
}

static int opt_flag(Options *o, const char *name) {
    int on = 0;
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->names[i], name) == 0) {
            o->used[i] = 1;
            on = 1;
        }
    return on;
}

static const char *opt_required(Options *o, const char *name) {
    const char *v = opt_str(o, name, NULL);
    if (!v || !*v) fatal("%s: --%s is required (see srl %s --help)", o->command, name, o->command);
    return v;
}

static long opt_long(Options *o, const char *name, long fallback, long lo, long hi) {
    const char *v = opt_str(o, name, NULL);
    if (!v) return fallback;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end) fatal("%s: --%s wants an integer, got '%s'", o->command, name, v);
    if (x < lo || x > hi) fatal("%s: --%s must be between %ld and %ld, got %ld", o->command, name, lo, hi, x);
    return x;
}

static double opt_double(Options *o, const char *name, double fallback, double lo, double hi) {
    const char *v = opt_str(o, name, NULL);
    if (!v) return fallback;
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !isfinite(x)) fatal("%s: --%s wants a number, got '%s'", o->command, name, v);
    if (x < lo || x > hi) fatal("%s: --%s must be between %g and %g, got %g", o->command, name, lo, hi, x);
    return x;
}

// Call once a command has read all its options: any option left unread is an error.
static void options_done(Options *o) {
    for (int i = 0; i < o->n; i++)
        if (!o->used[i]) fatal("%s: unknown option --%s (see srl %s --help)", o->command, o->names[i], o->command);
}

static int wants_help(Options *o, const char *help) {
    if (!opt_flag(o, "help")) return 0;
    fputs(help, stdout);
    return 1;
}

// ----------------------------------------------------------------------------
// shared helpers

static void load_model_or_die(Model *m, const char *path) {
    if (model_load(m, path) < 0) fatal("%s", srl_error);
}

// The tokenizer for a model: --tokenizer PATH when given, else the model folder's own.
static Tokenizer *load_tokenizer_for(const char *tokenizer_path, const char *model_path) {
    const char *path = tokenizer_path;
    if (!path) {
        if (!model_path || !dir_exists(model_path))
            fatal("no tokenizer: give --tokenizer PATH (a tokenizer.json, a tokenizer.model or a folder)");
        path = model_path;
    }
    Tokenizer *t;
    if (tokenizer_load(&t, path) < 0) fatal("%s", srl_error);
    return t;
}

// "1 2 3" -> ids (malloc'd)
static int *parse_ids_or_die(const char *text, int *n) {
    int *ids;
    if (tokenizer_parse_ids(text, strlen(text), &ids, n) < 0) fatal("--ids: %s", srl_error);
    if (*n == 0) fatal("--ids: no ids given");
    return ids;
}

static void print_mib(const char *label, size_t bytes) { printf("%-28s %.1f MiB\n", label, bytes / 1048576.0); }

// The stop tokens of a model: its config's eos ids plus the tokenizer's end-of-turn and
// end-of-text tokens.
static int stop_tokens(const Model *m, const Tokenizer *t, int *out, int cap) {
    int n = 0;
    for (int i = 0; i < m->config.n_eos && n < cap; i++) out[n++] = m->config.eos_token_ids[i];
    int extra[2] = {t ? tokenizer_eot_id(t) : -1, t ? tokenizer_eos_id(t) : -1};
    for (int i = 0; i < 2; i++) {
        int dup = extra[i] < 0;
        for (int j = 0; j < n; j++) dup |= out[j] == extra[i];
        if (!dup && n < cap) out[n++] = extra[i];
    }
    return n;
}

// ----------------------------------------------------------------------------
// srl info

static const char HELP_INFO[] =
    "usage: srl info --model MODEL [--batch B] [--seq T]\n"
    "\n"
    "Prints a model's configuration, its parameter count, and the memory it needs to generate\n"
    "(weights + KV cache for B sequences of T tokens) and to train (weights, gradients, AdamW\n"
    "state and activations for a batch of B x T).\n"
    "MODEL is a Hugging Face model folder or a llama2.c .bin file.\n"
    "  --batch B   sequences (default 16)\n"
    "  --seq T     tokens per sequence (default: the smaller of 512 and the model's context)\n";

static int cmd_info(Options *o) {
    if (wants_help(o, HELP_INFO)) return 0;
    const char *path = opt_required(o, "model");
    int B = (int)opt_long(o, "batch", 16, 1, 4096);
    long seq = opt_long(o, "seq", 0, 0, 1 << 24);
    options_done(o);
    Model m;
    load_model_or_die(&m, path);
    const Config *c = &m.config;
    int T = seq ? (int)seq : (c->max_seq_len < 512 ? c->max_seq_len : 512);
    printf("%-28s %s\n", "model", path);
    printf("%-28s %d\n", "vocab_size", c->vocab_size);
    printf("%-28s %d\n", "hidden_size", c->dim);
    printf("%-28s %d\n", "intermediate_size", c->hidden_dim);
    printf("%-28s %d\n", "num_hidden_layers", c->n_layers);
    printf("%-28s %d\n", "num_attention_heads", c->n_heads);
    printf("%-28s %d\n", "num_key_value_heads", c->n_kv_heads);
    printf("%-28s %d\n", "head_dim", c->head_dim);
    printf("%-28s %d\n", "max_position_embeddings", c->max_seq_len);
    printf("%-28s %g\n", "rms_norm_eps", c->norm_eps);
    printf("%-28s %g\n", "rope_theta", c->rope_theta);
    if (c->rope_llama3)
        printf("%-28s llama3 (factor %g, low %g, high %g, original %d)\n", "rope_scaling", c->rope_factor,
               c->rope_low_freq_factor, c->rope_high_freq_factor, c->rope_original_max_pos);
    printf("%-28s %s\n", "rope layout", c->rope_interleaved ? "adjacent pairs (Meta/llama2.c)" : "rotate half (Hugging Face)");
    printf("%-28s %s\n", "tie_word_embeddings", c->tied_embeddings ? "true" : "false");
    printf("%-28s %d\n", "bos_token_id", c->bos_token_id);
    printf("%-28s", "eos_token_id");
    for (int i = 0; i < c->n_eos; i++) printf(" %d", c->eos_token_ids[i]);
    printf("\n%-28s %zu (%.2f M)\n", "parameters", m.n_params, m.n_params / 1e6);
    char label[64];
    snprintf(label, sizeof label, "memory to generate (%dx%d)", B, T);
    print_mib(label, model_bytes_generate(c, B, T));
    snprintf(label, sizeof label, "memory to train (%dx%d)", B, T);
    print_mib(label, model_bytes_train(c, B, T));
    model_free(&m);
    return 0;
}

// ----------------------------------------------------------------------------
// srl generate

static const char HELP_GENERATE[] =
    "usage: srl generate --model MODEL (--prompt TEXT | --ids \"1 2 3\") [options]\n"
    "\n"
    "Continues a prompt. With --prompt the text is encoded with the model's tokenizer (or\n"
    "--tokenizer) and the continuation is printed as text as it is produced; with --ids no\n"
    "tokenizer is needed.\n"
    "  -n, --max-new-tokens N  tokens to generate (default 256)\n"
    "  --temperature T         0 is greedy (default 0.8)\n"
    "  --top-p P               nucleus sampling (default 0.9)\n"
    "  --seed S                random seed (default 0)\n"
    "  --bos                   put the beginning-of-text token before the prompt\n"
    "  --print-ids             print the new ids, space-separated, on one line\n"
    "  --tokenizer PATH        a tokenizer.json, tokenizer.model, or folder\n";

static int cmd_generate(Options *o) {
    if (wants_help(o, HELP_GENERATE)) return 0;
    const char *path = opt_required(o, "model");
    const char *prompt = opt_str(o, "prompt", NULL), *ids_text = opt_str(o, "ids", NULL);
    int max_new = (int)opt_long(o, "max-new-tokens", 256, 1, 1 << 20);
    float temperature = (float)opt_double(o, "temperature", 0.8, 0, 100);
    float top_p = (float)opt_double(o, "top-p", 0.9, 0, 1);
    uint64_t seed = (uint64_t)opt_long(o, "seed", 0, 0, 0x7fffffffffffffffL);
    int print_ids = opt_flag(o, "print-ids"), bos = opt_flag(o, "bos");
    const char *tok_path = opt_str(o, "tokenizer", NULL);
    options_done(o);
    if (!!prompt == !!ids_text) fatal("generate: give exactly one of --prompt and --ids");
    Model m;
    load_model_or_die(&m, path);
    Tokenizer *tok = NULL;
    int n_ids, *ids;
    if (prompt) {
        tok = load_tokenizer_for(tok_path, path);
        int *text_ids, n_text;
        if (tokenizer_encode(tok, prompt, strlen(prompt), 0, &text_ids, &n_text) < 0) fatal("%s", srl_error);
        int b = bos ? tokenizer_bos_id(tok) : -1;
        if (bos && b < 0) b = m.config.bos_token_id;
        n_ids = n_text + (b >= 0);
        ids = xmalloc((size_t)(n_ids ? n_ids : 1) * sizeof(int));
        if (b >= 0) ids[0] = b;
        memcpy(ids + (b >= 0), text_ids, (size_t)n_text * sizeof(int));
        free(text_ids);
    } else {
        ids = parse_ids_or_die(ids_text, &n_ids);
        if (bos) fatal("generate: --bos goes with --prompt; put the id in --ids");
    }
    if (n_ids == 0) fatal("generate: the prompt is empty");
    int stops[MAX_EOS_IDS + 2];
    GenerateConfig g = {.max_new_tokens = max_new, .temperature = temperature, .top_p = top_p, .max_batch = 1};
    g.n_stop = stop_tokens(&m, tok, stops, MAX_EOS_IDS + 2);
    g.stop_ids = stops;
    const int *prompts[1] = {ids};
    int *out[1], out_len[1];
    if (model_generate(&m, 1, prompts, &n_ids, &seed, &g, out, out_len, NULL) < 0) fatal("generate: %s", srl_error);
    if (print_ids || !tok) {
        for (int i = 0; i < out_len[0]; i++) printf("%s%d", i ? " " : "", out[0][i]);
        printf("\n");
    } else {
        char *text;
        size_t len;
        if (tokenizer_decode(tok, out[0], out_len[0], &text, &len) < 0) fatal("%s", srl_error);
        fwrite(text, 1, len, stdout);
        printf("\n");
        free(text);
    }
    free(out[0]);
    free(ids);
    if (tok) tokenizer_free(tok);
    model_free(&m);
    return 0;
}

// ----------------------------------------------------------------------------
// srl score

static const char HELP_SCORE[] =
    "usage: srl score --model MODEL --ids \"1 2 3 ...\"\n"
    "\n"
    "Prints the log-probability the model gives each next id (id 2 given id 1, and so on),\n"
    "their total, and the perplexity exp(-total / count).\n";

static int cmd_score(Options *o) {
    if (wants_help(o, HELP_SCORE)) return 0;
    const char *path = opt_required(o, "model");
    const char *ids_text = opt_required(o, "ids");
    options_done(o);
    int n;
    int *ids = parse_ids_or_die(ids_text, &n);
    if (n < 2) fatal("score: need at least two ids (a context and one id to score)");
    Model m;
    load_model_or_die(&m, path);
    model_forward(&m, ids, ids + 1, 1, n - 1);
    double total = 0;
    for (int i = 0; i < n - 1; i++) {
        printf("%d\t%d\t%.6f\n", i + 1, ids[i + 1], m.acts.token_logprob[i]);
        total += m.acts.token_logprob[i];
    }
    printf("total\t%.6f\nperplexity\t%.6f\n", total, exp(-total / (n - 1)));
    free(ids);
    model_free(&m);
    return 0;
}

// ----------------------------------------------------------------------------
// srl convert

static const char HELP_CONVERT[] =
    "usage: srl convert --from PATH --to DIR [--dtype f32|bf16]\n"
    "\n"
    "Writes a Hugging Face model folder (config.json, model.safetensors) from a llama2.c .bin\n"
    "checkpoint or another Hugging Face folder. q_proj and k_proj rows of llama2.c models are\n"
    "permuted to the rotate-half layout, as Hugging Face's own converter does. A tokenizer.json\n"
    "in the source folder is copied along.\n";

static int copy_file(const char *from, const char *to) {
    char *data;
    size_t len;
    if (read_file(from, &data, &len, 0) < 0) return -1;
    int rc = write_file_atomic(to, data, len);
    free(data);
    return rc;
}

static int cmd_convert(Options *o) {
    if (wants_help(o, HELP_CONVERT)) return 0;
    const char *from = opt_required(o, "from"), *to = opt_required(o, "to");
    const char *dtype = opt_str(o, "dtype", "f32");
    options_done(o);
    if (strcmp(dtype, "f32") != 0 && strcmp(dtype, "bf16") != 0) fatal("convert: --dtype is f32 or bf16, not %s", dtype);
    Model m;
    load_model_or_die(&m, from);
    if (model_save(&m, to, strcmp(dtype, "bf16") == 0) < 0) fatal("%s", srl_error);
    if (dir_exists(from)) {
        char *src = path_join(from, "tokenizer.json"), *dst = path_join(to, "tokenizer.json");
        if (file_exists(src) && copy_file(src, dst) < 0) fatal("%s", srl_error);
        free(src), free(dst);
    }
    printf("wrote %s (%zu parameters, %s)\n", to, m.n_params, dtype);
    model_free(&m);
    return 0;
}

// ----------------------------------------------------------------------------
// tokenizer commands

static const char HELP_TOKENIZE[] =
    "usage: srl tokenize --tokenizer PATH [--bos] [--allow-special] < text\n"
    "\n"
    "Reads all of stdin as UTF-8 text (newlines included) and prints its ids, space-separated,\n"
    "on one line. PATH is a tokenizer.json, a tokenizer.model, or a model folder holding one.\n"
    "  --bos            put the beginning-of-text id first\n"
    "  --allow-special  turn special-token strings in the text into their ids\n";

static char *read_stdin(size_t *len) {
    Buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) buf_append(&b, chunk, n);
    if (ferror(stdin)) fatal("reading stdin failed");
    if (!b.data) buf_append(&b, "", 0);
    *len = b.len;
    return b.data;
}

static int cmd_tokenize(Options *o) {
    if (wants_help(o, HELP_TOKENIZE)) return 0;
    const char *path = opt_required(o, "tokenizer");
    int bos = opt_flag(o, "bos"), allow_special = opt_flag(o, "allow-special");
    options_done(o);
    Tokenizer *t;
    if (tokenizer_load(&t, path) < 0) fatal("%s", srl_error);
    size_t len;
    char *text = read_stdin(&len);
    int *ids, n;
    if (tokenizer_encode(t, text, len, allow_special, &ids, &n) < 0) fatal("%s", srl_error);
    int first = 1;
    if (bos) {
        if (tokenizer_bos_id(t) < 0) fatal("tokenize: %s has no beginning-of-text token", path);
        printf("%d", tokenizer_bos_id(t));
        first = 0;
    }
    for (int i = 0; i < n; i++) printf(first && i == 0 ? "%d" : " %d", ids[i]);
    printf("\n");
    free(ids);
    free(text);
    tokenizer_free(t);
    return 0;
}

static const char HELP_DETOKENIZE[] =
    "usage: srl detokenize --tokenizer PATH < ids\n"
    "\n"
    "Reads whitespace-separated ids from stdin and writes exactly their text (no newline added).\n";

static int cmd_detokenize(Options *o) {
    if (wants_help(o, HELP_DETOKENIZE)) return 0;
    const char *path = opt_required(o, "tokenizer");
    options_done(o);
    Tokenizer *t;
    if (tokenizer_load(&t, path) < 0) fatal("%s", srl_error);
    size_t len;
    char *input = read_stdin(&len);
    int *ids, n;
    if (tokenizer_parse_ids(input, len, &ids, &n) < 0) fatal("detokenize: %s", srl_error);
    char *text;
    size_t text_len;
    if (tokenizer_decode(t, ids, n, &text, &text_len) < 0) fatal("detokenize: %s", srl_error);
    fwrite(text, 1, text_len, stdout);
    free(text), free(ids), free(input);
    tokenizer_free(t);
    return 0;
}

static const char HELP_TRAIN_TOKENIZER[] =
    "usage: srl train-tokenizer --data FILE --vocab-size N --out tokenizer.json\n"
    "\n"
    "Learns a byte-level BPE tokenizer from a text file (Llama 3's pre-tokenizer, merges by\n"
    "frequency, ties to the smallest pair) with srl's special tokens (<|begin_of_text|>,\n"
    "<|end_of_text|>, <|start_header_id|>, <|end_header_id|>, <|eot_id|>, <|pad|>), and writes it\n"
    "as a Hugging Face tokenizer.json. Deterministic.\n";

static int cmd_train_tokenizer(Options *o) {
    if (wants_help(o, HELP_TRAIN_TOKENIZER)) return 0;
    const char *data = opt_required(o, "data"), *out = opt_required(o, "out");
    int vocab = (int)opt_long(o, "vocab-size", 0, 1, 1000000);
    options_done(o);
    char *text;
    size_t len;
    if (read_file(data, &text, &len, 0) < 0) fatal("%s", srl_error);
    double t0 = now_seconds();
    Tokenizer *t;
    if (tokenizer_train(&t, text, len, vocab, NULL, 0) < 0) fatal("train-tokenizer: %s", srl_error);
    if (tokenizer_save_json(t, out) < 0) fatal("%s", srl_error);
    printf("trained a %d-token tokenizer on %zu bytes in %.2fs, wrote %s\n", tokenizer_vocab_size(t), len,
           now_seconds() - t0, out);
    tokenizer_free(t);
    free(text);
    return 0;
}

// ----------------------------------------------------------------------------
// commands

typedef struct {
    const char *name;
    int (*run)(Options *o);
    const char *summary;
} Command;

static const Command commands[] = {
    {"info", cmd_info, "a model's configuration, size and memory needs"},
    {"generate", cmd_generate, "continue a prompt (text or ids)"},
    {"score", cmd_score, "log-probabilities and perplexity of a sequence of ids"},
    {"convert", cmd_convert, "llama2.c .bin or Hugging Face folder -> Hugging Face folder"},
    {"tokenize", cmd_tokenize, "text on stdin -> ids"},
    {"detokenize", cmd_detokenize, "ids on stdin -> text"},
    {"train-tokenizer", cmd_train_tokenizer, "learn a byte-level BPE tokenizer from text"},
};

static void usage(FILE *f) {
    fprintf(f,
            "srl: Self-Rewarding Language Models in plain C\n"
            "\n"
            "usage: srl <command> [options]      (srl <command> --help for its options)\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) != 0) continue;
        Options o;
        options_parse(&o, commands[i].name, argc - 2, argv + 2);
        return commands[i].run(&o);
    }
    fprintf(stderr, "srl: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 1;
}
