// model.c: a Llama in plain C. See model.h for the architecture and the shapes.
//
// Reading order: config, parameters, the layers (each forward next to its backward), the
// training forward and backward, AdamW, checkpoints, and generation with a KV cache.
//
// Determinism: every output element is summed by one thread in a fixed order, so results are
// bit-identical for any number of threads; and a row's arithmetic never depends on the other
// rows of its batch, so a sequence gives the same numbers alone, batched, prefilled or decoded
// token by token.
#define _GNU_SOURCE
#include "model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "util.h"

static int max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static int thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

// ----------------------------------------------------------------------------
// number formats: bf16 is the top half of an fp32; f16 is IEEE half precision

float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// Round to nearest, ties to even (as torch does); NaN stays NaN.
uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    int exponent = (h >> 10) & 0x1F;
    uint32_t mantissa = h & 0x3FFu;
    uint32_t u;
    if (exponent == 0) {
        if (mantissa == 0) u = sign;
        else {  // subnormal: normalize it
            exponent = 127 - 15 + 1;
            while (!(mantissa & 0x400u)) { mantissa <<= 1; exponent--; }
            mantissa &= 0x3FFu;
            u = sign | ((uint32_t)exponent << 23) | (mantissa << 13);
        }
    } else if (exponent == 31) u = sign | 0x7F800000u | (mantissa << 13);
    else u = sign | ((uint32_t)(exponent - 15 + 127) << 23) | (mantissa << 13);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// ----------------------------------------------------------------------------
// config

static int json_field_int(const JsonValue *obj, const char *path, const char *key, int *out, int required, int lo, long long hi) {
    const JsonValue *v = json_get(obj, key);
    if (!v || v->type == JSON_NULL) {
        if (required) return errorf("%s: missing field \"%s\"", path, key);
        return 0;
    }
    if (v->type != JSON_NUMBER || v->number != floor(v->number))
        return errorf("%s: field \"%s\" must be an integer", path, key);
    if (v->number < lo || v->number > (double)hi)
        return errorf("%s: field \"%s\" is %.0f, outside %d..%lld", path, key, v->number, lo, hi);
    *out = (int)v->number;
    return 1;
}

static int json_field_float(const JsonValue *obj, const char *path, const char *key, float *out, int required) {
    const JsonValue *v = json_get(obj, key);
    if (!v || v->type == JSON_NULL) {
        if (required) return errorf("%s: missing field \"%s\"", path, key);
        return 0;
    }
    if (v->type != JSON_NUMBER || !isfinite(v->number)) return errorf("%s: field \"%s\" must be a number", path, key);
    *out = (float)v->number;
    return 1;
}

// rope_scaling (or the newer rope_parameters): only Llama 3's scaling is supported.
static int config_read_rope(Config *c, const JsonValue *rs, const char *path, const char *field) {
    if (!rs || rs->type == JSON_NULL) return 0;
    if (rs->type != JSON_OBJECT) return errorf("%s: field \"%s\" must be an object", path, field);
    const char *type = json_get_string(rs, "rope_type");
    if (!type) type = json_get_string(rs, "type");
    if (json_field_float(rs, path, "rope_theta", &c->rope_theta, 0) < 0) return -1;
    if (!type || strcmp(type, "default") == 0) return 0;
    if (strcmp(type, "llama3") != 0)
        return errorf("%s: %s.rope_type \"%s\" is not supported (srl supports \"default\" and \"llama3\")", path, field, type);
    c->rope_llama3 = 1;
    if (json_field_float(rs, path, "factor", &c->rope_factor, 1) < 0) return -1;
    if (json_field_float(rs, path, "low_freq_factor", &c->rope_low_freq_factor, 1) < 0) return -1;
    if (json_field_float(rs, path, "high_freq_factor", &c->rope_high_freq_factor, 1) < 0) return -1;
    if (json_field_int(rs, path, "original_max_position_embeddings", &c->rope_original_max_pos, 1, 1, 1 << 24) < 0) return -1;
    if (!(c->rope_factor > 0) || !(c->rope_low_freq_factor > 0) || !(c->rope_high_freq_factor > c->rope_low_freq_factor))
        return errorf("%s: %s: need factor > 0 and high_freq_factor > low_freq_factor > 0", path, field);
    return 0;
}

static int config_from_json(Config *c, const JsonValue *root, const char *path) {
    memset(c, 0, sizeof *c);
    if (!root || root->type != JSON_OBJECT) return errorf("%s: not a JSON object", path);
    const char *model_type = json_get_string(root, "model_type");
    if (model_type && strcmp(model_type, "llama") != 0)
        return errorf("%s: model_type \"%s\" is not supported (srl runs \"llama\")", path, model_type);
    const JsonValue *arch = json_get(root, "architectures");
    if (arch && arch->type == JSON_ARRAY) {
        int ok = 0;
        for (const JsonValue *a = arch->child; a; a = a->next)
            if (a->type == JSON_STRING && strcmp(a->string, "LlamaForCausalLM") == 0) ok = 1;
        if (!ok) return errorf("%s: architectures does not name LlamaForCausalLM", path);
    }
    const char *act = json_get_string(root, "hidden_act");
    if (act && strcmp(act, "silu") != 0) return errorf("%s: hidden_act \"%s\" is not supported (only silu)", path, act);
    const JsonValue *b = json_get(root, "attention_bias");
    if (b && b->type == JSON_TRUE) return errorf("%s: attention_bias true is not supported", path);
    b = json_get(root, "mlp_bias");
    if (b && b->type == JSON_TRUE) return errorf("%s: mlp_bias true is not supported", path);

    if (json_field_int(root, path, "vocab_size", &c->vocab_size, 1, 1, 1 << 22) < 0) return -1;
    if (json_field_int(root, path, "hidden_size", &c->dim, 1, 1, 1 << 16) < 0) return -1;
    if (json_field_int(root, path, "intermediate_size", &c->hidden_dim, 1, 1, 1 << 20) < 0) return -1;
    if (json_field_int(root, path, "num_hidden_layers", &c->n_layers, 1, 1, 1024) < 0) return -1;
    if (json_field_int(root, path, "num_attention_heads", &c->n_heads, 1, 1, 1024) < 0) return -1;
    c->n_kv_heads = c->n_heads;
    if (json_field_int(root, path, "num_key_value_heads", &c->n_kv_heads, 0, 1, 1024) < 0) return -1;
    const JsonValue *head_dim = json_get(root, "head_dim");
    if (c->dim % c->n_heads != 0 && (!head_dim || head_dim->type == JSON_NULL))
        return errorf("%s: num_attention_heads (%d) does not divide hidden_size (%d)", path, c->n_heads, c->dim);
    c->head_dim = c->dim / c->n_heads;
    if (json_field_int(root, path, "head_dim", &c->head_dim, 0, 1, 1024) < 0) return -1;
    c->max_seq_len = 2048;
    if (json_field_int(root, path, "max_position_embeddings", &c->max_seq_len, 0, 1, 1 << 24) < 0) return -1;
    c->norm_eps = 1e-6f;
    if (json_field_float(root, path, "rms_norm_eps", &c->norm_eps, 0) < 0) return -1;
    c->rope_theta = 10000.0f;
    if (json_field_float(root, path, "rope_theta", &c->rope_theta, 0) < 0) return -1;
    if (config_read_rope(c, json_get(root, "rope_scaling"), path, "rope_scaling") < 0) return -1;
    if (config_read_rope(c, json_get(root, "rope_parameters"), path, "rope_parameters") < 0) return -1;
    const JsonValue *tie = json_get(root, "tie_word_embeddings");
    c->tied_embeddings = tie && tie->type == JSON_TRUE;
    c->bos_token_id = -1;
    if (json_field_int(root, path, "bos_token_id", &c->bos_token_id, 0, 0, 1 << 22) < 0) return -1;
    const JsonValue *eos = json_get(root, "eos_token_id");
    if (eos && eos->type == JSON_NUMBER) {
        if (json_field_int(root, path, "eos_token_id", &c->eos_token_ids[0], 0, 0, 1 << 22) < 0) return -1;
        c->n_eos = 1;
    } else if (eos && eos->type == JSON_ARRAY) {
        for (const JsonValue *e = eos->child; e; e = e->next) {
            if (e->type != JSON_NUMBER || e->number < 0 || e->number > (1 << 22) || e->number != floor(e->number))
                return errorf("%s: eos_token_id must hold non-negative integers", path);
            if (c->n_eos < MAX_EOS_IDS) c->eos_token_ids[c->n_eos++] = (int)e->number;
        }
    } else if (eos && eos->type != JSON_NULL) return errorf("%s: eos_token_id must be a number or a list", path);
    c->rope_interleaved = 0;  // Hugging Face files store q and k for the rotate-half layout
    if (config_validate(c) < 0) {
        char msg[sizeof srl_error];
        snprintf(msg, sizeof msg, "%s", srl_error);
        return errorf("%s: %s", path, msg);
    }
    return 0;
}

int config_load_json(Config *c, const char *path) {
    char *text;
    size_t len;
    if (read_file(path, &text, &len, 1 << 20) < 0) return -1;
    JsonDoc doc;
    if (json_parse(&doc, text, len) < 0) {
        char msg[sizeof srl_error];
        snprintf(msg, sizeof msg, "%s", srl_error);
        free(text);
        return errorf("%s: %s", path, msg);
    }
    int rc = config_from_json(c, doc.root, path);
    json_free(&doc);
    free(text);
    return rc;
}

int config_validate(const Config *c) {
    if (c->vocab_size < 1 || c->vocab_size > (1 << 22)) return errorf("vocab_size %d is out of range", c->vocab_size);
    if (c->dim < 1 || c->dim > (1 << 16)) return errorf("hidden_size %d is out of range", c->dim);
    if (c->hidden_dim < 1 || c->hidden_dim > (1 << 20)) return errorf("intermediate_size %d is out of range", c->hidden_dim);
    if (c->n_layers < 1 || c->n_layers > 1024) return errorf("num_hidden_layers %d is out of range", c->n_layers);
    if (c->n_heads < 1 || c->n_heads > 1024) return errorf("num_attention_heads %d is out of range", c->n_heads);
    if (c->n_kv_heads < 1 || c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads != 0)
        return errorf("num_key_value_heads %d must divide num_attention_heads %d", c->n_kv_heads, c->n_heads);
    if (c->head_dim < 2 || c->head_dim > 1024 || c->head_dim % 2 != 0) return errorf("head_dim %d must be even, 2..1024", c->head_dim);
    if (c->max_seq_len < 1) return errorf("max_position_embeddings %d is out of range", c->max_seq_len);
    if (!(c->norm_eps > 0) || !isfinite(c->norm_eps)) return errorf("rms_norm_eps must be positive");
    if (!(c->rope_theta > 0) || !isfinite(c->rope_theta)) return errorf("rope_theta must be positive");
    if ((size_t)c->n_heads * (size_t)c->head_dim > (1u << 20)) return errorf("num_attention_heads x head_dim is too large");
    size_t sizes[N_PARAM_TENSORS], total = 0;
    param_sizes(c, sizes);
    for (int i = 0; i < N_PARAM_TENSORS; i++) total += sizes[i];
    if (total > (size_t)1 << 40) return errorf("the model would have %zu parameters, too many", total);
    return 0;
}

int config_save_json(const Config *c, const char *path, const char *torch_dtype) {
    AtomicFile af;
    if (atomic_open(&af, path) < 0) return -1;
    FILE *f = af.f;
    fprintf(f, "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"model_type\": \"llama\",\n");
    fprintf(f, "  \"attention_bias\": false,\n  \"attention_dropout\": 0.0,\n  \"mlp_bias\": false,\n");
    fprintf(f, "  \"hidden_act\": \"silu\",\n  \"initializer_range\": 0.02,\n  \"pretraining_tp\": 1,\n");
    fprintf(f, "  \"vocab_size\": %d,\n  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n", c->vocab_size, c->dim, c->hidden_dim);
    fprintf(f, "  \"num_hidden_layers\": %d,\n  \"num_attention_heads\": %d,\n  \"num_key_value_heads\": %d,\n", c->n_layers,
            c->n_heads, c->n_kv_heads);
    fprintf(f, "  \"head_dim\": %d,\n  \"max_position_embeddings\": %d,\n", c->head_dim, c->max_seq_len);
    fprintf(f, "  \"rms_norm_eps\": ");
    json_write_number(f, c->norm_eps);
    fprintf(f, ",\n  \"rope_theta\": ");
    json_write_number(f, c->rope_theta);
    if (c->rope_llama3) {
        fprintf(f, ",\n  \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": ");
        json_write_number(f, c->rope_factor);
        fprintf(f, ", \"low_freq_factor\": ");
        json_write_number(f, c->rope_low_freq_factor);
        fprintf(f, ", \"high_freq_factor\": ");
        json_write_number(f, c->rope_high_freq_factor);
        fprintf(f, ", \"original_max_position_embeddings\": %d}", c->rope_original_max_pos);
    } else {
        fprintf(f, ",\n  \"rope_scaling\": null");
    }
    fprintf(f, ",\n  \"tie_word_embeddings\": %s,\n", c->tied_embeddings ? "true" : "false");
    if (c->bos_token_id >= 0) fprintf(f, "  \"bos_token_id\": %d,\n", c->bos_token_id);
    if (c->n_eos == 1) fprintf(f, "  \"eos_token_id\": %d,\n", c->eos_token_ids[0]);
    else if (c->n_eos > 1) {
        fprintf(f, "  \"eos_token_id\": [");
        for (int i = 0; i < c->n_eos; i++) fprintf(f, "%s%d", i ? ", " : "", c->eos_token_ids[i]);
        fprintf(f, "],\n");
    }
    fprintf(f, "  \"torch_dtype\": \"%s\",\n  \"transformers_version\": \"4.44.0\",\n  \"use_cache\": true\n}\n", torch_dtype);
    return atomic_commit(&af);
}

int generation_config_save_json(const Config *c, const char *path) {
    // transformers' GenerationConfig.save_pretrained: keys sorted, two spaces of indent
    Buf b = {0};
    buf_append_str(&b, "{\n");
    if (c->bos_token_id >= 0) buf_printf(&b, "  \"bos_token_id\": %d,\n", c->bos_token_id);
    if (c->n_eos == 1) buf_printf(&b, "  \"eos_token_id\": %d,\n", c->eos_token_ids[0]);
    else if (c->n_eos > 1) {
        buf_append_str(&b, "  \"eos_token_id\": [");
        for (int i = 0; i < c->n_eos; i++) buf_printf(&b, "%s\n    %d", i ? "," : "", c->eos_token_ids[i]);
        buf_append_str(&b, "\n  ],\n");
    }
    buf_append_str(&b, "  \"transformers_version\": \"4.44.0\"\n}\n");
    int rc = write_file_atomic(path, b.data, b.len);
    buf_free(&b);
    return rc;
}

// ----------------------------------------------------------------------------
// parameters

const char *const param_tensor_names[N_PARAM_TENSORS] = {
    "token_embedding", "attn_norm", "wq", "wk", "wv", "wo", "mlp_norm", "w_gate", "w_up", "w_down", "final_norm", "lm_head"};
const int param_tensor_decays[N_PARAM_TENSORS] = {1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1};

void param_sizes(const Config *c, size_t sizes[N_PARAM_TENSORS]) {
    size_t V = (size_t)c->vocab_size, C = (size_t)c->dim, F = (size_t)c->hidden_dim, L = (size_t)c->n_layers;
    size_t QD = (size_t)c->n_heads * (size_t)c->head_dim, KVD = (size_t)c->n_kv_heads * (size_t)c->head_dim;
    sizes[0] = V * C;        // token_embedding
    sizes[1] = L * C;        // attn_norm
    sizes[2] = L * QD * C;   // wq
    sizes[3] = L * KVD * C;  // wk
    sizes[4] = L * KVD * C;  // wv
    sizes[5] = L * C * QD;   // wo
    sizes[6] = L * C;        // mlp_norm
    sizes[7] = L * F * C;    // w_gate
    sizes[8] = L * F * C;    // w_up
    sizes[9] = L * C * F;    // w_down
    sizes[10] = C;           // final_norm
    sizes[11] = c->tied_embeddings ? 0 : V * C;  // lm_head
}

void params_point(Params *p, float *memory, const Config *c) {
    size_t sizes[N_PARAM_TENSORS];
    param_sizes(c, sizes);
    float **ptrs[N_PARAM_TENSORS] = {&p->token_embedding, &p->attn_norm, &p->wq, &p->wk, &p->wv, &p->wo,
                                     &p->mlp_norm, &p->w_gate, &p->w_up, &p->w_down, &p->final_norm, &p->lm_head};
    for (int i = 0; i < N_PARAM_TENSORS; i++) {
        *ptrs[i] = memory;
        memory += sizes[i];
    }
    if (c->tied_embeddings) p->lm_head = p->token_embedding;
}

static size_t count_params(const Config *c) {
    size_t sizes[N_PARAM_TENSORS], n = 0;
    param_sizes(c, sizes);
    for (int i = 0; i < N_PARAM_TENSORS; i++) n += sizes[i];
    return n;
}

// ----------------------------------------------------------------------------
// LoRA parameters: for each target, A of every layer then B of every layer

const char *const lora_target_names[N_LORA_TARGETS] = {"q", "k", "v", "o", "gate", "up", "down"};
const char *const lora_module_names[N_LORA_TARGETS] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                                       "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                                       "mlp.down_proj"};
// The Params tensor (wq ... w_down) each target adapts.
static const int lora_param_tensor[N_LORA_TARGETS] = {2, 3, 4, 5, 7, 8, 9};

static void tensor_shape(const Config *c, int t, size_t *rows, size_t *cols);

// IN and OUT of target t's linear layer.
static void lora_in_out(const Config *c, int t, size_t *in, size_t *out) { tensor_shape(c, lora_param_tensor[t], out, in); }

static float **lora_slot(LoRAParams *p, int t, int which) {
    float **slots[N_LORA_TARGETS][2] = {{&p->q_a, &p->q_b},       {&p->k_a, &p->k_b},   {&p->v_a, &p->v_b},
                                        {&p->o_a, &p->o_b},       {&p->gate_a, &p->gate_b},
                                        {&p->up_a, &p->up_b},     {&p->down_a, &p->down_b}};
    return slots[t][which];
}

// Floats of the adapters of config c and lc; points p into memory when it is not NULL.
static size_t lora_point(LoRAParams *p, float *memory, const Config *c, const LoRAConfig *lc) {
    size_t total = 0, L = (size_t)c->n_layers, r = (size_t)lc->r;
    if (p) memset(p, 0, sizeof *p);
    for (int t = 0; t < N_LORA_TARGETS; t++) {
        if (!(lc->targets >> t & 1)) continue;
        size_t in, out;
        lora_in_out(c, t, &in, &out);
        if (p) *lora_slot(p, t, 0) = memory + total;
        total += L * r * in;
        if (p) *lora_slot(p, t, 1) = memory + total;
        total += L * out * r;
    }
    return total;
}

float *lora_tensor(const Model *m, const LoRAParams *p, int t, int which, int layer, size_t *rows, size_t *cols) {
    size_t in, out;
    lora_in_out(&m->config, t, &in, &out);
    *rows = which ? out : (size_t)m->lora_config.r;
    *cols = which ? (size_t)m->lora_config.r : in;
    float *base = *lora_slot((LoRAParams *)p, t, which);
    return base ? base + (size_t)layer * *rows * *cols : NULL;
}

void lora_tensor_name(char *out, size_t cap, int t, int which, int layer) {
    snprintf(out, cap, "base_model.model.model.layers.%d.%s.lora_%c.weight", layer, lora_module_names[t], which ? 'B' : 'A');
}

int lora_targets_parse(const char *s, unsigned *targets) {
    *targets = 0;
    if (strcmp(s, "all") == 0) {
        *targets = (1u << N_LORA_TARGETS) - 1;
        return 0;
    }
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (int t = 0; t < N_LORA_TARGETS; t++) {
            const char *hf = strchr(lora_module_names[t], '.') + 1;  // "q_proj"
            if ((strlen(lora_target_names[t]) == n && strncmp(p, lora_target_names[t], n) == 0) ||
                (strlen(hf) == n && strncmp(p, hf, n) == 0))
                found = t;
        }
        if (found < 0) return errorf("LoRA targets: '%.*s' is none of q, k, v, o, gate, up, down", (int)n, p);
        *targets |= 1u << found;
        p += n;
        if (*p == ',') p++;
    }
    if (!*targets) return errorf("LoRA targets: none given");
    return 0;
}

static int lora_config_check(const Config *c, const LoRAConfig *lc) {
    if (lc->r < 1 || lc->r > 65536) return errorf("LoRA rank %d is not between 1 and 65536", lc->r);
    if (!(lc->alpha > 0) || !isfinite(lc->alpha)) return errorf("LoRA alpha %g is not a positive number", lc->alpha);
    if (!lc->targets || lc->targets >> N_LORA_TARGETS) return errorf("LoRA: no valid target module");
    (void)c;
    return 0;
}

// Allocates the adapters of lc (zero) and attaches them.
static int lora_attach(Model *m, const LoRAConfig *lc) {
    if (m->lora) return errorf("the model already has LoRA adapters");
    if (lora_config_check(&m->config, lc) < 0) return -1;
    size_t n = lora_point(NULL, NULL, &m->config, lc);
    if (memory_check(n * 4 * sizeof(float), "the LoRA adapters, their gradients and AdamW state") < 0) return -1;
    m->lora_memory = xcalloc(n, sizeof(float));
    lora_point(&m->lora_params, m->lora_memory, &m->config, lc);
    m->n_lora = n;
    m->lora_config = *lc;
    m->lora = 1;
    // training state of the base (if any) no longer applies
    free(m->grads_memory), free(m->adam_m), free(m->adam_v);
    m->grads_memory = m->adam_m = m->adam_v = NULL;
    memset(&m->grads, 0, sizeof m->grads);
    m->adam_step = 0;
    return 0;
}

int model_lora_init(Model *m, const LoRAConfig *lc, uint64_t seed) {
    if (lora_attach(m, lc) < 0) return -1;
    Rng rng;
    rng_seed(&rng, seed);
    for (int t = 0; t < N_LORA_TARGETS; t++) {
        if (!(lc->targets >> t & 1)) continue;
        size_t in, out;
        lora_in_out(&m->config, t, &in, &out);
        float *a = *lora_slot(&m->lora_params, t, 0), bound = 1.0f / sqrtf((float)in);
        for (size_t i = 0; i < (size_t)m->config.n_layers * lc->r * in; i++) a[i] = bound * (2.0f * rng_float(&rng) - 1.0f);
    }
    return 0;
}

void model_lora_detach(Model *m) {
    if (!m->lora) return;
    free(m->lora_memory), free(m->lora_grads_memory), free(m->adam_m), free(m->adam_v);
    m->lora_memory = m->lora_grads_memory = m->adam_m = m->adam_v = NULL;
    memset(&m->lora_params, 0, sizeof m->lora_params);
    memset(&m->lora_grads, 0, sizeof m->lora_grads);
    memset(&m->lora_config, 0, sizeof m->lora_config);
    m->n_lora = 0;
    m->lora = 0;
    m->adam_step = 0;
}

// The RoPE rotation angles: position p turns pair i by p * inv_freq[i], with
// inv_freq[i] = theta^(-2i/D), and Llama 3 scaling applied to the frequencies: the high ones
// (short wavelengths) are kept, the low ones divided by factor, and those between blended.
// The tables grow on demand up to the positions a forward needs (never past the model's
// max_position_embeddings), so a config that claims a huge context costs nothing up front.
static int rope_ensure(Model *m, int n_pos) {
    const Config *c = &m->config;
    if (n_pos <= m->rope_positions) return 0;
    if (n_pos > c->max_seq_len)
        return errorf("%d positions exceed the model's max_position_embeddings (%d)", n_pos, c->max_seq_len);
    int half = c->head_dim / 2;
    int grown = m->rope_positions * 2 > n_pos ? m->rope_positions * 2 : n_pos;
    if (grown > c->max_seq_len) grown = c->max_seq_len;
    free(m->rope_cos);
    free(m->rope_sin);
    m->rope_cos = xcalloc((size_t)grown * half, sizeof(float));
    m->rope_sin = xcalloc((size_t)grown * half, sizeof(float));
    for (int i = 0; i < half; i++) {
        double inv_freq = 1.0 / pow((double)c->rope_theta, (2.0 * i) / c->head_dim);
        if (c->rope_llama3) {
            double low_wavelen = c->rope_original_max_pos / (double)c->rope_low_freq_factor;
            double high_wavelen = c->rope_original_max_pos / (double)c->rope_high_freq_factor;
            double wavelen = 2.0 * M_PI / inv_freq;
            if (wavelen > low_wavelen) inv_freq /= c->rope_factor;
            else if (wavelen >= high_wavelen) {
                double smooth = (c->rope_original_max_pos / wavelen - c->rope_low_freq_factor) /
                                (c->rope_high_freq_factor - c->rope_low_freq_factor);
                inv_freq = (1.0 - smooth) * inv_freq / c->rope_factor + smooth * inv_freq;
            }
        }
        for (int p = 0; p < grown; p++) {
            double angle = p * inv_freq;
            m->rope_cos[(size_t)p * half + i] = (float)cos(angle);
            m->rope_sin[(size_t)p * half + i] = (float)sin(angle);
        }
    }
    m->rope_positions = grown;
    return 0;
}

// The memory this machine can still give, from /proc/meminfo's MemAvailable (0 when unknown).
size_t memory_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    size_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %zu kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024;
}

int memory_check(size_t needed, const char *what) {
    size_t available = memory_available();
    if (available && needed > available)
        return errorf("%s needs %.2f GiB of memory, but only %.2f GiB is available", what, needed / 1073741824.0,
                      available / 1073741824.0);
    return 0;
}

// Allocates the weights (uninitialized) and the RoPE tables for config c.
static void model_alloc(Model *m, const Config *c) {
    memset(m, 0, sizeof *m);
    m->config = *c;
    m->n_params = count_params(c);
    m->params_memory = xmalloc(m->n_params * sizeof(float));
    params_point(&m->params, m->params_memory, c);
}

// ----------------------------------------------------------------------------
// matmul: C (M, N) = A (M, P) . B (P, N), the one kernel under every linear layer.
//
// Each C[i][j] is summed in the plain order p = 0, 1, ..., P-1 with a fused multiply-add,
// exactly as the scalar loop `for p: c = fmaf(A[i][p], B[p][j], c)` would, whatever the tile,
// thread or batch it falls in. Speed comes from doing many such sums side by side:
//  - a tile of TILE_ROWS rows x PANEL columns of C stays in vector registers while p runs;
//  - for each p, one row of a PANEL-wide strip of B is loaded (two vectors) and each row's
//    A[i][p] is broadcast and multiplied into it: 12 FMAs per 2 loads plus 6 broadcasts;
//  - B is copied ("packed") block by block into a small contiguous buffer of BLOCK_P x PANEL
//    floats that stays in the L1 cache while every row of A passes over it.
// B comes either as itself (row-major P x N) or as its transpose (row-major N x P: a weight
// matrix W (out, in) used as y = x W^T). The packing hides the difference.

// The vector width follows the machine: sixteen floats in one AVX-512 register, else eight in
// one AVX2 register. A tile keeps TILE_ROWS x 2 accumulators, 2 vectors of B and a broadcast in
// registers: 15 of AVX2's 16, 15 of AVX-512's 32. A wider vector than the machine has would be
// split by the compiler and spill to the stack (measured: 3.6 GFLOP/s on an AVX2 EPYC, against
// about 60 with the width matched). The width changes only how many sums run side by side,
// never the order of any one sum, so the results are the same bits on either kind of machine.
#if defined(__AVX512F__)
#define VEC_FLOATS 16
#else
#define VEC_FLOATS 8
#endif
#define PANEL (2 * VEC_FLOATS)  // columns of C per tile: two vectors
#define TILE_ROWS 6    // rows of C per tile
#define BLOCK_P 256    // inner-dimension block: a packed strip of B, 256 x PANEL floats (32 KiB at most)
#define BLOCK_M 192    // rows of A that share one packed block of B (a multiple of TILE_ROWS)

typedef float vecf __attribute__((vector_size(VEC_FLOATS * 4)));

static inline vecf vecf_load(const float *p) {
    vecf v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void vecf_store(float *p, vecf v) { memcpy(p, &v, sizeof v); }

// B_PACKED: B already in the packed layout, panel after panel: panel jp holds
// B[0 : P][32 jp : 32 jp + 32] as P rows of PANEL floats (see pack_linear_weight).
enum { B_ROWS = 0, B_TRANSPOSED = 1, B_PACKED = 2 };

// Copies the block B[p0 : p0+np][j0 : j0+PANEL] into packed[p][j], zero beyond column N.
static void pack_b_block(float *packed, const float *B, int ldb, int layout, int p0, int np, int j0, int N) {
    int cols = N - j0 < PANEL ? N - j0 : PANEL;
    if (layout == B_ROWS) {
        for (int p = 0; p < np; p++) {
            const float *src = B + (size_t)(p0 + p) * ldb + j0;
            float *dst = packed + (size_t)p * PANEL;
            for (int j = 0; j < cols; j++) dst[j] = src[j];
            for (int j = cols; j < PANEL; j++) dst[j] = 0.0f;
        }
    } else {
        for (int j = 0; j < cols; j++) {
            const float *src = B + (size_t)(j0 + j) * ldb + p0;
            for (int p = 0; p < np; p++) packed[(size_t)p * PANEL + j] = src[p];
        }
        for (int j = cols; j < PANEL; j++)
            for (int p = 0; p < np; p++) packed[(size_t)p * PANEL + j] = 0.0f;
    }
}

// One tile: rows x PANEL of C (rows <= TILE_ROWS; cols <= PANEL of them real), over np values
// of p. Starts from C when load_c, else from zero. Inlined with rows = TILE_ROWS for the
// common case, so the accumulators live in registers.
static inline __attribute__((always_inline)) void matmul_tile(float *C, int ldc, const float *A, int lda,
                                                              const float *packed, int np, int rows, int cols,
                                                              int load_c) {
    vecf acc[TILE_ROWS][2];
    for (int r = 0; r < rows; r++) {
        if (load_c && cols == PANEL) {
            acc[r][0] = vecf_load(C + (size_t)r * ldc);
            acc[r][1] = vecf_load(C + (size_t)r * ldc + VEC_FLOATS);
        } else {
            float tmp[PANEL] = {0};
            if (load_c)
                for (int j = 0; j < cols; j++) tmp[j] = C[(size_t)r * ldc + j];
            acc[r][0] = vecf_load(tmp);
            acc[r][1] = vecf_load(tmp + VEC_FLOATS);
        }
    }
    for (int p = 0; p < np; p++) {
        vecf b0 = vecf_load(packed + (size_t)p * PANEL);
        vecf b1 = vecf_load(packed + (size_t)p * PANEL + VEC_FLOATS);
        for (int r = 0; r < rows; r++) {
            vecf a = (vecf){0} + A[(size_t)r * lda + p];  // broadcast A[r][p]
            acc[r][0] += a * b0;
            acc[r][1] += a * b1;
        }
    }
    for (int r = 0; r < rows; r++) {
        if (cols == PANEL) {
            vecf_store(C + (size_t)r * ldc, acc[r][0]);
            vecf_store(C + (size_t)r * ldc + VEC_FLOATS, acc[r][1]);
        } else {
            float tmp[PANEL];
            vecf_store(tmp, acc[r][0]);
            vecf_store(tmp + VEC_FLOATS, acc[r][1]);
            for (int j = 0; j < cols; j++) C[(size_t)r * ldc + j] = tmp[j];
        }
    }
}

// C (M, N) = A (M, P) . B (P, N)  [+ C when accumulate]. A is row-major with row stride lda;
// B is row-major (P, N) with stride ldb (B_ROWS), or given as its transpose Bt (N, P) with
// stride ldb (B_TRANSPOSED); C is row-major with stride ldc.
static void matmul(float *C, int ldc, const float *A, int lda, const float *B, int ldb, int layout, int M, int N, int P,
                   int accumulate) {
    if (M <= 0 || N <= 0) return;
    if (P <= 0) {
        if (!accumulate)
            for (int i = 0; i < M; i++) memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof(float));
        return;
    }
    int n_panels = (N + PANEL - 1) / PANEL;
    int n_mblocks = (M + BLOCK_M - 1) / BLOCK_M;
#pragma omp parallel for collapse(2) schedule(static)
    for (int jp = 0; jp < n_panels; jp++) {
        for (int mb = 0; mb < n_mblocks; mb++) {
            float packed[BLOCK_P * PANEL] __attribute__((aligned(64)));
            int j0 = jp * PANEL;
            int cols = N - j0 < PANEL ? N - j0 : PANEL;
            int m_end = (mb + 1) * BLOCK_M < M ? (mb + 1) * BLOCK_M : M;
            for (int p0 = 0; p0 < P; p0 += BLOCK_P) {
                int np = P - p0 < BLOCK_P ? P - p0 : BLOCK_P;
                const float *block = packed;
                if (layout == B_PACKED) block = B + ((size_t)jp * P + p0) * PANEL;
                else pack_b_block(packed, B, ldb, layout, p0, np, j0, N);
                int load_c = accumulate || p0 > 0;
                for (int i = mb * BLOCK_M; i < m_end; i += TILE_ROWS) {
                    float *c = C + (size_t)i * ldc + j0;
                    const float *a = A + (size_t)i * lda + p0;
                    int rows = m_end - i < TILE_ROWS ? m_end - i : TILE_ROWS;
                    // constant row counts let the compiler keep the accumulators in registers
                    if (rows == TILE_ROWS) matmul_tile(c, ldc, a, lda, block, np, TILE_ROWS, cols, load_c);
                    else if (rows == 1) matmul_tile(c, ldc, a, lda, block, np, 1, cols, load_c);
                    else matmul_tile(c, ldc, a, lda, block, np, rows, cols, load_c);
                }
            }
        }
    }
}

// out (cols, rows) = in (rows, cols)^T, in blocks of 32 x 32 so both sides stay in cache.
static void transpose_serial(float *out, const float *in, int rows, int cols) {
    for (int c0 = 0; c0 < cols; c0 += 32)
        for (int r0 = 0; r0 < rows; r0 += 32) {
            int c1 = c0 + 32 < cols ? c0 + 32 : cols, r1 = r0 + 32 < rows ? r0 + 32 : rows;
            for (int c = c0; c < c1; c++)
                for (int r = r0; r < r1; r++) out[(size_t)c * rows + r] = in[(size_t)r * cols + c];
        }
}

static void transpose(float *out, const float *in, int rows, int cols) {
#pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < cols; c0 += 32) {
        for (int r0 = 0; r0 < rows; r0 += 32) {
            int c1 = c0 + 32 < cols ? c0 + 32 : cols, r1 = r0 + 32 < rows ? r0 + 32 : rows;
            for (int c = c0; c < c1; c++)
                for (int r = r0; r < r1; r++) out[(size_t)c * rows + r] = in[(size_t)r * cols + c];
        }
    }
}

// A linear layer y (N, OUT) = x (N, IN) W^T, W (OUT, IN) as Hugging Face stores it.
static void linear_forward(float *y, const float *x, const float *W, int N, int IN, int OUT) {
    matmul(y, OUT, x, IN, W, IN, B_TRANSPOSED, N, OUT, IN, 0);
}

// The packed copy of a weight W (OUT, IN) for B_PACKED: ceil(OUT/32) panels of IN x 32 floats,
// zero past row OUT. Generation packs every weight once, so that decoding, which multiplies a
// few rows by each weight, reads it in one contiguous stream instead of re-packing it per call.
static size_t packed_size(int IN, int OUT) { return (size_t)((OUT + PANEL - 1) / PANEL) * PANEL * IN; }

static void pack_linear_weight(float *packed, const float *W, int IN, int OUT) {
    int n_panels = (OUT + PANEL - 1) / PANEL;
#pragma omp parallel for schedule(static)
    for (int jp = 0; jp < n_panels; jp++)
        for (int p0 = 0; p0 < IN; p0 += BLOCK_P) {
            int np = IN - p0 < BLOCK_P ? IN - p0 : BLOCK_P;
            pack_b_block(packed + ((size_t)jp * IN + p0) * PANEL, W, IN, B_TRANSPOSED, p0, np, jp * PANEL, OUT);
        }
}

static void linear_forward_packed(float *y, const float *x, const float *W_packed, int N, int IN, int OUT) {
    matmul(y, OUT, x, IN, W_packed, 0, B_PACKED, N, OUT, IN, 0);
}

// Its backward: dx (N, IN) (+)= dy W, and dW (OUT, IN) += dy^T x. dy_t is scratch for dy^T
// (OUT, N), so that both products read their inner dimension contiguously.
static void linear_backward(float *dx, float *dW, const float *dy, const float *x, const float *W, float *dy_t, int N,
                            int IN, int OUT, int accumulate_dx) {
    matmul(dx, IN, dy, OUT, W, IN, B_ROWS, N, IN, OUT, accumulate_dx);
    transpose(dy_t, dy, N, OUT);
    matmul(dW, IN, dy_t, N, x, IN, B_ROWS, OUT, IN, N, 1);
}

// ----------------------------------------------------------------------------
// Linear layers with bf16 weights (inference): y (N, OUT) = x (N, IN) W^T, W (OUT, IN) in bf16
// exactly as the file stores it, so a mapped file is used in place. Each y[n][o] is a dot
// product along a row of W, computed in lanes: lane k of 16 sums the products with i = k mod 16
// in increasing i (the vdpbf16ps kernel: lane k sums the pairs i = 2k, 2k+1 mod 32, the odd one
// first, as the instruction does), then the 16 lanes are added in a fixed tree. A tile of
// rows x outputs is computed together so each loaded weight serves several rows; the order of
// any one sum never depends on the tile, the thread or the batch.

#define BF16_LANES 16
#define BF16_TILE_ROWS 4     // rows of x per tile
#define BF16_TILE_OUTS 4     // outputs per tile
#define BF16_BLOCK_OUTS 16   // outputs per parallel task (rows of W that stay in cache)

typedef float vec16f __attribute__((vector_size(BF16_LANES * 4)));
typedef uint16_t vec16u16 __attribute__((vector_size(BF16_LANES * 2)));
typedef uint32_t vec16u32 __attribute__((vector_size(BF16_LANES * 4)));

// The fixed tree: (l[k] + l[k+8]), then +4, +2, +1.
static inline float lanes_sum(const float *l) {
    float s8[8], s4[4];
    for (int k = 0; k < 8; k++) s8[k] = l[k] + l[k + 8];
    for (int k = 0; k < 4; k++) s4[k] = s8[k] + s8[k + 4];
    return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

// 16 bf16 widened to float32: the bits shifted into the top half.
static inline vec16f bf16x16_load(const uint16_t *p) {
    vec16u16 h;
    memcpy(&h, p, sizeof h);
    vec16u32 u = __builtin_convertvector(h, vec16u32) << 16;
    vec16f f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline vec16f f32x16_load(const float *p) {
    vec16f v;
    memcpy(&v, p, sizeof v);
    return v;
}

// A kernel's tile: y[r][o] (rows of ldy) = x row n0 + r . W row o, for r < rows <= BF16_TILE_ROWS
// and o < outs <= BF16_TILE_OUTS, W (outs, IN). x is the input as the kernel takes it: rows of ldx
// elements (float32 for the plain kernel, bf16 for AVX512-BF16). Only the dot products differ
// between the kernels; bf16_block below is the blocking both share.
typedef void Bf16Tile(float *y, int ldy, const void *x, int ldx, int n0, const uint16_t *W, int IN, int rows, int outs);

// Outputs o0 <= o < o1 of all N rows of y (N, OUT), tile by tile, the tiles at the edges smaller.
// Inlined into each kernel's block with that kernel's tile, so that the common tile shapes are
// constants there: the compiler then keeps the accumulators in registers.
static inline __attribute__((always_inline)) void bf16_block(Bf16Tile *tile, float *y, const void *x, int ldx,
                                                             const uint16_t *W, int N, int IN, int OUT, int o0, int o1) {
    for (int n = 0; n < N; n += BF16_TILE_ROWS) {
        int rows = N - n < BF16_TILE_ROWS ? N - n : BF16_TILE_ROWS;
        for (int o = o0; o < o1; o += BF16_TILE_OUTS) {
            int outs = o1 - o < BF16_TILE_OUTS ? o1 - o : BF16_TILE_OUTS;
            float *yt = y + (size_t)n * OUT + o;
            const uint16_t *wt = W + (size_t)o * IN;
            if (rows == BF16_TILE_ROWS && outs == BF16_TILE_OUTS) tile(yt, OUT, x, ldx, n, wt, IN, BF16_TILE_ROWS, BF16_TILE_OUTS);
            else if (rows == 1 && outs == BF16_TILE_OUTS) tile(yt, OUT, x, ldx, n, wt, IN, 1, BF16_TILE_OUTS);
            else tile(yt, OUT, x, ldx, n, wt, IN, rows, outs);
        }
    }
}

// The plain kernel's tile, x in float32. The tail i >= IN - IN % 16 goes through zero-padded
// copies, so lane k keeps i = k mod 16.
static inline __attribute__((always_inline)) void bf16_tile_plain(float *y, int ldy, const void *xv, int ldx, int n0,
                                                                  const uint16_t *W, int IN, int rows, int outs) {
    const float *x = (const float *)xv + (size_t)n0 * ldx;
    vec16f acc[BF16_TILE_ROWS][BF16_TILE_OUTS];
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < outs; o++) acc[r][o] = (vec16f){0};
    int i = 0;
    for (; i + BF16_LANES <= IN; i += BF16_LANES) {
        vec16f w[BF16_TILE_OUTS];
        for (int o = 0; o < outs; o++) w[o] = bf16x16_load(W + (size_t)o * IN + i);
        for (int r = 0; r < rows; r++) {
            vec16f a = f32x16_load(x + (size_t)r * ldx + i);
            for (int o = 0; o < outs; o++) acc[r][o] += a * w[o];
        }
    }
    if (i < IN) {
        int tail = IN - i;
        vec16f w[BF16_TILE_OUTS];
        for (int o = 0; o < outs; o++) {
            uint16_t t[BF16_LANES] = {0};
            memcpy(t, W + (size_t)o * IN + i, (size_t)tail * 2);
            w[o] = bf16x16_load(t);
        }
        for (int r = 0; r < rows; r++) {
            float t[BF16_LANES] = {0};
            memcpy(t, x + (size_t)r * ldx + i, (size_t)tail * 4);
            vec16f a = f32x16_load(t);
            for (int o = 0; o < outs; o++) acc[r][o] += a * w[o];
        }
    }
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < outs; o++) {
            float l[BF16_LANES];
            memcpy(l, &acc[r][o], sizeof l);
            y[(size_t)r * ldy + o] = lanes_sum(l);
        }
}

static void bf16_block_plain(float *y, const float *x, const uint16_t *W, int N, int IN, int OUT, int o0, int o1) {
    bf16_block(bf16_tile_plain, y, x, IN, W, N, IN, OUT, o0, o1);
}

// AVX512-BF16, compiled for that target whatever the command line says, and run only when the
// CPU has it (cpuid), so the one cc line builds on any x86-64; other machines get the plain
// kernel alone.
#if defined(__x86_64__) && (defined(__clang__) || __GNUC__ >= 10)
#define HAVE_AVX512_BF16_KERNEL 1
#include <cpuid.h>
#include <immintrin.h>

static int cpu_has_avx512_bf16(void) {
    unsigned a, b, c, d;
    // avx512f and avx512bw through the compiler's check, which also asks the OS (XGETBV) whether
    // it saves the 512-bit state; AVX512_BF16 is cpuid leaf 7, subleaf 1, EAX bit 5.
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw")) return 0;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    return (a >> 5) & 1;
}

// The vdpbf16ps tile: x is given in bf16 (rows of ldx >= IN, zero past IN). Per step of 32
// inputs, lane k of acc adds x[2k+1] w[2k+1] then x[2k] w[2k] (each product exact in float32).
// The tail of each row of W is loaded under a mask, zeros past IN.
static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512bf16"))) void
bf16_tile_avx512(float *y, int ldy, const void *xv, int ldx, int n0, const uint16_t *W, int IN, int rows, int outs) {
    const uint16_t *xb = (const uint16_t *)xv + (size_t)n0 * ldx;
    __m512 acc[BF16_TILE_ROWS][BF16_TILE_OUTS];
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < outs; o++) acc[r][o] = _mm512_setzero_ps();
    for (int i = 0; i < IN; i += 32) {
        __mmask32 mask = IN - i >= 32 ? 0xFFFFFFFFu : (1u << (IN - i)) - 1;
        __m512i w[BF16_TILE_OUTS];
        for (int o = 0; o < outs; o++) w[o] = _mm512_maskz_loadu_epi16(mask, W + (size_t)o * IN + i);
        for (int r = 0; r < rows; r++) {
            __m512i a = _mm512_loadu_si512((const void *)(xb + (size_t)r * ldx + i));
            for (int o = 0; o < outs; o++) acc[r][o] = _mm512_dpbf16_ps(acc[r][o], (__m512bh)a, (__m512bh)w[o]);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < outs; o++) {
            float l[BF16_LANES];
            _mm512_storeu_ps(l, acc[r][o]);
            y[(size_t)r * ldy + o] = lanes_sum(l);
        }
}

__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void bf16_block_avx512(float *y, const uint16_t *xb, int ldx,
                                                                                     const uint16_t *W, int N, int IN,
                                                                                     int OUT, int o0, int o1) {
    bf16_block(bf16_tile_avx512, y, xb, ldx, W, N, IN, OUT, o0, o1);
}
#else
static int cpu_has_avx512_bf16(void) { return 0; }
#endif

static int bf16_kernel = -1;  // chosen on first use

int bf16_kernel_available(int kernel) {
    if (kernel == BF16_KERNEL_PLAIN) return 1;
    return kernel == BF16_KERNEL_AVX512 && cpu_has_avx512_bf16();
}

int bf16_kernel_get(void) {
    if (bf16_kernel < 0) {
        const char *env = getenv("SRL_BF16_KERNEL");
        int forced_plain = env && strcmp(env, "plain") == 0;
        bf16_kernel = !forced_plain && bf16_kernel_available(BF16_KERNEL_AVX512) ? BF16_KERNEL_AVX512 : BF16_KERNEL_PLAIN;
    }
    return bf16_kernel;
}

int bf16_kernel_set(int kernel) {
    if (!bf16_kernel_available(kernel)) return errorf("the %s bf16 kernel does not run on this machine", bf16_kernel_name(kernel));
    bf16_kernel = kernel;
    return 0;
}

const char *bf16_kernel_name(int kernel) {
    return kernel == BF16_KERNEL_AVX512 ? "avx512-bf16 (vdpbf16ps)" : "plain C";
}

void linear_forward_bf16(float *y, const float *x, const uint16_t *W, int N, int IN, int OUT) {
    if (N <= 0 || OUT <= 0) return;
    int n_blocks = (OUT + BF16_BLOCK_OUTS - 1) / BF16_BLOCK_OUTS;
    int kernel = bf16_kernel_get();
#ifdef HAVE_AVX512_BF16_KERNEL
    if (kernel == BF16_KERNEL_AVX512) {
        // x rounded to bf16 once per call, each row padded with zeros to a multiple of 32
        int ldx = (IN + 31) / 32 * 32;
        uint16_t *xb = xcalloc((size_t)N * ldx, sizeof(uint16_t));
        for (size_t n = 0; n < (size_t)N; n++)
            for (int i = 0; i < IN; i++) xb[n * ldx + i] = f32_to_bf16(x[n * IN + i]);
#pragma omp parallel for schedule(static)
        for (int b = 0; b < n_blocks; b++) {
            int o1 = (b + 1) * BF16_BLOCK_OUTS < OUT ? (b + 1) * BF16_BLOCK_OUTS : OUT;
            bf16_block_avx512(y, xb, ldx, W, N, IN, OUT, b * BF16_BLOCK_OUTS, o1);
        }
        free(xb);
        return;
    }
#endif
    (void)kernel;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < n_blocks; b++) {
        int o1 = (b + 1) * BF16_BLOCK_OUTS < OUT ? (b + 1) * BF16_BLOCK_OUTS : OUT;
        bf16_block_plain(y, x, W, N, IN, OUT, b * BF16_BLOCK_OUTS, o1);
    }
}

// The backward of a frozen bf16 layer to its input: dx (N, IN) (+)= dy (N, OUT) W, W (OUT, IN)
// in bf16, each weight widened exactly, products and sums in float32. dx[n][i] is summed over
// o = 0, 1, ..., OUT-1 in order by one thread (a tile of rows x 64 inputs stays in registers
// while W streams past), so the result is the same for any thread count and batch.
#define BF16_T_ROWS 4
#define BF16_T_COLS 64
void linear_backward_input_bf16(float *dx, const float *dy, const uint16_t *W, int N, int IN, int OUT, int accumulate_dx) {
    int n_row_tiles = (N + BF16_T_ROWS - 1) / BF16_T_ROWS, n_col_tiles = (IN + BF16_T_COLS - 1) / BF16_T_COLS;
#pragma omp parallel for collapse(2) schedule(static)
    for (int rt = 0; rt < n_row_tiles; rt++) {
        for (int ct = 0; ct < n_col_tiles; ct++) {
            int n0 = rt * BF16_T_ROWS, i0 = ct * BF16_T_COLS;
            int rows = N - n0 < BF16_T_ROWS ? N - n0 : BF16_T_ROWS, cols = IN - i0 < BF16_T_COLS ? IN - i0 : BF16_T_COLS;
            float acc[BF16_T_ROWS][BF16_T_COLS] = {{0}}, w[BF16_T_COLS] = {0};
            if (accumulate_dx)
                for (int r = 0; r < rows; r++) memcpy(acc[r], dx + (size_t)(n0 + r) * IN + i0, (size_t)cols * sizeof(float));
            for (int o = 0; o < OUT; o++) {
                const uint16_t *wr = W + (size_t)o * IN + i0;
                for (int c = 0; c < cols; c++) w[c] = bf16_to_f32(wr[c]);
                for (int r = 0; r < rows; r++) {
                    float d = dy[(size_t)(n0 + r) * OUT + o];
                    for (int c = 0; c < BF16_T_COLS; c++) acc[r][c] += d * w[c];
                }
            }
            for (int r = 0; r < rows; r++) memcpy(dx + (size_t)(n0 + r) * IN + i0, acc[r], (size_t)cols * sizeof(float));
        }
    }
}

// ----------------------------------------------------------------------------
// a LoRA adapter on a linear layer: y (N, OUT) += s B A x with s = alpha / r, A (r, IN), B (OUT, r).
// The forward keeps us = s x A^T (N, r) for the backward.

static void lora_forward(float *y, float *us, const float *x, const float *A, const float *B, int N, int IN, int OUT, int r,
                         float scale) {
    linear_forward(us, x, A, N, IN, r);
    for (size_t i = 0; i < (size_t)N * r; i++) us[i] *= scale;
    matmul(y, OUT, us, r, B, r, B_TRANSPOSED, N, OUT, r, 1);
}

// Its backward, from dy (N, OUT):
//   dB (OUT, r) += dy^T us;   du (N, r) = s dy B;   dA (r, IN) += du^T x;   dx (N, IN) += du A
// dy_t is scratch for dy^T (OUT, N); du and du_t for du and its transpose, (N, r) each.
static void lora_backward(float *dx, float *dA, float *dB, const float *dy, const float *x, const float *us, const float *A,
                          const float *B, float *dy_t, float *du, float *du_t, int N, int IN, int OUT, int r, float scale) {
    transpose(dy_t, dy, N, OUT);
    matmul(dB, r, dy_t, N, us, r, B_ROWS, OUT, r, N, 1);
    matmul(du, r, dy, OUT, B, r, B_ROWS, N, r, OUT, 0);
    for (size_t i = 0; i < (size_t)N * r; i++) du[i] *= scale;
    transpose(du_t, du, N, r);
    matmul(dA, IN, du_t, N, x, IN, B_ROWS, r, IN, N, 1);
    matmul(dx, IN, du, r, A, IN, B_ROWS, N, IN, r, 1);
}

// ----------------------------------------------------------------------------
// RMSNorm: y = x * r * w with r = 1 / sqrt(mean(x^2) + eps), per row of C values.

static void rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int N, int C, float eps) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C;
        float *o = out + (size_t)n * C;
        float ss = 0.0f;
        for (int i = 0; i < C; i++) ss += xr[i] * xr[i];
        float r = 1.0f / sqrtf(ss / C + eps);
        for (int i = 0; i < C; i++) o[i] = xr[i] * r * w[i];
        if (rstd) rstd[n] = r;
    }
}

// With g = dy * w:  dx = r * g - x * r^3 * mean(g * x)   (ADDED to dx: the residual stream's
// gradient), and dw += sum over rows of dy * x * r (unless dw is NULL: a frozen norm). dw is
// summed column by column, each column by one thread in row order.
static void rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w, const float *rstd,
                             int N, int C) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C, *dyr = dy + (size_t)n * C;
        float *dxr = dx + (size_t)n * C;
        float r = rstd[n];
        float dot = 0.0f;
        for (int i = 0; i < C; i++) dot += dyr[i] * w[i] * xr[i];
        float k = dot * r * r * r / C;
        for (int i = 0; i < C; i++) dxr[i] += r * dyr[i] * w[i] - k * xr[i];
    }
    if (!dw) return;
#pragma omp parallel for schedule(static)
    for (int i0 = 0; i0 < C; i0 += 16) {
        int i1 = i0 + 16 < C ? i0 + 16 : C;
        for (int n = 0; n < N; n++)
            for (int i = i0; i < i1; i++) dw[i] += dy[(size_t)n * C + i] * x[(size_t)n * C + i] * rstd[n];
    }
}

// ----------------------------------------------------------------------------
// RoPE: each head's vector is cut into D/2 pairs and pair i at position p is turned by the
// angle p * inv_freq[i]:  (a, b) -> (a cos - b sin, a sin + b cos). Hugging Face pairs
// element i with element i + D/2 ("rotate half"); Meta and llama2.c pair 2i with 2i+1.
// x is (N, n_heads * D); row n is at position pos[n].

static void rope_forward(float *x, const int *pos, int N, int n_heads, int D, const float *cos_table,
                         const float *sin_table, int interleaved) {
    int half = D / 2;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *c = cos_table + (size_t)pos[n] * half, *s = sin_table + (size_t)pos[n] * half;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)n * n_heads + h) * D;
            for (int i = 0; i < half; i++) {
                int ia = interleaved ? 2 * i : i, ib = interleaved ? 2 * i + 1 : i + half;
                float a = v[ia], b = v[ib];
                v[ia] = a * c[i] - b * s[i];
                v[ib] = a * s[i] + b * c[i];
            }
        }
    }
}

// The rotation is orthogonal, so its backward is the rotation by the opposite angle.
static void rope_backward(float *dx, const int *pos, int N, int n_heads, int D, const float *cos_table,
                          const float *sin_table, int interleaved) {
    int half = D / 2;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *c = cos_table + (size_t)pos[n] * half, *s = sin_table + (size_t)pos[n] * half;
        for (int h = 0; h < n_heads; h++) {
            float *v = dx + ((size_t)n * n_heads + h) * D;
            for (int i = 0; i < half; i++) {
                int ia = interleaved ? 2 * i : i, ib = interleaved ? 2 * i + 1 : i + half;
                float da = v[ia], db = v[ib];
                v[ia] = da * c[i] + db * s[i];
                v[ib] = -da * s[i] + db * c[i];
            }
        }
    }
}

// ----------------------------------------------------------------------------
// exp, vectorizable: libm's expf is a function call the compiler cannot vectorize, and
// softmax over attention scores and vocabularies calls it billions of times. This is the
// classic range reduction exp(x) = 2^k exp(r), r = x - k ln2 in [-ln2/2, ln2/2], with Cephes'
// degree-6 polynomial for exp(r): within 2 ulp of expf over the float range (0 below -87.3).

static inline float fast_exp(float x) {
    if (x < -87.3f) x = -87.3f;
    if (x > 88.7f) x = 88.7f;
    float k = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - k * 0.693359375f + k * 2.12194440e-4f;  // ln2 in two parts, for precision
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return p * scale;
}

// ----------------------------------------------------------------------------
// attention. For one query at position t over the keys and values at positions 0..t:
//   score[s] = (q . k_s) / sqrt(D);  att = softmax(score);  out = sum_s att[s] v_s
// Training computes it for all positions of a head at once with the matmul kernel (scores
// = Q K^T, out = att V; the probabilities above the diagonal are 0). Decoding computes one
// row against the KV cache. Both sum in the same order (d for the scores, s for the output),
// so a token gets the same numbers either way.

// scale, then softmax over row[0 : n]; row[n : width] becomes 0 (the causal mask).
static void softmax_causal_row(float *row, int n, int width, float scale) {
    float max = -INFINITY;
    for (int s = 0; s < n; s++) {
        row[s] *= scale;
        if (row[s] > max) max = row[s];
    }
    float sum = 0.0f;
    for (int s = 0; s < n; s++) {
        row[s] = fast_exp(row[s] - max);
        sum += row[s];
    }
    float inv = 1.0f / sum;
    for (int s = 0; s < n; s++) row[s] *= inv;
    for (int s = n; s < width; s++) row[s] = 0.0f;
}

// One query row against n_keys cached keys, given transposed (kt[d * kt_stride + s]) so the
// scores of all s are computed together, and values as rows (v[s * v_stride + d]). scores is
// scratch of n_keys floats.
static void attention_row(float *out, const float *q, const float *kt, int kt_stride, const float *v, int v_stride,
                          int n_keys, int D, float *scores) {
    for (int s = 0; s < n_keys; s++) scores[s] = 0.0f;
    for (int d = 0; d < D; d++) {
        const float *krow = kt + (size_t)d * kt_stride;
        float qd = q[d];
        for (int s = 0; s < n_keys; s++) scores[s] += qd * krow[s];
    }
    softmax_causal_row(scores, n_keys, n_keys, 1.0f / sqrtf((float)D));
    for (int d = 0; d < D; d++) out[d] = 0.0f;
    for (int s = 0; s < n_keys; s++) {
        const float *vrow = v + (size_t)s * v_stride;
        float a = scores[s];
        for (int d = 0; d < D; d++) out[d] += a * vrow[d];
    }
}

// Training attention over a batch (B, T): q (B, T, H*D), k and v (B, T, KV*D) after RoPE;
// out (B, T, H*D); att (B, H, T, T) keeps the probabilities for the backward. One task per
// (sequence, query head); query head h reads kv head h / (H / KV).
static void attention_forward(float *out, float *att, const float *q, const float *k, const float *v, int B, int T,
                              int H, int KV, int D) {
    int QD = H * D, KVD = KV * D, group = H / KV;
    float scale = 1.0f / sqrtf((float)D);
#pragma omp parallel for schedule(static)
    for (int task = 0; task < B * H; task++) {
        int b = task / H, h = task % H, kvh = h / group;
        const float *qh = q + (size_t)b * T * QD + h * D, *kh = k + (size_t)b * T * KVD + kvh * D;
        const float *vh = v + (size_t)b * T * KVD + kvh * D;
        float *a = att + (size_t)task * T * T;
        matmul(a, T, qh, QD, kh, KVD, B_TRANSPOSED, T, T, D, 0);  // scores[t][s] = q_t . k_s
        for (int t = 0; t < T; t++) softmax_causal_row(a + (size_t)t * T, t + 1, T, scale);
        matmul(out + (size_t)b * T * QD + h * D, QD, a, T, vh, KVD, B_ROWS, T, D, T, 0);  // att V
    }
}

// Backward of attention_forward, per head, with G = d_out and A = att:
//   dA = G V^T;  dS[t][s] = A[t][s] (dA[t][s] - sum_s' A[t][s'] dA[t][s']) / sqrt(D)
//   dQ = dS K;   dK = sum over the group's heads of dS^T Q;   dV = sum of A^T G
// One task per (sequence, kv head) owns that head's dK and dV, so no two threads add to the
// same gradient. scratch: per thread, 2 T^2 floats.
static void attention_backward(float *d_q, float *d_k, float *d_v, const float *d_out, const float *att,
                               const float *q, const float *k, const float *v, int B, int T, int H, int KV, int D,
                               float *scratch) {
    int QD = H * D, KVD = KV * D, group = H / KV;
    float scale = 1.0f / sqrtf((float)D);
#pragma omp parallel for schedule(static)
    for (int task = 0; task < B * KV; task++) {
        int b = task / KV, kvh = task % KV;
        float *ds = scratch + (size_t)thread_id() * 2 * T * T, *ds_t = ds + (size_t)T * T;
        const float *kh = k + (size_t)b * T * KVD + kvh * D, *vh = v + (size_t)b * T * KVD + kvh * D;
        float *dk = d_k + (size_t)b * T * KVD + kvh * D, *dv = d_v + (size_t)b * T * KVD + kvh * D;
        for (int h = kvh * group; h < (kvh + 1) * group; h++) {
            const float *a = att + ((size_t)b * H + h) * T * T;
            const float *g = d_out + (size_t)b * T * QD + h * D, *qh = q + (size_t)b * T * QD + h * D;
            int first = h == kvh * group;
            matmul(ds, T, g, QD, vh, KVD, B_TRANSPOSED, T, T, D, 0);  // dA[t][s] = g_t . v_s
            for (int t = 0; t < T; t++) {
                float *row = ds + (size_t)t * T;
                const float *arow = a + (size_t)t * T;
                float dot = 0.0f;
                for (int s = 0; s <= t; s++) dot += arow[s] * row[s];
                for (int s = 0; s <= t; s++) row[s] = arow[s] * (row[s] - dot) * scale;
                for (int s = t + 1; s < T; s++) row[s] = 0.0f;
            }
            matmul(d_q + (size_t)b * T * QD + h * D, QD, ds, T, kh, KVD, B_ROWS, T, D, T, 0);  // dQ = dS K
            transpose_serial(ds_t, ds, T, T);
            matmul(dk, KVD, ds_t, T, qh, QD, B_ROWS, T, D, T, !first);  // dK += dS^T Q
            transpose_serial(ds_t, a, T, T);
            matmul(dv, KVD, ds_t, T, g, QD, B_ROWS, T, D, T, !first);   // dV += A^T G
        }
    }
}

// ----------------------------------------------------------------------------
// SwiGLU: out = silu(gate) * up, silu(x) = x * sigmoid(x)

static void swiglu_forward(float *out, const float *gate, const float *up, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + fast_exp(-g)) * up[i];
    }
}

// d_gate = d_out * up * sigmoid(g) * (1 + g * (1 - sigmoid(g))),  d_up = d_out * silu(g)
static void swiglu_backward(float *d_gate, float *d_up, const float *d_out, const float *gate, const float *up,
                            size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i], sig = 1.0f / (1.0f + fast_exp(-g));
        d_gate[i] = d_out[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
        d_up[i] = d_out[i] * g * sig;
    }
}

// ----------------------------------------------------------------------------
// embedding: out[n] = table[tokens[n]]; its backward adds each row's gradient to its token's
// row. Threads split the columns, so each gradient element is summed by one thread in order.

static void embedding_forward(float *out, const float *table, const int *tokens, int N, int C) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) memcpy(out + (size_t)n * C, table + (size_t)tokens[n] * C, (size_t)C * sizeof(float));
}

// The same from a bf16 table (inference), each value widened exactly.
static void embedding_forward_bf16(float *out, const uint16_t *table, const int *tokens, int N, int C) {
    for (int n = 0; n < N; n++)
        for (int i = 0; i < C; i++) out[(size_t)n * C + i] = bf16_to_f32(table[(size_t)tokens[n] * C + i]);
}

static void embedding_backward(float *d_table, const float *d_out, const int *tokens, int N, int C) {
#pragma omp parallel for schedule(static)
    for (int i0 = 0; i0 < C; i0 += 16) {
        int i1 = i0 + 16 < C ? i0 + 16 : C;
        for (int n = 0; n < N; n++)
            for (int i = i0; i < i1; i++) d_table[(size_t)tokens[n] * C + i] += d_out[(size_t)n * C + i];
    }
}

// ----------------------------------------------------------------------------
// log-softmax: logprob[n] = logits[n][target] - log sum_v exp(logits[n][v]). Its backward,
// from d = dL/dlogprob[n]: dlogits[n][v] = d * ([v == target] - softmax(logits[n])[v]),
// written over the logits.

// sum_v exp(x[v] - max), in 16 interleaved partial sums (so the loop vectorizes) that are
// then added in double: a fixed order, and accurate for vocabularies of any size.
static double sum_exp(const float *x, int n, float max) {
    float lanes[16] = {0};
    int v = 0;
    for (; v + 16 <= n; v += 16)
        for (int l = 0; l < 16; l++) lanes[l] += fast_exp(x[v + l] - max);
    double sum = 0.0;
    for (int l = 0; l < 16; l++) sum += lanes[l];
    for (; v < n; v++) sum += fast_exp(x[v] - max);
    return sum;
}

static float row_max(const float *x, int n) {
    float max = -INFINITY;
    for (int v = 0; v < n; v++)
        if (x[v] > max) max = x[v];
    return max;
}

static void logprob_forward(float *logprob, const float *logits, const int *targets, int N, int V) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *l = logits + (size_t)n * V;
        if (targets[n] < 0) {
            logprob[n] = 0.0f;
            continue;
        }
        float max = row_max(l, V);
        logprob[n] = l[targets[n]] - max - (float)log(sum_exp(l, V, max));
    }
}

static void logprob_backward(float *logits, const float *d_logprob, const int *targets, int N, int V) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *l = logits + (size_t)n * V;
        float d = targets[n] < 0 ? 0.0f : d_logprob[n];
        if (d == 0.0f) {
            memset(l, 0, (size_t)V * sizeof(float));
            continue;
        }
        float max = row_max(l, V);
        float log_z = max + (float)log(sum_exp(l, V, max));
        for (int v = 0; v < V; v++) l[v] = -d * fast_exp(l[v] - log_z);
        l[targets[n]] += d;
    }
}

// ----------------------------------------------------------------------------
// training: activations, forward, backward

// The widest output of any linear layer: the transposed output gradient needs that many rows.
static size_t linear_max_out(const Config *c) {
    size_t m = (size_t)c->vocab_size;
    if ((size_t)c->hidden_dim > m) m = (size_t)c->hidden_dim;
    if ((size_t)c->n_heads * c->head_dim > m) m = (size_t)c->n_heads * c->head_dim;
    if ((size_t)c->dim > m) m = (size_t)c->dim;
    return m;
}

static size_t acts_float_count(const Config *c, int B, int T, int lora_r, Activations *a, float *base) {
    size_t N = (size_t)B * T, L = (size_t)c->n_layers, C = (size_t)c->dim, F = (size_t)c->hidden_dim;
    size_t V = (size_t)c->vocab_size, QD = (size_t)c->n_heads * c->head_dim, KVD = (size_t)c->n_kv_heads * c->head_dim;
    size_t H = (size_t)c->n_heads;
    size_t max_out = linear_max_out(c);
    size_t threads = (size_t)max_threads();
    struct {
        float **ptr;
        size_t n;
    } plan[] = {
        {&a->residual, (L + 1) * N * C}, {&a->attn_norm_out, L * N * C}, {&a->attn_rstd, L * N},
        {&a->q, L * N * QD}, {&a->k, L * N * KVD}, {&a->v, L * N * KVD}, {&a->att, L * N * H * (size_t)T},
        {&a->att_out, L * N * QD}, {&a->mid, L * N * C}, {&a->mlp_norm_out, L * N * C}, {&a->mlp_rstd, L * N},
        {&a->gate, L * N * F}, {&a->up, L * N * F}, {&a->swiglu, L * N * F}, {&a->final_norm_out, N * C},
        {&a->final_rstd, N}, {&a->logits, N * V}, {&a->token_logprob, N}, {&a->d_residual, N * C},
        {&a->d_norm_out, N * C}, {&a->d_att_out, N * QD}, {&a->d_q, N * QD}, {&a->d_k, N * KVD}, {&a->d_v, N * KVD},
        {&a->d_gate, N * F}, {&a->d_up, N * F}, {&a->d_swiglu, N * F},
        // transposes for the weight gradients, and per-thread attention scratch
        {&a->scratch, max_out * N + threads * 2 * (size_t)T * T},
        {&a->lora_u, L * N_LORA_TARGETS * N * (size_t)lora_r}, {&a->lora_du, 2 * N * (size_t)lora_r},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) {
        if (base) *plan[i].ptr = base + total;
        total += plan[i].n;
    }
    return total;
}

// Makes sure the activations hold a batch of B sequences of T tokens.
static void acts_ensure(Model *m, int B, int T) {
    int r = m->lora ? m->lora_config.r : 0;
    if (m->acts_memory && B <= m->acts_B && T <= m->acts_T && r == m->acts_lora_r) {
        // the layout depends on (B, T): re-point the arrays for this shape inside the memory
        acts_float_count(&m->config, B, T, r, &m->acts, m->acts_memory);
        return;
    }
    free(m->acts_memory);
    if (B < m->acts_B) B = m->acts_B;
    if (T < m->acts_T) T = m->acts_T;
    size_t n = acts_float_count(&m->config, B, T, r, &m->acts, NULL);
    m->acts_memory = xmalloc(n * sizeof(float));
    m->acts_B = B;
    m->acts_T = T;
    m->acts_lora_r = r;
    acts_float_count(&m->config, B, T, r, &m->acts, m->acts_memory);
}

static void grads_ensure(Model *m) {
    if (m->lora) {
        if (m->lora_grads_memory) return;
        m->lora_grads_memory = xcalloc(m->n_lora, sizeof(float));
        lora_point(&m->lora_grads, m->lora_grads_memory, &m->config, &m->lora_config);
        return;
    }
    if (m->grads_memory) return;
    m->grads_memory = xcalloc(m->n_params, sizeof(float));
    params_point(&m->grads, m->grads_memory, &m->config);
}

// What training updates: the adapters when there are, else every weight. p, g: (n).
static void trained_params(const Model *m, float **p, float **g, size_t *n) {
    *p = m->lora ? m->lora_memory : m->params_memory;
    *g = m->lora ? m->lora_grads_memory : m->grads_memory;
    *n = m->lora ? m->n_lora : m->n_params;
}

void model_zero_grad(Model *m) {
    grads_ensure(m);
    float *p, *g;
    size_t n;
    trained_params(m, &p, &g, &n);
    memset(g, 0, n * sizeof(float));
}

// positions[n] = n % T: every sequence of the batch starts at position 0.
static int *batch_positions(int B, int T) {
    int *pos = xmalloc((size_t)B * T * sizeof(int));
    for (int n = 0; n < B * T; n++) pos[n] = n % T;
    return pos;
}

static void check_tokens(const Config *c, const int *tokens, int n, const char *what) {
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab_size)
            fatal("%s id %d at position %d is outside the vocabulary (0..%d)", what, tokens[i], i, c->vocab_size - 1);
}

// One linear layer's weight, in whichever form the model holds it (see inference_weight).
typedef struct {
    const float *w;          // (OUT, IN) float32, or NULL
    const float *packed;     // its packed copy, or NULL
    const uint16_t *w16;     // (OUT, IN) bf16, or NULL
} LinearWeight;
static LinearWeight inference_weight(const Model *m, int t, int l);
static void inference_linear(float *y, const float *x, LinearWeight W, int n, int IN, int OUT);

// Slice l of Params tensor t (a weight or its gradient).
static float *param_layer(const Params *p, const Config *c, int t, int l) {
    float *ptrs[N_PARAM_TENSORS] = {p->token_embedding, p->attn_norm, p->wq, p->wk, p->wv, p->wo,
                                    p->mlp_norm, p->w_gate, p->w_up, p->w_down, p->final_norm, p->lm_head};
    size_t rows, cols;
    tensor_shape(c, t, &rows, &cols);
    return ptrs[t] + (size_t)l * rows * (cols ? cols : 1);
}

// Linear layer lt (LORA_Q ... LORA_DOWN) of layer l: y (N, OUT) = x W^T, plus the adapter's
// update when lt is adapted (us: (N, r) where the adapter keeps s x A^T).
static void layer_linear_forward(const Model *m, int lt, int l, float *y, const float *x, int N, float *us) {
    size_t in, out;
    lora_in_out(&m->config, lt, &in, &out);
    inference_linear(y, x, inference_weight(m, lora_param_tensor[lt], l), N, (int)in, (int)out);
    if (!m->lora || !(m->lora_config.targets >> lt & 1)) return;
    size_t rows, cols;
    const float *A = lora_tensor(m, &m->lora_params, lt, 0, l, &rows, &cols);
    const float *B = lora_tensor(m, &m->lora_params, lt, 1, l, &rows, &cols);
    int r = m->lora_config.r;
    lora_forward(y, us, x, A, B, N, (int)in, (int)out, r, m->lora_config.alpha / (float)r);
}

// Where the training forward keeps layer l's us for target lt.
static float *lora_u_slot(const Model *m, int lt, int l) {
    return m->acts.lora_u + ((size_t)l * N_LORA_TARGETS + lt) * (size_t)m->B * m->T * m->lora_config.r;
}

// Its backward, from dy (N, OUT): dx (N, IN) (+)= dy W (+ the adapter's part), with the gradient
// of W (every weight trains) or of the adapter (LoRA: W is frozen and gets none).
static void layer_linear_backward(Model *m, int lt, int l, float *dx, const float *dy, const float *x, int accumulate_dx) {
    const Config *c = &m->config;
    Activations *a = &m->acts;
    int N = m->B * m->T, t = lora_param_tensor[lt];
    size_t in, out;
    lora_in_out(c, lt, &in, &out);
    if (!m->lora) {
        linear_backward(dx, param_layer(&m->grads, c, t, l), dy, x, param_layer(&m->params, c, t, l), a->scratch, N, (int)in,
                        (int)out, accumulate_dx);
        return;
    }
    LinearWeight W = inference_weight(m, t, l);
    if (W.w16) linear_backward_input_bf16(dx, dy, W.w16, N, (int)in, (int)out, accumulate_dx);
    else matmul(dx, (int)in, dy, (int)out, W.w, (int)in, B_ROWS, N, (int)in, (int)out, accumulate_dx);
    if (!(m->lora_config.targets >> lt & 1)) return;
    size_t rows, cols;
    int r = m->lora_config.r;
    lora_backward(dx, lora_tensor(m, &m->lora_grads, lt, 0, l, &rows, &cols), lora_tensor(m, &m->lora_grads, lt, 1, l, &rows, &cols),
                  dy, x, lora_u_slot(m, lt, l), lora_tensor(m, &m->lora_params, lt, 0, l, &rows, &cols),
                  lora_tensor(m, &m->lora_params, lt, 1, l, &rows, &cols), a->scratch, a->lora_du, a->lora_du + (size_t)N * r, N,
                  (int)in, (int)out, r, m->lora_config.alpha / (float)r);
}

void model_forward(Model *m, const int *inputs, const int *targets, int B, int T) {
    const Config *c = &m->config;
    if (rope_ensure(m, T) < 0) fatal("%s", srl_error);
    check_tokens(c, inputs, B * T, "input token");
    acts_ensure(m, B, T);
    m->B = B;
    m->T = T;
    m->targets = targets;
    m->inputs = inputs;
    Activations *a = &m->acts;
    Params *p = &m->params;
    int N = B * T, C = c->dim, F = c->hidden_dim, V = c->vocab_size, H = c->n_heads, KV = c->n_kv_heads;
    int D = c->head_dim, QD = H * D, KVD = KV * D;
    size_t NC = (size_t)N * C;
    int *pos = batch_positions(B, T);

    if (m->weights_bf16) embedding_forward_bf16(a->residual, m->bf16.token_embedding, inputs, N, C);
    else embedding_forward(a->residual, p->token_embedding, inputs, N, C);
    for (int l = 0; l < c->n_layers; l++) {
        const float *x = a->residual + l * NC;
        float *norm = a->attn_norm_out + l * NC;
        float *q = a->q + (size_t)l * N * QD, *k = a->k + (size_t)l * N * KVD, *v = a->v + (size_t)l * N * KVD;
        float *att_out = a->att_out + (size_t)l * N * QD, *mid = a->mid + l * NC;
        rmsnorm_forward(norm, a->attn_rstd + (size_t)l * N, x, p->attn_norm + (size_t)l * C, N, C, c->norm_eps);
        layer_linear_forward(m, LORA_Q, l, q, norm, N, lora_u_slot(m, LORA_Q, l));
        layer_linear_forward(m, LORA_K, l, k, norm, N, lora_u_slot(m, LORA_K, l));
        layer_linear_forward(m, LORA_V, l, v, norm, N, lora_u_slot(m, LORA_V, l));
        rope_forward(q, pos, N, H, D, m->rope_cos, m->rope_sin, c->rope_interleaved);
        rope_forward(k, pos, N, KV, D, m->rope_cos, m->rope_sin, c->rope_interleaved);
        attention_forward(att_out, a->att + (size_t)l * N * H * T, q, k, v, B, T, H, KV, D);
        layer_linear_forward(m, LORA_O, l, mid, att_out, N, lora_u_slot(m, LORA_O, l));
        for (size_t i = 0; i < NC; i++) mid[i] += x[i];

        float *norm2 = a->mlp_norm_out + l * NC;
        float *gate = a->gate + (size_t)l * N * F, *up = a->up + (size_t)l * N * F, *sw = a->swiglu + (size_t)l * N * F;
        float *out = a->residual + (l + 1) * NC;
        rmsnorm_forward(norm2, a->mlp_rstd + (size_t)l * N, mid, p->mlp_norm + (size_t)l * C, N, C, c->norm_eps);
        layer_linear_forward(m, LORA_GATE, l, gate, norm2, N, lora_u_slot(m, LORA_GATE, l));
        layer_linear_forward(m, LORA_UP, l, up, norm2, N, lora_u_slot(m, LORA_UP, l));
        swiglu_forward(sw, gate, up, (size_t)N * F);
        layer_linear_forward(m, LORA_DOWN, l, out, sw, N, lora_u_slot(m, LORA_DOWN, l));
        for (size_t i = 0; i < NC; i++) out[i] += mid[i];
    }
    rmsnorm_forward(a->final_norm_out, a->final_rstd, a->residual + c->n_layers * NC, p->final_norm, N, C, c->norm_eps);
    inference_linear(a->logits, a->final_norm_out, inference_weight(m, 11, 0), N, C, V);
    if (targets) {
        for (int i = 0; i < N; i++)
            if (targets[i] >= V) fatal("target id %d at position %d is outside the vocabulary", targets[i], i);
        logprob_forward(a->token_logprob, a->logits, targets, N, V);
    }
    free(pos);
}

void model_backward(Model *m, const float *d_logprob) {
    const Config *c = &m->config;
    if (!m->targets) fatal("model_backward needs a forward with targets");
    if (m->weights_bf16 && !m->lora) fatal("model_backward: bf16 weights are frozen: train LoRA adapters on them, or load as f32");
    grads_ensure(m);
    Activations *a = &m->acts;
    Params *p = &m->params, *g = &m->grads;
    int frozen = m->lora;  // the base gets no gradient
    int B = m->B, T = m->T, N = B * T, C = c->dim, F = c->hidden_dim, V = c->vocab_size, H = c->n_heads;
    int KV = c->n_kv_heads, D = c->head_dim, QD = H * D, KVD = KV * D;
    size_t NC = (size_t)N * C;
    int *pos = batch_positions(B, T);
    float *dy_t = a->scratch;  // the transposes of linear_backward
    float *attn_scratch = a->scratch + (size_t)N * linear_max_out(c);

    // the head: logits = final_norm_out lm_head^T
    logprob_backward(a->logits, d_logprob, m->targets, N, V);
    if (!frozen) linear_backward(a->d_norm_out, g->lm_head, a->logits, a->final_norm_out, p->lm_head, dy_t, N, C, V, 0);
    else if (m->weights_bf16) linear_backward_input_bf16(a->d_norm_out, a->logits, m->bf16.lm_head, N, C, V, 0);
    else matmul(a->d_norm_out, C, a->logits, V, p->lm_head, C, B_ROWS, N, C, V, 0);
    memset(a->d_residual, 0, NC * sizeof(float));
    rmsnorm_backward(a->d_residual, frozen ? NULL : g->final_norm, a->d_norm_out, a->residual + c->n_layers * NC, p->final_norm,
                     a->final_rstd, N, C);

    for (int l = c->n_layers - 1; l >= 0; l--) {
        // MLP block: out = mid + down(swiglu(gate(norm2), up(norm2))); d_residual flows on to mid
        const float *mid = a->mid + l * NC, *norm2 = a->mlp_norm_out + l * NC;
        const float *gate = a->gate + (size_t)l * N * F, *up = a->up + (size_t)l * N * F, *sw = a->swiglu + (size_t)l * N * F;
        layer_linear_backward(m, LORA_DOWN, l, a->d_swiglu, a->d_residual, sw, 0);
        swiglu_backward(a->d_gate, a->d_up, a->d_swiglu, gate, up, (size_t)N * F);
        layer_linear_backward(m, LORA_GATE, l, a->d_norm_out, a->d_gate, norm2, 0);
        layer_linear_backward(m, LORA_UP, l, a->d_norm_out, a->d_up, norm2, 1);
        rmsnorm_backward(a->d_residual, frozen ? NULL : g->mlp_norm + (size_t)l * C, a->d_norm_out, mid,
                         p->mlp_norm + (size_t)l * C, a->mlp_rstd + (size_t)l * N, N, C);

        // attention block: mid = x + o_proj(attention(q, k, v)); d_residual flows on to x
        const float *x = a->residual + l * NC, *norm = a->attn_norm_out + l * NC;
        const float *q = a->q + (size_t)l * N * QD, *k = a->k + (size_t)l * N * KVD, *v = a->v + (size_t)l * N * KVD;
        layer_linear_backward(m, LORA_O, l, a->d_att_out, a->d_residual, a->att_out + (size_t)l * N * QD, 0);
        attention_backward(a->d_q, a->d_k, a->d_v, a->d_att_out, a->att + (size_t)l * N * H * T, q, k, v, B, T, H, KV, D,
                           attn_scratch);
        rope_backward(a->d_q, pos, N, H, D, m->rope_cos, m->rope_sin, c->rope_interleaved);
        rope_backward(a->d_k, pos, N, KV, D, m->rope_cos, m->rope_sin, c->rope_interleaved);
        layer_linear_backward(m, LORA_Q, l, a->d_norm_out, a->d_q, norm, 0);
        layer_linear_backward(m, LORA_K, l, a->d_norm_out, a->d_k, norm, 1);
        layer_linear_backward(m, LORA_V, l, a->d_norm_out, a->d_v, norm, 1);
        rmsnorm_backward(a->d_residual, frozen ? NULL : g->attn_norm + (size_t)l * C, a->d_norm_out, x,
                         p->attn_norm + (size_t)l * C, a->attn_rstd + (size_t)l * N, N, C);
    }
    if (!frozen) embedding_backward(g->token_embedding, a->d_residual, m->inputs, N, C);
    free(pos);
}

float model_weighted_nll(const Model *m, const float *weights, float *d_logprob) {
    int N = m->B * m->T;
    double loss = 0.0;
    for (int n = 0; n < N; n++) {
        loss -= (double)weights[n] * m->acts.token_logprob[n];
        if (d_logprob) d_logprob[n] = -weights[n];
    }
    return (float)loss;
}

void model_sequence_logprobs(const Model *m, const float *mask, double *out) {
    for (int b = 0; b < m->B; b++) {
        double s = 0.0;
        for (int t = 0; t < m->T; t++)
            if (mask[b * m->T + t] != 0.0f) s += m->acts.token_logprob[b * m->T + t];
        out[b] = s;
    }
}

// ----------------------------------------------------------------------------
// AdamW, gradient clipping, learning-rate schedule

// Squares are summed in double over fixed chunks, then the chunks in order: the same number
// for any thread count.
float model_grad_norm(const Model *m) {
    const size_t chunk = 1 << 16;
    float *params, *grads;
    size_t n;
    trained_params(m, &params, &grads, &n);
    size_t n_chunks = (n + chunk - 1) / chunk;
    double *partial = xcalloc(n_chunks, sizeof(double));
#pragma omp parallel for schedule(static)
    for (size_t ci = 0; ci < n_chunks; ci++) {
        size_t end = (ci + 1) * chunk < n ? (ci + 1) * chunk : n;
        double s = 0.0;
        for (size_t i = ci * chunk; i < end; i++) s += (double)grads[i] * grads[i];
        partial[ci] = s;
    }
    double total = 0.0;
    for (size_t ci = 0; ci < n_chunks; ci++) total += partial[ci];
    free(partial);
    return (float)sqrt(total);
}

void model_scale_grads(Model *m, float scale) {
    float *params, *grads;
    size_t n;
    trained_params(m, &params, &grads, &n);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) grads[i] *= scale;
}

float model_clip_grads(Model *m, float max_norm) {
    float norm = model_grad_norm(m);
    if (max_norm > 0 && norm > max_norm) model_scale_grads(m, max_norm / (norm + 1e-6f));
    return norm;
}

// As torch.optim.AdamW: p -= lr * wd * p (matrices only), then
//   m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2,
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
static void adamw_update(float *p, const float *g, float *mm, float *vv, size_t n, const AdamWConfig *cfg, float decay,
                         float step_size, float bc2_sqrt) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        p[i] *= decay;
        mm[i] = cfg->beta1 * mm[i] + (1.0f - cfg->beta1) * g[i];
        vv[i] = cfg->beta2 * vv[i] + (1.0f - cfg->beta2) * g[i] * g[i];
        p[i] -= step_size * mm[i] / (sqrtf(vv[i]) / bc2_sqrt + cfg->eps);
    }
}

void model_adamw_step(Model *m, const AdamWConfig *cfg, float lr) {
    float *params, *grads;
    size_t n;
    trained_params(m, &params, &grads, &n);
    if (!m->adam_m) {
        m->adam_m = xcalloc(n, sizeof(float));
        m->adam_v = xcalloc(n, sizeof(float));
    }
    m->adam_step++;
    double bc1 = 1.0 - pow(cfg->beta1, (double)m->adam_step), bc2 = 1.0 - pow(cfg->beta2, (double)m->adam_step);
    float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    if (m->lora) {  // the adapters are all matrices: all decay
        adamw_update(params, grads, m->adam_m, m->adam_v, n, cfg, 1.0f - lr * cfg->weight_decay, step_size, bc2_sqrt);
        return;
    }
    size_t sizes[N_PARAM_TENSORS], offset = 0;
    param_sizes(&m->config, sizes);
    for (int t = 0; t < N_PARAM_TENSORS; t++) {
        float decay = param_tensor_decays[t] ? 1.0f - lr * cfg->weight_decay : 1.0f;
        adamw_update(params + offset, grads + offset, m->adam_m + offset, m->adam_v + offset, sizes[t], cfg, decay, step_size,
                     bc2_sqrt);
        offset += sizes[t];
    }
}

float lr_at_step(const LRSchedule *s, int step) {
    if (step < s->warmup_steps) return s->lr_max * (float)(step + 1) / (float)s->warmup_steps;
    int decay_steps = s->total_steps - s->warmup_steps;
    if (decay_steps <= 0) return s->lr_max;
    double progress = (double)(step - s->warmup_steps) / decay_steps;
    if (progress > 1.0) progress = 1.0;
    double factor = s->linear ? 1.0 - progress : 0.5 * (1.0 + cos(M_PI * progress));
    return (float)(s->lr_min + (s->lr_max - s->lr_min) * factor);
}

// ----------------------------------------------------------------------------
// safetensors: an 8-byte little-endian header length n, n bytes of JSON naming each tensor's
// dtype, shape and [begin, end) byte offsets into the data that follows, then the data.
// Everything a header claims is checked against the real file before it is used.

#define SAFETENSORS_MAX_HEADER (100u << 20)

static int dtype_size(const char *dtype) {
    if (strcmp(dtype, "F32") == 0) return 4;
    if (strcmp(dtype, "BF16") == 0 || strcmp(dtype, "F16") == 0) return 2;
    return 0;
}

int safetensors_open(SafeTensors *st, const char *path) {
    memset(st, 0, sizeof *st);
    snprintf(st->path, sizeof st->path, "%s", path);
    if (map_file(path, &st->file) < 0) return -1;
    size_t size = st->file.size;
    if (size < 8) {
        unmap_file(&st->file);
        return errorf("%s: file is %zu bytes, too short for a safetensors header", path, size);
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | st->file.data[i];
    if (n > size - 8) {
        unmap_file(&st->file);
        return errorf("%s: header length %llu runs past the end of the file (%zu bytes)", path, (unsigned long long)n, size);
    }
    if (n > SAFETENSORS_MAX_HEADER) {
        unmap_file(&st->file);
        return errorf("%s: header length %llu is implausibly large", path, (unsigned long long)n);
    }
    if (json_parse(&st->header, (const char *)st->file.data + 8, (size_t)n) < 0) {
        char msg[sizeof srl_error];
        snprintf(msg, sizeof msg, "%s", srl_error);
        unmap_file(&st->file);
        return errorf("%s: header: %s", path, msg);
    }
    if (st->header.root->type != JSON_OBJECT) {
        safetensors_close(st);
        return errorf("%s: header is not a JSON object", path);
    }
    st->data_start = 8 + (size_t)n;
    st->data_size = st->file.size - st->data_start;
    return 0;
}

void safetensors_close(SafeTensors *st) {
    json_free(&st->header);
    unmap_file(&st->file);
}

// Looks up a tensor and checks its entry: a supported dtype, a shape of at most 8 positive
// dimensions whose product matches the byte range, and a byte range inside the file.
int safetensors_find(const SafeTensors *st, const char *name, SafeTensor *out) {
    const JsonValue *e = json_get(st->header.root, name);
    if (!e) return errorf("%s: tensor %s is missing", st->path, name);
    if (e->type != JSON_OBJECT) return errorf("%s: entry for %s is not an object", st->path, name);
    const char *dtype = json_get_string(e, "dtype");
    if (!dtype) return errorf("%s: tensor %s has no dtype", st->path, name);
    int esize = dtype_size(dtype);
    if (!esize) return errorf("%s: tensor %s has dtype %s (srl reads F32, BF16 and F16)", st->path, name, dtype);
    const JsonValue *shape = json_get(e, "shape"), *offsets = json_get(e, "data_offsets");
    if (!shape || shape->type != JSON_ARRAY || shape->count > 8)
        return errorf("%s: tensor %s has no valid shape", st->path, name);
    if (!offsets || offsets->type != JSON_ARRAY || offsets->count != 2)
        return errorf("%s: tensor %s has no valid data_offsets", st->path, name);
    memset(out, 0, sizeof *out);
    size_t numel = 1;
    out->ndim = shape->count;
    int i = 0;
    for (const JsonValue *d = shape->child; d; d = d->next, i++) {
        if (d->type != JSON_NUMBER || d->number < 0 || d->number > 9.0e15 || d->number != floor(d->number))
            return errorf("%s: tensor %s has a bad dimension", st->path, name);
        out->shape[i] = (int64_t)d->number;
        if (size_mul(numel, (size_t)d->number, &numel) < 0) return errorf("%s: tensor %s: shape overflows", st->path, name);
    }
    const JsonValue *b = offsets->child, *en = b->next;
    if (b->type != JSON_NUMBER || en->type != JSON_NUMBER || b->number < 0 || en->number < b->number ||
        en->number > (double)st->data_size || b->number != floor(b->number) || en->number != floor(en->number))
        return errorf("%s: tensor %s: data_offsets [%.0f, %.0f] lie outside the %zu data bytes", st->path, name, b->number,
                      en->number, st->data_size);
    size_t nbytes;
    if (size_mul(numel, (size_t)esize, &nbytes) < 0 || nbytes != (size_t)(en->number - b->number))
        return errorf("%s: tensor %s: shape needs %zu bytes of %s but data_offsets give %.0f", st->path, name,
                      numel * (size_t)esize, dtype, en->number - b->number);
    out->data = st->file.data + st->data_start + (size_t)b->number;
    out->numel = numel;
    out->dtype = esize == 4 ? DTYPE_F32 : (strcmp(dtype, "BF16") == 0 ? DTYPE_BF16 : DTYPE_F16);
    return 0;
}

void safetensor_to_f32(const SafeTensor *t, float *out) {
    const unsigned char *src = t->data;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < t->numel; i++) {
        if (t->dtype == DTYPE_F32) {
            memcpy(&out[i], src + 4 * i, 4);
        } else {
            uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));
            out[i] = t->dtype == DTYPE_BF16 ? bf16_to_f32(h) : f16_to_f32(h);
        }
    }
}

int safetensors_read(const SafeTensors *st, const char *name, float **data, SafeTensor *info) {
    SafeTensor t;
    if (safetensors_find(st, name, &t) < 0) return -1;
    *data = xmalloc((t.numel ? t.numel : 1) * sizeof(float));
    safetensor_to_f32(&t, *data);
    if (info) *info = t;
    return 0;
}

// One tensor of a safetensors file being written: its name, dtype ("F32" or "BF16"), shape
// [rows, cols] ([rows] when cols is 0), and for safetensors_write_tensors its F32 data.
typedef struct {
    const char *name;
    const char *dtype;
    size_t rows, cols;
    const float *data;  // rows x cols (or rows) floats; unused by safetensors_write_header
} SafeTensorOut;

// The header of a file holding tensors t[0..n-1] back to back in that order: the 8-byte
// little-endian length n_json, then n_json bytes of JSON: "__metadata__" ({"format":"pt"} plus
// `metadata`, JSON object members as text, when not NULL) and each tensor's dtype, shape and
// data_offsets [begin, end), counted from the first byte after the header. The JSON is padded
// with spaces to a multiple of 8 bytes (the format's rule, so that the data starts 8-aligned).
// A write error shows in ferror(f).
static void safetensors_write_header(FILE *f, int n, const SafeTensorOut *t, const char *metadata) {
    Buf header = {0};
    buf_printf(&header, "{\"__metadata__\":{\"format\":\"pt\"%s%s}", metadata ? "," : "", metadata ? metadata : "");
    size_t offset = 0;
    for (int i = 0; i < n; i++) {
        size_t bytes = t[i].rows * (t[i].cols ? t[i].cols : 1) * (size_t)dtype_size(t[i].dtype);
        buf_printf(&header, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%zu", t[i].name, t[i].dtype, t[i].rows);
        if (t[i].cols) buf_printf(&header, ",%zu", t[i].cols);
        buf_printf(&header, "],\"data_offsets\":[%zu,%zu]}", offset, offset + bytes);
        offset += bytes;
    }
    buf_append_char(&header, '}');
    while (header.len % 8) buf_append_char(&header, ' ');
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)header.len >> (8 * i));
    fwrite(len8, 1, 8, f);
    fwrite(header.data, 1, header.len, f);
    buf_free(&header);
}

// A safetensors file of the F32 tensors t[0..n-1] in that order, written atomically.
static int safetensors_write_tensors(const char *path, int n, const SafeTensorOut *t, const char *metadata) {
    AtomicFile af;
    if (atomic_open(&af, path) < 0) return -1;
    safetensors_write_header(af.f, n, t, metadata);
    for (int i = 0; i < n; i++) fwrite(t[i].data, sizeof(float), t[i].rows * (t[i].cols ? t[i].cols : 1), af.f);  // little-endian hosts
    return atomic_commit(&af);
}

// ----------------------------------------------------------------------------
// Hugging Face model folders

static const char *const hf_tensor_names[N_PARAM_TENSORS] = {
    "model.embed_tokens.weight",
    "model.layers.%d.input_layernorm.weight",
    "model.layers.%d.self_attn.q_proj.weight",
    "model.layers.%d.self_attn.k_proj.weight",
    "model.layers.%d.self_attn.v_proj.weight",
    "model.layers.%d.self_attn.o_proj.weight",
    "model.layers.%d.post_attention_layernorm.weight",
    "model.layers.%d.mlp.gate_proj.weight",
    "model.layers.%d.mlp.up_proj.weight",
    "model.layers.%d.mlp.down_proj.weight",
    "model.norm.weight",
    "lm_head.weight",
};

static int tensor_is_per_layer(int t) { return t >= 1 && t <= 9; }

// The shape of one layer's slice of tensor t: rows x cols, cols = 0 for a vector.
static void tensor_shape(const Config *c, int t, size_t *rows, size_t *cols) {
    size_t V = (size_t)c->vocab_size, C = (size_t)c->dim, F = (size_t)c->hidden_dim;
    size_t QD = (size_t)c->n_heads * c->head_dim, KVD = (size_t)c->n_kv_heads * c->head_dim;
    size_t shapes[N_PARAM_TENSORS][2] = {{V, C}, {C, 0}, {QD, C}, {KVD, C}, {KVD, C}, {C, QD},
                                         {C, 0}, {F, C}, {F, C},  {C, F},   {C, 0},   {V, C}};
    *rows = shapes[t][0];
    *cols = shapes[t][1];
}

static void tensor_name(char *out, size_t cap, int t, int layer) {
    if (tensor_is_per_layer(t)) snprintf(out, cap, hf_tensor_names[t], layer);
    else snprintf(out, cap, "%s", hf_tensor_names[t]);
}

// The shards of a model folder: model.safetensors alone, or the files that
// model.safetensors.index.json's weight_map names.
struct ShardSet {
    int n_files;
    SafeTensors *files;
    JsonDoc index;           // the index's weight_map (when sharded)
    char *index_text;
};
typedef struct ShardSet ShardSet;

static void shards_close(ShardSet *s) {
    for (int i = 0; i < s->n_files; i++) safetensors_close(&s->files[i]);
    free(s->files);
    json_free(&s->index);
    free(s->index_text);
    memset(s, 0, sizeof *s);
}

static int shards_open(ShardSet *s, const char *dir) {
    memset(s, 0, sizeof *s);
    char *single = path_join(dir, "model.safetensors"), *index = path_join(dir, "model.safetensors.index.json");
    int rc = 0;
    if (file_exists(single)) {
        s->files = xcalloc(1, sizeof(SafeTensors));
        if (safetensors_open(&s->files[0], single) < 0) rc = -1;
        else s->n_files = 1;
    } else if (file_exists(index)) {
        size_t len;
        if (read_file(index, &s->index_text, &len, 64u << 20) < 0) rc = -1;
        else if (json_parse(&s->index, s->index_text, len) < 0) {
            char msg[sizeof srl_error];
            snprintf(msg, sizeof msg, "%s", srl_error);
            rc = errorf("%s: %s", index, msg);
        } else {
            const JsonValue *map = json_get(s->index.root, "weight_map");
            if (!map || map->type != JSON_OBJECT) rc = errorf("%s: no weight_map object", index);
            else {
                // open each distinct shard once; a shard name must be a plain file name in dir.
                // The array grows with the distinct shards met, not with the entries (which a
                // hostile index can make many).
                int cap = 0;
                for (const JsonValue *e = map->child; e && rc == 0; e = e->next) {
                    if (e->type != JSON_STRING || strchr(e->string, '/') || e->string[0] == '.' || e->string[0] == 0) {
                        rc = errorf("%s: weight_map entry for %s is not a plain file name", index, e->key);
                        break;
                    }
                    int seen = 0;
                    for (int i = 0; i < s->n_files; i++) {
                        const char *base = strrchr(s->files[i].path, '/');
                        if (strcmp(base ? base + 1 : s->files[i].path, e->string) == 0) seen = 1;
                    }
                    if (seen) continue;
                    if (s->n_files == cap) {
                        cap = cap ? 2 * cap : 4;
                        s->files = xrealloc(s->files, (size_t)cap * sizeof(SafeTensors));
                    }
                    char *p = path_join(dir, e->string);
                    if (safetensors_open(&s->files[s->n_files], p) < 0) rc = -1;
                    else s->n_files++;
                    free(p);
                }
            }
        }
    } else {
        rc = errorf("%s: no model.safetensors or model.safetensors.index.json", dir);
    }
    free(single);
    free(index);
    if (rc < 0) shards_close(s);
    return rc;
}

static int shards_find(const ShardSet *s, const char *name, SafeTensor *t) {
    if (s->n_files == 1 && !s->index.root) return safetensors_find(&s->files[0], name, t);
    const char *file = json_get_string(json_get(s->index.root, "weight_map"), name);
    if (!file) return errorf("model.safetensors.index.json: tensor %s is missing from weight_map", name);
    for (int i = 0; i < s->n_files; i++) {
        const char *base = strrchr(s->files[i].path, '/');
        if (strcmp(base ? base + 1 : s->files[i].path, file) == 0) return safetensors_find(&s->files[i], name, t);
    }
    return errorf("%s: shard %s was not opened", name, file);
}

// ----------------------------------------------------------------------------
// bf16 weights held for inference (see WeightsBF16 in model.h)

// Where tensor t (a matrix) of layer l goes in a bf16 model.
static const uint16_t **bf16_slot(WeightsBF16 *b, int t, int l) {
    switch (t) {
    case 0: return &b->token_embedding;
    case 2: return &b->wq[l];
    case 3: return &b->wk[l];
    case 4: return &b->wv[l];
    case 5: return &b->wo[l];
    case 7: return &b->w_gate[l];
    case 8: return &b->w_up[l];
    case 9: return &b->w_down[l];
    case 11: return &b->lm_head;
    default: return NULL;  // a norm weight: float32 in params
    }
}

static int tensor_is_matrix(int t) { return param_tensor_decays[t]; }

// m for config c with bf16 matrices: the pointer arrays, and params_memory holding only the
// norm weights, in params' order (attn_norm, mlp_norm, final_norm).
static void bf16_alloc(Model *m, const Config *c) {
    memset(m, 0, sizeof *m);
    m->config = *c;
    m->weights_bf16 = 1;
    size_t L = (size_t)c->n_layers, C = (size_t)c->dim;
    m->n_params = 2 * L * C + C;
    m->params_memory = xmalloc(m->n_params * sizeof(float));
    m->params.attn_norm = m->params_memory;
    m->params.mlp_norm = m->params_memory + L * C;
    m->params.final_norm = m->params_memory + 2 * L * C;
    WeightsBF16 *b = &m->bf16;
    b->layer_ptrs = xcalloc(7 * L, sizeof *b->layer_ptrs);
    const uint16_t ***named[7] = {&b->wq, &b->wk, &b->wv, &b->wo, &b->w_gate, &b->w_up, &b->w_down};
    for (int i = 0; i < 7; i++) *named[i] = b->layer_ptrs + i * L;
}

static float *norm_slot(Model *m, int t, int l) {
    size_t C = (size_t)m->config.dim;
    return t == 1 ? m->params.attn_norm + l * C : t == 6 ? m->params.mlp_norm + l * C : m->params.final_norm;
}

// A tensor is used in place when it is BF16, 2-byte aligned, and this host is little-endian
// (the file is); otherwise it is copied, rounded to bf16.
static int bf16_in_place(const SafeTensor *t) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return t->dtype == DTYPE_BF16 && ((uintptr_t)t->data & 1) == 0;
#else
    (void)t;
    return 0;
#endif
}

static void safetensor_to_bf16(const SafeTensor *t, uint16_t *out) {
    const unsigned char *src = t->data;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < t->numel; i++) {
        if (t->dtype == DTYPE_F32) {
            float f;
            memcpy(&f, src + 4 * i, 4);
            out[i] = f32_to_bf16(f);
        } else {
            uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));
            out[i] = t->dtype == DTYPE_BF16 ? h : f32_to_bf16(f16_to_f32(h));
        }
    }
}

typedef struct ShardSet ShardSet;
static void shards_close(ShardSet *s);

// Fills a bf16 model from the checked entries found[] (in load_hf_folder's order). The shards
// stay open (moved into m) when any tensor is used in place.
static void bf16_from_entries(Model *m, const Config *c, const SafeTensor *found, ShardSet *shards, size_t shards_size) {
    bf16_alloc(m, c);
    WeightsBF16 *b = &m->bf16;
    size_t copied = 0;
    int e = 0;
    for (int t = 0; t < N_PARAM_TENSORS; t++) {
        if (t == 11 && c->tied_embeddings) continue;
        int layers = tensor_is_per_layer(t) ? c->n_layers : 1;
        for (int l = 0; l < layers; l++, e++)
            if (tensor_is_matrix(t) && !bf16_in_place(&found[e])) copied += found[e].numel;
    }
    if (copied) b->memory = xmalloc(copied * sizeof(uint16_t));
    size_t offset = 0;
    e = 0;
    for (int t = 0; t < N_PARAM_TENSORS; t++) {
        if (t == 11 && c->tied_embeddings) continue;
        int layers = tensor_is_per_layer(t) ? c->n_layers : 1;
        for (int l = 0; l < layers; l++, e++) {
            const SafeTensor *st = &found[e];
            if (!tensor_is_matrix(t)) {
                safetensor_to_f32(st, norm_slot(m, t, l));
            } else if (bf16_in_place(st)) {
                *bf16_slot(b, t, l) = (const uint16_t *)(const void *)st->data;
                b->n_mapped += st->numel;
            } else {
                safetensor_to_bf16(st, b->memory + offset);
                *bf16_slot(b, t, l) = b->memory + offset;
                offset += st->numel;
                b->n_copied += st->numel;
            }
        }
    }
    if (c->tied_embeddings) b->lm_head = b->token_embedding;
    if (b->n_mapped) {
        b->files = xmalloc(shards_size);
        memcpy(b->files, shards, shards_size);
        memset(shards, 0, shards_size);
    }
}

// An f32 model turned into a bf16 one (each matrix rounded to nearest even into memory).
static void bf16_from_f32_model(Model *m) {
    Model f32 = *m;
    const Config *c = &f32.config;
    bf16_alloc(m, c);
    size_t sizes[N_PARAM_TENSORS], total = 0;
    param_sizes(c, sizes);
    for (int t = 0; t < N_PARAM_TENSORS; t++)
        if (tensor_is_matrix(t)) total += sizes[t];
    m->bf16.memory = xmalloc((total ? total : 1) * sizeof(uint16_t));
    const float *src[N_PARAM_TENSORS] = {f32.params.token_embedding, f32.params.attn_norm, f32.params.wq, f32.params.wk,
                                         f32.params.wv, f32.params.wo, f32.params.mlp_norm, f32.params.w_gate,
                                         f32.params.w_up, f32.params.w_down, f32.params.final_norm, f32.params.lm_head};
    size_t offset = 0;
    for (int t = 0; t < N_PARAM_TENSORS; t++) {
        if (t == 11 && c->tied_embeddings) continue;
        int layers = tensor_is_per_layer(t) ? c->n_layers : 1;
        size_t per_layer = sizes[t] / (size_t)layers;
        for (int l = 0; l < layers; l++) {
            const float *from = src[t] + (size_t)l * per_layer;
            if (!tensor_is_matrix(t)) {
                memcpy(norm_slot(m, t, l), from, per_layer * sizeof(float));
                continue;
            }
            uint16_t *to = m->bf16.memory + offset;
            for (size_t i = 0; i < per_layer; i++) to[i] = f32_to_bf16(from[i]);
            *bf16_slot(&m->bf16, t, l) = to;
            offset += per_layer;
            m->bf16.n_copied += per_layer;
        }
    }
    if (c->tied_embeddings) m->bf16.lm_head = m->bf16.token_embedding;
    model_free(&f32);
}

static void bf16_free(WeightsBF16 *b) {
    free(b->layer_ptrs);
    free(b->memory);
    if (b->files) shards_close(b->files);
    free(b->files);
    memset(b, 0, sizeof *b);
}

static int load_hf_folder(Model *m, const char *dir, int load_dtype) {
    Config c;
    char *config_path = path_join(dir, "config.json");
    int rc = config_load_json(&c, config_path);
    free(config_path);
    if (rc < 0) return -1;
    ShardSet shards;
    if (shards_open(&shards, dir) < 0) return -1;
    // find and check every tensor before allocating anything
    int n_entries = 0;
    SafeTensor *found = xcalloc((size_t)N_PARAM_TENSORS * (size_t)c.n_layers, sizeof(SafeTensor));
    for (int t = 0; t < N_PARAM_TENSORS && rc == 0; t++) {
        if (t == 11 && c.tied_embeddings) continue;
        int layers = tensor_is_per_layer(t) ? c.n_layers : 1;
        size_t rows, cols;
        tensor_shape(&c, t, &rows, &cols);
        for (int l = 0; l < layers && rc == 0; l++) {
            char name[128];
            tensor_name(name, sizeof name, t, l);
            SafeTensor *st = &found[n_entries++];
            if (shards_find(&shards, name, st) < 0) { rc = -1; break; }
            int ok = cols ? (st->ndim == 2 && st->shape[0] == (int64_t)rows && st->shape[1] == (int64_t)cols)
                          : (st->ndim == 1 && st->shape[0] == (int64_t)rows);
            if (!ok) {
                char got[96] = "";
                for (int d = 0; d < st->ndim && d < 4; d++)
                    snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)st->shape[d]);
                if (cols) rc = errorf("%s: tensor %s has shape [%s], config.json implies [%zu, %zu]", dir, name, got, rows, cols);
                else rc = errorf("%s: tensor %s has shape [%s], config.json implies [%zu]", dir, name, got, rows);
            }
        }
    }
    // bf16: asked for, or (auto) every matrix of the file is BF16
    int bf16 = load_dtype == LOAD_BF16;
    if (load_dtype == LOAD_AUTO && rc == 0) {
        bf16 = 1;
        int e = 0;
        for (int t = 0; t < N_PARAM_TENSORS; t++) {
            if (t == 11 && c.tied_embeddings) continue;
            int layers = tensor_is_per_layer(t) ? c.n_layers : 1;
            for (int l = 0; l < layers; l++, e++)
                if (tensor_is_matrix(t) && found[e].dtype != DTYPE_BF16) bf16 = 0;
        }
    }
    if (rc == 0) {
        size_t n_params = count_params(&c);
        char what[4200];  // the folder's path (up to PATH_MAX) and the count
        snprintf(what, sizeof what, "%s (%zu parameters, held as %s)", dir, n_params,
                 bf16 ? "bf16, norms float32" : "float32");
        rc = memory_check(model_bytes_weights(&c, bf16), what);
    }
    if (rc == 0 && bf16) {
        bf16_from_entries(m, &c, found, &shards, sizeof shards);
    } else if (rc == 0) {
        model_alloc(m, &c);
        float *ptrs[N_PARAM_TENSORS] = {m->params.token_embedding, m->params.attn_norm, m->params.wq, m->params.wk,
                                        m->params.wv, m->params.wo, m->params.mlp_norm, m->params.w_gate,
                                        m->params.w_up, m->params.w_down, m->params.final_norm, m->params.lm_head};
        int e = 0;
        for (int t = 0; t < N_PARAM_TENSORS; t++) {
            if (t == 11 && c.tied_embeddings) continue;
            int layers = tensor_is_per_layer(t) ? c.n_layers : 1;
            for (int l = 0; l < layers; l++, e++) safetensor_to_f32(&found[e], ptrs[t] + (size_t)l * found[e].numel);
        }
    }
    free(found);
    shards_close(&shards);
    return rc;
}

// ----------------------------------------------------------------------------
// llama2.c checkpoints (the legacy format of karpathy/llama2.c's export): seven int32
// (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size
// means the classifier is stored apart), then float32 tensors in a fixed order. RoPE pairs
// adjacent elements there.

static int load_llama2c(Model *m, const char *path) {
    MappedFile f;
    if (map_file(path, &f) < 0) return -1;
    size_t size = f.size;
    if (size < 28) {
        unmap_file(&f);
        return errorf("%s: file is %zu bytes, too short for a llama2.c header", path, size);
    }
    int32_t h[7];
    memcpy(h, f.data, sizeof h);
    if (h[0] == 0x616b3432) {
        unmap_file(&f);
        return errorf("%s: llama2.c export version %d is not supported (only the legacy format)", path, h[1]);
    }
    Config c;
    memset(&c, 0, sizeof c);
    c.dim = h[0], c.hidden_dim = h[1], c.n_layers = h[2], c.n_heads = h[3], c.n_kv_heads = h[4];
    int shared = h[5] > 0;
    c.vocab_size = h[5] > 0 ? h[5] : (h[5] == INT32_MIN ? 0 : -h[5]);
    c.max_seq_len = h[6];
    if (c.dim <= 0 || c.n_heads <= 0 || c.dim % c.n_heads != 0) {
        unmap_file(&f);
        return errorf("%s: header has dim %d and n_heads %d: heads must divide a positive dim", path, c.dim, c.n_heads);
    }
    c.head_dim = c.dim / c.n_heads;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    c.rope_interleaved = 1;
    c.tied_embeddings = shared;
    c.bos_token_id = 1;
    c.eos_token_ids[0] = 2;
    c.n_eos = 1;
    if (config_validate(&c) < 0 || c.max_seq_len > (1 << 24)) {
        char msg[sizeof srl_error];
        snprintf(msg, sizeof msg, "%s", c.max_seq_len > (1 << 24) ? "seq_len is implausibly large" : srl_error);
        unmap_file(&f);
        return errorf("%s: header: %s", path, msg);
    }
    size_t sizes[N_PARAM_TENSORS], n = 0;
    param_sizes(&c, sizes);
    for (int t = 0; t < N_PARAM_TENSORS; t++) n += sizes[t];
    size_t freq = (size_t)c.max_seq_len * (c.head_dim / 2) * 2;  // freq_cis_real and freq_cis_imag, unused
    size_t expected = 28 + 4 * (n + freq);
    if (size != expected) {
        unmap_file(&f);
        return errorf("%s: file is %zu bytes but its header implies %zu", path, size, expected);
    }
    model_alloc(m, &c);
    const unsigned char *src = f.data + 28;
    // file order: embedding, attn norms, wq, wk, wv, wo, mlp norms, w1 (gate), w2 (down), w3 (up),
    // final norm, freq_cis, classifier
    float *dst[] = {m->params.token_embedding, m->params.attn_norm, m->params.wq, m->params.wk, m->params.wv,
                    m->params.wo, m->params.mlp_norm, m->params.w_gate, m->params.w_down, m->params.w_up,
                    m->params.final_norm};
    size_t count[] = {sizes[0], sizes[1], sizes[2], sizes[3], sizes[4], sizes[5], sizes[6], sizes[7], sizes[9], sizes[8], sizes[10]};
    for (int i = 0; i < 11; i++) {
        memcpy(dst[i], src, count[i] * 4);
        src += count[i] * 4;
    }
    src += freq * 4;
    if (!shared) memcpy(m->params.lm_head, src, sizes[11] * 4);
    unmap_file(&f);
    return 0;
}

int model_load(Model *m, const char *path) { return model_load_as(m, path, LOAD_F32); }

int model_load_as(Model *m, const char *path, int load_dtype) {
    memset(m, 0, sizeof *m);
    char base[4096];
    int adapter = lora_adapter_base(path, base, sizeof base);
    if (adapter < 0) return -1;
    if (adapter) {
        if (lora_adapter_base(base, (char[8]){0}, 8) != 0)
            return errorf("%s: its base %s is not a model folder (an adapter of an adapter?)", path, base);
        char err[sizeof srl_error];
        if (model_load_as(m, base, load_dtype) < 0) {
            snprintf(err, sizeof err, "%s", srl_error);
            return errorf("%s: loading its base: %s", path, err);
        }
        if (model_lora_load(m, path) < 0) {
            snprintf(err, sizeof err, "%s", srl_error);
            model_free(m);
            return errorf("%s", err);
        }
        return 0;
    }
    if (dir_exists(path)) return load_hf_folder(m, path, load_dtype);
    if (!file_exists(path)) return errorf("%s: no such file or folder", path);
    if (load_llama2c(m, path) < 0) {
        // a file that is not a llama2.c checkpoint at all (say the config.json of a folder) fails
        // on its "header": say which two kinds of model there are
        char msg[sizeof srl_error];
        snprintf(msg, sizeof msg, "%s", srl_error);
        return errorf("%s (a model is a Hugging Face folder, config.json beside model.safetensors, or a llama2.c .bin "
                      "checkpoint; a file is read as the latter)", msg);
    }
    if (load_dtype == LOAD_BF16) bf16_from_f32_model(m);  // the file is float32: rounded copies
    return 0;
}

int load_dtype_parse(const char *s) {
    if (strcmp(s, "f32") == 0) return LOAD_F32;
    if (strcmp(s, "bf16") == 0) return LOAD_BF16;
    if (strcmp(s, "auto") == 0) return LOAD_AUTO;
    return -1;
}

int model_save(const Model *m, const char *dir, int dtype_bf16) {
    const Config *c = &m->config;
    if (m->weights_bf16) return errorf("%s: a model held in bf16 for inference cannot be saved (load it as f32)", dir);
    if (make_dirs(dir) < 0) return -1;
    const float *ptrs[N_PARAM_TENSORS] = {m->params.token_embedding, m->params.attn_norm, m->params.wq, m->params.wk,
                                          m->params.wv, m->params.wo, m->params.mlp_norm, m->params.w_gate,
                                          m->params.w_up, m->params.w_down, m->params.final_norm, m->params.lm_head};
    int esize = dtype_bf16 ? 2 : 4;
    // the header: every tensor with its shape, in the order the data follows
    int n = 0;
    SafeTensorOut *tensors = xmalloc((size_t)(N_PARAM_TENSORS * (c->n_layers > 0 ? c->n_layers : 1)) * sizeof *tensors);
    char(*names)[128] = xmalloc((size_t)(N_PARAM_TENSORS * (c->n_layers > 0 ? c->n_layers : 1)) * sizeof *names);
    for (int t = 0; t < N_PARAM_TENSORS; t++) {
        if (t == 11 && c->tied_embeddings) continue;
        int layers = tensor_is_per_layer(t) ? c->n_layers : 1;
        for (int l = 0; l < layers; l++, n++) {
            tensor_name(names[n], sizeof names[n], t, l);
            tensors[n] = (SafeTensorOut){.name = names[n], .dtype = dtype_bf16 ? "BF16" : "F32"};
            tensor_shape(c, t, &tensors[n].rows, &tensors[n].cols);
        }
    }

    char *path = path_join(dir, "model.safetensors");
    AtomicFile af;
    int rc = atomic_open(&af, path);
    if (rc == 0) {
        safetensors_write_header(af.f, n, tensors, NULL);
        size_t max_row = (size_t)(c->dim > c->hidden_dim ? c->dim : c->hidden_dim);
        if ((size_t)c->n_heads * c->head_dim > max_row) max_row = (size_t)c->n_heads * c->head_dim;
        unsigned char *row_bytes = xmalloc(max_row * 4);
        for (int t = 0; t < N_PARAM_TENSORS; t++) {
            if (t == 11 && c->tied_embeddings) continue;
            int layers = tensor_is_per_layer(t) ? c->n_layers : 1;
            size_t rows, cols;
            tensor_shape(c, t, &rows, &cols);
            size_t width = cols ? cols : rows, n_rows = cols ? rows : 1;
            int permute = c->rope_interleaved && (t == 2 || t == 3);
            for (int l = 0; l < layers; l++) {
                const float *base = ptrs[t] + (size_t)l * rows * (cols ? cols : 1);
                for (size_t r = 0; r < n_rows; r++) {
                    // Hugging Face stores q_proj and k_proj for the rotate-half layout (within a
                    // head, rows i and i + D/2 form a pair); a model read from llama2.c pairs rows
                    // 2i and 2i + 1. So row i < D/2 of a head in the file is our row 2i, and row
                    // D/2 + i is our row 2i + 1 (what Hugging Face's converter does).
                    size_t src_row = r;
                    if (permute) {
                        size_t head = r / (size_t)c->head_dim, i = r % (size_t)c->head_dim, half = (size_t)c->head_dim / 2;
                        src_row = head * (size_t)c->head_dim + (i < half ? 2 * i : 2 * (i - half) + 1);
                    }
                    const float *row = base + src_row * width;
                    for (size_t j = 0; j < width; j++) {
                        if (dtype_bf16) {
                            uint16_t b = f32_to_bf16(row[j]);
                            row_bytes[2 * j] = (unsigned char)(b & 0xFF);
                            row_bytes[2 * j + 1] = (unsigned char)(b >> 8);
                        } else {
                            memcpy(row_bytes + 4 * j, &row[j], 4);
                        }
                    }
                    fwrite(row_bytes, (size_t)esize, width, af.f);
                }
            }
        }
        free(row_bytes);
        rc = atomic_commit(&af);
    }
    free(path), free(tensors), free(names);
    if (rc < 0) return -1;
    Config saved = *c;
    saved.rope_interleaved = 0;
    char *config_path = path_join(dir, "config.json"), *generation_path = path_join(dir, "generation_config.json");
    rc = config_save_json(&saved, config_path, dtype_bf16 ? "bfloat16" : "float32");
    if (rc == 0) rc = generation_config_save_json(&saved, generation_path);
    free(config_path), free(generation_path);
    return rc;
}

void model_init_random(Model *m, const Config *c, uint64_t seed) {
    model_alloc(m, c);
    Rng rng;
    rng_seed(&rng, seed);
    size_t sizes[N_PARAM_TENSORS], offset = 0;
    param_sizes(c, sizes);
    // normal(0, 0.02) as Hugging Face initializes Llama, with the two projections that write
    // into the residual stream scaled down by sqrt(2 L) (as GPT-2) so depth does not blow it up
    float residual_std = 0.02f / sqrtf(2.0f * c->n_layers);
    for (int t = 0; t < N_PARAM_TENSORS; t++) {
        float *p = m->params_memory + offset;
        int is_norm = !param_tensor_decays[t];
        float std = (t == 5 || t == 9) ? residual_std : 0.02f;
        for (size_t i = 0; i < sizes[t]; i++) p[i] = is_norm ? 1.0f : std * rng_normal(&rng);
        offset += sizes[t];
    }
}

void model_copy_weights(Model *dst, const Model *src) {
    memcpy(dst->params_memory, src->params_memory, src->n_params * sizeof(float));
}

void model_free(Model *m) {
    model_lora_detach(m);
    model_drop_packed_weights(m);
    bf16_free(&m->bf16);
    free(m->params_memory);
    free(m->grads_memory);
    free(m->adam_m);
    free(m->adam_v);
    free(m->acts_memory);
    free(m->rope_cos);
    free(m->rope_sin);
    memset(m, 0, sizeof *m);
}

size_t model_param_count(const Config *c) { return count_params(c); }

// The matrices at 2 or 4 bytes each, the norm weights at 4.
size_t model_bytes_weights(const Config *c, int weights_bf16) {
    size_t sizes[N_PARAM_TENSORS], bytes = 0;
    param_sizes(c, sizes);
    for (int t = 0; t < N_PARAM_TENSORS; t++) bytes += sizes[t] * (tensor_is_matrix(t) && weights_bf16 ? 2 : 4);
    return bytes;
}

static size_t packed_floats(const Config *c);

// float32 weights are packed for generation (model_pack_weights): a second copy of the matrices
size_t model_bytes_generate(const Config *c, int n_seqs, int seq_len, int weights_bf16) {
    size_t kv = (size_t)c->n_layers * n_seqs * seq_len * c->n_kv_heads * c->head_dim * 2;
    size_t rows = (size_t)n_seqs * ((size_t)c->vocab_size + 4 * (size_t)c->dim + 3 * (size_t)c->hidden_dim);
    size_t packed = weights_bf16 ? 0 : packed_floats(c);
    return model_bytes_weights(c, weights_bf16) + (kv + rows + packed) * sizeof(float);
}

size_t model_bytes_train(const Config *c, int B, int T) {
    Activations a;
    return (4 * count_params(c) + acts_float_count(c, B, T, 0, &a, NULL)) * sizeof(float);
}

// ----------------------------------------------------------------------------
// generation: a KV cache, a ragged-batch forward, sampling

int kv_cache_init(KVCache *c, const Config *cfg, int n_slots, int max_len) {
    memset(c, 0, sizeof *c);
    c->n_slots = n_slots;
    c->max_len = max_len;
    c->kv_dim = cfg->n_kv_heads * cfg->head_dim;
    c->n_layers = cfg->n_layers;
    size_t n = (size_t)cfg->n_layers * n_slots * max_len * c->kv_dim;
    char what[128];
    snprintf(what, sizeof what, "a KV cache of %d sequences x %d positions", n_slots, max_len);
    if (memory_check(2 * n * sizeof(float), what) < 0) return -1;
    c->k = malloc(n * sizeof(float));
    c->v = malloc(n * sizeof(float));
    if (!c->k || !c->v) {
        kv_cache_free(c);
        return errorf("out of memory for a KV cache of %d sequences x %d positions (%zu MiB)", n_slots, max_len,
                      2 * n * sizeof(float) >> 20);
    }
    return 0;
}

void kv_cache_free(KVCache *c) {
    free(c->k);
    free(c->v);
    memset(c, 0, sizeof *c);
}

// Keys are kept transposed, (L, slot, KV, D, max_len), so that attention_row reads the keys of
// all positions for one d contiguously; values as rows, (L, slot, max_len, KV*D).
static float *cache_keys(const KVCache *c, int layer, int slot, int kv_head, int D) {
    return c->k + ((((size_t)layer * c->n_slots + slot) * (c->kv_dim / D) + kv_head) * D) * c->max_len;
}

static float *cache_values(const KVCache *c, int layer, int slot) {
    return c->v + ((size_t)layer * c->n_slots + slot) * c->max_len * c->kv_dim;
}

// The floats of the packed copy: every linear layer and the head, each padded to whole panels.
static size_t packed_floats(const Config *c) {
    int C = c->dim, F = c->hidden_dim, QD = c->n_heads * c->head_dim, KVD = c->n_kv_heads * c->head_dim;
    size_t sq = packed_size(C, QD), skv = packed_size(C, KVD), so = packed_size(QD, C);
    size_t sf = packed_size(C, F), sd = packed_size(F, C), sh = packed_size(C, c->vocab_size);
    return (size_t)c->n_layers * (sq + 2 * skv + so + 2 * sf + sd) + sh;
}

void model_pack_weights(Model *m) {
    const Config *c = &m->config;
    model_drop_packed_weights(m);
    if (m->weights_bf16) return;  // the bf16 kernels read W as the file stores it
    int C = c->dim, F = c->hidden_dim, QD = c->n_heads * c->head_dim, KVD = c->n_kv_heads * c->head_dim;
    size_t L = (size_t)c->n_layers;
    size_t sq = packed_size(C, QD), skv = packed_size(C, KVD), so = packed_size(QD, C);
    size_t sf = packed_size(C, F), sd = packed_size(F, C);
    PackedWeights *pk = &m->packed;
    pk->memory = xmalloc(packed_floats(c) * sizeof(float));
    pk->wq = pk->memory;
    pk->wk = pk->wq + L * sq;
    pk->wv = pk->wk + L * skv;
    pk->wo = pk->wv + L * skv;
    pk->w_gate = pk->wo + L * so;
    pk->w_up = pk->w_gate + L * sf;
    pk->w_down = pk->w_up + L * sf;
    pk->lm_head = pk->w_down + L * sd;
    const Params *p = &m->params;
    for (size_t l = 0; l < L; l++) {
        pack_linear_weight(pk->wq + l * sq, p->wq + l * QD * C, C, QD);
        pack_linear_weight(pk->wk + l * skv, p->wk + l * KVD * C, C, KVD);
        pack_linear_weight(pk->wv + l * skv, p->wv + l * KVD * C, C, KVD);
        pack_linear_weight(pk->wo + l * so, p->wo + l * C * QD, QD, C);
        pack_linear_weight(pk->w_gate + l * sf, p->w_gate + l * F * C, C, F);
        pack_linear_weight(pk->w_up + l * sf, p->w_up + l * F * C, C, F);
        pack_linear_weight(pk->w_down + l * sd, p->w_down + l * C * F, F, C);
    }
    pack_linear_weight(pk->lm_head, p->lm_head, C, c->vocab_size);
}

void model_drop_packed_weights(Model *m) {
    free(m->packed.memory);
    memset(&m->packed, 0, sizeof m->packed);
}

// Tensor t of layer l: one of the linear layers (2-5, 7-9) or the head (11).
static LinearWeight inference_weight(const Model *m, int t, int l) {
    LinearWeight lw = {0};
    if (m->weights_bf16) {
        lw.w16 = *bf16_slot((WeightsBF16 *)&m->bf16, t, l);
        return lw;
    }
    size_t rows, cols;
    tensor_shape(&m->config, t, &rows, &cols);
    const Params *p = &m->params;
    const PackedWeights *pk = &m->packed;
    const float *w[N_PARAM_TENSORS] = {[2] = p->wq, [3] = p->wk, [4] = p->wv, [5] = p->wo, [7] = p->w_gate,
                                       [8] = p->w_up, [9] = p->w_down, [11] = p->lm_head};
    const float *packed[N_PARAM_TENSORS] = {[2] = pk->wq, [3] = pk->wk, [4] = pk->wv, [5] = pk->wo,
                                            [7] = pk->w_gate, [8] = pk->w_up, [9] = pk->w_down, [11] = pk->lm_head};
    lw.w = w[t] + (size_t)l * rows * cols;
    if (pk->memory) lw.packed = packed[t] + (size_t)l * packed_size((int)cols, (int)rows);
    return lw;
}

// y = x W^T for inference: through the packed copy of W when there is one (the same sums, so
// the same numbers, either way), or the bf16 kernel.
static void inference_linear(float *y, const float *x, LinearWeight W, int n, int IN, int OUT) {
    if (W.w16) linear_forward_bf16(y, x, W.w16, n, IN, OUT);
    else if (W.packed) linear_forward_packed(y, x, W.packed, n, IN, OUT);
    else linear_forward(y, x, W.w, n, IN, OUT);
}

void model_forward_rows(Model *m, KVCache *cache, int n, const int *tokens, const int *slots, const int *positions,
                        const unsigned char *want_logits, float *logits) {
    const Config *c = &m->config;
    const Params *p = &m->params;
    int C = c->dim, F = c->hidden_dim, V = c->vocab_size, H = c->n_heads, KV = c->n_kv_heads, D = c->head_dim;
    int QD = H * D, KVD = KV * D, group = H / KV;
    int max_pos = 0;
    for (int r = 0; r < n; r++) {
        if (positions[r] < 0 || positions[r] >= cache->max_len || slots[r] < 0 || slots[r] >= cache->n_slots)
            fatal("forward_rows: row %d (slot %d, position %d) is outside the cache", r, slots[r], positions[r]);
        if (positions[r] > max_pos) max_pos = positions[r];
    }
    if (rope_ensure(m, max_pos + 1) < 0) fatal("%s", srl_error);
    check_tokens(c, tokens, n, "token");
    size_t threads = (size_t)max_threads(), r = m->lora ? (size_t)m->lora_config.r : 0;
    float *mem = xmalloc(((size_t)n * (3 * C + 2 * QD + 2 * KVD + 2 * F + r) + threads * cache->max_len) * sizeof(float));
    float *x = mem, *norm = x + (size_t)n * C, *tmp = norm + (size_t)n * C, *q = tmp + (size_t)n * C;
    float *att_out = q + (size_t)n * QD, *k = att_out + (size_t)n * QD, *v = k + (size_t)n * KVD;
    float *gate = v + (size_t)n * KVD, *up = gate + (size_t)n * F, *us = up + (size_t)n * F, *scores = us + (size_t)n * r;

    if (m->weights_bf16) embedding_forward_bf16(x, m->bf16.token_embedding, tokens, n, C);
    else embedding_forward(x, p->token_embedding, tokens, n, C);
    for (int l = 0; l < c->n_layers; l++) {
        rmsnorm_forward(norm, NULL, x, p->attn_norm + (size_t)l * C, n, C, c->norm_eps);
        layer_linear_forward(m, LORA_Q, l, q, norm, n, us);
        layer_linear_forward(m, LORA_K, l, k, norm, n, us);
        layer_linear_forward(m, LORA_V, l, v, norm, n, us);
        rope_forward(q, positions, n, H, D, m->rope_cos, m->rope_sin, c->rope_interleaved);
        rope_forward(k, positions, n, KV, D, m->rope_cos, m->rope_sin, c->rope_interleaved);
        for (int r = 0; r < n; r++) {
            for (int kvh = 0; kvh < KV; kvh++) {
                float *kt = cache_keys(cache, l, slots[r], kvh, D);
                for (int d = 0; d < D; d++) kt[(size_t)d * cache->max_len + positions[r]] = k[(size_t)r * KVD + kvh * D + d];
            }
            memcpy(cache_values(cache, l, slots[r]) + (size_t)positions[r] * KVD, v + (size_t)r * KVD, (size_t)KVD * sizeof(float));
        }
#pragma omp parallel for schedule(static)
        for (int task = 0; task < n * H; task++) {
            int r = task / H, h = task % H, kvh = h / group;
            attention_row(att_out + (size_t)r * QD + h * D, q + (size_t)r * QD + h * D,
                          cache_keys(cache, l, slots[r], kvh, D), cache->max_len,
                          cache_values(cache, l, slots[r]) + kvh * D, KVD, positions[r] + 1, D,
                          scores + (size_t)thread_id() * cache->max_len);
        }
        layer_linear_forward(m, LORA_O, l, tmp, att_out, n, us);
        for (size_t i = 0; i < (size_t)n * C; i++) x[i] += tmp[i];
        rmsnorm_forward(norm, NULL, x, p->mlp_norm + (size_t)l * C, n, C, c->norm_eps);
        layer_linear_forward(m, LORA_GATE, l, gate, norm, n, us);
        layer_linear_forward(m, LORA_UP, l, up, norm, n, us);
        swiglu_forward(gate, gate, up, (size_t)n * F);
        layer_linear_forward(m, LORA_DOWN, l, tmp, gate, n, us);
        for (size_t i = 0; i < (size_t)n * C; i++) x[i] += tmp[i];
    }
    // the head, on the rows whose logits are wanted, gathered together
    int n_out = 0;
    for (int r = 0; r < n; r++) {
        if (want_logits && !want_logits[r]) continue;
        memcpy(tmp + (size_t)n_out * C, x + (size_t)r * C, (size_t)C * sizeof(float));
        n_out++;
    }
    rmsnorm_forward(norm, NULL, tmp, p->final_norm, n_out, C, c->norm_eps);
    inference_linear(logits, norm, inference_weight(m, 11, 0), n_out, C, V);
    free(mem);
}

typedef struct {
    float prob;
    int id;
} ProbIndex;

static int compare_prob_desc(const void *a, const void *b) {
    const ProbIndex *x = a, *y = b;
    if (x->prob != y->prob) return x->prob > y->prob ? -1 : 1;
    return x->id - y->id;
}

// Temperature then nucleus (top-p) sampling. The nucleus is the smallest set of most likely
// tokens whose probabilities reach top_p; a token below (1 - top_p) / (V - 1) can never be in
// it (as llama2.c notes), which keeps the sort short. scratch holds V ProbIndex.
static int sample_with_scratch(float *logits, int V, float temperature, float top_p, Rng *rng, ProbIndex *scratch) {
    int best = 0;
    for (int v = 1; v < V; v++)
        if (logits[v] > logits[best]) best = v;
    if (temperature <= 0.0f) return best;
    float max = logits[best];
    double sum = 0.0;
    for (int v = 0; v < V; v++) {
        logits[v] = expf((logits[v] - max) / temperature);
        sum += logits[v];
    }
    float inv = (float)(1.0 / sum);
    for (int v = 0; v < V; v++) logits[v] *= inv;
    float r = rng_float(rng);
    if (top_p <= 0.0f || top_p >= 1.0f || V < 2) {
        float cdf = 0.0f;
        for (int v = 0; v < V; v++) {
            cdf += logits[v];
            if (r < cdf) return v;
        }
        return best;  // rounding left r above the last cdf
    }
    float cutoff = (1.0f - top_p) / (float)(V - 1);
    int n = 0;
    for (int v = 0; v < V; v++)
        if (logits[v] >= cutoff) scratch[n++] = (ProbIndex){logits[v], v};
    qsort(scratch, (size_t)n, sizeof *scratch, compare_prob_desc);
    float cum = 0.0f;
    int last = n - 1;
    for (int i = 0; i < n; i++) {
        cum += scratch[i].prob;
        if (cum > top_p) {
            last = i;
            break;
        }
    }
    float target = r * cum, cdf = 0.0f;
    for (int i = 0; i <= last; i++) {
        cdf += scratch[i].prob;
        if (target < cdf) return scratch[i].id;
    }
    return scratch[last].id;
}

int sample_token(float *logits, int V, float temperature, float top_p, Rng *rng) {
    ProbIndex *scratch = xmalloc((size_t)V * sizeof *scratch);
    int t = sample_with_scratch(logits, V, temperature, top_p, rng, scratch);
    free(scratch);
    return t;
}

static int is_stop(const GenerateConfig *cfg, int token) {
    for (int i = 0; i < cfg->n_stop; i++)
        if (cfg->stop_ids[i] == token) return 1;
    return 0;
}

int model_generate(Model *m, int n, const int *const *prompts, const int *prompt_lens, const uint64_t *seeds,
                   const GenerateConfig *cfg, int **outputs, int *output_lens, unsigned char *stopped) {
    const Config *c = &m->config;
    if (n <= 0) return 0;
    int V = c->vocab_size, max_new = cfg->max_new_tokens > 0 ? cfg->max_new_tokens : 1;
    int S = cfg->max_batch > 0 ? cfg->max_batch : 16;
    if (S > n) S = n;
    int max_prompt = 0;
    for (int i = 0; i < n; i++) {
        if (prompt_lens[i] < 1) return errorf("prompt %d is empty (it needs at least one token)", i);
        if (prompt_lens[i] > max_prompt) max_prompt = prompt_lens[i];
    }
    int max_len = max_prompt + max_new;
    if (max_len > c->max_seq_len)
        return errorf("a prompt of %d tokens plus %d new ones exceeds the model's %d positions", max_prompt, max_new,
                      c->max_seq_len);
    if (rope_ensure(m, max_len) < 0) return -1;
    KVCache cache;
    if (kv_cache_init(&cache, c, S, max_len) < 0) return -1;
    // the packed copy only makes decoding faster (the same sums either way): skipped when it
    // would not fit in the memory left
    size_t available = memory_available();
    if (!available || packed_floats(c) * sizeof(float) < available) model_pack_weights(m);

    // per slot: the sequence it decodes (-1: free), the tokens whose keys and values it holds,
    // and the token sampled last, not yet fed
    int *slot_seq = xmalloc((size_t)S * sizeof(int)), *slot_len = xcalloc((size_t)S, sizeof(int));
    int *slot_tokens = xmalloc((size_t)S * max_len * sizeof(int)), *pending = xmalloc((size_t)S * sizeof(int));
    Rng *rngs = xmalloc((size_t)n * sizeof(Rng));
    float *logits = xmalloc((size_t)S * V * sizeof(float));
    ProbIndex *scratch = xmalloc((size_t)V * sizeof(ProbIndex));
    int *row_tokens = xmalloc((size_t)(max_len > S ? max_len : S) * sizeof(int));
    int *row_slots = xmalloc((size_t)(max_len > S ? max_len : S) * sizeof(int));
    int *row_pos = xmalloc((size_t)(max_len > S ? max_len : S) * sizeof(int));
    unsigned char *want = xmalloc((size_t)max_len);
    for (int s = 0; s < S; s++) slot_seq[s] = -1;
    for (int i = 0; i < n; i++) {
        rng_seed(&rngs[i], seeds ? seeds[i] : (uint64_t)i);
        outputs[i] = xmalloc((size_t)(max_new + 1) * sizeof(int));
        output_lens[i] = 0;
        if (stopped) stopped[i] = 0;
    }
    Progress progress;
    if (cfg->progress) progress_start(&progress, cfg->progress_label ? cfg->progress_label : "generate", n, "seq");
    long tokens_out = 0;
    int next = 0, done = 0;

    while (done < n) {
        // start prompts in free slots, reusing the longest cached prefix of any slot
        for (;;) {
            int free_slot = -1;
            for (int s = 0; s < S; s++)
                if (slot_seq[s] < 0) { free_slot = s; break; }
            if (free_slot < 0 || next >= n) break;
            int i = next++;
            const int *prompt = prompts[i];
            int plen = prompt_lens[i];
            int target = -1, target_lcp = -1, source = -1, source_lcp = -1;
            for (int s = 0; s < S; s++) {
                int lcp = 0;
                while (lcp < slot_len[s] && lcp < plen && slot_tokens[(size_t)s * max_len + lcp] == prompt[lcp]) lcp++;
                if (slot_seq[s] < 0 && lcp > target_lcp) target = s, target_lcp = lcp;
                if (lcp > source_lcp) source = s, source_lcp = lcp;
            }
            int lcp = target_lcp;
            if (source != target && source_lcp > target_lcp) {
                for (int l = 0; l < c->n_layers; l++) {
                    for (int kvh = 0; kvh < c->n_kv_heads; kvh++)
                        for (int d = 0; d < c->head_dim; d++)
                            memcpy(cache_keys(&cache, l, target, kvh, c->head_dim) + (size_t)d * max_len,
                                   cache_keys(&cache, l, source, kvh, c->head_dim) + (size_t)d * max_len,
                                   (size_t)source_lcp * sizeof(float));
                    memcpy(cache_values(&cache, l, target), cache_values(&cache, l, source),
                           (size_t)source_lcp * cache.kv_dim * sizeof(float));
                }
                lcp = source_lcp;
            }
            if (lcp > plen - 1) lcp = plen - 1;  // the last prompt token runs again: its logits start the answer
            int n_rows = plen - lcp;
            for (int r = 0; r < n_rows; r++) {
                row_tokens[r] = prompt[lcp + r];
                row_slots[r] = target;
                row_pos[r] = lcp + r;
                want[r] = r == n_rows - 1;
            }
            model_forward_rows(m, &cache, n_rows, row_tokens, row_slots, row_pos, want, logits);
            memcpy(slot_tokens + (size_t)target * max_len, prompt, (size_t)plen * sizeof(int));
            slot_len[target] = plen;
            slot_seq[target] = i;
            int token = sample_with_scratch(logits, V, cfg->temperature, cfg->top_p, &rngs[i], scratch);
            if (is_stop(cfg, token)) {
                if (stopped) stopped[i] = 1;
                if (cfg->include_stop) outputs[i][output_lens[i]++] = token;
                slot_seq[target] = -1, done++;
            } else {
                outputs[i][output_lens[i]++] = token;
                tokens_out++;
                if (output_lens[i] >= max_new) slot_seq[target] = -1, done++;
                else pending[target] = token;
            }
        }
        // one decoding step for every busy slot
        int n_rows = 0;
        for (int s = 0; s < S; s++) {
            if (slot_seq[s] < 0) continue;
            row_tokens[n_rows] = pending[s];
            row_slots[n_rows] = s;
            row_pos[n_rows] = slot_len[s];
            n_rows++;
        }
        if (n_rows == 0) continue;
        model_forward_rows(m, &cache, n_rows, row_tokens, row_slots, row_pos, NULL, logits);
        for (int r = 0; r < n_rows; r++) {
            int s = row_slots[r], i = slot_seq[s];
            slot_tokens[(size_t)s * max_len + slot_len[s]] = pending[s];
            slot_len[s]++;
            int token = sample_with_scratch(logits + (size_t)r * V, V, cfg->temperature, cfg->top_p, &rngs[i], scratch);
            if (is_stop(cfg, token)) {
                if (stopped) stopped[i] = 1;
                if (cfg->include_stop) outputs[i][output_lens[i]++] = token;
                slot_seq[s] = -1, done++;
                continue;
            }
            outputs[i][output_lens[i]++] = token;
            tokens_out++;
            if (output_lens[i] >= max_new) slot_seq[s] = -1, done++;
            else pending[s] = token;
        }
        if (cfg->progress) {
            char extra[64];
            snprintf(extra, sizeof extra, "(%ld tokens)", tokens_out);
            progress_update(&progress, done, extra);
        }
    }
    if (cfg->progress) {
        char extra[64];
        snprintf(extra, sizeof extra, "(%ld tokens)", tokens_out);
        progress_end(&progress, done, extra);
    }
    free(slot_seq);
    free(slot_len);
    free(slot_tokens);
    free(pending);
    free(rngs);
    free(logits);
    free(scratch);
    free(row_tokens);
    free(row_slots);
    free(row_pos);
    free(want);
    kv_cache_free(&cache);
    model_drop_packed_weights(m);
    return 0;
}

float *model_tensor_by_name(const Model *m, const Params *p, const char *name, size_t *numel) {
    const Config *c = &m->config;
    float *ptrs[N_PARAM_TENSORS] = {p->token_embedding, p->attn_norm, p->wq, p->wk, p->wv, p->wo,
                                    p->mlp_norm, p->w_gate, p->w_up, p->w_down, p->final_norm, p->lm_head};
    for (int t = 0; t < N_PARAM_TENSORS; t++) {
        if (t == 11 && c->tied_embeddings) continue;
        int layers = tensor_is_per_layer(t) ? c->n_layers : 1;
        size_t rows, cols;
        tensor_shape(c, t, &rows, &cols);
        size_t n = rows * (cols ? cols : 1);
        for (int l = 0; l < layers; l++) {
            char buf[128];
            tensor_name(buf, sizeof buf, t, l);
            if (strcmp(buf, name) == 0) {
                if (numel) *numel = n;
                return ptrs[t] + (size_t)l * n;
            }
        }
    }
    return NULL;
}

int model_tensor_count(const Model *m) {
    int n = 0;
    for (int t = 0; t < N_PARAM_TENSORS; t++) {
        if (t == 11 && m->config.tied_embeddings) continue;
        n += tensor_is_per_layer(t) ? m->config.n_layers : 1;
    }
    return n;
}

void model_tensor_name(const Model *m, int index, char *out, size_t cap) {
    for (int t = 0; t < N_PARAM_TENSORS; t++) {
        if (t == 11 && m->config.tied_embeddings) continue;
        int layers = tensor_is_per_layer(t) ? m->config.n_layers : 1;
        if (index < layers) {
            tensor_name(out, cap, t, index);
            return;
        }
        index -= layers;
    }
    snprintf(out, cap, "?");
}

// ----------------------------------------------------------------------------
// optimizer state on disk

int safetensors_write_f32(const char *path, int n, const char *const *names, const float *const *data,
                          const size_t *numel, const char *metadata) {
    SafeTensorOut *t = xmalloc((size_t)(n > 0 ? n : 1) * sizeof *t);
    for (int i = 0; i < n; i++) t[i] = (SafeTensorOut){.name = names[i], .dtype = "F32", .rows = numel[i], .data = data[i]};
    int rc = safetensors_write_tensors(path, n, t, metadata);
    free(t);
    return rc;
}

int model_save_optimizer(const Model *m, const char *path) {
    if (!m->adam_m) return errorf("%s: no optimizer state to save", path);
    char meta[64];
    snprintf(meta, sizeof meta, "\"adam_step\":\"%ld\"", m->adam_step);
    const char *names[2] = {"adam_m", "adam_v"};
    const float *data[2] = {m->adam_m, m->adam_v};
    size_t n = m->lora ? m->n_lora : m->n_params;
    size_t numel[2] = {n, n};
    return safetensors_write_f32(path, 2, names, data, numel, meta);
}

int model_load_optimizer(Model *m, const char *path) {
    SafeTensors st;
    if (safetensors_open(&st, path) < 0) return -1;
    SafeTensor tm, tv;
    int rc = 0;
    size_t n = m->lora ? m->n_lora : m->n_params;
    if (safetensors_find(&st, "adam_m", &tm) < 0 || safetensors_find(&st, "adam_v", &tv) < 0) rc = -1;
    else if (tm.numel != n || tv.numel != n || tm.dtype != DTYPE_F32 || tv.dtype != DTYPE_F32)
        rc = errorf("%s: optimizer state is for %zu parameters in F32, the model trains %zu", path, tm.numel, n);
    const char *step = json_get_string(json_get(st.header.root, "__metadata__"), "adam_step");
    if (rc == 0 && !step) rc = errorf("%s: no adam_step in the metadata", path);
    if (rc == 0) {
        if (!m->adam_m) {
            m->adam_m = xcalloc(n, sizeof(float));
            m->adam_v = xcalloc(n, sizeof(float));
        }
        safetensor_to_f32(&tm, m->adam_m);
        safetensor_to_f32(&tv, m->adam_v);
        m->adam_step = atol(step);
    }
    safetensors_close(&st);
    return rc;
}

// ----------------------------------------------------------------------------
// LoRA adapters on disk, in PEFT's format (what peft's save_pretrained writes and
// PeftModel.from_pretrained reads): adapter_config.json, and adapter_model.safetensors holding
// base_model.model.model.layers.{i}.{self_attn,mlp}.{q,k,v,o,gate,up,down}_proj.lora_{A,B}.weight,
// A (r, in) and B (out, r), F32.

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// PEFT's name for a module: "q_proj" for self_attn.q_proj.
static const char *lora_hf_name(int t) { return strchr(lora_module_names[t], '.') + 1; }

static int compare_tensor_names(const void *a, const void *b) {
    return strcmp(((const SafeTensorOut *)a)->name, ((const SafeTensorOut *)b)->name);
}

int lora_save(const Model *m, const char *dir, const char *base_name) {
    if (!m->lora) return errorf("%s: the model has no LoRA adapters to save", dir);
    if (make_dirs(dir) < 0) return -1;
    const LoRAConfig *lc = &m->lora_config;
    // adapter_config.json as peft writes it (sorted keys; target_modules sorted)
    const char *targets[N_LORA_TARGETS];
    int n_targets = 0;
    for (int t = 0; t < N_LORA_TARGETS; t++)
        if (lc->targets >> t & 1) targets[n_targets++] = lora_hf_name(t);
    qsort(targets, (size_t)n_targets, sizeof(char *), compare_names);
    Buf b = {0};
    buf_append_str(&b, "{\n  \"alpha_pattern\": {},\n  \"auto_mapping\": null,\n  \"base_model_name_or_path\": ");
    buf_json_string(&b, base_name, strlen(base_name));
    buf_printf(&b, ",\n  \"bias\": \"none\",\n  \"fan_in_fan_out\": false,\n  \"inference_mode\": true,\n"
                   "  \"init_lora_weights\": true,\n  \"layers_pattern\": null,\n  \"layers_to_transform\": null,\n"
                   "  \"lora_alpha\": %.9g,\n  \"lora_dropout\": 0.0,\n  \"modules_to_save\": null,\n  \"peft_type\": \"LORA\",\n"
                   "  \"r\": %d,\n  \"rank_pattern\": {},\n  \"revision\": null,\n  \"target_modules\": [",
               (double)lc->alpha, lc->r);
    for (int i = 0; i < n_targets; i++) buf_printf(&b, "%s\n    \"%s\"", i ? "," : "", targets[i]);
    buf_append_str(&b, "\n  ],\n  \"task_type\": \"CAUSAL_LM\",\n  \"use_dora\": false,\n  \"use_rslora\": false\n}\n");
    char *cpath = path_join(dir, "adapter_config.json"), *tpath = path_join(dir, "adapter_model.safetensors");
    int rc = write_file_atomic(cpath, b.data, b.len);
    buf_free(&b);
    // the tensors, in name order as peft writes them
    int n = m->config.n_layers * n_targets * 2, k = 0;
    SafeTensorOut *tensors = xmalloc((size_t)(n > 0 ? n : 1) * sizeof *tensors);
    char(*names)[128] = xmalloc((size_t)(n > 0 ? n : 1) * sizeof *names);
    for (int l = 0; l < m->config.n_layers; l++)
        for (int t = 0; t < N_LORA_TARGETS; t++)
            for (int which = 0; which < 2 && (lc->targets >> t & 1); which++, k++) {
                lora_tensor_name(names[k], sizeof names[k], t, which, l);
                tensors[k] = (SafeTensorOut){.name = names[k], .dtype = "F32"};
                tensors[k].data = lora_tensor(m, &m->lora_params, t, which, l, &tensors[k].rows, &tensors[k].cols);
            }
    qsort(tensors, (size_t)n, sizeof *tensors, compare_tensor_names);
    if (rc == 0) rc = safetensors_write_tensors(tpath, n, tensors, NULL);
    free(tensors), free(names), free(cpath), free(tpath);
    return rc;
}

// Reads adapter_config.json: r, lora_alpha, target_modules. What srl does not do (rsLoRA, DoRA,
// per-module ranks, biases, fan_in_fan_out, some layers only, saved modules) is refused.
static int lora_read_config(const char *path, LoRAConfig *lc, char *base, size_t cap) {
    char *text;
    size_t len;
    if (read_file(path, &text, &len, 1 << 20) < 0) return -1;
    JsonDoc doc;
    if (json_parse(&doc, text, len) < 0) {
        free(text);
        return errorf("%s: %s", path, srl_error);
    }
    const JsonValue *root = doc.root;
    int rc = 0;
    long long r = 0;
    double alpha = 0;
    const char *peft_type = json_get_string(root, "peft_type"), *bias = json_get_string(root, "bias");
    const JsonValue *tm = json_get(root, "target_modules");
    const char *unsupported[] = {"use_rslora", "use_dora", "fan_in_fan_out"};
    memset(lc, 0, sizeof *lc);
    if (!root || root->type != JSON_OBJECT) rc = errorf("%s: not a JSON object", path);
    else if (!peft_type || strcmp(peft_type, "LORA") != 0) rc = errorf("%s: peft_type is not \"LORA\"", path);
    else if (json_get_int(root, "r", &r) < 0 || r < 1 || r > 65536) rc = errorf("%s: r is not an integer from 1 to 65536", path);
    else if (json_get_number(root, "lora_alpha", &alpha) < 0 || !(alpha > 0) || alpha > 1e6)
        rc = errorf("%s: lora_alpha is not a positive number", path);
    else if (bias && strcmp(bias, "none") != 0) rc = errorf("%s: bias \"%s\": srl reads adapters without biases", path, bias);
    for (int i = 0; rc == 0 && i < 3; i++) {
        const JsonValue *v = json_get(root, unsupported[i]);
        if (v && v->type == JSON_TRUE) rc = errorf("%s: %s is true, which srl does not support", path, unsupported[i]);
    }
    const char *must_be_empty[] = {"rank_pattern", "alpha_pattern", "layers_to_transform", "modules_to_save"};
    for (int i = 0; rc == 0 && i < 4; i++) {
        const JsonValue *v = json_get(root, must_be_empty[i]);
        if (v && v->type != JSON_NULL && !((v->type == JSON_OBJECT || v->type == JSON_ARRAY) && v->count == 0))
            rc = errorf("%s: %s is set, which srl does not support", path, must_be_empty[i]);
    }
    if (rc == 0 && tm && tm->type == JSON_STRING && strcmp(tm->string, "all-linear") == 0) lc->targets = (1u << N_LORA_TARGETS) - 1;
    else if (rc == 0 && (!tm || tm->type != JSON_ARRAY || tm->count == 0))
        rc = errorf("%s: target_modules is not a list of module names", path);
    else if (rc == 0)
        for (const JsonValue *e = tm->child; e && rc == 0; e = e->next) {
            int found = -1;
            for (int t = 0; t < N_LORA_TARGETS; t++)
                if (e->type == JSON_STRING && strcmp(e->string, lora_hf_name(t)) == 0) found = t;
            if (found < 0)
                rc = errorf("%s: target module %s is none of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj", path,
                            e->type == JSON_STRING ? e->string : "(not a string)");
            else lc->targets |= 1u << found;
        }
    if (rc == 0 && base) {
        const char *b = json_get_string(root, "base_model_name_or_path");
        snprintf(base, cap, "%s", b ? b : "");
    }
    lc->r = (int)r;
    lc->alpha = (float)alpha;
    json_free(&doc);
    free(text);
    return rc;
}

// Reads every adapter tensor of st into m's adapters; the file must hold exactly those.
static int lora_read_tensors(Model *m, const SafeTensors *st) {
    const LoRAConfig *lc = &m->lora_config;
    int expected = 0;
    for (int l = 0; l < m->config.n_layers; l++)
        for (int t = 0; t < N_LORA_TARGETS; t++)
            for (int which = 0; which < 2 && (lc->targets >> t & 1); which++, expected++) {
                char name[128];
                lora_tensor_name(name, sizeof name, t, which, l);
                SafeTensor info;
                if (safetensors_find(st, name, &info) < 0) return -1;
                size_t rows, cols;
                float *dst = lora_tensor(m, &m->lora_params, t, which, l, &rows, &cols);
                if (info.ndim != 2 || (size_t)info.shape[0] != rows || (size_t)info.shape[1] != cols)
                    return errorf("%s: %s has shape [%lld%s%lld], this model and r = %d need [%zu, %zu]", st->path, name,
                                  (long long)info.shape[0], info.ndim > 1 ? ", " : "", info.ndim > 1 ? (long long)info.shape[1] : 0LL,
                                  lc->r, rows, cols);
                safetensor_to_f32(&info, dst);
            }
    int in_file = 0;
    for (const JsonValue *e = st->header.root->child; e; e = e->next) in_file += strcmp(e->key, "__metadata__") != 0;
    if (in_file != expected)
        return errorf("%s: holds %d tensors; the adapter of adapter_config.json has %d (other modules or layers?)", st->path, in_file,
                      expected);
    return 0;
}

int model_lora_load(Model *m, const char *dir) {
    char *cpath = path_join(dir, "adapter_config.json"), *tpath = path_join(dir, "adapter_model.safetensors");
    LoRAConfig lc;
    int rc = lora_read_config(cpath, &lc, NULL, 0), attached = 0;
    if (rc == 0 && m->lora && (lc.r != m->lora_config.r || lc.alpha != m->lora_config.alpha || lc.targets != m->lora_config.targets))
        rc = errorf("%s: r %d, alpha %g and its targets differ from the adapters being trained (r %d, alpha %g)", cpath, lc.r,
                    (double)lc.alpha, m->lora_config.r, (double)m->lora_config.alpha);
    if (rc == 0 && !m->lora) {
        rc = lora_attach(m, &lc);
        attached = rc == 0;
    }
    SafeTensors st;
    if (rc == 0 && (rc = safetensors_open(&st, tpath)) == 0) {
        rc = lora_read_tensors(m, &st);
        safetensors_close(&st);
    }
    if (rc < 0 && attached) model_lora_detach(m);
    free(cpath), free(tpath);
    return rc;
}

int lora_adapter_base(const char *dir, char *base, size_t cap) {
    char *cpath = path_join(dir, "adapter_config.json"), *mpath = path_join(dir, "config.json");
    int is_adapter = dir_exists(dir) && file_exists(cpath) && !file_exists(mpath), rc = is_adapter;
    if (is_adapter) {
        LoRAConfig lc;
        if (lora_read_config(cpath, &lc, base, cap) < 0) rc = -1;
        else if (!base[0]) rc = errorf("%s: no base_model_name_or_path (give the base model, and the adapter with --adapter)", cpath);
    }
    free(cpath), free(mpath);
    return rc;
}

int model_lora_merge(Model *m) {
    if (!m->lora) return 0;
    if (m->weights_bf16) return errorf("merging LoRA adapters needs the base in float32 (load it as f32)");
    const Config *c = &m->config;
    float scale = m->lora_config.alpha / (float)m->lora_config.r;
    for (int t = 0; t < N_LORA_TARGETS; t++) {
        if (!(m->lora_config.targets >> t & 1)) continue;
        size_t in, out, rows, cols;
        lora_in_out(c, t, &in, &out);
        float *ba = xmalloc(in * out * sizeof(float));
        for (int l = 0; l < c->n_layers; l++) {
            const float *A = lora_tensor(m, &m->lora_params, t, 0, l, &rows, &cols);
            const float *B = lora_tensor(m, &m->lora_params, t, 1, l, &rows, &cols);
            float *W = param_layer(&m->params, c, lora_param_tensor[t], l);
            matmul(ba, (int)in, B, m->lora_config.r, A, (int)in, B_ROWS, (int)out, (int)in, m->lora_config.r, 0);  // (OUT, IN)
            for (size_t i = 0; i < in * out; i++) W[i] += scale * ba[i];
        }
        free(ba);
    }
    model_lora_detach(m);
    return 0;
}

// the frozen base, the adapters with their gradients and AdamW moments, the activations
size_t model_bytes_train_lora(const Config *c, const LoRAConfig *lc, int weights_bf16, int B, int T) {
    Activations a;
    return model_bytes_weights(c, weights_bf16) +
           (4 * lora_point(NULL, NULL, c, lc) + acts_float_count(c, B, T, lc->r, &a, NULL)) * sizeof(float);
}

size_t model_bytes_train_model(const Model *m, int B, int T) {
    if (!m->lora) return model_bytes_train(&m->config, B, T);
    return model_bytes_train_lora(&m->config, &m->lora_config, m->weights_bf16, B, T);
}
