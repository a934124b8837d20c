// model.h: a Llama in plain C: forward, backward, AdamW, generation, checkpoints.
//
// The architecture (Llama 1/2/3, and the tiny models srl trains) is, per token:
//   x = embed[token]
//   for each layer:
//     x = x + o_proj( attention( rope(q_proj(rmsnorm(x))), rope(k_proj(..)), v_proj(..) ) )
//     x = x + down_proj( silu(gate_proj(rmsnorm(x))) * up_proj(rmsnorm(x)) )
//   logits = lm_head(rmsnorm(x))
// with grouped-query attention (n_kv_heads <= n_heads; query head h reads kv head
// h / (n_heads / n_kv_heads)), a causal mask, and rotary position embeddings (optionally with
// Llama 3's frequency scaling). Weights are stored as Hugging Face does: a linear layer's
// weight is (out_features, in_features), so y = W x reads W row by row.
//
// Shapes in comments use: B batch, T sequence length, C model width (hidden_size),
// F MLP width (intermediate_size), H query heads, KV key/value heads, D head_dim,
// L layers, V vocabulary, N rows (B*T positions, or decoding rows).
#ifndef SRL_MODEL_H
#define SRL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define MAX_EOS_IDS 8

typedef struct {
    int vocab_size;          // V
    int dim;                 // C, hidden_size
    int hidden_dim;          // F, intermediate_size
    int n_layers;            // L
    int n_heads;             // H
    int n_kv_heads;          // KV
    int head_dim;            // D (usually C / H, but config.json may say otherwise)
    int max_seq_len;         // max_position_embeddings
    float norm_eps;          // rms_norm_eps
    float rope_theta;
    int rope_llama3;         // 1: Llama 3 frequency scaling (rope_scaling.rope_type "llama3")
    float rope_factor;
    float rope_low_freq_factor;
    float rope_high_freq_factor;
    int rope_original_max_pos;
    int rope_interleaved;    // 1: pairs (2i, 2i+1) as Meta / llama2.c; 0: pairs (i, i + D/2) as Hugging Face
    int tied_embeddings;     // 1: lm_head is embed_tokens
    int bos_token_id;        // -1 when unknown
    int eos_token_ids[MAX_EOS_IDS];
    int n_eos;
} Config;

// Reads a Hugging Face config.json. -1 with srl_error naming the file and the field.
int config_load_json(Config *c, const char *path);
// Writes config.json as transformers writes it for LlamaForCausalLM (atomically).
int config_save_json(const Config *c, const char *path, const char *torch_dtype);
// Writes generation_config.json, which transformers' generate reads: bos_token_id and
// eos_token_id (a list when the model stops on several, as srl's chat models on <|end_of_text|>
// and <|eot_id|>), the ids config.json holds. model_save writes it beside config.json.
int generation_config_save_json(const Config *c, const char *path);
// Checks sizes for sanity (positive, heads divide, products that fit). -1 with srl_error.
int config_validate(const Config *c);

// ----------------------------------------------------------------------------
// parameters: one allocation, named pointers into it, in this order

#define N_PARAM_TENSORS 12
typedef struct {
    float *token_embedding;  // (V, C)      model.embed_tokens.weight
    float *attn_norm;        // (L, C)      model.layers.i.input_layernorm.weight
    float *wq;               // (L, H*D, C) self_attn.q_proj.weight
    float *wk;               // (L, KV*D, C) self_attn.k_proj.weight
    float *wv;               // (L, KV*D, C) self_attn.v_proj.weight
    float *wo;               // (L, C, H*D) self_attn.o_proj.weight
    float *mlp_norm;         // (L, C)      post_attention_layernorm.weight
    float *w_gate;           // (L, F, C)   mlp.gate_proj.weight
    float *w_up;             // (L, F, C)   mlp.up_proj.weight
    float *w_down;           // (L, C, F)   mlp.down_proj.weight
    float *final_norm;       // (C)         model.norm.weight
    float *lm_head;          // (V, C)      lm_head.weight; equals token_embedding when tied
} Params;

// Sizes (number of floats) of the N_PARAM_TENSORS tensors; lm_head is 0 when tied.
void param_sizes(const Config *c, size_t sizes[N_PARAM_TENSORS]);
// Points the named pointers of p into memory, laid out in order.
void params_point(Params *p, float *memory, const Config *c);
extern const char *const param_tensor_names[N_PARAM_TENSORS];   // "token_embedding", ...
// 1 for the tensors AdamW decays (the matrices), 0 for the norm weights.
extern const int param_tensor_decays[N_PARAM_TENSORS];

// ----------------------------------------------------------------------------
// LoRA (Hu et al. 2021): a frozen linear layer W (OUT, IN) plus a trained low-rank update,
//   y = W x + (alpha / r) B A x,   A (r, IN), B (OUT, r)
// on the target modules of every layer. A starts kaiming-uniform and B at zero (as PEFT), so an
// adapted model starts equal to its base. The base stays in its file's dtype (f32 or bf16).

enum { LORA_Q, LORA_K, LORA_V, LORA_O, LORA_GATE, LORA_UP, LORA_DOWN, N_LORA_TARGETS };
extern const char *const lora_target_names[N_LORA_TARGETS];   // "q", "k", "v", "o", "gate", "up", "down"
extern const char *const lora_module_names[N_LORA_TARGETS];   // "self_attn.q_proj", ..., "mlp.down_proj"

typedef struct {
    int r;                   // rank
    float alpha;             // the update is scaled by alpha / r
    unsigned targets;        // bit t set: target t (LORA_Q...) is adapted in every layer
} LoRAConfig;

// The adapters: one allocation, in this order; a target not adapted has NULL pointers.
typedef struct {
    float *q_a;              // (L, r, C)      base_model.model.model.layers.i.self_attn.q_proj.lora_A.weight
    float *q_b;              // (L, H*D, r)    ...self_attn.q_proj.lora_B.weight
    float *k_a;              // (L, r, C)
    float *k_b;              // (L, KV*D, r)
    float *v_a;              // (L, r, C)
    float *v_b;              // (L, KV*D, r)
    float *o_a;              // (L, r, H*D)
    float *o_b;              // (L, C, r)
    float *gate_a;           // (L, r, C)      ...mlp.gate_proj.lora_A.weight
    float *gate_b;           // (L, F, r)
    float *up_a;             // (L, r, C)
    float *up_b;             // (L, F, r)
    float *down_a;           // (L, r, F)
    float *down_b;           // (L, C, r)
} LoRAParams;

// ----------------------------------------------------------------------------
// activations of a training forward pass, kept for the backward pass

typedef struct {
    float *residual;         // (L+1, B, T, C) the input of each layer; [L] feeds the final norm
    float *attn_norm_out;    // (L, B, T, C)
    float *attn_rstd;        // (L, B, T)     1 / rms, kept for the backward
    float *q;                // (L, B, T, H*D)   after RoPE
    float *k;                // (L, B, T, KV*D)  after RoPE
    float *v;                // (L, B, T, KV*D)
    float *att;              // (L, B, H, T, T)  softmax probabilities (0 above the diagonal)
    float *att_out;          // (L, B, T, H*D)   attention output before o_proj
    float *mid;              // (L, B, T, C)     residual after attention
    float *mlp_norm_out;     // (L, B, T, C)
    float *mlp_rstd;         // (L, B, T)
    float *gate;             // (L, B, T, F)     gate_proj output, before SiLU
    float *up;               // (L, B, T, F)
    float *swiglu;           // (L, B, T, F)     silu(gate) * up
    float *final_norm_out;   // (B, T, C)
    float *final_rstd;       // (B, T)
    float *logits;           // (B, T, V)        the backward overwrites them with their gradient
    float *token_logprob;    // (B, T)           log p(target) at each position
    // backward scratch, one layer's worth, reused layer after layer
    float *d_residual;       // (B, T, C)
    float *d_norm_out;       // (B, T, C)
    float *d_att_out;        // (B, T, H*D)
    float *d_q;              // (B, T, H*D)
    float *d_k;              // (B, T, KV*D)
    float *d_v;              // (B, T, KV*D)
    float *d_gate;           // (B, T, F)
    float *d_up;             // (B, T, F)
    float *d_swiglu;         // (B, T, F)
    float *scratch;          // transposes for the weight gradients: (max(V, F, H*D)*C + 2*N*max(V, F, C, H*D))
    // LoRA only (empty without adapters)
    float *lora_u;           // (L, 7, B, T, r)  (alpha / r) A x of each adapted module, kept for the backward
    float *lora_du;          // (2, B, T, r)     the backward's d(A x) and its transpose
} Activations;

// ----------------------------------------------------------------------------
// the model

// Weights copied into the matmul kernel's packed layout, for fast inference (see model.c).
typedef struct {
    float *wq, *wk, *wv, *wo, *w_gate, *w_up, *w_down, *lm_head;   // every layer, one after another
    float *memory;           // NULL when there is no packed copy
} PackedWeights;

// Frozen weight matrices held as bf16, for inference (model_load_as with LOAD_BF16, or
// LOAD_AUTO on a bf16 file). Each pointer points into the mapped safetensors file (zero copy:
// the page cache is the only copy) or, when that cannot be (the file stores another dtype, a
// tensor is not 2-byte aligned, a big-endian host), into memory, a copy rounded to bf16. The
// norm weights stay float32 in params (params' matrix pointers are NULL then).
typedef struct {
    const uint16_t *token_embedding;  // (V, C)
    const uint16_t *lm_head;          // (V, C); token_embedding when tied
    const uint16_t **wq, **wk, **wv, **wo;        // (L) pointers to (H*D, C), (KV*D, C), (KV*D, C), (C, H*D)
    const uint16_t **w_gate, **w_up, **w_down;    // (L) pointers to (F, C), (F, C), (C, F)
    const uint16_t **layer_ptrs;      // the 7 L pointers above, one allocation
    uint16_t *memory;                 // the copies (NULL when every tensor is mapped)
    size_t n_mapped, n_copied;        // weights read in place from the file, and copied
    void *files;                      // the mapped files the pointers point into (NULL when none)
} WeightsBF16;

typedef struct {
    Config config;
    Params params;
    PackedWeights packed;    // made by model_pack_weights, used by model_forward_rows
    int weights_bf16;        // 1: the matrices are in bf16 (inference only), 0: all in params
    WeightsBF16 bf16;
    float *params_memory;
    size_t n_params;         // floats in params_memory (the tied head counted once; only the norms when weights_bf16)
    Params grads;            // NULL pointers until training starts
    float *grads_memory;
    float *adam_m;           // (n_params, or n_lora with adapters) AdamW first moment
    float *adam_v;           // (n_params, or n_lora) AdamW second moment
    long adam_step;          // AdamW steps taken (for bias correction)
    Activations acts;
    float *acts_memory;
    int acts_B, acts_T;      // the batch shape acts were allocated for
    int acts_lora_r;         // and the LoRA rank (0: none)
    int lora;                // 1: LoRA adapters attached: training updates them alone, the base is frozen
    LoRAConfig lora_config;
    LoRAParams lora_params;  // the adapters, in lora_memory
    LoRAParams lora_grads;   // their gradients, in lora_grads_memory (NULL pointers until training)
    float *lora_memory, *lora_grads_memory;
    size_t n_lora;           // floats in lora_memory
    float *rope_cos;         // (rope_positions, D/2)
    float *rope_sin;         // (rope_positions, D/2)
    int rope_positions;      // positions the tables cover so far
    int B, T;                // the shape of the last forward
    const int *inputs;       // (B, T) of the last forward (the caller keeps them until the backward)
    const int *targets;      // (B, T) of the last forward, or NULL
} Model;

// safetensors files, read through mmap. Every size a header claims is checked against the
// file before it is used.
enum { DTYPE_F32 = 0, DTYPE_BF16 = 1, DTYPE_F16 = 2 };
typedef struct {
    char path[4096];
    MappedFile file;
    JsonDoc header;
    size_t data_start, data_size;   // where the tensor bytes begin, and how many there are
} SafeTensors;
typedef struct {
    const unsigned char *data;      // inside the mapping
    int dtype;                      // DTYPE_*
    int ndim;
    int64_t shape[8];
    size_t numel;
} SafeTensor;
int safetensors_open(SafeTensors *st, const char *path);                   // -1 with srl_error
void safetensors_close(SafeTensors *st);
int safetensors_find(const SafeTensors *st, const char *name, SafeTensor *t);  // -1 with srl_error
void safetensor_to_f32(const SafeTensor *t, float *out);
// A tensor of any supported dtype as malloc'd floats (info may be NULL).
int safetensors_read(const SafeTensors *st, const char *name, float **data, SafeTensor *info);

// Loading: a Hugging Face model folder (config.json + model.safetensors or shards), or a
// llama2.c .bin checkpoint. -1 with srl_error naming the file and the problem. model_load holds
// every weight as float32 (what training needs); model_load_as chooses:
//   LOAD_F32   every weight as float32 (model_load)
//   LOAD_BF16  the matrices as bf16 (mapped when the file stores BF16, else rounded to nearest
//              even into memory), the norms as float32: inference only
//   LOAD_AUTO  LOAD_BF16 when every matrix of the file is BF16, else LOAD_F32
// Memory is checked before anything large is allocated, counting what the model will hold.
// A folder holding a PEFT adapter (adapter_config.json, no config.json) loads the base it names
// (base_model_name_or_path) as load_dtype says, with the adapter attached (see LoRA below).
enum { LOAD_F32 = 0, LOAD_BF16 = 1, LOAD_AUTO = 2 };
int model_load(Model *m, const char *path);
int model_load_as(Model *m, const char *path, int load_dtype);
// "f32", "bf16" or "auto" as LOAD_*; -1 when it is none of them.
int load_dtype_parse(const char *s);
// A model with random weights (normal, std 0.02 for matrices, 1 for norms).
void model_init_random(Model *m, const Config *c, uint64_t seed);
void model_free(Model *m);
// Writes config.json, generation_config.json and model.safetensors into dir (created when
// missing), each atomically.
// dtype_bf16: 1 stores BF16 (round to nearest even), 0 stores F32.
int model_save(const Model *m, const char *dir, int dtype_bf16);
// The Hugging Face tensors of a model, by name ("model.layers.0.mlp.up_proj.weight"): the
// slice of p (the weights, or the gradients: &m->grads) that holds it, or NULL.
float *model_tensor_by_name(const Model *m, const Params *p, const char *name, size_t *numel);
int model_tensor_count(const Model *m);
void model_tensor_name(const Model *m, int index, char *out, size_t cap);
// Weights of src copied into dst (same config).
void model_copy_weights(Model *dst, const Model *src);

// AdamW's state (moments and step count) beside a checkpoint, so training can resume exactly.
int model_save_optimizer(const Model *m, const char *path);   // a safetensors file, atomically
int model_load_optimizer(Model *m, const char *path);         // -1 with srl_error
// A safetensors file of named F32 tensors (1-D), written atomically; metadata may be NULL or a
// JSON object's members as text (e.g. "\"step\": \"12\"").
int safetensors_write_f32(const char *path, int n, const char *const *names, const float *const *data,
                          const size_t *numel, const char *metadata);

// The memory still available on this machine (0 when unknown), and a check that `needed`
// bytes fit in it: -1 with srl_error naming `what` and both amounts when they do not.
size_t memory_available(void);
int memory_check(size_t needed, const char *what);

// Bytes needed to generate (weights + KV cache for n_seqs x seq_len) and to train (weights,
// gradients, AdamW state, activations for B x T).
// weights_bf16: the matrices held as bf16 (2 bytes each), else float32.
size_t model_param_count(const Config *c);
size_t model_bytes_weights(const Config *c, int weights_bf16);
size_t model_bytes_generate(const Config *c, int n_seqs, int seq_len, int weights_bf16);
size_t model_bytes_train(const Config *c, int B, int T);
// What training m needs: model_bytes_train, or with LoRA adapters attached the frozen base as m
// holds it, the adapters, their gradients and AdamW moments, and the activations.
size_t model_bytes_train_model(const Model *m, int B, int T);
size_t model_bytes_train_lora(const Config *c, const LoRAConfig *lc, int weights_bf16, int B, int T);

// ----------------------------------------------------------------------------
// training

// Forward over a batch of token sequences inputs (B, T). When targets (B, T) is given, fills
// acts.token_logprob with log p(targets[b,t] | inputs[b, <=t]) (targets < 0 give 0).
void model_forward(Model *m, const int *inputs, const int *targets, int B, int T);
// Backward from d_logprob (B, T): the gradient of the loss with respect to each
// token_logprob. Gradients are ADDED to m->grads (zero them with model_zero_grad first), so
// several micro-batches can accumulate into one step.
void model_backward(Model *m, const float *d_logprob);
void model_zero_grad(Model *m);

// Cross-entropy under per-token weights: loss = -sum_{b,t} weights[b,t] * token_logprob[b,t],
// and d_logprob = -weights. With weights = mask / (number of masked tokens) it is the mean
// cross-entropy over the masked tokens. Call after model_forward with targets.
float model_weighted_nll(const Model *m, const float *weights, float *d_logprob);
// Summed log-probs of each sequence over positions where mask[b,t] != 0: out (B).
void model_sequence_logprobs(const Model *m, const float *mask, double *out);

typedef struct {
    float beta1, beta2, eps, weight_decay;
} AdamWConfig;
// The global L2 norm of all gradients (summed in a fixed order: same for any thread count).
float model_grad_norm(const Model *m);
void model_scale_grads(Model *m, float scale);
// One AdamW step at learning rate lr: decoupled weight decay on the matrices only, bias
// corrected moments, as torch.optim.AdamW.
void model_adamw_step(Model *m, const AdamWConfig *cfg, float lr);
// Clips to max_norm when the norm exceeds it (as torch.nn.utils.clip_grad_norm_) and returns
// the norm before clipping.
float model_clip_grads(Model *m, float max_norm);

typedef struct {
    float lr_max, lr_min;
    int warmup_steps, total_steps;
    int linear;              // 0: cosine decay to lr_min, 1: linear decay
} LRSchedule;
// lr at step t (0-based): linear warmup to lr_max over warmup_steps, then decay to lr_min.
float lr_at_step(const LRSchedule *s, int step);

// ----------------------------------------------------------------------------
// LoRA adapters (see LoRAConfig above). With adapters attached, model_backward computes their
// gradients alone (the gradient still flows through every frozen weight to the input), and
// model_zero_grad, model_grad_norm, model_clip_grads and model_adamw_step work on them alone
// (AdamW decays both A and B, as torch.optim.AdamW on PEFT's parameters does).

// "q,k,v,o,gate,up,down" (any subset in any order, or PEFT's "q_proj"...; "all": every one) as
// a target mask. -1 with srl_error.
int lora_targets_parse(const char *s, unsigned *targets);
// Attaches fresh adapters: A (r, IN) uniform in +-1/sqrt(IN) (PEFT: kaiming_uniform_ with
// a = sqrt(5)), B zero. -1 with srl_error (a bad rank, no target, adapters already attached).
int model_lora_init(Model *m, const LoRAConfig *lc, uint64_t seed);
void model_lora_detach(Model *m);
// One layer's A (which 0) or B (which 1) of target t in p (&m->lora_params or &m->lora_grads),
// with its shape (rows, cols); NULL when t is not adapted.
float *lora_tensor(const Model *m, const LoRAParams *p, int t, int which, int layer, size_t *rows, size_t *cols);
// PEFT's tensor name of that tensor: "base_model.model.model.layers.3.mlp.up_proj.lora_B.weight".
void lora_tensor_name(char *out, size_t cap, int t, int which, int layer);
// The adapters in PEFT's format, atomically: dir/adapter_config.json (base_name as
// base_model_name_or_path) and dir/adapter_model.safetensors (F32, PEFT's names and shapes).
int lora_save(const Model *m, const char *dir, const char *base_name);
// Attaches the adapters of a PEFT folder to m (which has none): -1 with srl_error naming the
// file and what is wrong (a missing tensor, a wrong shape, an option srl does not support).
int model_lora_load(Model *m, const char *dir);
// A folder holding adapter_config.json and no config.json is an adapter: the base it names
// (base_model_name_or_path) into base (cap bytes). 1 when dir is an adapter, 0 when not, -1
// with srl_error.
int lora_adapter_base(const char *dir, char *base, size_t cap);
// Folds the adapters into a float32 base, W += (alpha / r) B A, and detaches them. -1 with
// srl_error when the base is bf16.
int model_lora_merge(Model *m);

// ----------------------------------------------------------------------------
// generation

typedef struct {
    int n_slots, max_len, kv_dim, n_layers;
    float *k;                // (L, n_slots, max_len, KV*D)
    float *v;                // (L, n_slots, max_len, KV*D)
} KVCache;
int kv_cache_init(KVCache *c, const Config *cfg, int n_slots, int max_len);   // -1 with srl_error
void kv_cache_free(KVCache *c);

// The forward of a ragged batch of rows for inference: row r is token tokens[r] of the
// sequence held in cache slot slots[r], at position positions[r]. Each row's key and value
// are written into the cache, then each row attends to its slot's positions 0..positions[r].
// Rows of one slot must come in increasing position order (a prompt chunk); rows of other
// slots are independent (decoding several sequences together). logits (n_out, V) receives
// the logits of the rows with want_logits[r] != 0, in order (want_logits NULL: every row).
// Every row's arithmetic is the same whatever else is in the batch, so results do not depend
// on batching or on the number of threads.
void model_forward_rows(Model *m, KVCache *cache, int n_rows, const int *tokens, const int *slots,
                        const int *positions, const unsigned char *want_logits, float *logits);

// A packed copy of the weights makes model_forward_rows read each weight as one stream (it
// matters when decoding a few sequences). Drop it, or pack again, after the weights change:
// model_generate packs on entry and drops on exit.
void model_pack_weights(Model *m);
void model_drop_packed_weights(Model *m);

// Linear layers with bf16 weights, y (N, OUT) = x (N, IN) W^T with W (OUT, IN) in bf16, have
// two kernels (forward only), chosen at run time:
//   BF16_KERNEL_PLAIN   any machine: each weight widened to float32 (exact: a shift), x kept in
//                       float32, products and sums in float32 (fused multiply-add)
//   BF16_KERNEL_AVX512  AVX512-BF16's vdpbf16ps: x is first rounded to bf16 (nearest even), each
//                       product of two bf16 is exact in float32, and the sums are float32 (with
//                       subnormals flushed to zero, as the instruction does)
// Both sum each output in one fixed order (16 partial sums over i mod 16 for the plain kernel,
// i mod 32 in pairs for vdpbf16ps, then a fixed tree), so each gives the same bits for any
// thread count and batch; the two differ by the rounding of x (about 2^-9 relative per product).
// The default is the fastest this CPU runs; SRL_BF16_KERNEL=plain in the environment forces the
// plain one.
enum { BF16_KERNEL_PLAIN = 0, BF16_KERNEL_AVX512 = 1 };
int bf16_kernel_available(int kernel);
int bf16_kernel_get(void);
int bf16_kernel_set(int kernel);          // -1 with srl_error when this machine cannot run it
const char *bf16_kernel_name(int kernel);
void linear_forward_bf16(float *y, const float *x, const uint16_t *W, int N, int IN, int OUT);
// The backward of such a layer to its input, for LoRA on a frozen bf16 base: dx (N, IN) (+)= dy W
// (plain C: each weight widened exactly, float32 products and sums, each dx summed over the
// outputs in order by one thread).
void linear_backward_input_bf16(float *dx, const float *dy, const uint16_t *W, int N, int IN, int OUT, int accumulate_dx);
// bf16 is the top half of a float32: widening is exact; narrowing rounds to nearest even.
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);

typedef struct {
    int max_new_tokens;      // the token budget per sequence
    float temperature;       // 0: greedy
    float top_p;             // 1: no nucleus cut
    const int *stop_ids;     // generation of a sequence ends when it produces one of these
    int n_stop;
    int include_stop;        // 1: a stop token that ends a sequence is kept as its last output token
    int max_batch;           // sequences decoded together (cache slots)
    int progress;            // 1: progress lines on stderr
    const char *progress_label;
} GenerateConfig;

// Samples one token from logits (V) with temperature and top-p, using rng; greedy (argmax,
// lowest id on ties) when temperature is 0. Overwrites logits with probabilities.
int sample_token(float *logits, int V, float temperature, float top_p, Rng *rng);

// Generates a continuation for each of n prompts. Sequence i samples with its own RNG seeded
// by seeds[i], so its output does not depend on which other prompts it is batched with.
// Prompts that share a prefix with a sequence already in the cache reuse its keys and values.
// outputs[i] (malloc'd) gets the new tokens, without the stop token; output_lens[i] their
// count; stopped[i] (may be NULL) is 1 when a stop token ended it, 0 when the budget did.
// -1 with srl_error (a prompt longer than the model's context, say).
int model_generate(Model *m, int n, const int *const *prompts, const int *prompt_lens, const uint64_t *seeds,
                   const GenerateConfig *cfg, int **outputs, int *output_lens, unsigned char *stopped);

#endif
