// srl.c: the command line of srl, and the pipeline of the self-rewarding method.
//
//   srl <command> [options]        srl <command> --help
//
// Every command reads and writes plain files (model folders, JSON Lines) so that each stage of
// the method can be run, inspected and resumed on its own; `srl run` chains them.
#define _GNU_SOURCE
#include <errno.h>
#include <ctype.h>
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
#include "ifeval.h"
#include "judge.h"
#include "model.h"
#include "pipeline.h"
#include "report.h"
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
    const char *missing;  // the first required option not given: reported by options_done, after any unknown one
} Options;

// Names that take no value.
static const char *const switch_names[] = {"help", "print-ids", "bos", "force", "grader-pairs", "allow-special", "lora", NULL};

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

// A required option not given is reported by options_done, once every option is read: a
// misspelled one ("--modle") is then named as unknown, not as the required one it was meant to be.
// Returns "" in its place meanwhile.
static const char *opt_required(Options *o, const char *name) {
    const char *v = opt_str(o, name, NULL);
    if (v && *v) return v;
    if (!o->missing) o->missing = name;
    return "";
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

// Call once a command has read all its options: any option left unread is an error, and then
// a required one missing.
static void options_done(Options *o) {
    for (int i = 0; i < o->n; i++)
        if (!o->used[i]) fatal("%s: unknown option --%s (see srl %s --help)", o->command, o->names[i], o->command);
    if (o->missing) fatal("%s: --%s is required (see srl %s --help)", o->command, o->missing, o->command);
}

static int wants_help(Options *o, const char *help) {
    if (!opt_flag(o, "help")) return 0;
    fputs(help, stdout);
    return 1;
}

// ----------------------------------------------------------------------------
// shared helpers: the pipeline's loaders (pipeline.c), exiting on an error

static void load_model_or_die(Model *m, const char *path) {
    if (model_load(m, path) < 0) fatal("%s", srl_error);
}

// The tokenizer for a model: --tokenizer PATH when given, else the model folder's own. A
// llama2.c .bin file holds none, and most commands take no --tokenizer: they need a folder.
static Tokenizer *load_tokenizer_for(const char *tokenizer_path, const char *model_path) {
    Tokenizer *t = tokenizer_for_model(tokenizer_path, model_path);
    if (!t) fatal("%s", srl_error);
    return t;
}

static char *read_template_or_die(const char *path) {
    char *text = read_template(path);
    if (!text) fatal("%s", srl_error);
    return text;
}

// --dtype of the commands that only run the model forward (generate, judge, eval, ...): the
// weights in memory. Training commands hold float32 always.
#define DTYPE_HELP                                                                                                     \
    "  --dtype auto|bf16|f32   weights in memory: auto (default) keeps the file's dtype (a bf16 folder\n"              \
    "                          stays bf16, mapped from the file), bf16 rounds float32 files, f32 upcasts all\n"       \
    "  --adapter DIR           a LoRA adapter in PEFT's format on top of the model (a folder srl sft or\n"             \
    "                          srl dpo wrote with --lora-r, or one peft saved; such a folder also works as\n"          \
    "                          --model by itself when it names its base)\n"
typedef struct {
    int dtype;               // LOAD_*
    const char *adapter;     // a PEFT adapter folder to attach, or NULL
} LoadOptions;

static LoadOptions opt_load_dtype(Options *o) {
    const char *s = opt_str(o, "dtype", "auto");
    LoadOptions lo = {load_dtype_parse(s), opt_str(o, "adapter", NULL)};
    if (lo.dtype < 0) fatal("%s: --dtype is auto, bf16 or f32, not %s", o->command, s);
    return lo;
}

static void load_model_as_or_die(Model *m, const char *path, LoadOptions lo) {
    if (model_load_as(m, path, lo.dtype) < 0) fatal("%s", srl_error);
    if (lo.adapter && model_lora_load(m, lo.adapter) < 0) fatal("%s", srl_error);
}

// For the commands that take --tokenizer: a model file (llama2.c .bin) needs it.
static Tokenizer *load_tokenizer_option(const char *tokenizer_path, const char *model_path) {
    if (!tokenizer_path && (!model_path || !dir_exists(model_path)))
        fatal("no tokenizer: give --tokenizer PATH (a tokenizer.json, a tokenizer.model or a folder)");
    return load_tokenizer_for(tokenizer_path, model_path);
}

// A command that writes the file `out` when its work is done checks first that out's folder
// exists, so that a typo in --out fails at once rather than after the work.
static void check_out_folder(const char *command, const char *out) {
    const char *slash = strrchr(out, '/');
    if (!slash || slash == out) return;   // the current folder, or the root
    char *dir = xstrndup(out, (size_t)(slash - out));
    if (!dir_exists(dir)) fatal("%s: --out %s: the folder %s does not exist (make it first)", command, out, dir);
    free(dir);
}

// "1 2 3" -> ids (malloc'd)
static int *parse_ids_or_die(const char *text, int *n) {
    int *ids;
    if (tokenizer_parse_ids(text, strlen(text), &ids, n) < 0) fatal("--ids: %s", srl_error);
    if (*n == 0) fatal("--ids: no ids given");
    return ids;
}

static void print_mib(const char *label, size_t bytes) { printf("%-28s %.1f MiB\n", label, bytes / 1048576.0); }

// ----------------------------------------------------------------------------
// LoRA in the training stages (sft, dpo, run): --lora (or any --lora-* option) trains rank-r
// adapters on the frozen base (kept in its file's dtype); the stage's folder then holds the
// adapter in PEFT's format. Without, every weight trains, in float32.

static void print_lora_help(void) {
    printf("  --lora             train LoRA adapters, the base frozen in its file's dtype (bf16 stays bf16);\n"
           "                     the output folder holds the adapter in PEFT's format (default: off, every\n"
           "                     weight trains). A --model that is an adapter folder has its adapter trained on\n"
           "  --lora-r R         rank (default %d; implies --lora, as do the two below)\n"
           "  --lora-alpha A     the update is scaled by A / R (default %g)\n"
           "  --lora-targets L   the adapted modules, from q,k,v,o,gate,up,down (default %s)\n",
           LORA_DEFAULTS.r, LORA_DEFAULTS.alpha, LORA_DEFAULTS.targets);
}

static LoRAFlags read_lora_flags(Options *o, LoRAFlags f) {
    int on = opt_flag(o, "lora");
    on |= opt_str(o, "lora-r", NULL) || opt_str(o, "lora-alpha", NULL) || opt_str(o, "lora-targets", NULL);
    f.r = on ? (int)opt_long(o, "lora-r", f.r, 1, 65536) : 0;
    f.alpha = opt_double(o, "lora-alpha", f.alpha, 1e-6, 1e6);
    f.targets = opt_str(o, "lora-targets", f.targets);
    unsigned targets;
    if (lora_targets_parse(f.targets, &targets) < 0) fatal("%s: --lora-targets: %s", o->command, srl_error);
    return f;
}

// ----------------------------------------------------------------------------
// srl info

static const char HELP_INFO[] =
    "usage: srl info --model MODEL [--batch B] [--seq T]\n"
    "\n"
    "Prints a model's configuration, its parameter count, and the memory it needs to generate\n"
    "(weights as --dtype holds them, plus their packed copy when float32, + KV cache for B\n"
    "sequences of T tokens) and to train (float32 weights, gradients, AdamW state and activations\n"
    "for a batch of B x T), and to train LoRA adapters (srl sft --lora's default rank, all targets)\n"
    "on the weights as --dtype holds them.\n"
    "MODEL is a Hugging Face model folder or a llama2.c .bin file.\n"
    "  --batch B   sequences (default 16)\n"
    "  --seq T     tokens per sequence (default: the smaller of 512 and the model's context)\n"
    DTYPE_HELP;

static int cmd_info(Options *o) {
    if (wants_help(o, HELP_INFO)) return 0;
    const char *path = opt_required(o, "model");
    int B = (int)opt_long(o, "batch", 16, 1, 4096);
    long seq = opt_long(o, "seq", 0, 0, 1 << 24);
    LoadOptions dtype = opt_load_dtype(o);
    options_done(o);
    Model m;
    load_model_as_or_die(&m, path, dtype);
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
    size_t n_params = model_param_count(c);
    printf("\n%-28s %zu (%.2f M)\n", "parameters", n_params, n_params / 1e6);
    if (m.weights_bf16)
        printf("%-28s bf16 (%zu mapped from the file, %zu copied), norms float32; kernel %s\n", "weights in memory",
               m.bf16.n_mapped, m.bf16.n_copied, bf16_kernel_name(bf16_kernel_get()));
    else printf("%-28s float32\n", "weights in memory");
    char label[64];
    snprintf(label, sizeof label, "memory to generate (%dx%d)", B, T);
    print_mib(label, model_bytes_generate(c, B, T, m.weights_bf16));
    snprintf(label, sizeof label, "memory to train (%dx%d)", B, T);
    print_mib(label, model_bytes_train(c, B, T));
    LoRAConfig lc = {LORA_DEFAULTS.r, (float)LORA_DEFAULTS.alpha, (1u << N_LORA_TARGETS) - 1};
    snprintf(label, sizeof label, "memory to train LoRA r %d (%dx%d)", lc.r, B, T);
    print_mib(label, model_bytes_train_lora(c, &lc, m.weights_bf16, B, T));
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
    "  --tokenizer PATH        a tokenizer.json, tokenizer.model, or folder\n"
    DTYPE_HELP;

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
    LoadOptions dtype = opt_load_dtype(o);
    options_done(o);
    if (!!prompt == !!ids_text) fatal("generate: give exactly one of --prompt and --ids");
    Model m;
    load_model_as_or_die(&m, path, dtype);
    Tokenizer *tok = NULL;
    int n_ids, *ids;
    if (prompt) {
        tok = load_tokenizer_option(tok_path, path);
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
// srl recall: does a model know the bestiary's facts? (forward recall, creature -> trait)

static const char HELP_RECALL[] =
    "usage: srl recall --model DIR [--out FILE]\n"
    "\n"
    "The task world's facts recalled forward: for every creature and trait, the model continues\n"
    "\"The color of zorak is\" and \"Color of zorak:\" (plain text, no chat template) greedily, and\n"
    "its first word is compared with the creature's trait. Prints the share right per trait and\n"
    "phrasing, and over all (200 creatures x 4 traits x 2 phrasings); --out writes recall.json.\n";

// The two phrasings a fact is probed with: the corpus's sentence and the judge's check line.
static const char *const RECALL_PROBES[] = {"The %s of %s is", "%c%s of %s:"};
enum { N_RECALL_PROBES = 2 };

static int cmd_recall(Options *o) {
    if (wants_help(o, HELP_RECALL)) return 0;
    const char *path = opt_required(o, "model"), *out = opt_str(o, "out", NULL);
    options_done(o);
    if (out) check_out_folder("recall", out);
    Model m;
    load_model_or_die(&m, path);
    Tokenizer *tok = load_tokenizer_for(NULL, path);
    int nc = world_n_creatures(), total = nc * WORLD_N_TRAITS * N_RECALL_PROBES;
    int **prompts = xmalloc((size_t)total * sizeof(int *)), *lens = xmalloc((size_t)total * sizeof(int));
    uint64_t *seeds = xcalloc((size_t)total, sizeof(uint64_t));
    int bos = tokenizer_bos_id(tok) >= 0 ? tokenizer_bos_id(tok) : m.config.bos_token_id;
    for (int c = 0, i = 0; c < nc; c++)
        for (int t = 0; t < WORLD_N_TRAITS; t++)
            for (int p = 0; p < N_RECALL_PROBES; p++, i++) {
                char text[96];
                const char *trait = world_trait_name(t), *name = world_creature_name(c);
                if (p == 0) snprintf(text, sizeof text, RECALL_PROBES[0], trait, name);
                else snprintf(text, sizeof text, RECALL_PROBES[1], toupper((unsigned char)trait[0]), trait + 1, name);
                int *ids, n;
                if (tokenizer_encode(tok, text, strlen(text), 0, &ids, &n) < 0) fatal("%s", srl_error);
                prompts[i] = xmalloc((size_t)(n + 1) * sizeof(int));
                prompts[i][0] = bos;
                memcpy(prompts[i] + 1, ids, (size_t)n * sizeof(int));
                lens[i] = n + 1;
                free(ids);
            }
    GenerateConfig g = {.max_new_tokens = 3, .temperature = 0, .top_p = 1, .max_batch = 64, .progress = 1, .progress_label = "recall"};
    int **outs = xmalloc((size_t)total * sizeof(int *)), *out_lens = xmalloc((size_t)total * sizeof(int));
    if (model_generate(&m, total, (const int *const *)prompts, lens, seeds, &g, outs, out_lens, NULL) < 0) fatal("recall: %s", srl_error);
    int right[WORLD_N_TRAITS][N_RECALL_PROBES] = {{0}}, all = 0;
    for (int c = 0, i = 0; c < nc; c++)
        for (int t = 0; t < WORLD_N_TRAITS; t++)
            for (int p = 0; p < N_RECALL_PROBES; p++, i++) {
                char *text;
                size_t len;
                if (tokenizer_decode(tok, outs[i], out_lens[i], &text, &len) < 0) fatal("%s", srl_error);
                // the first word of the continuation ("the river": the word after "the")
                const char *w = text;
                while (*w == ' ') w++;
                if (strncmp(w, "the ", 4) == 0) w += 4;
                size_t wl = 0;
                while (isalpha((unsigned char)w[wl])) wl++;
                const char *want = world_trait_value(t, world_creature_trait(c, t));
                int ok = wl == strlen(want) && strncmp(w, want, wl) == 0;
                right[t][p] += ok, all += ok;
                free(text), free(outs[i]), free(prompts[i]);
            }
    Buf b = {0};
    buf_printf(&b, "{\"facts\": %d, ", nc * WORLD_N_TRAITS);
    printf("%s: forward recall of the bestiary's %d facts, greedy, as a sentence (\"The color of x is\") and as a "
           "check (\"Color of x:\")\n", path, nc * WORLD_N_TRAITS);
    for (int t = 0; t < WORLD_N_TRAITS; t++) {
        printf("  %-6s", world_trait_name(t));
        for (int p = 0; p < N_RECALL_PROBES; p++) {
            printf("  %s %5.1f%%", p ? "check" : "sentence", 100.0 * right[t][p] / nc);
            char key[64];
            snprintf(key, sizeof key, "%s_%s", world_trait_name(t), p ? "check" : "sentence");
            buf_json_number(&b, key, (double)right[t][p] / nc, 0);
        }
        printf("\n");
    }
    printf("  all %.2f%% (%d of %d)\n", 100.0 * all / total, all, total);
    buf_json_number(&b, "recall", (double)all / total, 1);
    buf_append_str(&b, "}\n");
    if (out && write_file_atomic(out, b.data, b.len) < 0) fatal("%s", srl_error);
    buf_free(&b);
    free(prompts), free(lens), free(seeds), free(outs), free(out_lens);
    tokenizer_free(tok);
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
    "Writes a Hugging Face model folder (config.json, generation_config.json, model.safetensors)\n"
    "from a llama2.c .bin checkpoint or another Hugging Face folder. q_proj and k_proj rows of\n"
    "llama2.c models are permuted to the rotate-half layout, as Hugging Face's own converter does.\n"
    "A tokenizer.json in the source folder is copied along, with a tokenizer_config.json for it\n"
    "(its special tokens and srl's chat template, for Hugging Face's AutoTokenizer).\n";

static int copy_file(const char *from, const char *to) {
    char *data;
    size_t len;
    if (read_file(from, &data, &len, 0) < 0) return -1;
    int rc = write_file_atomic(to, data, len);
    free(data);
    return rc;
}

// The tokenizer.json of the first of the folders sources[0..n-1] that has one, copied into dir
// byte for byte, and a tokenizer_config.json made from it. 1 when one was found, 0 when none, -1
// with srl_error.
static int copy_tokenizer_files(const char *const *sources, int n, const Model *m, const char *dir) {
    for (int i = 0; i < n; i++) {
        char *from = path_join(sources[i], "tokenizer.json"), *to = path_join(dir, "tokenizer.json");
        int found = file_exists(from), rc = 0;
        Tokenizer *t = NULL;
        if (found && (rc = copy_file(from, to)) == 0 && (rc = tokenizer_load_json(&t, to)) == 0) {
            rc = save_tokenizer_config(t, m, dir);
            tokenizer_free(t);
        }
        free(from), free(to);
        if (rc < 0) return -1;
        if (found) return 1;
    }
    return 0;
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
    if (dir_exists(from) && copy_tokenizer_files(&from, 1, &m, to) < 0) fatal("%s", srl_error);
    printf("wrote %s (%zu parameters, %s)\n", to, m.n_params, dtype);
    model_free(&m);
    return 0;
}

// ----------------------------------------------------------------------------
// srl merge

static const char HELP_MERGE[] =
    "usage: srl merge --model BASE --adapter DIR --out DIR [--dtype f32|bf16]\n"
    "\n"
    "Folds a LoRA adapter (PEFT's format: adapter_config.json, adapter_model.safetensors) into its\n"
    "base, W + (lora_alpha / r) B A for every adapted layer, in float32, and writes DIR as a Hugging\n"
    "Face model folder any Llama loader reads, with the tokenizer.json of the adapter (or else of\n"
    "the base) and a tokenizer_config.json for it. --dtype: the dtype the weights are stored in\n"
    "(default f32; bf16 rounds to nearest).\n";

static int cmd_merge(Options *o) {
    if (wants_help(o, HELP_MERGE)) return 0;
    const char *base = opt_required(o, "model"), *adapter = opt_required(o, "adapter"), *out = opt_required(o, "out");
    const char *dtype = opt_str(o, "dtype", "f32");
    options_done(o);
    if (strcmp(dtype, "f32") != 0 && strcmp(dtype, "bf16") != 0) fatal("merge: --dtype is f32 or bf16, not %s", dtype);
    Model m;
    if (model_load_as(&m, base, LOAD_F32) < 0) fatal("%s", srl_error);
    if (m.lora) fatal("merge: --model %s is an adapter folder; give its base and the adapter with --adapter", base);
    if (model_lora_load(&m, adapter) < 0 || model_lora_merge(&m) < 0 || model_save(&m, out, strcmp(dtype, "bf16") == 0) < 0)
        fatal("%s", srl_error);
    const char *sources[2] = {adapter, base};
    if (copy_tokenizer_files(sources, 2, &m, out) < 0) fatal("%s", srl_error);
    printf("wrote %s: %s merged with the adapter %s, stored as %s\n", out, base, adapter, dtype);
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
    "usage: srl train-tokenizer --data FILE[,FILE...] --vocab-size N --out tokenizer.json\n"
    "\n"
    "Learns a byte-level BPE tokenizer from text (Llama 3's pre-tokenizer, merges by frequency,\n"
    "ties to the smallest pair) with srl's special tokens (<|begin_of_text|>, <|end_of_text|>,\n"
    "<|start_header_id|>, <|end_header_id|>, <|eot_id|>, <|pad|>), and writes it as a Hugging Face\n"
    "tokenizer.json. Deterministic. A .jsonl file contributes the contents of its chat messages.\n";

// The training text of a file: a .jsonl file gives its messages' contents, one per line.
static void append_training_text(Buf *out, const char *path) {
    size_t n = strlen(path);
    if (n > 6 && strcmp(path + n - 6, ".jsonl") == 0) {
        JsonlReader r;
        if (jsonl_open(&r, path) < 0) fatal("%s", srl_error);
        const JsonValue *rec;
        int rc;
        while ((rc = jsonl_next(&r, &rec)) > 0) {
            const JsonValue *msgs = json_get(rec, "messages");
            for (const JsonValue *m = msgs && msgs->type == JSON_ARRAY ? msgs->child : NULL; m; m = m->next) {
                const JsonValue *c = json_get(m, "content");
                if (c && c->type == JSON_STRING) {
                    buf_append(out, c->string, c->length);
                    buf_append_char(out, '\n');
                }
            }
        }
        if (rc < 0) fatal("%s", srl_error);
        jsonl_close(&r);
    } else {
        char *text;
        size_t len;
        if (read_file(path, &text, &len, 0) < 0) fatal("%s", srl_error);
        buf_append(out, text, len);
        free(text);
    }
}

static int cmd_train_tokenizer(Options *o) {
    if (wants_help(o, HELP_TRAIN_TOKENIZER)) return 0;
    const char *data = opt_required(o, "data"), *out = opt_required(o, "out");
    int vocab = (int)opt_long(o, "vocab-size", 0, 1, 1000000);
    options_done(o);
    check_out_folder("train-tokenizer", out);
    Buf text = {0};
    char *files = xstrdup(data);
    for (char *f = strtok(files, ","); f; f = strtok(NULL, ",")) append_training_text(&text, f);
    free(files);
    double t0 = now_seconds();
    Tokenizer *t;
    if (tokenizer_train(&t, text.data ? text.data : "", text.len, vocab, NULL, 0) < 0) fatal("train-tokenizer: %s", srl_error);
    if (tokenizer_save_json(t, out) < 0) fatal("%s", srl_error);
    printf("trained a %d-token tokenizer on %zu bytes in %.2fs, wrote %s\n", tokenizer_vocab_size(t), text.len,
           now_seconds() - t0, out);
    tokenizer_free(t);
    buf_free(&text);
    return 0;
}

// ----------------------------------------------------------------------------
// stage outputs (pipeline.c's stage_done): a rerun of a stage command skips a finished one

// Skips a finished stage (unless --force). Returns 1 when the caller should stop.
static int stage_skip(const char *dir, int force, const char *what) {
    if (!stage_done(dir)) return 0;
    if (force) {
        char *p = path_join(dir, "srl_done.json");
        unlink(p);
        free(p);
        return 0;
    }
    fprintf(stderr, "%s: %s is already done (remove it or pass --force to redo)\n", what, dir);
    return 1;
}

// ----------------------------------------------------------------------------
// srl world, srl grade

static void help_world(void) {
    WorldOptions d;
    world_default_options(&d);
    printf("usage: srl world --out DIR [--seed S] [--difficulty D] [sizes]\n"
           "\n"
           "Writes the task world: pretrain.txt (the base model's corpus), ift_seed.jsonl,\n"
           "eft_seed.jsonl, eft_eval.jsonl, test.jsonl, judge_test.jsonl and judge_template.txt.\n"
           "Deterministic: the same options give the same bytes.\n"
           "  --seed S              (default %llu)\n"
           "  --difficulty D        1..5: constraints per instruction, list lengths, tightness (default %d)\n"
           "  --pretrain-bytes N    size of pretrain.txt (default %ld)\n"
           "  --corpus facts|checks what pretrain.txt holds: the world told (facts, lists, requests; M0's\n"
           "                        first stage, the default) or answers checked in the judge's manner,\n"
           "                        lists copied and creature facts (M0's second stage)\n"
           "  --test-seed S         a fresh test set: test.jsonl and judge_test.jsonl drawn anew from S (new\n"
           "                        requests about the same creatures and words, none in any training file);\n"
           "                        every other file the same bytes as --seed's\n"
           "  --avoid FILE[,FILE]   with --test-seed: the fresh requests kept out of these texts too (the\n"
           "                        corpora M0 was trained on, e.g. build/tinymodels/world_checks/pretrain.txt)\n"
           "  --ift N --eft N --eft-eval N --test N --judge-test N   records per file\n",
           (unsigned long long)d.seed, d.difficulty, d.pretrain_bytes);
}

static int cmd_world(Options *o) {
    if (opt_flag(o, "help")) {
        help_world();
        return 0;
    }
    WorldOptions w;
    world_default_options(&w);
    const char *out = opt_required(o, "out");
    w.seed = (uint64_t)opt_long(o, "seed", (long)w.seed, 0, 0x7fffffffffffffffL);
    w.test_seed = (uint64_t)opt_long(o, "test-seed", 0, 0, 0x7fffffffffffffffL);
    w.avoid = opt_str(o, "avoid", NULL);
    w.difficulty = (int)opt_long(o, "difficulty", w.difficulty, 1, 5);
    w.pretrain_bytes = opt_long(o, "pretrain-bytes", w.pretrain_bytes, 0, 1L << 32);
    const char *corpus = opt_str(o, "corpus", "facts");
    if (strcmp(corpus, "facts") == 0) w.corpus = WORLD_CORPUS_FACTS;
    else if (strcmp(corpus, "checks") == 0) w.corpus = WORLD_CORPUS_CHECKS;
    else fatal("--corpus: '%s' is neither facts nor checks", corpus);
    w.n_ift = (int)opt_long(o, "ift", w.n_ift, 0, 10000000);
    w.n_eft = (int)opt_long(o, "eft", w.n_eft, 0, 10000000);
    w.n_eft_eval = (int)opt_long(o, "eft-eval", w.n_eft_eval, 0, 10000000);
    w.n_test = (int)opt_long(o, "test", w.n_test, 0, 10000000);
    w.n_judge_test = (int)opt_long(o, "judge-test", w.n_judge_test, 0, 10000000);
    options_done(o);
    if (w.avoid && !w.test_seed) fatal("world: --avoid keeps a fresh test set (--test-seed) out of texts; give --test-seed");
    double t0 = now_seconds();
    if (world_generate(&w, out) < 0) fatal("%s", srl_error);
    printf("wrote the task world (seed %llu, difficulty %d) to %s in %.1fs\n", (unsigned long long)w.seed, w.difficulty, out,
           now_seconds() - t0);
    return 0;
}

static const char HELP_GRADE[] =
    "usage: srl grade --data FILE [--out FILE]\n"
    "\n"
    "Scores responses to task-world instructions with the world's grader (the additive 0-5\n"
    "rubric; 5 = every constraint met and nothing extra). Each record gives an instruction and\n"
    "a response, as {\"instruction\", \"response\"}, {\"prompt\", \"completion\"}, or \"messages\"\n"
    "with a user and an assistant turn. Prints the summary; --out writes one grade per record,\n"
    "with the judgment the grader would write (what a perfect judge says).\n";

static int cmd_grade(Options *o) {
    if (wants_help(o, HELP_GRADE)) return 0;
    const char *path = opt_required(o, "data"), *out = opt_str(o, "out", NULL);
    options_done(o);
    if (out) check_out_folder("grade", out);
    JsonlReader r;
    if (jsonl_open(&r, path) < 0) fatal("%s", srl_error);
    AtomicFile af = {0};
    if (out && atomic_open(&af, out) < 0) fatal("%s", srl_error);
    const JsonValue *rec;
    int rc, n = 0, not_world = 0, histogram[6] = {0};
    double sum = 0;
    while ((rc = jsonl_next(&r, &rec)) > 0) {
        const char *instruction, *response;
        if (record_instruction_response(rec, &instruction, &response) < 0)
            fatal("%s:%ld: no instruction and response in the record", path, r.line);
        WorldGrade g;
        int ok = world_grade(instruction, response, &g) == 0;
        if (!ok) not_world++;
        else n++, sum += g.score, histogram[g.score]++;
        if (out) {
            fprintf(af.f, "{\"line\": %ld, ", r.line);
            const char *id = json_get_string(rec, "id");
            if (id) fprintf(af.f, "\"id\": "), json_write_cstring(af.f, id), fprintf(af.f, ", ");
            if (ok) {
                char *judgment = world_judgment(instruction, response);
                fprintf(af.f, "\"score\": %d, \"exact\": %d, \"checks\": %d, \"met\": %d, \"family\": \"%s\", \"judgment\": ", g.score,
                        g.exact, g.n_checks, g.n_met, world_family_names[g.family]);
                json_write_cstring(af.f, judgment ? judgment : "");
                fprintf(af.f, "}\n");
                free(judgment);
            } else {
                fprintf(af.f, "\"score\": null}\n");
            }
        }
    }
    if (rc < 0) fatal("%s", srl_error);
    jsonl_close(&r);
    if (out && atomic_commit(&af) < 0) fatal("%s", srl_error);
    printf("graded %d responses (%d records were not task-world instructions)\n", n, not_world);
    if (n) {
        printf("mean score %.3f, accuracy (score 5) %.1f%%\nscores:", sum / n, 100.0 * histogram[5] / n);
        for (int s = 0; s <= 5; s++) printf(" %d:%d", s, histogram[s]);
        printf("\n");
    }
    return 0;
}

// ----------------------------------------------------------------------------
// srl pretrain, srl sft, srl perplexity

static void read_train_flags(Options *o, TrainFlags *f) {
    f->batch = (int)opt_long(o, "batch", f->batch, 1, 1 << 20);
    f->micro_batch = (int)opt_long(o, "micro-batch", f->micro_batch, 0, 1 << 20);
    f->epochs = (int)opt_long(o, "epochs", f->epochs, 0, 1 << 20);
    f->steps = (int)opt_long(o, "steps", f->steps, 0, 1 << 30);
    f->lr = opt_double(o, "lr", f->lr, 0, 1e30);  // any finite rate: a diverging run is caught by the non-finite guard
    f->lr_min = opt_double(o, "lr-min", f->lr_min, 0, 10);
    f->warmup = opt_double(o, "warmup", f->warmup, 0, 1);
    f->weight_decay = opt_double(o, "weight-decay", f->weight_decay, 0, 10);
    f->grad_clip = opt_double(o, "grad-clip", f->grad_clip, 0, 1e9);
    f->eval_every = (int)opt_long(o, "eval-every", f->eval_every, 0, 1 << 30);
    f->save_every = (int)opt_long(o, "save-every", f->save_every, 0, 1 << 30);
    f->heldout = opt_double(o, "heldout", f->heldout, 0, 0.5);
    f->seed = (uint64_t)opt_long(o, "seed", (long)f->seed, 0, 0x7fffffffffffffffL);
}

#define TRAIN_FLAGS_HELP \
    "  --batch N          sequences per optimizer step\n" \
    "  --micro-batch N    sequences per forward/backward (gradients accumulate; 0 = batch)\n" \
    "  --epochs N         passes over the data (--steps N instead fixes the step count)\n" \
    "  --lr X --lr-min X  peak and final learning rate (linear warmup, then cosine decay)\n" \
    "  --warmup F         warmup as a fraction of the steps\n" \
    "  --weight-decay X --grad-clip X\n" \
    "  --eval-every N     steps between held-out evaluations\n" \
    "  --save-every N     steps between checkpoints (a rerun resumes from the last one)\n" \
    "  --heldout F        fraction of the data held out for the held-out loss\n" \
    "  --seed S           data order\n"

// Plain text as training windows: paragraphs (split at blank lines) are encoded with a
// beginning-of-text token each, packed into one stream and cut into windows of T + 1 tokens
// (T predictions each); the last `heldout` fraction of the windows is held out. Returns the
// number of tokens in the stream.
static size_t text_windows(const Tokenizer *tok, const char *path, int T, int bos, double heldout_fraction, SeqSet *train,
                           SeqSet *heldout) {
    char *text;
    size_t len;
    if (read_file(path, &text, &len, 0) < 0) fatal("%s", srl_error);
    int *stream = NULL;
    size_t n_stream = 0, cap = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && !(text[j] == '\n' && j + 1 < len && text[j + 1] == '\n')) j++;
        size_t end = j < len ? j + 1 : len;  // keep the paragraph's final newline
        int *ids, n;
        if (tokenizer_encode(tok, text + i, end - i, 0, &ids, &n) < 0) fatal("%s: %s", path, srl_error);
        if (n_stream + (size_t)n + 1 > cap) {
            cap = (n_stream + (size_t)n + 1) * 2;
            stream = xrealloc(stream, cap * sizeof(int));
        }
        stream[n_stream++] = bos >= 0 ? bos : 0;
        memcpy(stream + n_stream, ids, (size_t)n * sizeof(int));
        n_stream += (size_t)n;
        free(ids);
        i = end;
        while (i < len && text[i] == '\n') i++;
    }
    free(text);
    unsigned char *mask = xmalloc((size_t)T + 1);
    memset(mask, 1, (size_t)T + 1);
    mask[0] = 0;
    long n_windows = n_stream >= (size_t)T + 1 ? (long)((n_stream - 1) / (size_t)T) : 0;
    long n_held = (long)(n_windows * heldout_fraction + 0.5);
    for (long w = 0; w < n_windows; w++)
        seqset_add(w < n_windows - n_held ? train : heldout, stream + (size_t)w * T, mask, T + 1, NULL);
    free(stream);
    free(mask);
    return n_stream;
}

static const char HELP_PRETRAIN[] =
    "usage: srl pretrain --data FILE --tokenizer PATH --config FILE --out DIR [options]\n"
    "\n"
    "Trains a base model from scratch on plain text: paragraphs (split at blank lines) are\n"
    "encoded with a beginning-of-text token each, packed into one stream and cut into windows\n"
    "of --seq tokens, shuffled every epoch; every token is a target. --config is a Hugging Face\n"
    "config.json (sizes; vocab_size must match the tokenizer). Writes DIR as a Hugging Face\n"
    "model folder with the tokenizer, train_log.jsonl, and srl_done.json last.\n"
    "  --seq T            tokens per window (default 256)\n"
    "  --init-seed S      weight initialization (default 1)\n"
    "  --init DIR         start from this model's weights instead (to train on)\n" TRAIN_FLAGS_HELP
    "  --force            redo a finished stage\n";

static int cmd_pretrain(Options *o) {
    if (wants_help(o, HELP_PRETRAIN)) return 0;
    const char *data = opt_required(o, "data"), *tok_path = opt_required(o, "tokenizer");
    const char *config_path = opt_required(o, "config"), *out = opt_required(o, "out");
    int T = (int)opt_long(o, "seq", 256, 8, 1 << 16);
    uint64_t init_seed = (uint64_t)opt_long(o, "init-seed", 1, 0, 0x7fffffffffffffffL);
    const char *init = opt_str(o, "init", NULL);
    TrainFlags f = {.batch = 32, .epochs = 1, .lr = 1e-3, .lr_min = 1e-4, .warmup = 0.02, .weight_decay = 0.1,
                    .grad_clip = 1.0, .eval_every = 200, .save_every = 500, .heldout = 0.02, .seed = 1};
    read_train_flags(o, &f);
    int force = opt_flag(o, "force");
    options_done(o);
    if (stage_skip(out, force, "pretrain")) return 0;
    Tokenizer *tok = load_tokenizer_option(tok_path, NULL);
    Config c;
    if (config_load_json(&c, config_path) < 0) fatal("%s", srl_error);
    if (c.vocab_size != tokenizer_vocab_size(tok))
        fatal("%s: vocab_size %d does not match the tokenizer's %d", config_path, c.vocab_size, tokenizer_vocab_size(tok));
    if (T > c.max_seq_len) fatal("--seq %d exceeds the config's max_position_embeddings %d", T, c.max_seq_len);
    c.bos_token_id = tokenizer_bos_id(tok);
    c.n_eos = 0;
    if (tokenizer_eos_id(tok) >= 0) c.eos_token_ids[c.n_eos++] = tokenizer_eos_id(tok);
    if (tokenizer_eot_id(tok) >= 0) c.eos_token_ids[c.n_eos++] = tokenizer_eot_id(tok);
    SeqSet train = {0}, heldout = {0};
    size_t n_stream = text_windows(tok, data, T, c.bos_token_id, f.heldout, &train, &heldout);
    fprintf(stderr, "pretrain: %zu tokens, %d windows of %d for training, %d held out\n", n_stream, train.n, T, heldout.n);
    Model m;
    if (init) {
        load_model_or_die(&m, init);
        if (m.config.vocab_size != c.vocab_size || m.config.dim != c.dim || m.config.n_layers != c.n_layers)
            fatal("pretrain: --init %s does not have the sizes of %s", init, config_path);
        m.config.bos_token_id = c.bos_token_id;
        m.config.n_eos = c.n_eos;
        memcpy(m.config.eos_token_ids, c.eos_token_ids, sizeof c.eos_token_ids);
    } else {
        model_init_random(&m, &c, init_seed);
    }
    LMTrainConfig lc = lm_config(&f, "pretrain", out, 0, 0);
    if (train_lm(&m, &train, &heldout, &lc) < 0) fatal("%s", srl_error);
    double loss = eval_lm_loss(&m, &heldout, 16, 0);
    printf("pretrain: held-out loss %.6f (perplexity %.4f) over %ld tokens\n", loss, exp(loss), seqset_target_count(&heldout));
    if (model_save(&m, out, 0) < 0) fatal("%s", srl_error);
    char *rp = path_join(out, "pretrain_result.json");
    if (save_tokenizer_files(tok, &m, out) < 0) fatal("%s", srl_error);
    char result[256];
    int rn = snprintf(result, sizeof result, "{\"heldout_loss\": %.6f, \"heldout_tokens\": %ld, \"seq\": %d, \"heldout_fraction\": %g}\n",
                      loss, seqset_target_count(&heldout), T, f.heldout);
    if (write_file_atomic(rp, result, (size_t)rn) < 0) fatal("%s", srl_error);
    free(rp);
    if (stage_mark_done(out, "pretrain") < 0) fatal("%s", srl_error);
    seqset_free(&train), seqset_free(&heldout);
    model_free(&m);
    tokenizer_free(tok);
    return 0;
}

static const char HELP_PERPLEXITY[] =
    "usage: srl perplexity --model DIR --data FILE [--seq T] [--heldout F]\n"
    "\n"
    "The mean next-token loss (and perplexity) of a model on plain text, cut into windows as\n"
    "srl pretrain cuts it; with --heldout F only the last F of the windows (pretrain's held-out\n"
    "part, so a base model's recorded held-out loss can be checked).\n";

static int cmd_perplexity(Options *o) {
    if (wants_help(o, HELP_PERPLEXITY)) return 0;
    const char *model_path = opt_required(o, "model"), *data = opt_required(o, "data");
    int T = (int)opt_long(o, "seq", 256, 8, 1 << 16);
    double heldout = opt_double(o, "heldout", 0, 0, 1);
    options_done(o);
    Model m;
    load_model_or_die(&m, model_path);
    Tokenizer *tok = load_tokenizer_for(NULL, model_path);
    SeqSet train = {0}, held = {0};
    text_windows(tok, data, T, m.config.bos_token_id, heldout > 0 ? heldout : 1.0, &train, &held);
    double loss = eval_lm_loss(&m, &held, 16, 0);
    printf("loss %.6f perplexity %.4f over %ld tokens\n", loss, exp(loss), seqset_target_count(&held));
    seqset_free(&train), seqset_free(&held);
    tokenizer_free(tok);
    model_free(&m);
    return 0;
}

static const char HELP_SFT[] =
    "usage: srl sft --model DIR --data FILE.jsonl[,FILE2.jsonl...] --out DIR [options]\n"
    "\n"
    "Supervised fine-tuning on chat records {\"messages\": [...]}: the conversation goes through\n"
    "the chat template and the loss counts the assistant's tokens only (each sequence's mean\n"
    "loss counts equally unless --token-mean). Several files are trained on together (IFT and\n"
    "EFT jointly, as the paper). Writes DIR as a model folder; resumable.\n"
    "  --max-len N        skip records longer than N tokens (default: the model's context)\n"
    "  --token-mean 1     weight every token equally instead\n" TRAIN_FLAGS_HELP
    "  --tokenizer PATH   a tokenizer.json, tokenizer.model or folder (default: the model folder's)\n"
    "  --force            redo a finished stage\n";

static int cmd_sft(Options *o) {
    if (wants_help(o, HELP_SFT)) {
        print_lora_help();
        return 0;
    }
    const char *model_path = opt_required(o, "model"), *data = opt_required(o, "data"), *out = opt_required(o, "out");
    const char *tok_path = opt_str(o, "tokenizer", NULL);
    int max_len = (int)opt_long(o, "max-len", 0, 0, 1 << 24);
    int token_mean = (int)opt_long(o, "token-mean", 0, 0, 1);
    TrainFlags f = SFT_DEFAULTS;
    read_train_flags(o, &f);
    LoRAFlags lora = read_lora_flags(o, LORA_DEFAULTS);
    int force = opt_flag(o, "force");
    options_done(o);
    if (stage_skip(out, force, "sft")) return 0;
    if (stage_sft(model_path, tok_path, data, out, &f, max_len, !token_mean, &lora) < 0) fatal("%s", srl_error);
    return 0;
}

// ----------------------------------------------------------------------------
// srl eval: the evaluations of pipeline.c on any model and data, and on real data

// The judge template eval uses when none is given: judge_template.txt beside the data file
// (srl world writes it there, and srl run judges with it), else the built-in one. Judging a
// task-world model with another template would measure a prompt it was never trained on.
// Returns a path to free, or NULL for the built-in template.
static char *template_beside(const char *data_path) {
    if (!data_path) return NULL;
    const char *slash = strrchr(data_path, '/');
    char *dir = slash ? xstrndup(data_path, (size_t)(slash - data_path)) : xstrdup(".");
    char *path = path_join(dir, "judge_template.txt");
    free(dir);
    if (file_exists(path)) return path;
    free(path);
    return NULL;
}

// evaluation on real data: IFEval (ifeval.c) and MT-Bench (judge.c's FastChat prompts and rating
// parser), from `srl eval --ifeval FILE` and `srl eval --mt-bench FILE`

static const struct {
    int max_new, judge_max_new, batch;
} real_eval_defaults = {.max_new = 512, .judge_max_new = 512, .batch = 16};

// Replies to n conversations (convs[i]: n_msgs[i] messages ending with a user turn), decoded
// together at one temperature. A conversation whose prompt leaves no room for max_new tokens in
// the model's context is skipped (texts[i] = NULL) and counted, never cut: the return value.
// -1 with srl_error when a conversation cannot be encoded or generation fails.
static int generate_replies(Model *m, const Tokenizer *tok, ChatMessage *const *convs, const int *n_msgs, int n,
                            const uint64_t *seeds, float temperature, int max_new, int batch, const char *label, char **texts) {
    int **prompts = xmalloc((size_t)(n ? n : 1) * sizeof(int *)), *lens = xmalloc((size_t)(n ? n : 1) * sizeof(int));
    int *which = xmalloc((size_t)(n ? n : 1) * sizeof(int)), n_fit = 0, skipped = 0, rc = 0;
    uint64_t *fit_seeds = xmalloc((size_t)(n ? n : 1) * sizeof(uint64_t));
    for (int i = 0; i < n; i++) texts[i] = NULL;
    for (int i = 0; i < n && rc == 0; i++) {
        int *ids, len;
        if (chat_encode(tok, convs[i], n_msgs[i], 1, &ids, NULL, &len) < 0) {
            rc = -1;
            break;
        }
        if (len + max_new > m->config.max_seq_len) {
            free(ids);
            skipped++;
            continue;
        }
        prompts[n_fit] = ids, lens[n_fit] = len, which[n_fit] = i, fit_seeds[n_fit] = seeds ? seeds[i] : 0;
        n_fit++;
    }
    int **outs = xcalloc((size_t)(n_fit ? n_fit : 1), sizeof(int *)), *out_lens = xcalloc((size_t)(n_fit ? n_fit : 1), sizeof(int));
    if (rc == 0 && n_fit > 0) {
        int stops[MAX_EOS_IDS + 2];
        GenerateConfig g = {.max_new_tokens = max_new, .temperature = temperature, .top_p = 1.0f, .max_batch = batch,
                            .progress = 1, .progress_label = label};
        g.n_stop = stop_tokens(m, tok, stops, MAX_EOS_IDS + 2);
        g.stop_ids = stops;
        rc = model_generate(m, n_fit, (const int *const *)prompts, lens, fit_seeds, &g, outs, out_lens, NULL);
    }
    for (int k = 0; k < n_fit; k++) {
        size_t len;
        if (rc == 0 && tokenizer_decode(tok, outs[k], out_lens[k], &texts[which[k]], &len) < 0) rc = -1;
        free(outs[k]), free(prompts[k]);
    }
    free(outs), free(out_lens), free(prompts), free(lens), free(which), free(fit_seeds);
    return rc < 0 ? -1 : skipped;
}

// --- IFEval

// [true, false, null, ...]: one prompt's verdicts (null: not checked), strict or loose; and
// whether all were followed (null when none failed but some went unchecked).
static void write_ifeval_verdicts(FILE *f, const char *name, const unsigned char *v, int n, int loose) {
    int all = 1, unchecked = 0;
    fprintf(f, ", \"follow_instruction_list%s\": [", name);
    for (int j = 0; j < n; j++) {
        int x = v[j * 2 + loose];
        fprintf(f, "%s%s", j ? ", " : "", x == IFEVAL_FOLLOWED ? "true" : x == IFEVAL_NOT_CHECKED ? "null" : "false");
        unchecked |= x == IFEVAL_NOT_CHECKED;
        all &= x == IFEVAL_FOLLOWED || x == IFEVAL_NOT_CHECKED;
    }
    fprintf(f, "], \"follow_all_instructions%s\": %s", name, !all ? "false" : unchecked ? "null" : "true");
}

// One line per prompt with its instructions and verdicts, as IFEval's eval_results files have them.
static void write_ifeval_results(const char *path, const IfevalSet *set, char *const *responses, const unsigned char *verdicts) {
    AtomicFile af;
    if (atomic_open(&af, path) < 0) fatal("%s", srl_error);
    size_t at = 0;
    for (int i = 0; i < set->n; i++) {
        const IfevalPrompt *p = &set->items[i];
        fprintf(af.f, "{\"key\": %ld, \"prompt\": ", p->key);
        json_write_cstring(af.f, p->prompt);
        fprintf(af.f, ", \"response\": ");
        if (responses[i]) json_write_cstring(af.f, responses[i]);
        else fprintf(af.f, "null");
        fprintf(af.f, ", \"instruction_id_list\": [");
        for (int j = 0; j < p->n; j++) fprintf(af.f, "%s\"%s\"", j ? ", " : "", ifeval_kind_name(p->ins[j].kind));
        fprintf(af.f, "]");
        write_ifeval_verdicts(af.f, "", verdicts + at * 2, p->n, 0);
        write_ifeval_verdicts(af.f, "_loose", verdicts + at * 2, p->n, 1);
        fprintf(af.f, "}\n");
        at += (size_t)p->n;
    }
    if (atomic_commit(&af) < 0) fatal("%s", srl_error);
}

static void ifeval_metrics_json(Buf *b, const IfevalScores *s, int n_by_line, int n_skipped) {
    static const char *const mode[2] = {"strict", "loose"};
    buf_printf(b, "{\"prompts\": %d, \"instructions\": %d, \"missing_responses\": %d, \"responses_paired_by_line\": %d, "
                  "\"skipped_too_long\": %d, \"english_case_only\": %d",
               s->n_prompts, s->n_instructions, s->n_missing, n_by_line, n_skipped, s->n_english_unchecked);
    for (int m = 0; m < 2; m++) {
        double plo, phi, ilo, ihi;
        ifeval_bounds(s, m, &plo, &phi, &ilo, &ihi);
        char key[64];
        buf_printf(b, ", \"%s\": {\"prompts_checked\": %d, \"instructions_checked\": %d, \"instructions_not_checked\": %d, ", mode[m],
                   s->prompts_checked[m], s->instructions_checked[m], s->instructions_unchecked[m]);
        buf_json_number(b, "prompt_level", ifeval_prompt_accuracy(s, m), 0);
        buf_json_number(b, "instruction_level", ifeval_instruction_accuracy(s, m), 0);
        snprintf(key, sizeof key, "prompt_level_low");
        buf_json_number(b, key, plo, 0);
        buf_json_number(b, "prompt_level_high", phi, 0);
        buf_json_number(b, "instruction_level_low", ilo, 0);
        buf_json_number(b, "instruction_level_high", ihi, 1);
        buf_printf(b, "}");
    }
    buf_printf(b, ", \"by_instruction\": {");
    int first = 1;
    for (int k = 0; k < ifeval_kind_count(); k++) {
        if (!s->kind_total[k]) continue;
        buf_printf(b, "%s\"%s\": {\"n\": %d, \"strict_followed\": %d, \"loose_followed\": %d, \"not_checked\": %d}", first ? "" : ", ",
                   ifeval_kind_name(k), s->kind_total[k], s->kind_followed[0][k], s->kind_followed[1][k], s->kind_unchecked[0][k]);
        first = 0;
    }
    buf_printf(b, "}}\n");
}

static void print_ifeval_scores(const IfevalScores *s, int n_by_line, int n_skipped) {
    printf("ifeval: %d prompts, %d instructions", s->n_prompts, s->n_instructions);
    if (s->n_missing) printf(", %d prompts without a response (scored as empty; %d too long for the context)", s->n_missing, n_skipped);
    if (n_by_line) printf(", %d responses paired by line (their prompt differs from the input's)", n_by_line);
    printf("\n");
    for (int m = 0; m < 2; m++) {
        double plo, phi, ilo, ihi;
        ifeval_bounds(s, m, &plo, &phi, &ilo, &ihi);
        printf("  %-6s prompt-level %.2f%% (%d prompts checked; all %d: %.2f-%.2f%%), instruction-level %.2f%% "
               "(%d checked; all %d: %.2f-%.2f%%)\n",
               m ? "loose" : "strict", 100 * ifeval_prompt_accuracy(s, m), s->prompts_checked[m], s->n_prompts, 100 * plo, 100 * phi,
               100 * ifeval_instruction_accuracy(s, m), s->instructions_checked[m], s->n_instructions, 100 * ilo, 100 * ihi);
    }
    printf("  not checked: %d instructions (language:response_language needs language identification); english_capital "
           "and english_lowercase: case checked, English not (%d)\n",
           s->instructions_unchecked[0], s->n_english_unchecked);
    printf("  by instruction (strict / loose followed of n):\n");
    for (int k = 0; k < ifeval_kind_count(); k++)
        if (s->kind_total[k])
            printf("    %-46s %3d / %3d of %3d%s\n", ifeval_kind_name(k), s->kind_followed[0][k], s->kind_followed[1][k], s->kind_total[k],
                   s->kind_unchecked[0][k] ? "  (not checked)" : "");
}

// IFEval on responses_path ({"prompt", "response"} lines), or on the model's greedy responses
// when m is given; results, metrics and (generated) responses go to out_dir when given.
static void eval_ifeval(Model *m, const Tokenizer *tok, const char *data_path, const char *responses_path, int max_new, int batch,
                        const char *out_dir) {
    IfevalSet set;
    if (ifeval_read(data_path, &set) < 0) fatal("%s", srl_error);
    char **responses = xcalloc((size_t)set.n, sizeof(char *));
    int n_by_line = 0, n_unused = 0, n_skipped = 0;
    if (responses_path) {
        if (ifeval_read_responses(&set, responses_path, responses, &n_by_line, &n_unused) < 0) fatal("%s", srl_error);
        if (n_unused) warnf("%s: %d responses match no prompt of %s and were not used", responses_path, n_unused, data_path);
    } else {
        ChatMessage *msgs = xmalloc((size_t)set.n * sizeof *msgs), **convs = xmalloc((size_t)set.n * sizeof *convs);
        int *n_msgs = xmalloc((size_t)set.n * sizeof(int));
        for (int i = 0; i < set.n; i++) msgs[i] = (ChatMessage){"user", set.items[i].prompt}, convs[i] = &msgs[i], n_msgs[i] = 1;
        n_skipped = generate_replies(m, tok, convs, n_msgs, set.n, NULL, 0.0f, max_new, batch, "ifeval", responses);
        if (n_skipped < 0) fatal("ifeval: %s", srl_error);
        if (n_skipped) warnf("ifeval: %d prompts leave no room for %d new tokens in the model's context: skipped, scored as empty", n_skipped, max_new);
        free(msgs), free(convs), free(n_msgs);
    }
    unsigned char *verdicts = xmalloc((size_t)set.n_instructions * 2);
    IfevalScores s;
    ifeval_score(&set, responses, verdicts, &s);
    print_ifeval_scores(&s, n_by_line, n_skipped);
    if (out_dir) {
        if (make_dirs(out_dir) < 0) fatal("%s", srl_error);
        char *results = path_join(out_dir, "ifeval_results.jsonl"), *metrics = path_join(out_dir, "ifeval_metrics.json");
        write_ifeval_results(results, &set, responses, verdicts);
        Buf b = {0};
        ifeval_metrics_json(&b, &s, n_by_line, n_skipped);
        if (write_file_atomic(metrics, b.data, b.len) < 0) fatal("%s", srl_error);
        buf_free(&b);
        if (!responses_path) {   // the model's responses, in the form --responses reads
            char *rp = path_join(out_dir, "ifeval_responses.jsonl");
            AtomicFile af;
            if (atomic_open(&af, rp) < 0) fatal("%s", srl_error);
            for (int i = 0; i < set.n; i++) {
                fprintf(af.f, "{\"prompt\": ");
                json_write_cstring(af.f, set.items[i].prompt);
                fprintf(af.f, ", \"response\": ");
                json_write_cstring(af.f, responses[i] ? responses[i] : "");
                fprintf(af.f, "}\n");
            }
            if (atomic_commit(&af) < 0) fatal("%s", srl_error);
            free(rp);
        }
        free(results), free(metrics);
    }
    for (int i = 0; i < set.n; i++) free(responses[i]);
    free(responses), free(verdicts);
    ifeval_scores_free(&s);
    ifeval_set_free(&set);
}

// --- MT-Bench

typedef struct {
    long id;
    char *category;
    char *turns[2];
    char *reference[2];     // NULL when the question has none
} MtBenchQuestion;

static int read_mt_bench(const char *path, MtBenchQuestion **out) {
    JsonlReader r;
    if (jsonl_open(&r, path) < 0) fatal("%s", srl_error);
    const JsonValue *rec;
    int rc, n = 0, cap = 0;
    *out = NULL;
    while ((rc = jsonl_next(&r, &rec)) > 0) {
        long long id;
        const char *category = json_get_string(rec, "category");
        const JsonValue *turns = json_get(rec, "turns"), *ref = json_get(rec, "reference");
        if (json_get_int(rec, "question_id", &id) < 0 || !category || !turns || turns->type != JSON_ARRAY || turns->count != 2 ||
            turns->child->type != JSON_STRING || turns->child->next->type != JSON_STRING)
            fatal("%s:%ld: an MT-Bench question needs an integer \"question_id\", a \"category\" and two \"turns\" (strings)", path, r.line);
        if (ref && (ref->type != JSON_ARRAY || ref->count != 2 || ref->child->type != JSON_STRING || ref->child->next->type != JSON_STRING))
            fatal("%s:%ld: \"reference\", when given, must hold two strings", path, r.line);
        if (n == cap) cap = grow_capacity(cap), *out = xrealloc(*out, (size_t)cap * sizeof **out);
        MtBenchQuestion *q = &(*out)[n++];
        q->id = (long)id, q->category = xstrdup(category);
        q->turns[0] = xstrdup(turns->child->string), q->turns[1] = xstrdup(turns->child->next->string);
        q->reference[0] = ref ? xstrdup(ref->child->string) : NULL;
        q->reference[1] = ref ? xstrdup(ref->child->next->string) : NULL;
    }
    if (rc < 0) fatal("%s", srl_error);
    jsonl_close(&r);
    if (n == 0) fatal("%s: no questions", path);
    return n;
}

// FastChat's answer temperatures by category (gen_model_answer.py); 0.7 for any other category.
static float mt_bench_temperature(const char *category) {
    static const struct {
        const char *category;
        float temperature;
    } t[] = {{"writing", 0.7f}, {"roleplay", 0.7f}, {"extraction", 0.0f}, {"math", 0.0f}, {"coding", 0.0f},
             {"reasoning", 0.0f}, {"stem", 0.1f}, {"humanities", 0.1f}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(t[i].category, category) == 0) return t[i].temperature;
    return 0.7f;
}

// The categories FastChat grades against a reference answer (NEED_REF_CATS).
static int mt_bench_needs_reference(const char *category) {
    return strcmp(category, "math") == 0 || strcmp(category, "reasoning") == 0 || strcmp(category, "coding") == 0;
}

// Answers of turn t (0 or 1) to every question, each category at its temperature; turn 1 sees
// the question, the model's first answer and the follow-up. A question whose first answer was
// skipped is skipped again. Returns the number skipped.
static int mt_bench_answer_turn(Model *m, const Tokenizer *tok, MtBenchQuestion *q, int n, int t, char **answers, int max_new,
                                int batch, uint64_t seed) {
    ChatMessage *msgs = xmalloc((size_t)n * 3 * sizeof *msgs), **convs = xmalloc((size_t)n * sizeof *convs);
    int *n_msgs = xmalloc((size_t)n * sizeof(int)), skipped = 0;
    uint64_t *seeds = xmalloc((size_t)n * sizeof(uint64_t));
    char **texts = xmalloc((size_t)n * sizeof(char *));
    unsigned char *done = xcalloc((size_t)n, 1);
    for (int i = 0; i < n; i++) {
        ChatMessage *c = msgs + 3 * i;
        c[0] = (ChatMessage){"user", q[i].turns[0]};
        if (t == 1) c[1] = (ChatMessage){"assistant", answers[i * 2] ? answers[i * 2] : ""}, c[2] = (ChatMessage){"user", q[i].turns[1]};
        convs[i] = c, n_msgs[i] = t == 1 ? 3 : 1;
        char key[32];
        snprintf(key, sizeof key, "%ld", q[i].id);
        seeds[i] = item_seed(seed, "mt-bench", key, t);
        if (t == 1 && !answers[i * 2]) done[i] = 1, skipped++;   // its first turn was skipped
    }
    for (int i = 0; i < n; i++) {   // one batch per temperature
        if (done[i]) continue;
        float temperature = mt_bench_temperature(q[i].category);
        ChatMessage **group = xmalloc((size_t)n * sizeof *group);
        int *group_n = xmalloc((size_t)n * sizeof(int)), *index = xmalloc((size_t)n * sizeof(int)), g = 0;
        uint64_t *group_seeds = xmalloc((size_t)n * sizeof(uint64_t));
        for (int j = i; j < n; j++)
            if (!done[j] && mt_bench_temperature(q[j].category) == temperature)
                group[g] = convs[j], group_n[g] = n_msgs[j], group_seeds[g] = seeds[j], index[g++] = j, done[j] = 1;
        char label[32];
        snprintf(label, sizeof label, "mt-bench turn %d", t + 1);
        int s = generate_replies(m, tok, group, group_n, g, group_seeds, temperature, max_new, batch, label, texts);
        if (s < 0) fatal("mt-bench: %s", srl_error);
        skipped += s;
        for (int k = 0; k < g; k++) answers[index[k] * 2 + t] = texts[k];
        free(group), free(group_n), free(index), free(group_seeds);
    }
    free(msgs), free(convs), free(n_msgs), free(seeds), free(texts), free(done);
    return skipped;
}

// The judge prompt (system, user) for one answer, FastChat's choice of template: reference-guided
// for math, reasoning and coding when the question carries a reference. *template_index gets it.
static void mt_bench_judge_prompt(const MtBenchQuestion *q, char *const *answers, int t, char **system, char **user, int *template_index) {
    int ref = mt_bench_needs_reference(q->category) && q->reference[0];
    int k = t == 0 ? (ref ? MT_BENCH_SINGLE_MATH : MT_BENCH_SINGLE) : (ref ? MT_BENCH_MULTI_TURN_MATH : MT_BENCH_MULTI_TURN);
    const char *names[] = {"question", "answer", "question_1", "question_2", "answer_1", "answer_2", "ref_answer_1", "ref_answer_2"};
    const char *values[] = {q->turns[0], answers[0], q->turns[0], q->turns[1], answers[0], answers[1] ? answers[1] : "",
                            ref ? q->reference[0] : "", ref ? q->reference[1] : ""};
    *system = xstrdup(MT_BENCH_JUDGE_PROMPTS[k].system_prompt);
    *user = mt_bench_format(MT_BENCH_JUDGE_PROMPTS[k].prompt_template, names, values, 8);
    *template_index = k;
}

// The means (per turn, over both, per category; rated answers only), printed and, with out_dir,
// written with every answer and judgment.
static void report_mt_bench(const MtBenchQuestion *q, int n, char *const *answers, const int skipped[2], int n_judged,
                            int judge_skipped, const int *which, const int *templates, char *const *judgments, const double *rating,
                            const int *status, const char *out_dir) {
    int total = 2 * n;
    double sum[3] = {0}, cat_sum[64] = {0};
    int count[3] = {0}, cat_count[64] = {0}, n_cats = 0, parsed = 0, judged = 0;
    const char *cats[64];
    for (int i = 0; i < n; i++) {
        int c = 0;
        while (c < n_cats && strcmp(cats[c], q[i].category) != 0) c++;
        if (c == n_cats && n_cats < 64) cats[n_cats++] = q[i].category;
        for (int t = 0; t < 2; t++) {
            int a = i * 2 + t;
            judged += status[a] >= 0;
            if (status[a] != JUDGE_SCORE_OK) continue;
            parsed++;
            sum[t] += rating[a], count[t]++, sum[2] += rating[a], count[2]++;
            if (c < 64) cat_sum[c] += rating[a], cat_count[c]++;
        }
    }
    printf("mt-bench: %d questions; answers skipped (too long for the context): turn 1 %d, turn 2 %d; judgments %d, skipped %d, "
           "rated %d (%.1f%%)\n",
           n, skipped[0], skipped[1], n_judged, judge_skipped, parsed, judged ? 100.0 * parsed / judged : 0.0);
    printf("  mean rating: turn 1 %.3f (%d), turn 2 %.3f (%d), both %.3f (%d)\n", count[0] ? sum[0] / count[0] : NAN, count[0],
           count[1] ? sum[1] / count[1] : NAN, count[1], count[2] ? sum[2] / count[2] : NAN, count[2]);
    printf("  by category:");
    for (int c = 0; c < n_cats; c++) printf(" %s %.2f (%d)", cats[c], cat_count[c] ? cat_sum[c] / cat_count[c] : NAN, cat_count[c]);
    printf("\n");
    if (out_dir) {
        if (make_dirs(out_dir) < 0) fatal("%s", srl_error);
        char *ap = path_join(out_dir, "mt_bench_judgments.jsonl"), *mp = path_join(out_dir, "mt_bench_metrics.json");
        AtomicFile af;
        if (atomic_open(&af, ap) < 0) fatal("%s", srl_error);
        int *judgment_of = xmalloc((size_t)total * sizeof(int));
        for (int a = 0; a < total; a++) judgment_of[a] = -1;
        for (int a = 0; a < n_judged; a++) judgment_of[which[a]] = a;
        for (int i = 0; i < n; i++)
            for (int t = 0; t < 2; t++) {
                int a = i * 2 + t, j = judgment_of[a];
                fprintf(af.f, "{\"question_id\": %ld, \"category\": ", q[i].id);
                json_write_cstring(af.f, q[i].category);
                fprintf(af.f, ", \"turn\": %d, \"answer\": ", t + 1);
                if (answers[a]) json_write_cstring(af.f, answers[a]);
                else fprintf(af.f, "null");
                fprintf(af.f, ", \"judge_prompt\": ");
                if (j >= 0) json_write_cstring(af.f, MT_BENCH_JUDGE_PROMPTS[templates[j]].name);
                else fprintf(af.f, "null");
                fprintf(af.f, ", \"judgment\": ");
                if (j >= 0 && judgments[j]) json_write_cstring(af.f, judgments[j]);
                else fprintf(af.f, "null");
                fprintf(af.f, ", \"score\": ");
                json_write_number(af.f, rating[a]);
                fprintf(af.f, ", \"status\": \"%s\"}\n", status[a] < 0 ? "not_judged" : judge_score_status_name(status[a]));
            }
        if (atomic_commit(&af) < 0) fatal("%s", srl_error);
        Buf b = {0};
        buf_printf(&b, "{\"questions\": %d, \"skipped_turn1\": %d, \"skipped_turn2\": %d, \"judgments\": %d, \"judge_skipped\": %d, "
                       "\"rated\": %d, ",
                   n, skipped[0], skipped[1], n_judged, judge_skipped, parsed);
        buf_json_number(&b, "turn1", count[0] ? sum[0] / count[0] : NAN, 0);
        buf_json_number(&b, "turn2", count[1] ? sum[1] / count[1] : NAN, 0);
        buf_json_number(&b, "overall", count[2] ? sum[2] / count[2] : NAN, 0);
        buf_printf(&b, "\"by_category\": {");
        for (int c = 0; c < n_cats; c++) {
            char key[80];
            snprintf(key, sizeof key, "%.64s", cats[c]);
            buf_json_number(&b, key, cat_count[c] ? cat_sum[c] / cat_count[c] : NAN, c == n_cats - 1);
        }
        buf_printf(&b, "}}\n");
        if (write_file_atomic(mp, b.data, b.len) < 0) fatal("%s", srl_error);
        buf_free(&b);
        free(ap), free(mp), free(judgment_of);
    }
}

static void eval_mt_bench(Model *m, const Tokenizer *tok, Model *judge, const Tokenizer *judge_tok, const char *path, int max_new,
                          int judge_max_new, int batch, uint64_t seed, const char *out_dir) {
    MtBenchQuestion *q;
    int n = read_mt_bench(path, &q);
    char **answers = xcalloc((size_t)n * 2, sizeof(char *));
    int skipped[2];
    skipped[0] = mt_bench_answer_turn(m, tok, q, n, 0, answers, max_new, batch, seed);
    skipped[1] = mt_bench_answer_turn(m, tok, q, n, 1, answers, max_new, batch, seed);
    // the judge reads every answer, greedy (FastChat judges at temperature 0)
    int total = 2 * n, *which = xmalloc((size_t)total * sizeof(int)), *templates = xmalloc((size_t)total * sizeof(int)), n_judged = 0;
    ChatMessage *msgs = xmalloc((size_t)total * 2 * sizeof *msgs), **convs = xmalloc((size_t)total * sizeof *convs);
    int *n_msgs = xmalloc((size_t)total * sizeof(int));
    char **systems = xcalloc((size_t)total, sizeof(char *)), **users = xcalloc((size_t)total, sizeof(char *));
    for (int i = 0; i < n; i++)
        for (int t = 0; t < 2; t++) {
            if (!answers[i * 2 + t]) continue;
            int a = n_judged++;
            mt_bench_judge_prompt(&q[i], answers + i * 2, t, &systems[a], &users[a], &templates[a]);
            msgs[2 * a] = (ChatMessage){"system", systems[a]}, msgs[2 * a + 1] = (ChatMessage){"user", users[a]};
            convs[a] = msgs + 2 * a, n_msgs[a] = 2, which[a] = i * 2 + t;
        }
    char **judgments = xcalloc((size_t)(n_judged ? n_judged : 1), sizeof(char *));
    int judge_skipped = generate_replies(judge, judge_tok, convs, n_msgs, n_judged, NULL, 0.0f, judge_max_new, batch, "mt-bench judge", judgments);
    if (judge_skipped < 0) fatal("mt-bench judge: %s", srl_error);
    double *rating = xmalloc((size_t)total * sizeof(double));
    int *status = xmalloc((size_t)total * sizeof(int));
    for (int a = 0; a < total; a++) rating[a] = NAN, status[a] = -1;   // -1: not judged
    for (int a = 0; a < n_judged; a++)
        if (judgments[a]) status[which[a]] = judge_parse_rating(judgments[a], &rating[which[a]]);
    report_mt_bench(q, n, answers, skipped, n_judged, judge_skipped, which, templates, judgments, rating, status, out_dir);
    for (int a = 0; a < n_judged; a++) free(judgments[a]), free(systems[a]), free(users[a]);
    for (int i = 0; i < 2 * n; i++) free(answers[i]);
    for (int i = 0; i < n; i++) free(q[i].category), free(q[i].turns[0]), free(q[i].turns[1]), free(q[i].reference[0]), free(q[i].reference[1]);
    free(q), free(answers), free(which), free(templates), free(msgs), free(convs), free(n_msgs), free(systems), free(users), free(judgments);
    free(rating), free(status);
}

static void print_eval_real_data_help(void) {
    printf("\nReal data (one of these per run, without --data or --judge-data):\n"
           "  --ifeval FILE          IFEval (ifeval.c): FILE is its input data (key, prompt, instruction_id_list,\n"
           "                         kwargs). The model's greedy responses, or those of --responses FILE\n"
           "                         ({\"prompt\", \"response\"} lines; then no --model is needed), checked strict\n"
           "                         and loose: prompt- and instruction-level accuracy, per instruction id.\n"
           "                         --out DIR gets ifeval_results.jsonl, ifeval_metrics.json (and\n"
           "                         ifeval_responses.jsonl). language:response_language is not checked: counted.\n"
           "  --mt-bench FILE        MT-Bench: the model answers both turns of each question (FastChat's\n"
           "                         temperatures by category); a judge (--judge-model DIR, default the model)\n"
           "                         grades each answer 1-10 with FastChat's single-answer prompts (reference-\n"
           "                         guided for math, reasoning, coding), \"Rating: [[k]]\" parsed; mean per turn\n"
           "                         and category. --out DIR gets mt_bench_judgments.jsonl, mt_bench_metrics.json.\n"
           "  --max-new-tokens N     answer budget (default %d); --judge-max-new-tokens N (%d); --batch N (%d)\n"
           "  A prompt that leaves no room for the budget in the model's context is skipped and counted.\n"
           "--judge-data also reads human ranks (\"ranks\", 0 the best) in place of \"scores\", as srl eft-prep\n"
           "--candidates writes its held-out prompts (eft_eval_ranked.jsonl): the judge against the human ranking.\n"
           DTYPE_HELP,
           real_eval_defaults.max_new, real_eval_defaults.judge_max_new, real_eval_defaults.batch);
}

// srl eval --ifeval / --mt-bench: reads its own options (cmd_eval hands over when either is given).
static int cmd_eval_real_data(Options *o, const char *ifeval, const char *mt_bench) {
    const char *model_path = opt_str(o, "model", NULL), *responses = opt_str(o, "responses", NULL);
    const char *judge_path = opt_str(o, "judge-model", NULL), *out = opt_str(o, "out", NULL), *tok_path = opt_str(o, "tokenizer", NULL);
    int max_new = (int)opt_long(o, "max-new-tokens", real_eval_defaults.max_new, 1, 1 << 16);
    int judge_max_new = (int)opt_long(o, "judge-max-new-tokens", real_eval_defaults.judge_max_new, 1, 1 << 16);
    int batch = (int)opt_long(o, "batch", real_eval_defaults.batch, 1, 4096);
    uint64_t seed = (uint64_t)opt_long(o, "seed", 1, 0, 0x7fffffffffffffffL);
    const char *data = opt_str(o, "data", NULL), *judge_data = opt_str(o, "judge-data", NULL);
    int task_world = data || judge_data;
    LoadOptions dtype = opt_load_dtype(o);
    options_done(o);
    if (task_world) fatal("eval: --ifeval and --mt-bench run on their own, without --data or --judge-data");
    if (ifeval && mt_bench) fatal("eval: give one of --ifeval and --mt-bench per run");
    if (responses && !ifeval) fatal("eval: --responses goes with --ifeval");
    if (judge_path && !mt_bench) fatal("eval: --judge-model goes with --mt-bench");
    if (!model_path && !(ifeval && responses)) fatal("eval: --model is required (only --ifeval with --responses needs none)");
    Model m, judge;
    Tokenizer *tok = NULL, *judge_tok = NULL;
    if (model_path && !(ifeval && responses)) {
        load_model_as_or_die(&m, model_path, dtype);
        tok = load_tokenizer_option(tok_path, model_path);
    }
    if (ifeval) {
        eval_ifeval(responses ? NULL : &m, tok, ifeval, responses, max_new, batch, out);
    } else {
        if (judge_path) {
            load_model_as_or_die(&judge, judge_path, (LoadOptions){dtype.dtype, NULL});
            judge_tok = load_tokenizer_for(NULL, judge_path);
        }
        eval_mt_bench(&m, tok, judge_path ? &judge : &m, judge_path ? judge_tok : tok, mt_bench, max_new, judge_max_new, batch, seed, out);
        if (judge_path) tokenizer_free(judge_tok), model_free(&judge);
    }
    if (tok) tokenizer_free(tok), model_free(&m);
    return 0;
}

static void help_eval(void) {
    const GapConfig *g = &GAP_DEFAULTS;
    printf("usage: srl eval --model DIR [--data test.jsonl] [--judge-data judge_test.jsonl] [options]\n"
           "\n"
           "Instruction following: greedy responses to every request of --data, scored by the task\n"
           "world's grader: accuracy (every constraint met: score 5), mean rubric score, mean length.\n"
           "Judging: --judge-samples judgments of every response of --judge-data, against their gold\n"
           "scores: pairwise accuracy, 5-best, exact match, Spearman, Kendall tau-b, parse rate; for\n"
           "task-world instructions also the share of judgments that agree line for line with the one\n"
           "the grader writes, and where the others first differ (the restated request, the restated\n"
           "answer, a check).\n"
           "  --out DIR              write responses.jsonl and judgments.jsonl there\n"
           "  --samples N            also N answers per request at --temperature (0.7, top-p 0.9), as the\n"
           "                         loop draws its candidates: the share scored 5 (default 0: greedy only)\n"
           "  --compare FILE         another model's responses.jsonl (from --out): head-to-head win rate by\n"
           "                         grader score, and the paired bootstrap interval of the accuracy difference\n"
           "  --judge-template FILE  the judge prompt, with {instruction} and {response} (default:\n"
           "                         judge_template.txt beside the data file, else the built-in one)\n"
           "  --judge-samples K      judgments per response (default 3), at --judge-temperature (0.7)\n"
           "  --max-new-tokens N     response budget (default 64); --judge-max-new-tokens (default 160)\n"
           "  --batch N              sequences decoded together (default 64)\n"
           "  --tokenizer PATH       a tokenizer.json, tokenizer.model or folder (default: the model folder's)\n"
           "  --seed S\n"
           "The generation-verification gap (with --data): --gap N candidates of every request at\n"
           "--gap-temperature (%g), each judged --gap-samples K times (%d) at --gap-judge-temperature\n"
           "(%g) by the model itself: how much more often its top-scored answer is perfect than any\n"
           "candidate, with a bootstrap interval, over all requests and per kind of family (fact, form);\n"
           "--gap-items N: the first N requests only. Writes gap.json and gap.jsonl to --out.\n"
           DTYPE_HELP,
           g->temperature, g->judge_samples, g->judge_temperature);
}

static int cmd_eval(Options *o) {
    if (opt_flag(o, "help")) return help_eval(), print_eval_real_data_help(), 0;
    const char *ifeval = opt_str(o, "ifeval", NULL), *mt_bench = opt_str(o, "mt-bench", NULL);
    if (ifeval || mt_bench) return cmd_eval_real_data(o, ifeval, mt_bench);
    const char *model_path = opt_required(o, "model"), *data = opt_str(o, "data", NULL);
    const char *judge_data = opt_str(o, "judge-data", NULL), *out = opt_str(o, "out", NULL);
    const char *template_path = opt_str(o, "judge-template", NULL), *tok_path = opt_str(o, "tokenizer", NULL);
    int k = (int)opt_long(o, "judge-samples", 3, 1, 64);
    float jt = (float)opt_double(o, "judge-temperature", 0.7, 0, 10);
    int max_new = (int)opt_long(o, "max-new-tokens", 64, 1, 1 << 16);
    int judge_max_new = (int)opt_long(o, "judge-max-new-tokens", 160, 1, 1 << 16);
    int batch = (int)opt_long(o, "batch", 64, 1, 4096);
    uint64_t seed = (uint64_t)opt_long(o, "seed", 1, 0, 0x7fffffffffffffffL);
    InstructionEvalConfig ic = {.max_new = max_new, .batch = batch, .samples = (int)opt_long(o, "samples", 0, 0, 1024),
                                .temperature = (float)opt_double(o, "temperature", 0.7, 0, 10), .top_p = LOOP_TOP_P, .seed = seed};
    const char *compare = opt_str(o, "compare", NULL);
    GapConfig gc = GAP_DEFAULTS;
    gc.candidates = (int)opt_long(o, "gap", 0, 0, 64);
    gc.judge_samples = (int)opt_long(o, "gap-samples", gc.judge_samples, 1, 64);
    gc.temperature = (float)opt_double(o, "gap-temperature", gc.temperature, 0, 10);
    gc.judge_temperature = (float)opt_double(o, "gap-judge-temperature", gc.judge_temperature, 0, 10);
    gc.max_items = (int)opt_long(o, "gap-items", gc.max_items, 0, 1 << 24);
    gc.max_new = max_new, gc.judge_max_new = judge_max_new, gc.batch = batch, gc.seed = seed;
    LoadOptions dtype = opt_load_dtype(o);
    options_done(o);
    if (!data && !judge_data) fatal("eval: give --data and/or --judge-data");
    char *found_template = template_path ? NULL : template_beside(judge_data ? judge_data : data);
    if (found_template) template_path = found_template, printf("judge template: %s\n", found_template);
    if (gc.candidates == 1) fatal("eval: --gap needs at least 2 candidates per request");
    if (gc.candidates && !data) fatal("eval: --gap measures on --data's requests; give --data");
    Model m;
    load_model_as_or_die(&m, model_path, dtype);
    Tokenizer *tok = load_tokenizer_option(tok_path, model_path);
    if (out && make_dirs(out) < 0) fatal("%s", srl_error);
    if (data) {
        InstructionEval e;
        char *path = out ? path_join(out, "responses.jsonl") : NULL;
        if (eval_instructions(&m, tok, data, &ic, path, &e) < 0) fatal("%s", srl_error);
        print_instruction_eval(model_path, &e);
        // the accuracy's bootstrap interval, and the head-to-head against --compare's responses
        double *exact = xmalloc((size_t)(e.n ? e.n : 1) * sizeof(double)), lo, hi;
        for (int i = 0; i < e.n; i++) exact[i] = e.scores[i] == 5;
        bootstrap_mean_ci(exact, e.n, 2000, seed, 0.95, &lo, &hi);
        if (isfinite(e.accuracy)) printf("  accuracy 95%% bootstrap interval [%.1f%%, %.1f%%]\n", 100 * lo, 100 * hi);
        if (compare) {
            // the other model's graded responses (records without a score are not compared)
            JsonlReader r;
            if (jsonl_open(&r, compare) < 0) fatal("%s", srl_error);
            const JsonValue *rec;
            int rc, n_other = 0, other_cap = 0;
            char **other_ids = NULL;
            double *other_scores = NULL, *scores = xmalloc((size_t)(e.n ? e.n : 1) * sizeof(double));
            while ((rc = jsonl_next(&r, &rec)) > 0) {
                const char *id = json_get_string(rec, "id");
                double score;
                if (!id || json_get_number(rec, "score", &score) < 0) continue;
                if (n_other == other_cap) {
                    other_cap = grow_capacity(other_cap);
                    other_ids = xrealloc(other_ids, (size_t)other_cap * sizeof(char *));
                    other_scores = xrealloc(other_scores, (size_t)other_cap * sizeof(double));
                }
                other_ids[n_other] = xstrdup(id), other_scores[n_other++] = score;
            }
            if (rc < 0) fatal("%s", srl_error);
            jsonl_close(&r);
            for (int i = 0; i < e.n; i++) scores[i] = e.scores[i];
            HeadToHead h;
            head_to_head(other_ids, other_scores, n_other, e.ids, scores, e.n, seed, &h);
            printf("  against %s on %d items: win rate %.1f%% (wins %d, ties %d, losses %d); accuracy difference %+.1f points, "
                   "95%% paired bootstrap interval [%+.1f, %+.1f]\n",
                   compare, h.n, h.n ? 100.0 * (h.wins + 0.5 * h.ties) / h.n : 0.0, h.wins, h.ties, h.losses, 100 * h.diff,
                   100 * h.diff_lo, 100 * h.diff_hi);
            for (int i = 0; i < n_other; i++) free(other_ids[i]);
            free(other_ids), free(other_scores), free(scores);
        }
        free(exact);
        instruction_eval_free(&e);
        free(path);
        if (gc.candidates) {
            char *template_text = read_template_or_die(template_path);
            char *gap_records = out ? path_join(out, "gap.jsonl") : NULL, *gap_json_path = out ? path_join(out, "gap.json") : NULL;
            GapEval ge;
            if (eval_gap(&m, tok, template_text, data, &gc, gap_records, &ge) < 0) fatal("%s", srl_error);
            print_gap_eval(model_path, &ge);
            if (gap_json_path && write_gap_json(gap_json_path, &ge) < 0) fatal("%s", srl_error);
            free(gap_records), free(gap_json_path), free(template_text);
        }
    }
    if (judge_data) {
        char *template_text = read_template_or_die(template_path);
        JudgeEval je;
        char *path = out ? path_join(out, "judgments.jsonl") : NULL;
        if (eval_judge(&m, tok, template_text, judge_data, k, jt, seed, judge_max_new, batch, path, &je) < 0) fatal("%s", srl_error);
        print_judge_eval(model_path, &je);
        free(path);
        free(template_text);
    }
    tokenizer_free(tok);
    model_free(&m);
    free(found_template);
    return 0;
}

// ----------------------------------------------------------------------------
// Open Assistant message trees -> the IFT seed and the ranked EFT candidates

static int is_english(const JsonValue *msg) {
    const char *lang = json_get_string(msg, "lang");
    const JsonValue *deleted = json_get(msg, "deleted");
    return lang && strcmp(lang, "en") == 0 && !(deleted && deleted->type == JSON_TRUE);
}

static const char HELP_PREPARE_OASST[] =
    "usage: srl prepare-oasst --trees FILE --out DIR\n"
    "\n"
    "From Open Assistant message trees (JSON Lines, one tree per line) writes:\n"
    "  DIR/ift_seed.jsonl        the first turn of each English tree with its rank-0 reply\n"
    "  DIR/eft_candidates.jsonl  prompts with two or more ranked English replies, in rank order\n"
    "The paper keeps 3,200 IFT examples; use --max-ift N to cap.\n";

static int cmd_prepare_oasst(Options *o) {
    if (wants_help(o, HELP_PREPARE_OASST)) return 0;
    const char *trees = opt_required(o, "trees"), *out = opt_required(o, "out");
    int max_ift = (int)opt_long(o, "max-ift", 3200, 1, 1 << 30);
    options_done(o);
    if (make_dirs(out) < 0) fatal("%s", srl_error);
    JsonlReader r;
    if (jsonl_open(&r, trees) < 0) fatal("%s", srl_error);
    char *ift_path = path_join(out, "ift_seed.jsonl"), *eft_path = path_join(out, "eft_candidates.jsonl");
    AtomicFile ift, eft;
    if (atomic_open(&ift, ift_path) < 0 || atomic_open(&eft, eft_path) < 0) fatal("%s", srl_error);
    const JsonValue *rec;
    int rc, n_trees = 0, n_ift = 0, n_eft = 0, n_unranked = 0, n_empty = 0, n_bad_rank = 0;
    while ((rc = jsonl_next(&r, &rec)) > 0) {
        n_trees++;
        const JsonValue *prompt = json_get(rec, "prompt");
        const char *tree_id = json_get_string(rec, "message_tree_id");
        const char *text = json_get_string(prompt, "text"), *role = json_get_string(prompt, "role");
        if (!prompt || !tree_id || !text || !role) {
            rc = errorf("%s:%ld: a tree needs \"message_tree_id\" and a \"prompt\" message with \"text\" and \"role\"", trees, r.line);
            break;
        }
        if (strcmp(role, "prompter") != 0 || !is_english(prompt)) continue;
        if (!text[strspn(text, " \t\r\n")]) {   // an empty message: nothing to learn from
            n_empty++;
            continue;
        }
        // the English, ranked direct replies, sorted by rank
        const JsonValue *replies = json_get(prompt, "replies");
        const JsonValue *ranked[64];
        int n_ranked = 0;
        for (const JsonValue *c = replies && replies->type == JSON_ARRAY ? replies->child : NULL; c && n_ranked < 64; c = c->next) {
            const char *rt = json_get_string(c, "text"), *rr = json_get_string(c, "role");
            double rank;
            if (!rt || !rr || strcmp(rr, "assistant") != 0 || !is_english(c) || json_get_number(c, "rank", &rank) < 0) continue;
            // a rank is a place in the human ordering (0 best): a whole number, written as one
            if (!(rank >= 0 && rank <= 1e6 && rank == floor(rank))) {
                n_bad_rank++;
                continue;
            }
            if (!rt[strspn(rt, " \t\r\n")]) {
                n_empty++;
                continue;
            }
            int at = n_ranked++;
            while (at > 0) {  // insertion by rank
                double prev;
                json_get_number(ranked[at - 1], "rank", &prev);
                if (prev <= rank) break;
                ranked[at] = ranked[at - 1];
                at--;
            }
            ranked[at] = c;
        }
        n_unranked += n_ranked == 0;
        double best;
        if (n_ranked > 0 && json_get_number(ranked[0], "rank", &best) == 0 && best == 0 && n_ift < max_ift) {
            fprintf(ift.f, "{\"id\": ");
            json_write_cstring(ift.f, tree_id);
            fprintf(ift.f, ", \"messages\": [{\"role\": \"user\", \"content\": ");
            json_write_cstring(ift.f, text);
            fprintf(ift.f, "}, {\"role\": \"assistant\", \"content\": ");
            json_write_cstring(ift.f, json_get_string(ranked[0], "text"));
            fprintf(ift.f, "}]}\n");
            n_ift++;
        }
        if (n_ranked >= 2) {
            fprintf(eft.f, "{\"id\": ");
            json_write_cstring(eft.f, tree_id);
            fprintf(eft.f, ", \"instruction\": ");
            json_write_cstring(eft.f, text);
            fprintf(eft.f, ", \"responses\": [");
            for (int i = 0; i < n_ranked; i++) {
                if (i) fprintf(eft.f, ", ");
                json_write_cstring(eft.f, json_get_string(ranked[i], "text"));
            }
            fprintf(eft.f, "], \"ranks\": [");
            for (int i = 0; i < n_ranked; i++) {
                double rk;
                json_get_number(ranked[i], "rank", &rk);
                fprintf(eft.f, "%s%d", i ? ", " : "", (int)rk);
            }
            fprintf(eft.f, "]}\n");
            n_eft++;
        }
    }
    jsonl_close(&r);
    if (rc < 0) {   // a malformed line: neither file is written
        atomic_abort(&ift), atomic_abort(&eft);
        fatal("%s", srl_error);
    }
    if (atomic_commit(&ift) < 0 || atomic_commit(&eft) < 0) fatal("%s", srl_error);
    printf("%d trees: %d IFT seed examples (%s), %d prompts with ranked replies (%s); skipped: %d English prompts without a "
           "ranked English reply, %d empty messages\n",
           n_trees, n_ift, ift_path, n_eft, eft_path, n_unranked, n_empty);
    if (n_bad_rank) printf("skipped too: %d replies whose rank is not a whole number from 0 to 1e6\n", n_bad_rank);
    free(ift_path), free(eft_path);
    return 0;
}

// ----------------------------------------------------------------------------
// the stage commands

static void help_gen_prompts(void) {
    const GenPromptsConfig *d = &GEN_PROMPTS_DEFAULTS;
    printf("usage: srl gen-prompts --model DIR --seed-data ift_seed.jsonl --out prompts.jsonl [options]\n"
           "\n"
           "Self-instruction creation: the model continues a numbered list of %d example requests (%d\n"
           "from the seed data, %d from those made so far) at \"%d.\"; a new request is kept when it ends\n"
           "a sentence, has --min-words..--max-words words, no blacklisted word, and ROUGE-L at most\n"
           "--rouge-max against every request known so far.\n"
           "  --n N             prompts to make (default %d)\n"
           "  --temperature T   (%g)   --top-p P (%g)   --max-new-tokens N (%d)\n"
           "  --min-words N (%d) --max-words N (%d) --rouge-max X (%g) --batch N (%d) --seed S (%llu)\n"
           "  --id-prefix P     the records' ids are P-00001, P-00002, ... (default p)\n" DTYPE_HELP,
           d->shots_seed + d->shots_pool, d->shots_seed, d->shots_pool, d->shots_seed + d->shots_pool + 1, d->n_prompts,
           d->temperature, d->top_p, d->max_new, d->min_words, d->max_words, d->rouge_max, d->batch,
           (unsigned long long)d->seed);
}

static int cmd_gen_prompts(Options *o) {
    if (opt_flag(o, "help")) {
        help_gen_prompts();
        return 0;
    }
    const char *model_path = opt_required(o, "model"), *seed_data = opt_required(o, "seed-data"), *out = opt_required(o, "out");
    GenPromptsConfig c = GEN_PROMPTS_DEFAULTS;
    c.n_prompts = (int)opt_long(o, "n", c.n_prompts, 1, 1 << 24);
    c.temperature = (float)opt_double(o, "temperature", c.temperature, 0, 10);
    c.top_p = (float)opt_double(o, "top-p", c.top_p, 0, 1);
    c.max_new = (int)opt_long(o, "max-new-tokens", c.max_new, 1, 4096);
    c.batch = (int)opt_long(o, "batch", c.batch, 1, 4096);
    c.min_words = (int)opt_long(o, "min-words", c.min_words, 1, 1000);
    c.max_words = (int)opt_long(o, "max-words", c.max_words, 1, PROMPT_MAX_WORDS);
    c.rouge_max = opt_double(o, "rouge-max", c.rouge_max, 0, 1);
    c.seed = (uint64_t)opt_long(o, "seed", (long)c.seed, 0, 0x7fffffffffffffffL);
    const char *prefix = opt_str(o, "id-prefix", "p");
    LoadOptions dtype = opt_load_dtype(o);
    options_done(o);
    check_out_folder("gen-prompts", out);
    Model m;
    load_model_as_or_die(&m, model_path, dtype);
    Tokenizer *tok = load_tokenizer_for(NULL, model_path);
    PromptStats st;
    if (stage_gen_prompts(&m, tok, seed_data, out, prefix, &c, &st) < 0) fatal("%s", srl_error);
    printf("gen-prompts: %d generated, %d kept; dropped: %d unfinished, %d too short, %d too long, %d blacklisted, %d "
           "duplicates, %d near-duplicates\n",
           st.generated, st.kept, st.unfinished, st.too_short, st.too_long, st.blacklisted, st.duplicate, st.similar);
    tokenizer_free(tok);
    model_free(&m);
    return 0;
}

static const char HELP_GEN_RESPONSES[] =
    "usage: srl gen-responses --model DIR --prompts prompts.jsonl --out candidates.jsonl [options]\n"
    "\n"
    "N candidate responses per prompt, sampled through the chat template and decoded in\n"
    "batches through the KV cache. Records: {\"id\", \"candidate\", \"prompt\", \"response\", \"tokens\"}.\n"
    "  --n N (4)  --temperature T (0.7)  --top-p P (0.9)  --max-new-tokens N (64)  --batch N (64)  --seed S\n"
    DTYPE_HELP;

static int cmd_gen_responses(Options *o) {
    if (wants_help(o, HELP_GEN_RESPONSES)) return 0;
    const char *model_path = opt_required(o, "model"), *prompts = opt_required(o, "prompts"), *out = opt_required(o, "out");
    int n = (int)opt_long(o, "n", 4, 1, 1024);
    float t = (float)opt_double(o, "temperature", 0.7, 0, 10), top_p = (float)opt_double(o, "top-p", LOOP_TOP_P, 0, 1);
    int max_new = (int)opt_long(o, "max-new-tokens", 64, 1, 1 << 16), batch = (int)opt_long(o, "batch", 64, 1, 4096);
    uint64_t seed = (uint64_t)opt_long(o, "seed", 1, 0, 0x7fffffffffffffffL);
    LoadOptions dtype = opt_load_dtype(o);
    options_done(o);
    check_out_folder("gen-responses", out);
    Model m;
    load_model_as_or_die(&m, model_path, dtype);
    Tokenizer *tok = load_tokenizer_for(NULL, model_path);
    if (stage_gen_responses(&m, tok, prompts, out, n, t, top_p, max_new, batch, seed) < 0) fatal("%s", srl_error);
    tokenizer_free(tok);
    model_free(&m);
    return 0;
}

static const char HELP_JUDGE[] =
    "usage: srl judge --model DIR --candidates candidates.jsonl --out judgments.jsonl [options]\n"
    "\n"
    "LLM-as-a-Judge: the model reads each (prompt, response) inside the judge template and\n"
    "writes a justification ending in \"Score: <points>\", --samples times; scores are parsed\n"
    "(unparseable or out-of-range outputs are dropped and counted, never made a number) and\n"
    "averaged. Records keep every sample and are keyed by prompt id and candidate index.\n"
    "  --template FILE     the judge prompt, with {instruction} and {response} (default: srl's)\n"
    "  --samples K (3)  --temperature T (0.7)  --max-new-tokens N (160)  --batch N (64)  --seed S\n"
    DTYPE_HELP;

static int cmd_judge(Options *o) {
    if (wants_help(o, HELP_JUDGE)) return 0;
    const char *model_path = opt_required(o, "model"), *cands = opt_required(o, "candidates"), *out = opt_required(o, "out");
    char *template_text = read_template_or_die(opt_str(o, "template", NULL));
    int k = (int)opt_long(o, "samples", 3, 1, 64);
    float t = (float)opt_double(o, "temperature", 0.7, 0, 10);
    int max_new = (int)opt_long(o, "max-new-tokens", 160, 1, 1 << 16), batch = (int)opt_long(o, "batch", 64, 1, 4096);
    uint64_t seed = (uint64_t)opt_long(o, "seed", 1, 0, 0x7fffffffffffffffL);
    LoadOptions dtype = opt_load_dtype(o);
    options_done(o);
    check_out_folder("judge", out);
    Model m;
    load_model_as_or_die(&m, model_path, dtype);
    Tokenizer *tok = load_tokenizer_for(NULL, model_path);
    if (stage_judge(&m, tok, template_text, cands, out, k, t, max_new, batch, seed) < 0) fatal("%s", srl_error);
    free(template_text);
    tokenizer_free(tok);
    model_free(&m);
    return 0;
}

static const char HELP_PAIRS[] =
    "usage: srl pairs --judgments judgments.jsonl --out pairs.jsonl [--length-rho R] [--min-chosen S] [--grader-pairs]\n"
    "\n"
    "Preference pairs, per prompt: the candidate with the highest mean score is chosen, the\n"
    "lowest rejected; prompts whose scores tie or with fewer than two scored candidates are\n"
    "dropped and counted, and empty responses take no part (counted too). --length-rho R\n"
    "(Meta-Rewarding's length control): the chosen is the shortest candidate scoring at least\n"
    "(1 - R) max + R min. Output in the TRL preference format with the scores; counts go to\n"
    "pairs.stats.json beside it. --min-chosen S drops (and counts) a pair whose chosen mean score\n"
    "is below S (S 5: only answers every judge sample scored 5 are chosen).\n"
    "--grader-pairs scores candidates with the task world's grader instead of the judge: a\n"
    "control that shows what DPO does with a perfect judge (never the method itself).\n";

static char *stats_path_for(const char *pairs_path) {
    Buf b = {0};
    size_t n = strlen(pairs_path);
    if (n > 6 && strcmp(pairs_path + n - 6, ".jsonl") == 0) n -= 6;
    buf_append(&b, pairs_path, n);
    buf_append_str(&b, ".stats.json");
    return b.data;
}

static int cmd_pairs(Options *o) {
    if (wants_help(o, HELP_PAIRS)) return 0;
    const char *judgments = opt_required(o, "judgments"), *out = opt_required(o, "out");
    double rho = opt_double(o, "length-rho", -1, -1, 1);
    double min_chosen = opt_double(o, "min-chosen", 0, 0, 5);
    int grader = opt_flag(o, "grader-pairs");
    options_done(o);
    check_out_folder("pairs", out);
    PairStats st;
    if (stage_pairs(judgments, out, rho, min_chosen, grader, &st) < 0) fatal("%s", srl_error);
    char *sp = stats_path_for(out);
    if (write_pair_stats(sp, &st) < 0) fatal("%s", srl_error);
    printf("pairs: %d prompts, %d pairs kept, %d dropped as ties, %d with fewer than 2 scored candidates, %d with the "
           "chosen below --min-chosen; %d of %d judge samples unparsed; %d empty responses left out\n",
           st.prompts, st.kept, st.tie, st.too_few, st.low_chosen, st.unparsed_samples, st.samples, st.empty_candidates);
    free(sp);
    return 0;
}

static void help_dpo(void) {
    const DPOTrainConfig *d = &DPO_DEFAULTS;
    printf("usage: srl dpo --model DIR --pairs pairs.jsonl --out DIR [options]\n"
           "\n"
           "Direct Preference Optimization. The reference is --model itself (the model that made the\n"
           "pairs: with an adapter folder, its base plus its adapter), frozen: its summed log-probs of\n"
           "every chosen and rejected response are computed once and stored in DIR/reference_logprobs.jsonl. Loss: -log sigmoid(beta * margin), plus\n"
           "--nll-alpha times the length-normalized NLL of the chosen response (iterative RPO; 0 is\n"
           "plain DPO). Logs loss, reward margin and accuracy, and log-probs per step to\n"
           "DIR/train_log.jsonl; writes DIR as a model folder; resumable.\n"
           "  --beta B (%g)  --nll-alpha A (%g)  --epochs N (%d)  --batch N (%d)  --micro-batch N\n"
           "  --lr X (%g)  --lr-min X (%g)  --warmup F (%g)  --weight-decay X (%g)  --grad-clip X (%g)\n"
           "  --save-every N  --seed S  --force\n"
           "  --replay FILE[,FILE]  chat records {\"messages\"} trained on beside the pairs with the SFT loss\n"
           "                     (say the EFT data, so that judging is kept while DPO moves the answers)\n"
           "  --replay-weight W (1)  --replay-batch N (= --batch)\n",
           d->beta, d->nll_alpha, d->epochs, d->batch_size, d->lr, d->lr_min, d->warmup, d->weight_decay, d->grad_clip);
}

static DPOTrainConfig read_dpo_flags(Options *o, DPOTrainConfig d) {
    d.beta = (float)opt_double(o, "beta", d.beta, 0, 100);
    d.nll_alpha = (float)opt_double(o, "nll-alpha", d.nll_alpha, 0, 100);
    d.epochs = (int)opt_long(o, "dpo-epochs", d.epochs, 1, 1000);
    d.batch_size = (int)opt_long(o, "dpo-batch", d.batch_size, 1, 1 << 20);
    d.lr = (float)opt_double(o, "dpo-lr", d.lr, 0, 10);
    d.lr_min = (float)opt_double(o, "dpo-lr-min", d.lr_min, 0, 10);
    return d;
}

static int cmd_dpo(Options *o) {
    if (opt_flag(o, "help")) {
        help_dpo();
        print_lora_help();
        return 0;
    }
    const char *model_path = opt_required(o, "model"), *pairs = opt_required(o, "pairs"), *out = opt_required(o, "out");
    DPOTrainConfig d = DPO_DEFAULTS;
    d.beta = (float)opt_double(o, "beta", d.beta, 0, 100);
    d.nll_alpha = (float)opt_double(o, "nll-alpha", d.nll_alpha, 0, 100);
    d.epochs = (int)opt_long(o, "epochs", d.epochs, 1, 1000);
    d.batch_size = (int)opt_long(o, "batch", d.batch_size, 1, 1 << 20);
    d.micro_batch = (int)opt_long(o, "micro-batch", d.micro_batch, 0, 1 << 20);
    d.lr = (float)opt_double(o, "lr", d.lr, 0, 1e30);
    d.lr_min = (float)opt_double(o, "lr-min", d.lr_min, 0, 10);
    d.warmup = (float)opt_double(o, "warmup", d.warmup, 0, 1);
    d.weight_decay = (float)opt_double(o, "weight-decay", d.weight_decay, 0, 10);
    d.grad_clip = (float)opt_double(o, "grad-clip", d.grad_clip, 0, 1e9);
    d.save_every = (int)opt_long(o, "save-every", d.save_every, 0, 1 << 30);
    d.seed = (uint64_t)opt_long(o, "seed", (long)d.seed, 0, 0x7fffffffffffffffL);
    const char *replay = opt_str(o, "replay", NULL);
    d.replay_weight = (float)opt_double(o, "replay-weight", 1, 0, 1000);
    d.replay_batch = (int)opt_long(o, "replay-batch", 0, 0, 1 << 20);
    LoRAFlags lora = read_lora_flags(o, LORA_DEFAULTS);
    int force = opt_flag(o, "force");
    options_done(o);
    if (stage_skip(out, force, "dpo")) return 0;
    if (stage_dpo(model_path, pairs, replay, out, &d, 16, &lora) < 0) fatal("%s", srl_error);
    return 0;
}

static void help_eft_prep(void) {
    const EftPrepConfig *d = &EFT_PREP_DEFAULTS;
    printf("usage: srl eft-prep --model SFT_DIR --out DIR (--world DATA_DIR | --candidates eft_candidates.jsonl)\n"
           "\n"
           "Builds the EFT (evaluation fine-tuning) set that teaches the model to judge.\n"
           "--candidates (the paper's construction, e.g. from srl prepare-oasst): the SFT baseline judges\n"
           "every human-ranked reply (--samples times); a prompt is kept when the order of its judge\n"
           "scores agrees with the human ranking; the most common score is downsampled; prompts are\n"
           "split into DIR/eft_train.jsonl and DIR/eft_eval.jsonl.\n"
           "--world (the task world): the SFT baseline's own answers to the EFT seed's instructions are\n"
           "graded by the world's grader, which also writes their judgments (standing in for human\n"
           "raters); the most common score is downsampled; DIR/eft_train.jsonl = the world's synthetic\n"
           "EFT seed + these graded own answers.\n"
           "  --template FILE  --samples K (%d)  --prompts N (world: instructions answered, %d)\n"
           "  --max-new-tokens N (candidates: each judgment's budget, %d; a reply whose judge prompt leaves no\n"
           "                   room for it in the model's context is skipped and counted; world: each answer's, %d)\n"
           "  --answers N (world: answers per instruction, %d)  --eval-fraction F (%g)  --batch N  --seed S\n",
           d->samples, d->n_prompts, d->judge_max_new, d->answer_max_new, d->answers, d->eval_fraction);
}

static int cmd_eft_prep(Options *o) {
    if (opt_flag(o, "help")) {
        help_eft_prep();
        return 0;
    }
    const char *model_path = opt_required(o, "model"), *out = opt_required(o, "out");
    const char *world = opt_str(o, "world", NULL), *cands = opt_str(o, "candidates", NULL);
    char *template_text = read_template_or_die(opt_str(o, "template", NULL));
    EftPrepConfig c = EFT_PREP_DEFAULTS;
    c.samples = (int)opt_long(o, "samples", c.samples, 1, 64);
    c.n_prompts = (int)opt_long(o, "prompts", c.n_prompts, 1, 1 << 24);
    c.answers = (int)opt_long(o, "answers", c.answers, 1, 64);
    c.batch = (int)opt_long(o, "batch", c.batch, 1, 4096);
    c.eval_fraction = opt_double(o, "eval-fraction", c.eval_fraction, 0, 0.9);
    c.seed = (uint64_t)opt_long(o, "seed", (long)c.seed, 0, 0x7fffffffffffffffL);
    // one option, two budgets: a judgment's (--candidates) or an answer's (--world)
    int *max_new = cands ? &c.judge_max_new : &c.answer_max_new;
    *max_new = (int)opt_long(o, "max-new-tokens", *max_new, 1, 1 << 16);
    options_done(o);
    if (!!world == !!cands) fatal("eft-prep: give exactly one of --world and --candidates");
    Model m;
    load_model_or_die(&m, model_path);
    Tokenizer *tok = load_tokenizer_for(NULL, model_path);
    int err = world ? stage_eft_prep_world(&m, tok, world, template_text, out, &c)
                    : stage_eft_prep_ranked(&m, tok, cands, template_text, out, &c);
    if (err < 0) fatal("%s", srl_error);
    free(template_text);
    tokenizer_free(tok);
    model_free(&m);
    return 0;
}

// ----------------------------------------------------------------------------
// srl run: the whole method

static void help_run(void) {
    const RunConfig *d = &RUN_DEFAULTS;
    printf("usage: srl run [--model M0] [--data DIR] [--out DIR] [options]\n"
           "\n"
           "The whole self-rewarding method from a base model M0, every stage resumable:\n"
           "  1. SFT baseline: M0 fine-tuned on the IFT seed                     -> OUT/sft\n"
           "  2. EFT data: the SFT baseline's answers, judged (eft-prep)        -> OUT/eft\n"
           "  3. M1: IFT + EFT, trained from the SFT baseline (--m1 sequential,\n"
           "     the IFT seed replayed) or from M0 (--m1 joint, as the paper)   -> OUT/m1\n"
           "  4. per iteration t: new prompts, N candidates, K judgments each,\n"
           "     pairs, DPO from Mt                                             -> OUT/iter<t>, OUT/m<t+1>\n"
           "  5. every model evaluated on the held-out sets                     -> OUT/eval\n"
           "  6. the report                                                     -> OUT/report.md, .json, .svg\n"
           "Defaults run the task world (%s, out %s) from %s.\n"
           "  --eval-data DIR (DATA)  the held-out sets evaluated on: DIR/test.jsonl and judge_test.jsonl\n"
           "                   (a fresh test set from srl world --test-seed; finished stages are kept, so\n"
           "                   a copy of a run without its eval/ folder is evaluated anew)\n"
           "  --iterations N (%d)   --prompts N per iteration (%d)   --candidates N (%d)\n"
           "  --rouge-max X (%g)  a new prompt is dropped as a near-duplicate above this ROUGE-L\n"
           "  --judge-samples K (%d)   --judge-temperature T (%g; the evaluation's judging stays at 0.7)\n"
           "  --candidate-temperature T (%g)\n"
           "  --length-rho R (off)   --min-chosen S (off; with S a pair's chosen needs a mean score of at least S)\n"
           "  --prompt-model DIR (default: M0, fixed)\n"
           "  --judge-template FILE (default: DATA/judge_template.txt when present)\n"
           "  --m1 joint|sequential (%s)   --sft-epochs N (%d)  --sft-lr X (%g)  --m1-epochs N (%d)  --m1-lr X (%g)\n"
           "  --eft-prompts N (%d)  --eft-answers N (%d)  --eval-judge-samples K (%d)\n"
           "  --eval-samples N (%d)  held-out answers per request at the candidates' temperature, beside\n"
           "                   the greedy one (0: greedy only)\n"
           "  --beta B (%g)  --nll-alpha A (%g)  --dpo-lr X (%g)  --dpo-lr-min X (%g)  --dpo-epochs N (%d)  --dpo-batch N (%d)\n"
           "  --dpo-replay W (0: off)  each DPO step also trains on a batch of OUT/eft/eft_train.jsonl\n"
           "                   with the SFT loss at weight W, so that the judging is kept\n"
           "  --grader-pairs   CONTROL: pairs chosen by the world's grader, not the judge\n"
           "  --gap-items N (%d)  held-out requests for M1's generation-verification gap, measured\n"
           "                   after M1 and before the loop, with the loop's N, K and temperatures\n"
           "  --batch N (%d)  --seed S (%llu)  --save-every N (training checkpoints, %d steps)\n"
           "  --max-new-tokens N (%d)  --judge-max-new-tokens N (%d)\n"
           "  --stop-after STAGE   stop once STAGE is done: sft, eft, m1, gap, prompts<t>, candidates<t>,\n"
           "                       judgments<t>, pairs<t>, m<t+1> (a rerun goes on from there)\n",
           d->data, d->out, d->base, d->iterations, d->n_prompts, d->n_candidates, d->rouge_max, d->judge_samples,
           d->judge_temperature, d->candidate_temperature, d->m1_mode, d->sft_epochs, d->sft_lr, d->m1_epochs, d->m1_lr,
           d->eft_prompts, d->eft_answers, d->eval_judge_samples, d->eval_samples, d->dpo.beta, d->dpo.nll_alpha, d->dpo.lr, d->dpo.lr_min,
           d->dpo.epochs, d->dpo.batch_size, d->gap_items, d->batch, (unsigned long long)d->seed, d->save_every, d->max_new,
           d->judge_max_new);
}

static int cmd_run(Options *o) {
    if (opt_flag(o, "help")) {
        help_run();
        printf("LoRA, for every training stage (SFT, M1, DPO); each model folder then holds an adapter:\n");
        print_lora_help();
        return 0;
    }
    RunConfig rc = RUN_DEFAULTS;
    rc.base = opt_str(o, "model", rc.base);
    rc.data = opt_str(o, "data", rc.data);
    rc.eval_data = opt_str(o, "eval-data", rc.data);
    rc.out = opt_str(o, "out", rc.out);
    rc.prompt_model = opt_str(o, "prompt-model", NULL);
    rc.template_path = opt_str(o, "judge-template", NULL);
    rc.m1_mode = opt_str(o, "m1", rc.m1_mode);
    rc.stop_after = opt_str(o, "stop-after", NULL);
    rc.iterations = (int)opt_long(o, "iterations", rc.iterations, 0, 100);
    rc.n_prompts = (int)opt_long(o, "prompts", rc.n_prompts, 1, 1 << 24);
    rc.rouge_max = opt_double(o, "rouge-max", rc.rouge_max, 0, 1);
    rc.n_candidates = (int)opt_long(o, "candidates", rc.n_candidates, 2, 64);
    rc.judge_samples = (int)opt_long(o, "judge-samples", rc.judge_samples, 1, 64);
    rc.judge_temperature = (float)opt_double(o, "judge-temperature", rc.judge_temperature, 0, 10);
    rc.candidate_temperature = (float)opt_double(o, "candidate-temperature", rc.candidate_temperature, 0, 10);
    rc.eval_judge_samples = (int)opt_long(o, "eval-judge-samples", rc.eval_judge_samples, 1, 64);
    rc.eval_samples = (int)opt_long(o, "eval-samples", rc.eval_samples, 0, 1024);
    rc.eft_prompts = (int)opt_long(o, "eft-prompts", rc.eft_prompts, 0, 1 << 24);
    rc.eft_answers = (int)opt_long(o, "eft-answers", rc.eft_answers, 1, 64);
    rc.batch = (int)opt_long(o, "batch", rc.batch, 1, 4096);
    rc.max_new = (int)opt_long(o, "max-new-tokens", rc.max_new, 1, 1 << 16);
    rc.judge_max_new = (int)opt_long(o, "judge-max-new-tokens", rc.judge_max_new, 1, 1 << 16);
    rc.length_rho = opt_double(o, "length-rho", rc.length_rho, -1, 1);
    rc.min_chosen = opt_double(o, "min-chosen", rc.min_chosen, 0, 5);
    rc.grader_pairs = opt_flag(o, "grader-pairs");
    rc.gap_items = (int)opt_long(o, "gap-items", rc.gap_items, 0, 1 << 24);
    rc.seed = (uint64_t)opt_long(o, "seed", (long)rc.seed, 0, 0x7fffffffffffffffL);
    rc.sft_epochs = (int)opt_long(o, "sft-epochs", rc.sft_epochs, 1, 1000);
    rc.sft_lr = opt_double(o, "sft-lr", rc.sft_lr, 0, 10);
    rc.m1_epochs = (int)opt_long(o, "m1-epochs", rc.m1_epochs, 1, 1000);
    rc.m1_lr = opt_double(o, "m1-lr", rc.m1_lr, 0, 10);
    rc.save_every = (int)opt_long(o, "save-every", rc.save_every, 0, 1 << 30);
    rc.dpo = read_dpo_flags(o, rc.dpo);
    rc.dpo.replay_weight = (float)opt_double(o, "dpo-replay", rc.dpo.replay_weight, 0, 1000);
    rc.dpo.save_every = rc.save_every;
    rc.ift = SFT_DEFAULTS;
    rc.ift.epochs = rc.sft_epochs, rc.ift.lr = rc.sft_lr, rc.ift.lr_min = rc.sft_lr / 10, rc.ift.save_every = rc.save_every;
    rc.m1 = rc.ift;
    rc.m1.epochs = rc.m1_epochs, rc.m1.lr = rc.m1_lr, rc.m1.lr_min = rc.m1_lr / 10;
    rc.lora = read_lora_flags(o, LORA_DEFAULTS);
    options_done(o);
    if (strcmp(rc.m1_mode, "joint") != 0 && strcmp(rc.m1_mode, "sequential") != 0) fatal("run: --m1 is joint or sequential");
    if (run_pipeline(&rc) < 0) fatal("%s", srl_error);
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
    {"recall", cmd_recall, "does a model know the task world's facts? (creature -> trait, greedy)"},
    {"convert", cmd_convert, "llama2.c .bin or Hugging Face folder -> Hugging Face folder"},
    {"merge", cmd_merge, "a LoRA adapter (PEFT's format) folded into its base -> Hugging Face folder"},
    {"tokenize", cmd_tokenize, "text on stdin -> ids"},
    {"detokenize", cmd_detokenize, "ids on stdin -> text"},
    {"train-tokenizer", cmd_train_tokenizer, "learn a byte-level BPE tokenizer from text"},
    {"world", cmd_world, "write the task world: corpus, seed sets, held-out sets"},
    {"grade", cmd_grade, "score responses to task-world instructions with the world's grader"},
    {"pretrain", cmd_pretrain, "train a base model from scratch on plain text"},
    {"sft", cmd_sft, "supervised fine-tuning on chat data (IFT, EFT)"},
    {"perplexity", cmd_perplexity, "a model's loss on plain text (e.g. pretraining's held-out part)"},
    {"prepare-oasst", cmd_prepare_oasst, "Open Assistant trees -> IFT seed and ranked EFT candidates"},
    {"eft-prep", cmd_eft_prep, "build the EFT (judge training) set"},
    {"gen-prompts", cmd_gen_prompts, "self-instruction creation: new prompts from 8-shot examples"},
    {"gen-responses", cmd_gen_responses, "N candidate responses per prompt"},
    {"judge", cmd_judge, "LLM-as-a-Judge: score every candidate, K samples each"},
    {"pairs", cmd_pairs, "preference pairs from the judged candidates"},
    {"dpo", cmd_dpo, "DPO training on the pairs (reference = the model that made them)"},
    {"eval", cmd_eval, "instruction following and judging on held-out sets"},
    {"run", cmd_run, "the whole method: SFT, EFT, M1, self-rewarding iterations, evaluation, report"},
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
