#!/usr/bin/python3
"""make_reference.py: the PyTorch reference that srl's C tests compare against.

Run from the repository root with Debian's Python (python3-torch and python3-numpy only):

    /usr/bin/python3 tests/make_reference.py

It writes the files under tests/ref/ (see tests/ref/README.md). Those files are committed, so
`make test` needs no Python; rerun this script only when the reference itself must change.

Everything here is written in plain torch operations, in float64, following the semantics of
Hugging Face transformers' LlamaForCausalLM (transformers is not used or needed). The script is
meant to be read: each section says what it computes and why. It is deterministic (fixed seeds,
one thread), so running it twice gives byte-identical files.

Contents, in order:
  1. configuration and hyperparameters
  2. safetensors writer and reader (the format is simple enough to do by hand)
  3. the model: RMSNorm, Llama 3 RoPE, grouped-query attention, SwiGLU MLP, lm_head
  4. a second, deliberately naive (loop-based) forward used only to cross-check the first
  5. losses: masked token-mean cross-entropy, summed sequence log-probs, DPO (+ RPO NLL term)
  6. AdamW with gradient clipping and a warmup + cosine learning-rate schedule
  7. finite-difference gradient checks
  8. main: build everything, self-check, write the files (the main model, its tied, bf16 and
     sharded variants, a second, wide model in an F16 file: multi-head, hidden 264, and a
     third in a llama2.c checkpoint with interleaved RoPE)
"""

import json
import math
import os
import struct
import sys

import numpy as np
import torch

torch.set_num_threads(1)  # one thread: the same summation order on every run
torch.set_default_dtype(torch.float64)

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, "ref")

# ----------------------------------------------------------------------------------------------
# 1. Configuration and hyperparameters
# ----------------------------------------------------------------------------------------------

# The model sizes. head_dim is given explicitly and is NOT hidden_size / num_attention_heads
# (48 / 4 = 12, but head_dim = 16), so the C code cannot silently assume it is.
MODEL_CONFIG = {
    "hidden_size": 48,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "intermediate_size": 80,
    "num_hidden_layers": 2,
    "vocab_size": 67,
    "rms_norm_eps": 1e-5,
    "rope_theta": 500000.0,
    "max_position_embeddings": 256,
    "rope_scaling": {
        "rope_type": "llama3",
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 64,
    },
    "tie_word_embeddings": False,
}


def hf_config_json(cfg, torch_dtype="float32"):
    """config.json as transformers writes it for a Llama model (sorted keys, indent 2)."""
    d = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_act": "silu",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "torch_dtype": torch_dtype,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "initializer_range": 0.02,
        "pretraining_tp": 1,
        "use_cache": True,
        "transformers_version": "4.44.0",
    }
    d.update(cfg)
    return json.dumps(d, indent=2, sort_keys=True) + "\n"


# A second model, in an F16 file, at the shapes the first does not reach: plain multi-head
# attention (as many key/value heads as query heads, M0's own layout), and a hidden size past
# 256, the inner-dimension block of srl's matmul kernel (BLOCK_P in model.c), so that the
# q/k/v/gate/up/lm_head products cross a block boundary. head_dim 8 and intermediate 32 keep the
# file small; plain RoPE (no rope_scaling), theta 10000.
WIDE_CONFIG = {
    "hidden_size": 264,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "head_dim": 8,
    "intermediate_size": 32,
    "num_hidden_layers": 1,
    "vocab_size": 67,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "max_position_embeddings": 64,
    "tie_word_embeddings": False,
}
SEED_WIDE_WEIGHTS = 7000

# A third model, in a llama2.c checkpoint (the legacy .bin of karpathy/llama2.c's export), whose
# RoPE pairs elements (2i, 2i + 1) of each head ("interleaved", Meta's and llama2.c's layout)
# instead of Hugging Face's (i, i + D/2); plain multi-head attention, untied head. The llama2.c
# format fixes head_dim = hidden / heads, rms_norm_eps 1e-5 and theta 10000. intermediate_size
# differs from hidden_size so that the file's up and down projections (same element count)
# cannot be swapped unseen. "rope_interleaved" is this script's own key, not a config.json one.
INTERLEAVED_CONFIG = {
    "hidden_size": 32,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "head_dim": 8,
    "intermediate_size": 48,
    "num_hidden_layers": 2,
    "vocab_size": 67,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "max_position_embeddings": 16,
    "tie_word_embeddings": False,
    "rope_interleaved": True,
}
SEED_INTERLEAVED_WEIGHTS = 9000

# Data sizes.
B, T = 3, 11  # batch rows, positions per row
P = 2  # DPO preference pairs (a (2P, T) batch: chosen_0, chosen_1, rejected_0, rejected_1)

# Random initialisation: deliberately NOT tiny, so logits are far from uniform and the softmaxes
# (attention and output) are actually exercised.
INIT_STD = 0.15  # matrices ~ normal(0, 0.15)
NORM_STD = 0.2  # norm weights = 1 + 0.2 * normal
REF_NOISE_STD = 0.05  # DPO reference model = policy weights + normal(0, 0.05)

# AdamW, clipping and schedule.
ADAMW_STEPS = 3
LR_MAX = 1e-2
MIN_LR = 0.1 * LR_MAX
WARMUP_STEPS = 2
TOTAL_STEPS = 10
BETAS = (0.9, 0.95)
ADAM_EPS = 1e-8
WEIGHT_DECAY = 0.1  # applied to every 2-D tensor, not to the 1-D norm weights
MAX_NORM = 1.0  # global gradient-norm clipping (lowered below if it never activates)
CLIP_EPS = 1e-6  # torch.nn.utils.clip_grad_norm_: coef = max_norm / (total_norm + 1e-6)
# A max_norm above every gradient norm of the AdamW steps, for the same steps unclipped: with
# every step clipped, a clip coefficient off by a constant factor goes unseen (AdamW is
# invariant to a constant rescale of its gradients), so the reference also has steps without.
UNCLIPPED_MAX_NORM = 100.0

# DPO.
DPO_BETA = 0.1
DPO_ALPHA = 1.0  # weight of the NLL term of iterative RPO (0 gives plain sigmoid DPO)

PAD_TOKEN = 0  # token id in padded (masked-out) positions

SEED_MAIN_WEIGHTS = 1000
SEED_TIED_WEIGHTS = 2000
SEED_REF_NOISE = 3000
SEED_DATA = 4000
SEED_DPO_DATA = 5000
SEED_FD = 6000

# LoRA: adapters on every linear layer of every block (PEFT's target_modules, all seven), with
# A and B both random. PEFT starts B at zero, which would make A's first gradient zero and the
# update invisible in the logits; random B exercises every term of the backward.
LORA_R = 4
LORA_ALPHA = 8.0  # scaling = alpha / r = 2: a scale left out (or applied twice) is plain to see
LORA_TARGETS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
LORA_INIT_STD = 0.15
SEED_MHA_WEIGHTS = 7000
SEED_LORA = 8000

# ----------------------------------------------------------------------------------------------
# 2. safetensors, by hand
#
# File layout: 8-byte little-endian u64 N, then N bytes of JSON header
#   {"__metadata__": {"format": "pt"}, "name": {"dtype": "F32", "shape": [..],
#    "data_offsets": [begin, end]}, ...}
# padded with spaces to a multiple of 8, then the raw little-endian tensor bytes; offsets are
# relative to the start of the data section and tensors are contiguous, in header order.
# ----------------------------------------------------------------------------------------------

DTYPE_SIZE = {"F32": 4, "BF16": 2, "F16": 2, "I32": 4}


def f32_bytes(t):
    """Little-endian float32 bytes of a tensor (rounded from float64 to nearest)."""
    return np.ascontiguousarray(t.detach().numpy().astype("<f4")).tobytes()


def bf16_bits(t32):
    """Round float32 values to bfloat16, round to nearest even, returning the uint16 bits.

    The bf16 pattern is the top 16 bits of the float32 pattern; adding 0x7FFF plus the lowest
    kept bit before truncating rounds to nearest with ties to even. (No NaNs occur here.)
    """
    u = np.ascontiguousarray(t32.astype("<f4")).view("<u4").astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype("<u2")


def bf16_to_f32(bits):
    return (bits.astype("<u4") << 16).view("<f4")


def write_safetensors(path, tensors):
    """tensors: list of (name, dtype, shape, raw_bytes), written in that order."""
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, dtype, shape, raw in tensors:
        n = int(np.prod(shape)) if len(shape) else 1
        assert len(raw) == n * DTYPE_SIZE[dtype], name
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * (-len(hjson) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for _, _, _, raw in tensors:
            f.write(raw)


def read_safetensors(path):
    """Returns {name: (dtype, shape, raw_bytes)} and checks the layout is what we write."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0, path
    header = json.loads(data[8 : 8 + n].decode())
    body = data[8 + n :]
    out, expect_begin = {}, 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        assert begin == expect_begin, (path, name)  # contiguous, in header order
        nelem = int(np.prod(info["shape"])) if info["shape"] else 1
        assert end - begin == nelem * DTYPE_SIZE[info["dtype"]], (path, name)
        out[name] = (info["dtype"], tuple(info["shape"]), body[begin:end])
        expect_begin = end
    assert expect_begin == len(body), path
    return out


def decode(dtype, shape, raw):
    """Raw bytes -> float64 numpy array (exact for every dtype used here)."""
    if dtype == "F32":
        a = np.frombuffer(raw, "<f4")
    elif dtype == "BF16":
        a = bf16_to_f32(np.frombuffer(raw, "<u2"))
    elif dtype == "F16":
        a = np.frombuffer(raw, "<f2")
    else:
        a = np.frombuffer(raw, "<i4")
    return a.astype(np.float64).reshape(shape)


# ----------------------------------------------------------------------------------------------
# 3. The model (Hugging Face LlamaForCausalLM semantics)
# ----------------------------------------------------------------------------------------------


def param_shapes(cfg):
    """Parameter names and shapes in transformers' state_dict order. Linear weights are
    (out_features, in_features); y = x @ W^T."""
    C, V, F = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    H, KV, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    shapes = [("model.embed_tokens.weight", (V, C))]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        shapes += [
            (p + "self_attn.q_proj.weight", (H * D, C)),
            (p + "self_attn.k_proj.weight", (KV * D, C)),
            (p + "self_attn.v_proj.weight", (KV * D, C)),
            (p + "self_attn.o_proj.weight", (C, H * D)),
            (p + "mlp.gate_proj.weight", (F, C)),
            (p + "mlp.up_proj.weight", (F, C)),
            (p + "mlp.down_proj.weight", (C, F)),
            (p + "input_layernorm.weight", (C,)),
            (p + "post_attention_layernorm.weight", (C,)),
        ]
    shapes.append(("model.norm.weight", (C,)))
    if not cfg["tie_word_embeddings"]:
        shapes.append(("lm_head.weight", (V, C)))
    return shapes


def init_params(cfg, seed):
    """Random weights, rounded to float32 and held as float64: the float32 values are what the
    files store, so they are the exact weights the C code sees."""
    g = torch.Generator().manual_seed(seed)
    params = {}
    for name, shape in param_shapes(cfg):
        if len(shape) == 1:  # a norm weight
            w = 1.0 + NORM_STD * torch.randn(shape, generator=g)
        else:
            w = INIT_STD * torch.randn(shape, generator=g)
        params[name] = w.float().double()
    return params


def rms_norm(x, weight, eps):
    """x * rsqrt(mean(x^2) + eps) * weight, over the last dimension."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def llama3_inv_freq(cfg):
    """RoPE inverse frequencies with Llama 3 scaling, exactly as transformers'
    _compute_llama3_parameters (computed here in float64). Returns (inv_freq, regime) where
    regime[i] is "high" (kept), "medium" (smoothed) or "low" (divided by factor)."""
    d, theta = cfg["head_dim"], cfg["rope_theta"]
    rs = cfg.get("rope_scaling")
    if rs is None:  # plain RoPE: every frequency kept
        inv_freq = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
        return inv_freq, ["high"] * (d // 2)
    factor, lff, hff = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old_ctx = rs["original_max_position_embeddings"]

    inv_freq = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    low_freq_wavelen = old_ctx / lff
    high_freq_wavelen = old_ctx / hff
    wavelen = 2 * math.pi / inv_freq
    # wavelen < high_freq_wavelen: keep; wavelen > low_freq_wavelen: divide by factor
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    # otherwise interpolate smoothly between the two
    smooth = (old_ctx / wavelen - lff) / (hff - lff)
    smoothed = (1 - smooth) * inv_freq_llama / factor + smooth * inv_freq_llama
    is_medium = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
    inv_freq_llama = torch.where(is_medium, smoothed, inv_freq_llama)

    regime = ["high" if w < high_freq_wavelen else "low" if w > low_freq_wavelen else "medium" for w in wavelen.tolist()]
    return inv_freq_llama, regime


def rope_cos_sin(cfg, T_):
    """cos, sin of shape (T, head_dim) for positions 0..T-1; HF layout: cat(freqs, freqs)."""
    inv_freq, _ = llama3_inv_freq(cfg)
    pos = torch.arange(T_, dtype=torch.float64)
    freqs = torch.outer(pos, inv_freq)  # (T, head_dim/2)
    emb = torch.cat([freqs, freqs], dim=-1)  # (T, head_dim)
    return emb.cos(), emb.sin()


def rotate_half(x):
    """(x1, x2) -> (-x2, x1) on the two halves of the last dimension: element i is paired with
    element i + head_dim/2 (HF's layout, not the interleaved (2i, 2i+1) one of Meta's code)."""
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rope(x, cos, sin):
    """x: (B, heads, T, head_dim)."""
    return x * cos + rotate_half(x) * sin


def apply_rope_interleaved(x, cfg):
    """Meta's and llama2.c's layout, as their code writes it: elements (2i, 2i + 1) of a head are
    the real and imaginary parts of one complex number, which at position t is multiplied by
    e^{i t inv_freq[i]}. x: (B, heads, T, head_dim)."""
    inv_freq, _ = llama3_inv_freq(cfg)
    angles = torch.outer(torch.arange(x.shape[2], dtype=torch.float64), inv_freq)  # (T, head_dim/2)
    turn = torch.polar(torch.ones_like(angles), angles)  # e^{i angle}
    xc = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2).contiguous())  # (B, heads, T, head_dim/2)
    return torch.view_as_real(xc * turn).reshape(x.shape)


def linear(x, params, module, lora=None):
    """x @ W^T for the linear layer `module` ("model.layers.0.self_attn.q_proj"), plus, when lora
    adapts it, PEFT's LoRA update: lora_B(lora_A(x)) * scaling, scaling = lora_alpha / r."""
    y = x @ params[module + ".weight"].T
    if lora is not None and lora_name(module, "A") in lora["tensors"]:
        A, B_ = lora["tensors"][lora_name(module, "A")], lora["tensors"][lora_name(module, "B")]
        y = y + ((x @ A.T) @ B_.T) * lora["scaling"]
    return y


def lora_name(module, which):
    """PEFT's name of an adapter tensor: base_model.model.<module>.lora_A.weight (A: (r, in),
    B: (out, r)), as PeftModel.state_dict() and save_pretrained write it."""
    return f"base_model.model.{module}.lora_{which}.weight"


def attention(x, params, prefix, cfg, cos, sin, lora=None):
    """Causal grouped-query self-attention. x: (B, T, C) -> (B, T, C)."""
    Bx, Tx, _ = x.shape
    H, KV, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    q = linear(x, params, prefix + "q_proj", lora)  # (B, T, H*D)
    k = linear(x, params, prefix + "k_proj", lora)  # (B, T, KV*D)
    v = linear(x, params, prefix + "v_proj", lora)
    q = q.view(Bx, Tx, H, D).transpose(1, 2)  # (B, H, T, D)
    k = k.view(Bx, Tx, KV, D).transpose(1, 2)  # (B, KV, T, D)
    v = v.view(Bx, Tx, KV, D).transpose(1, 2)
    if cfg.get("rope_interleaved"):
        q, k = apply_rope_interleaved(q, cfg), apply_rope_interleaved(k, cfg)
    else:
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    # grouped-query attention: query head h reads kv head h // (H / KV)
    group = H // KV
    k = k.repeat_interleave(group, dim=1)  # (B, H, T, D)
    v = v.repeat_interleave(group, dim=1)
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(D)  # (B, H, T, T)
    causal = torch.ones(Tx, Tx, dtype=torch.bool).tril()
    scores = scores.masked_fill(~causal, float("-inf"))
    att = torch.softmax(scores, dim=-1)
    y = att @ v  # (B, H, T, D)
    y = y.transpose(1, 2).reshape(Bx, Tx, H * D)
    return linear(y, params, prefix + "o_proj", lora)


def mlp(h, params, prefix, lora=None):
    """SwiGLU: down_proj(silu(gate_proj(h)) * up_proj(h))."""
    gate = linear(h, params, prefix + "gate_proj", lora)
    up = linear(h, params, prefix + "up_proj", lora)
    return linear(torch.nn.functional.silu(gate) * up, params, prefix + "down_proj", lora)


def forward(params, cfg, inputs, lora=None):
    """inputs: (B, T) int64 token ids -> logits (B, T, V)."""
    eps = cfg["rms_norm_eps"]
    cos, sin = rope_cos_sin(cfg, inputs.shape[1])
    x = params["model.embed_tokens.weight"][inputs]  # (B, T, C)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        x = x + attention(rms_norm(x, params[p + "input_layernorm.weight"], eps), params, p + "self_attn.", cfg, cos, sin, lora)
        x = x + mlp(rms_norm(x, params[p + "post_attention_layernorm.weight"], eps), params, p + "mlp.", lora)
    x = rms_norm(x, params["model.norm.weight"], eps)
    head = params["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else params["lm_head.weight"]
    return x @ head.T


# ----------------------------------------------------------------------------------------------
# 4. A naive forward for one sequence: explicit loops over positions, heads and pairs, no
#    batched matrix tricks (no repeat_interleave, no rotate_half, no masked_fill). It exists
#    only to cross-check forward() above; it is slow and that is fine at this size.
# ----------------------------------------------------------------------------------------------


def naive_forward_row(params, cfg, tokens):
    C, H, KV, D = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    inv_freq, _ = llama3_inv_freq(cfg)
    Tn = len(tokens)

    def norm(vec, w):
        return vec / math.sqrt(float((vec * vec).sum()) / C + eps) * w

    def rope(vec, pos):  # vec: (D,), rotate the pairs (i, i + D/2) by angle pos * inv_freq[i]
        out = vec.clone()  # (or the pairs (2i, 2i + 1) when the layout is interleaved)
        for i in range(D // 2):
            a = pos * float(inv_freq[i])
            c, s = math.cos(a), math.sin(a)
            ia, ib = (2 * i, 2 * i + 1) if cfg.get("rope_interleaved") else (i, i + D // 2)
            out[ia] = vec[ia] * c - vec[ib] * s
            out[ib] = vec[ib] * c + vec[ia] * s
        return out

    xs = [params["model.embed_tokens.weight"][int(tok)].clone() for tok in tokens]
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        Wq, Wk = params[p + "self_attn.q_proj.weight"], params[p + "self_attn.k_proj.weight"]
        Wv, Wo = params[p + "self_attn.v_proj.weight"], params[p + "self_attn.o_proj.weight"]
        hs = [norm(x, params[p + "input_layernorm.weight"]) for x in xs]
        qs = [Wq @ h for h in hs]
        ks = [Wk @ h for h in hs]
        vs = [Wv @ h for h in hs]
        new_xs = []
        for t in range(Tn):
            heads_out = []
            for h in range(H):
                kvh = h // (H // KV)
                q = rope(qs[t][h * D : (h + 1) * D], t)
                scores = [float(q @ rope(ks[s][kvh * D : (kvh + 1) * D], s)) / math.sqrt(D) for s in range(t + 1)]
                m = max(scores)
                e = [math.exp(sc - m) for sc in scores]
                z = sum(e)
                out = sum((e[s] / z) * vs[s][kvh * D : (kvh + 1) * D] for s in range(t + 1))
                heads_out.append(out)
            new_xs.append(xs[t] + Wo @ torch.cat(heads_out))
        xs = new_xs
        new_xs = []
        for x in xs:
            h = norm(x, params[p + "post_attention_layernorm.weight"])
            g = params[p + "mlp.gate_proj.weight"] @ h
            u = params[p + "mlp.up_proj.weight"] @ h
            act = g / (1 + torch.exp(-g)) * u
            new_xs.append(x + params[p + "mlp.down_proj.weight"] @ act)
        xs = new_xs
    head = params["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else params["lm_head.weight"]
    return torch.stack([head @ norm(x, params["model.norm.weight"]) for x in xs])


# ----------------------------------------------------------------------------------------------
# 5. Losses
# ----------------------------------------------------------------------------------------------


def token_logprobs(logits, targets):
    """log_softmax(logits)[target] at every (b, t): (B, T)."""
    return torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def sft_loss(params, cfg, inputs, targets, weights):
    """L = sum_{b,t} w[b,t] * CE(logits[b,t], targets[b,t]); with w = mask / sum(mask) this is
    the mean cross-entropy over the unmasked tokens. Returns (loss, logits)."""
    logits = forward(params, cfg, inputs)
    return -(weights * token_logprobs(logits, targets)).sum(), logits


def seq_logprobs(params, cfg, inputs, targets, mask):
    """Summed log-probability of the masked target tokens of each row: (B,)."""
    return (mask * token_logprobs(forward(params, cfg, inputs), targets)).sum(-1)


def dpo_loss(params, cfg, inputs, targets, mask, ref_lp, n_chosen, beta, alpha):
    """Sigmoid DPO plus the NLL term of iterative RPO. Rows are [chosen_0..P-1, rejected_0..P-1].
    margin_p = beta * ((lp_c - ref_c) - (lp_r - ref_r));
    loss = mean_p [ -logsigmoid(margin_p) + alpha * (-lp_c / n_chosen_p) ]."""
    lp = seq_logprobs(params, cfg, inputs, targets, mask)
    Pn = lp.shape[0] // 2
    lp_c, lp_r = lp[:Pn], lp[Pn:]
    ref_c, ref_r = ref_lp[:Pn], ref_lp[Pn:]
    margin = beta * ((lp_c - ref_c) - (lp_r - ref_r))
    loss = (-torch.nn.functional.logsigmoid(margin) + alpha * (-lp_c / n_chosen)).mean()
    return loss, lp, margin


# ----------------------------------------------------------------------------------------------
# 6. AdamW (torch.optim.AdamW semantics) with global-norm clipping and a warmup+cosine schedule
# ----------------------------------------------------------------------------------------------


def lr_at(t):
    """Linear warmup to LR_MAX over WARMUP_STEPS, then cosine decay to MIN_LR at TOTAL_STEPS."""
    if t < WARMUP_STEPS:
        return LR_MAX * (t + 1) / WARMUP_STEPS
    progress = (t - WARMUP_STEPS) / (TOTAL_STEPS - WARMUP_STEPS)
    return MIN_LR + 0.5 * (LR_MAX - MIN_LR) * (1 + math.cos(math.pi * progress))


def clip_gradients(grads, max_norm):
    """torch.nn.utils.clip_grad_norm_: total = ||all grads||_2, coef = max_norm / (total + 1e-6)
    clamped to at most 1, every gradient multiplied by coef. Returns (clipped, total_norm)."""
    total = torch.sqrt(sum((g * g).sum() for g in grads.values()))
    coef = min(1.0, max_norm / (float(total) + CLIP_EPS))
    return {n: g * coef for n, g in grads.items()}, float(total)


def adamw_step(params, grads, m, v, step, lr):
    """One AdamW update, in place on params/m/v; step counts from 1.
    Decoupled weight decay first (p -= lr * wd * p, 2-D tensors only), then the moments with
    bias correction, then p -= lr * m_hat / (sqrt(v_hat) + eps)."""
    b1, b2 = BETAS
    for n in params:
        g = grads[n]
        wd = WEIGHT_DECAY if params[n].dim() == 2 else 0.0
        params[n] = params[n] * (1 - lr * wd)
        m[n] = b1 * m[n] + (1 - b1) * g
        v[n] = b2 * v[n] + (1 - b2) * g * g
        m_hat = m[n] / (1 - b1**step)
        v_hat = v[n] / (1 - b2**step)
        params[n] = params[n] - lr * m_hat / (torch.sqrt(v_hat) + ADAM_EPS)


def grads_of(loss, params):
    names = list(params)
    gs = torch.autograd.grad(loss, [params[n] for n in names])
    return {n: g.detach() for n, g in zip(names, gs)}


def with_grad(params):
    return {n: p.detach().clone().requires_grad_(True) for n, p in params.items()}


def run_adamw(params0, cfg, inputs, targets, weights, max_norm):
    """ADAMW_STEPS steps on the same batch. Returns (params, losses, grad_norms, lrs)."""
    params = {n: p.clone() for n, p in params0.items()}
    m = {n: torch.zeros_like(p) for n, p in params.items()}
    v = {n: torch.zeros_like(p) for n, p in params.items()}
    losses, norms, lrs = [], [], []
    for t in range(ADAMW_STEPS):
        pg = with_grad(params)
        loss, _ = sft_loss(pg, cfg, inputs, targets, weights)
        grads, total = clip_gradients(grads_of(loss, pg), max_norm)
        lr = lr_at(t)
        adamw_step(params, grads, m, v, t + 1, lr)
        losses.append(float(loss))
        norms.append(total)
        lrs.append(lr)
    return params, losses, norms, lrs


def run_adamw_torch(params0, cfg, inputs, targets, weights, max_norm):
    """The same with torch.optim.AdamW and clip_grad_norm_, to cross-check run_adamw."""
    params = {n: p.detach().clone().requires_grad_(True) for n, p in params0.items()}
    decay = [p for p in params.values() if p.dim() == 2]
    no_decay = [p for p in params.values() if p.dim() != 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}],
        lr=LR_MAX, betas=BETAS, eps=ADAM_EPS,
    )
    losses, norms = [], []
    for t in range(ADAMW_STEPS):
        opt.zero_grad()
        loss, _ = sft_loss(params, cfg, inputs, targets, weights)
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm)))
        for group in opt.param_groups:
            group["lr"] = lr_at(t)
        opt.step()
        losses.append(float(loss))
    return {n: p.detach() for n, p in params.items()}, losses, norms


# ----------------------------------------------------------------------------------------------
# 7. Finite-difference gradient checks (central differences, float64)
# ----------------------------------------------------------------------------------------------


def check_gradients(what, loss_fn, params, grads, h=1e-5, n_random=2):
    """For every tensor: the entry with the largest |grad| plus n_random random entries.
    Returns the largest |autograd - finite difference| / max(1e-3, |autograd|)."""
    g = torch.Generator().manual_seed(SEED_FD)
    worst = 0.0
    for name, p in params.items():
        flat_grad = grads[name].reshape(-1)
        picks = [int(flat_grad.abs().argmax())]
        picks += torch.randint(0, p.numel(), (n_random,), generator=g).tolist()
        for idx in picks:
            vals = []
            for sign in (+1, -1):
                q = dict(params)
                pert = p.clone().reshape(-1)
                pert[idx] += sign * h
                q[name] = pert.reshape(p.shape)
                vals.append(float(loss_fn(q)))
            fd = (vals[0] - vals[1]) / (2 * h)
            ag = float(flat_grad[idx])
            err = abs(fd - ag) / max(1e-3, abs(ag))
            worst = max(worst, err)
            assert err < 1e-6, f"{what}: grad of {name}[{idx}]: autograd {ag} vs finite difference {fd}"
    print(f"  finite differences ({what}): {len(params)} tensors x {1 + n_random} entries, worst rel err {worst:.2e}")
    return worst


# ----------------------------------------------------------------------------------------------
# 9. LoRA: W x + (alpha / r) B A x on every linear layer, the base frozen
# ----------------------------------------------------------------------------------------------


def lora_modules(cfg):
    return [f"model.layers.{i}.{m}" for i in range(cfg["num_hidden_layers"]) for m in LORA_TARGETS]


def init_lora(params, cfg, seed):
    """A (r, in) and B (out, r) for every adapted module, normal(0, LORA_INIT_STD), as float32."""
    g = torch.Generator().manual_seed(seed)
    tensors = {}
    for mod in lora_modules(cfg):
        out_, in_ = params[mod + ".weight"].shape
        tensors[lora_name(mod, "A")] = (LORA_INIT_STD * torch.randn((LORA_R, in_), generator=g)).float().double()
        tensors[lora_name(mod, "B")] = (LORA_INIT_STD * torch.randn((out_, LORA_R), generator=g)).float().double()
    return tensors


def lora_loss(tensors, params, cfg, inputs, targets, weights):
    lora = {"tensors": tensors, "scaling": LORA_ALPHA / LORA_R}
    logits = forward(params, cfg, inputs, lora)
    return -(weights * token_logprobs(logits, targets)).sum(), logits


def run_lora_adamw(tensors0, params, cfg, inputs, targets, weights, max_norm):
    """ADAMW_STEPS steps on the adapters alone (the base frozen), clipped at max_norm; adamw_step
    decays every 2-D tensor, which here is every adapter (torch.optim.AdamW on PEFT's
    parameters decays them all). Returns (tensors, losses, grad_norms)."""
    tensors = {n: p.clone() for n, p in tensors0.items()}
    m = {n: torch.zeros_like(p) for n, p in tensors.items()}
    v = {n: torch.zeros_like(p) for n, p in tensors.items()}
    losses, norms = [], []
    for t in range(ADAMW_STEPS):
        tg = with_grad(tensors)
        loss, _ = lora_loss(tg, params, cfg, inputs, targets, weights)
        grads, total = clip_gradients(grads_of(loss, tg), max_norm)
        adamw_step(tensors, grads, m, v, t + 1, lr_at(t))
        losses.append(float(loss))
        norms.append(total)
    # the same with torch.optim.AdamW and clip_grad_norm_
    tp = {n: p.detach().clone().requires_grad_(True) for n, p in tensors0.items()}
    opt = torch.optim.AdamW(list(tp.values()), lr=LR_MAX, betas=BETAS, eps=ADAM_EPS, weight_decay=WEIGHT_DECAY)
    for t in range(ADAMW_STEPS):
        opt.zero_grad()
        lora_loss(tp, params, cfg, inputs, targets, weights)[0].backward()
        torch.nn.utils.clip_grad_norm_(list(tp.values()), max_norm)
        for group in opt.param_groups:
            group["lr"] = lr_at(t)
        opt.step()
    for n in tensors:
        assert torch.allclose(tensors[n], tp[n].detach(), rtol=1e-12, atol=1e-14), f"lora adamw vs torch: {n}"
    return tensors, losses, norms


def adapter_config_json(base):
    """adapter_config.json as peft's LoraConfig.save_pretrained writes it (sorted keys, indent 2)."""
    d = {
        "alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": base, "bias": "none",
        "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True, "layers_pattern": None,
        "layers_to_transform": None, "lora_alpha": LORA_ALPHA, "lora_dropout": 0.0, "modules_to_save": None,
        "peft_type": "LORA", "r": LORA_R, "rank_pattern": {}, "revision": None,
        "target_modules": sorted(m.split(".")[1] for m in LORA_TARGETS), "task_type": "CAUSAL_LM",
        "use_dora": False, "use_rslora": False,
    }
    return json.dumps(d, indent=2, sort_keys=True) + "\n"


def lora_reference(cfg, params, bf16_params, inputs, targets, weights):
    """The LoRA cases: "gqa" on the main model (4 query heads, 2 kv heads), "mha" on a model with
    num_key_value_heads = num_attention_heads, and "bf16": the gqa adapters on the main model's
    bf16-rounded weights. Writes tiny_mha/, lora_gqa/ and lora_mha/ (the initial adapters as
    PEFT folders) and lora_expected.safetensors."""
    mcfg = dict(cfg, num_key_value_heads=cfg["num_attention_heads"])
    mparams = init_params(mcfg, SEED_MHA_WEIGHTS)
    out = []

    def put(name, t):
        out.append((name, torch.as_tensor(t, dtype=torch.float64).detach()))

    put("inputs", inputs)
    put("targets", targets)
    put("weights", weights)
    put("r", [LORA_R])
    put("alpha", [LORA_ALPHA])
    cases = [("gqa", cfg, params, SEED_LORA), ("mha", mcfg, mparams, SEED_LORA + 1)]
    inits = {}
    for case, ccfg, cparams, seed in cases:
        tensors = init_lora(cparams, ccfg, seed)
        inits[case] = tensors
        tg = with_grad(tensors)
        loss, logits = lora_loss(tg, cparams, ccfg, inputs, targets, weights)
        grads = grads_of(loss, tg)
        base_loss, base_logits = sft_loss(cparams, ccfg, inputs, targets, weights)
        apart = float((logits - base_logits).abs().max() / base_logits.abs().max())
        assert apart > 0.1, apart  # the adapters change the logits visibly
        check_gradients(f"lora {case}", lambda q: lora_loss(q, cparams, ccfg, inputs, targets, weights)[0], tensors, grads)
        norm0 = float(torch.sqrt(sum((g * g).sum() for g in grads.values())))
        max_norm = 0.5 * norm0  # clipping active on the first step at least
        a_tensors, a_losses, a_norms = run_lora_adamw(tensors, cparams, ccfg, inputs, targets, weights, max_norm)
        assert a_norms[0] > max_norm and all(l1 < l0 for l0, l1 in zip(a_losses, a_losses[1:])), (a_norms, a_losses)
        print(f"lora {case}: loss {float(loss):.6f} (base {float(base_loss):.6f}), logits differ from the base's by "
              f"{apart:.3f}; adamw losses {a_losses}, grad norms {a_norms}, max_norm {max_norm:.6f}")
        put(f"{case}.logits", logits)
        put(f"{case}.loss", loss.reshape(1))
        put(f"{case}.max_norm", [max_norm])
        put(f"{case}.adamw.loss", a_losses)
        put(f"{case}.adamw.grad_norm", a_norms)
        for n in sorted(tensors):
            put(f"{case}.init.{n}", tensors[n])
            put(f"{case}.grad.{n}", grads[n])
            put(f"{case}.adamw.{n}", a_tensors[n])

    # bf16 base: the gqa adapters on the bf16-rounded main weights
    tg = with_grad(inits["gqa"])
    b_loss, b_logits = lora_loss(tg, bf16_params, cfg, inputs, targets, weights)
    b_grads = grads_of(b_loss, tg)
    print(f"lora bf16: loss {float(b_loss):.6f}")
    put("bf16.logits", b_logits)
    put("bf16.loss", b_loss.reshape(1))
    for n in sorted(b_grads):
        put(f"bf16.grad.{n}", b_grads[n])

    for d in ("tiny_mha", "lora_gqa", "lora_mha"):
        os.makedirs(os.path.join(REF, d), exist_ok=True)
    write_text(os.path.join(REF, "tiny_mha", "config.json"), hf_config_json(mcfg))
    write_safetensors(os.path.join(REF, "tiny_mha", "model.safetensors"), model_tensors(mparams, mcfg))
    for case, base in (("gqa", "tests/ref/tiny"), ("mha", "tests/ref/tiny_mha")):
        d = os.path.join(REF, f"lora_{case}")
        write_text(os.path.join(d, "adapter_config.json"), adapter_config_json(base))
        t = inits[case]
        write_safetensors(os.path.join(d, "adapter_model.safetensors"),
                          [(n, "F32", tuple(t[n].shape), f32_bytes(t[n])) for n in sorted(t)])
        back = read_safetensors(os.path.join(d, "adapter_model.safetensors"))
        assert set(back) == set(t)
        for n in t:
            assert torch.equal(torch.from_numpy(decode(*back[n])), t[n]), n
    names = [n for n, _ in out]
    assert len(names) == len(set(names))
    write_safetensors(os.path.join(REF, "lora_expected.safetensors"), [(n, "F32", tuple(t.shape), f32_bytes(t)) for n, t in out])
    back = read_safetensors(os.path.join(REF, "lora_expected.safetensors"))
    for n, t in out:
        assert torch.equal(torch.from_numpy(decode(*back[n])), t.float().double()), n


# ----------------------------------------------------------------------------------------------
# 8. Main
# ----------------------------------------------------------------------------------------------


def make_sft_batch(seed, V):
    """inputs/targets from one random sequence of length T+1 per row, and a loss mask with a
    'prompt' of zeros at the start of each row and 'padding' zeros at the end of row 2."""
    g = torch.Generator().manual_seed(seed)
    seqs = torch.randint(0, V, (B, T + 1), generator=g)
    inputs, targets = seqs[:, :-1].clone(), seqs[:, 1:].clone()
    mask = torch.zeros(B, T)
    mask[0, 3:] = 1  # 8 ones
    mask[1, 4:] = 1  # 7 ones
    mask[2, 2:T - 3] = 1  # 6 ones, then 3 positions of padding
    assert len(set(mask.sum(1).tolist())) == B  # rows have different numbers of ones
    return inputs, targets, mask


def make_dpo_batch(seed, V):
    """P pairs (prompt, chosen, rejected); each sequence is prompt + response, packed into a
    (2P, T) batch [chosen_0..P-1, rejected_0..P-1]; inputs = seq[:-1], targets = seq[1:], padded
    with PAD_TOKEN. The mask is 1 on target positions holding a response token."""
    g = torch.Generator().manual_seed(seed)
    # (prompt length, chosen response length, rejected response length)
    lengths = [(4, 6, 3), (3, 9, 5)]
    assert len(lengths) == P
    rows = [None] * (2 * P)
    for pi, (lp_, lc, lr) in enumerate(lengths):
        prompt = torch.randint(0, V, (lp_,), generator=g)
        chosen = torch.randint(0, V, (lc,), generator=g)
        rejected = torch.randint(0, V, (lr,), generator=g)
        rows[pi] = (prompt, chosen)
        rows[P + pi] = (prompt, rejected)
    inputs = torch.full((2 * P, T), PAD_TOKEN, dtype=torch.int64)
    targets = torch.full((2 * P, T), PAD_TOKEN, dtype=torch.int64)
    mask = torch.zeros(2 * P, T)
    for r, (prompt, resp) in enumerate(rows):
        seq = torch.cat([prompt, resp])
        n = len(seq) - 1  # number of (input, target) positions
        assert n <= T
        inputs[r, :n] = seq[:-1]
        targets[r, :n] = seq[1:]
        mask[r, len(prompt) - 1 : n] = 1  # target seq[t+1] is a response token iff t+1 >= len(prompt)
        assert int(mask[r].sum()) == len(resp)
    n_chosen = mask[:P].sum(1)
    return inputs, targets, mask, n_chosen


def model_tensors(params, cfg):
    """F32 tensor list for a model file, names sorted like the safetensors library does."""
    return [(n, "F32", tuple(params[n].shape), f32_bytes(params[n])) for n in sorted(params)]


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text)


def write_llama2c(path, params, cfg):
    """A llama2.c checkpoint in its legacy format (llama2.c's export.py, legacy_export): seven
    int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; vocab_size
    negative when the classifier is stored apart), then float32 tensors: the embedding, each
    kind of layer tensor for every layer in turn (attention norm, wq, wk, wv, wo, ffn norm,
    w1 = gate, w2 = down, w3 = up), the final norm, the RoPE tables cos and sin (seq_len,
    head_dim/2), then the classifier. Linear weights are (out, in), as nn.Linear holds them."""
    C, F, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    H, KV, V, S = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["vocab_size"], cfg["max_position_embeddings"]
    assert cfg["head_dim"] == C // H and not cfg["tie_word_embeddings"]
    inv_freq, _ = llama3_inv_freq(cfg)
    angles = torch.outer(torch.arange(S, dtype=torch.float64), inv_freq)  # (seq_len, head_dim/2)
    layer = lambda name: [params[f"model.layers.{i}.{name}.weight"] for i in range(L)]
    tensors = [params["model.embed_tokens.weight"]]
    for name in ("input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                 "post_attention_layernorm", "mlp.gate_proj", "mlp.down_proj", "mlp.up_proj"):
        tensors += layer(name)
    tensors += [params["model.norm.weight"], angles.cos(), angles.sin(), params["lm_head.weight"]]
    with open(path, "wb") as f:
        f.write(struct.pack("<7i", C, F, L, H, KV, -V, S))
        for t in tensors:
            f.write(f32_bytes(t))


def hf_rotate_half_rows(w, heads, D):
    """q_proj or k_proj rows reordered from the interleaved layout to Hugging Face's, as
    transformers' convert_llama_weights_to_hf permutes Meta's weights: within a head, new row i
    (i < D/2) is old row 2i and new row D/2 + i is old row 2i + 1."""
    return w.view(heads, D // 2, 2, w.shape[1]).transpose(1, 2).reshape(w.shape)


def batch_reference(cfg, params, prefix, label, inputs, targets, weights):
    """A second model's loss, logits and gradients on the main batch, checked against the naive
    per-row forward and finite differences; with the batch, the entries (prefix + "inputs", ...,
    prefix + "grad." + name) of its expected file. Returns (loss, logits, expected)."""
    g = with_grad(params)
    loss, logits = sft_loss(g, cfg, inputs, targets, weights)
    grads = grads_of(loss, g)
    for b in range(B):
        naive = naive_forward_row(params, cfg, inputs[b].tolist())
        assert float((naive - logits[b].detach()).abs().max()) < 1e-10, f"{label}: naive forward differs on row {b}"
    check_gradients(f"{label} loss", lambda q: sft_loss(q, cfg, inputs, targets, weights)[0], params, grads)
    expected = [(prefix + "inputs", inputs), (prefix + "targets", targets), (prefix + "weights", weights),
                (prefix + "logits", logits.detach()), (prefix + "loss", loss.detach().reshape(1))]
    expected += [(prefix + "grad." + n, grads[n]) for n, _ in param_shapes(cfg)]
    return loss, logits.detach(), expected


def interleaved_reference(inputs, targets, weights):
    """The interleaved-RoPE model (INTERLEAVED_CONFIG) as a llama2.c checkpoint, with its logits,
    loss and gradients on the main batch; checks that its weights with q and k rows reordered
    give the same logits under Hugging Face's rotate-half RoPE (what a conversion must keep)."""
    icfg = INTERLEAVED_CONFIG
    iparams = init_params(icfg, SEED_INTERLEAVED_WEIGHTS)
    i_loss, i_logits, i_expected = batch_reference(icfg, iparams, "interleaved.", "interleaved", inputs, targets, weights)
    # the layout matters: the same weights under rotate-half RoPE give other logits ...
    hcfg = dict(icfg, rope_interleaved=False)
    apart = float((forward(iparams, hcfg, inputs) - i_logits).abs().max() / i_logits.abs().max())
    assert apart > 1e-2, apart
    # ... and the same logits once q and k rows are reordered
    hparams = dict(iparams)
    for name, p in iparams.items():
        if name.endswith(("q_proj.weight", "k_proj.weight")):
            heads = icfg["num_attention_heads"] if "q_proj" in name else icfg["num_key_value_heads"]
            hparams[name] = hf_rotate_half_rows(p, heads, icfg["head_dim"])
    same = float((forward(hparams, hcfg, inputs) - i_logits).abs().max())
    assert same < 1e-12, same
    print(f"interleaved RoPE (llama2.c file, multi-head): loss {float(i_loss):.6f}; rotate-half on the same weights "
          f"moves the logits by {apart:.2f} relative, reordered q/k rows by {same:.1e}")
    write_llama2c(os.path.join(REF, "interleaved.bin"), iparams, icfg)
    n_floats = sum(p.numel() for p in iparams.values()) + icfg["max_position_embeddings"] * icfg["head_dim"]
    assert os.path.getsize(os.path.join(REF, "interleaved.bin")) == 28 + 4 * n_floats
    write_safetensors(os.path.join(REF, "expected_interleaved.safetensors"),
                      [(n, "F32", tuple(t.shape), f32_bytes(torch.as_tensor(t, dtype=torch.float64))) for n, t in i_expected])
    back = read_safetensors(os.path.join(REF, "expected_interleaved.safetensors"))
    assert list(back) == [n for n, _ in i_expected]
    for n, t in i_expected:
        assert torch.equal(torch.from_numpy(decode(*back[n])), torch.as_tensor(t, dtype=torch.float64).float().double()), n


def main():
    cfg = MODEL_CONFIG
    V = cfg["vocab_size"]
    for d in ("tiny", "tiny_tied", "tiny_bf16", "tiny_sharded"):
        os.makedirs(os.path.join(REF, d), exist_ok=True)
    expected = []  # (name, tensor) for expected.safetensors, in this order

    def put(name, t):
        expected.append((name, torch.as_tensor(t, dtype=torch.float64).detach()))

    # --- RoPE: all three Llama 3 regimes must occur -------------------------------------------
    inv_freq, regime = llama3_inv_freq(cfg)
    print("rope regimes per frequency:", regime)
    for r in ("high", "medium", "low"):
        assert r in regime, f"no {r}-frequency RoPE component: adjust rope_scaling"
    put("rope.inv_freq", inv_freq)

    # --- main model: logits, loss, seq log-probs, gradients ---------------------------------
    params = init_params(cfg, SEED_MAIN_WEIGHTS)
    inputs, targets, mask = make_sft_batch(SEED_DATA, V)
    weights = mask / mask.sum()
    pg = with_grad(params)
    loss, logits = sft_loss(pg, cfg, inputs, targets, weights)
    grads = grads_of(loss, pg)
    seq_lp = seq_logprobs(params, cfg, inputs, targets, mask)
    print(f"main: loss {float(loss):.6f} (uniform would be {math.log(V):.6f}), logits std {float(logits.std()):.3f}")

    for b in range(B):
        naive = naive_forward_row(params, cfg, inputs[b].tolist())
        diff = float((naive - logits[b].detach()).abs().max())
        assert diff < 1e-10, f"naive forward differs from forward on row {b}: {diff}"
    print("  naive loop forward matches the batched forward (all rows)")
    check_gradients("main loss", lambda q: sft_loss(q, cfg, inputs, targets, weights)[0], params, grads)

    put("inputs", inputs)
    put("targets", targets)
    put("mask", mask)
    put("weights", weights)
    put("logits", logits)
    put("loss", loss.reshape(1))
    put("seq_logprob", seq_lp)
    for n, _ in param_shapes(cfg):
        put("grad." + n, grads[n])

    # --- AdamW: 3 steps on the same batch, with clipping --------------------------------------
    max_norm = MAX_NORM
    while True:
        a_params, a_losses, a_norms, a_lrs = run_adamw(params, cfg, inputs, targets, weights, max_norm)
        if any(nrm > max_norm for nrm in a_norms):
            break
        max_norm /= 2  # clipping never active: lower max_norm until it is
    clipped_steps = [t for t, nrm in enumerate(a_norms) if nrm > max_norm]
    assert clipped_steps, "gradient clipping never active"
    print(f"adamw: max_norm {max_norm}, losses {a_losses}, grad norms {a_norms}, lrs {a_lrs}, clipped at steps {clipped_steps}")
    t_params, t_losses, t_norms = run_adamw_torch(params, cfg, inputs, targets, weights, max_norm)
    for n in params:
        assert torch.allclose(a_params[n], t_params[n], rtol=1e-12, atol=1e-14), f"adamw vs torch.optim.AdamW: {n}"
    assert np.allclose(a_losses, t_losses, rtol=1e-13) and np.allclose(a_norms, t_norms, rtol=1e-13)
    print("  matches torch.optim.AdamW + clip_grad_norm_")
    assert all(l1 < l0 for l0, l1 in zip(a_losses, a_losses[1:])), "loss did not decrease"
    put("adamw.loss", a_losses)
    put("adamw.grad_norm", a_norms)
    put("adamw.lr", a_lrs)
    for n, _ in param_shapes(cfg):
        put("adamw." + n, a_params[n])

    # --- the same AdamW steps unclipped, and the clipped gradients themselves -----------------
    u_params, u_losses, u_norms, u_lrs = run_adamw(params, cfg, inputs, targets, weights, UNCLIPPED_MAX_NORM)
    assert max(u_norms) < UNCLIPPED_MAX_NORM, "the unclipped steps were clipped"
    tu_params, tu_losses, tu_norms = run_adamw_torch(params, cfg, inputs, targets, weights, UNCLIPPED_MAX_NORM)
    for n in params:
        assert torch.allclose(u_params[n], tu_params[n], rtol=1e-12, atol=1e-14), f"unclipped adamw vs torch: {n}"
    # the C test compares weights to 1e-4 of each tensor's largest value: clipped and unclipped
    # must differ by far more than that, or the unclipped steps would show nothing new
    apart = max(float((u_params[n] - a_params[n]).abs().max() / a_params[n].abs().max()) for n in params)
    assert apart > 1e-2, apart
    print(f"adamw unclipped: max_norm {UNCLIPPED_MAX_NORM}, losses {u_losses}, grad norms {u_norms}; "
          f"weights differ from the clipped steps' by up to {apart:.3f} of a tensor's largest value")
    put("adamw_unclipped.loss", u_losses)
    put("adamw_unclipped.grad_norm", u_norms)
    for n, _ in param_shapes(cfg):
        put("adamw_unclipped." + n, u_params[n])

    # torch.nn.utils.clip_grad_norm_ itself, on the main gradients (.grad from loss.backward()):
    # at MAX_NORM it scales them by coef = MAX_NORM / (norm + 1e-6) < 1; at UNCLIPPED_MAX_NORM
    # it leaves them exactly as they were
    clipped = {}
    for max_norm_, out in ((MAX_NORM, clipped), (UNCLIPPED_MAX_NORM, {})):
        pg = with_grad(params)
        sft_loss(pg, cfg, inputs, targets, weights)[0].backward()
        total_norm = float(torch.nn.utils.clip_grad_norm_(list(pg.values()), max_norm_))
        assert abs(total_norm - float(a_norms[0])) < 1e-12 * total_norm
        for n in params:
            out[n] = pg[n].grad.detach().clone()
        if max_norm_ == UNCLIPPED_MAX_NORM:
            assert all(torch.equal(out[n], grads[n]) for n in params), "clip_grad_norm_ changed unclipped gradients"
    clip_coef = MAX_NORM / (total_norm + CLIP_EPS)
    assert clip_coef < 0.5, clip_coef
    for n in params:
        assert torch.allclose(clipped[n], grads[n] * clip_coef, rtol=1e-14, atol=0), n
    print(f"clip_grad_norm_: norm {total_norm:.6f}, max_norm {MAX_NORM}, coefficient {clip_coef:.8f}")
    put("clip.grad_norm", [total_norm])
    put("clip.coef", [clip_coef])
    for n, _ in param_shapes(cfg):
        put("clip.grad." + n, clipped[n])

    # --- SFT with each sequence's mean loss counting equally (srl: per_sequence_mean) -----------
    # Written with torch's own cross_entropy and loss.backward(), unlike sft_loss above:
    #   loss = mean_b ( sum_t mask[b,t] CE[b,t] / sum_t mask[b,t] )
    pg = with_grad(params)
    ce = torch.nn.functional.cross_entropy(forward(pg, cfg, inputs).reshape(-1, V), targets.reshape(-1), reduction="none")
    s_loss = ((ce.view(B, T) * mask).sum(1) / mask.sum(1)).mean()
    s_loss.backward()
    s_grads = {n: pg[n].grad.detach() for n in params}
    s_weights = mask / (mask.sum(1, keepdim=True) * B)
    assert abs(float(s_loss) - float(sft_loss(params, cfg, inputs, targets, s_weights)[0])) < 1e-12
    apart = max(float((s_grads[n] - grads[n]).abs().max() / grads[n].abs().max()) for n in params)
    assert apart > 1e-2, apart  # the per-token mean is a different loss, visibly
    print(f"per-sequence mean: loss {float(s_loss):.6f}; gradients differ from the per-token mean's by up to {apart:.3f}")
    put("seqmean.loss", s_loss.reshape(1))
    for n, _ in param_shapes(cfg):
        put("seqmean.grad." + n, s_grads[n])

    # --- DPO ----------------------------------------------------------------------------------
    d_inputs, d_targets, d_mask, n_chosen = make_dpo_batch(SEED_DPO_DATA, V)
    gnoise = torch.Generator().manual_seed(SEED_REF_NOISE)
    ref_params = {n: p + REF_NOISE_STD * torch.randn(p.shape, generator=gnoise) for n, p in params.items()}
    ref_lp = seq_logprobs(ref_params, cfg, d_inputs, d_targets, d_mask).detach()
    pg = with_grad(params)
    d_loss, d_lp, d_margin = dpo_loss(pg, cfg, d_inputs, d_targets, d_mask, ref_lp, n_chosen, DPO_BETA, DPO_ALPHA)
    d_grads = grads_of(d_loss, pg)
    d_loss0, _, _ = dpo_loss(params, cfg, d_inputs, d_targets, d_mask, ref_lp, n_chosen, DPO_BETA, 0.0)
    assert float((d_lp - ref_lp).abs().min()) > 1e-3, "policy and reference log-probs should differ"
    print(f"dpo: lp {d_lp.tolist()}, ref_lp {ref_lp.tolist()}, margins {d_margin.tolist()}, "
          f"loss {float(d_loss):.6f}, loss_alpha0 {float(d_loss0):.6f}")
    dpo_fn = lambda q: dpo_loss(q, cfg, d_inputs, d_targets, d_mask, ref_lp, n_chosen, DPO_BETA, DPO_ALPHA)[0]
    check_gradients("dpo loss", dpo_fn, params, d_grads)
    put("dpo.inputs", d_inputs)
    put("dpo.targets", d_targets)
    put("dpo.mask", d_mask)
    put("dpo.ref_logprob", ref_lp)
    put("dpo.logprob", d_lp)
    put("dpo.margin", d_margin)
    put("dpo.n_chosen", n_chosen)
    put("dpo.loss", d_loss.reshape(1))
    put("dpo.loss_alpha0", d_loss0.reshape(1))
    for n, _ in param_shapes(cfg):
        put("dpo.grad." + n, d_grads[n])

    # --- tied embeddings: lm_head reuses embed_tokens.weight --------------------------------
    tcfg = dict(cfg, tie_word_embeddings=True)
    tparams = init_params(tcfg, SEED_TIED_WEIGHTS)
    assert "lm_head.weight" not in tparams
    pg = with_grad(tparams)
    t_loss, t_logits = sft_loss(pg, tcfg, inputs, targets, weights)
    t_grads = grads_of(t_loss, pg)
    naive = naive_forward_row(tparams, tcfg, inputs[0].tolist())
    assert float((naive - t_logits[0].detach()).abs().max()) < 1e-10
    print(f"tied: loss {float(t_loss):.6f}")
    check_gradients("tied loss", lambda q: sft_loss(q, tcfg, inputs, targets, weights)[0], tparams, t_grads)
    put("tied.inputs", inputs)
    put("tied.targets", targets)
    put("tied.mask", mask)
    put("tied.weights", weights)
    put("tied.logits", t_logits)
    put("tied.loss", t_loss.reshape(1))
    for n, _ in param_shapes(tcfg):
        put("tied.grad." + n, t_grads[n])

    # --- bf16: the main weights rounded to bfloat16 -------------------------------------------
    bf16 = {}
    bf16_params = {}
    for n, p in params.items():
        bits = bf16_bits(p.numpy().astype(np.float32))
        assert np.array_equal(bits.view(np.int16), p.float().bfloat16().view(torch.int16).numpy()), n  # == torch's RNE
        bf16[n] = bits
        bf16_params[n] = torch.from_numpy(bf16_to_f32(bits).astype(np.float64).reshape(p.shape))
    bf16_logits = forward(bf16_params, cfg, inputs)
    rel = float((bf16_logits - logits.detach()).abs().max() / logits.detach().abs().max())
    assert 0 < rel < 0.1, rel
    print(f"bf16: logits max rel diff from f32 model {rel:.2e}")
    put("bf16.logits", bf16_logits)

    # --- write the model directories ----------------------------------------------------------
    write_text(os.path.join(REF, "tiny", "config.json"), hf_config_json(cfg))
    write_safetensors(os.path.join(REF, "tiny", "model.safetensors"), model_tensors(params, cfg))

    write_text(os.path.join(REF, "tiny_tied", "config.json"), hf_config_json(tcfg))
    write_safetensors(os.path.join(REF, "tiny_tied", "model.safetensors"), model_tensors(tparams, tcfg))

    write_text(os.path.join(REF, "tiny_bf16", "config.json"), hf_config_json(cfg, torch_dtype="bfloat16"))
    write_safetensors(
        os.path.join(REF, "tiny_bf16", "model.safetensors"),
        [(n, "BF16", tuple(params[n].shape), bf16[n].tobytes()) for n in sorted(params)],
    )

    # sharded: shard 1 = embeddings + layer 0, shard 2 = layer 1 + final norm + lm_head
    shard_names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    weight_map = {}
    for n in params:
        weight_map[n] = shard_names[0] if n.startswith(("model.embed_tokens.", "model.layers.0.")) else shard_names[1]
    for s in shard_names:
        names = sorted(n for n in params if weight_map[n] == s)
        write_safetensors(os.path.join(REF, "tiny_sharded", s), [t for t in model_tensors(params, cfg) if t[0] in names])
    total_size = sum(4 * p.numel() for p in params.values())
    index = {"metadata": {"total_size": total_size}, "weight_map": weight_map}
    write_text(os.path.join(REF, "tiny_sharded", "model.safetensors.index.json"), json.dumps(index, indent=2, sort_keys=True) + "\n")
    write_text(os.path.join(REF, "tiny_sharded", "config.json"), hf_config_json(cfg))

    # --- expected.safetensors and settings.json -----------------------------------------------
    names = [n for n, _ in expected]
    assert len(names) == len(set(names))
    write_safetensors(
        os.path.join(REF, "expected.safetensors"),
        [(n, "F32", tuple(t.shape), f32_bytes(t)) for n, t in expected],
    )
    settings = {
        "B": B, "T": T, "P": P,
        "init_std": INIT_STD, "norm_std": NORM_STD,
        "pad_token": PAD_TOKEN,
        "adamw_steps": ADAMW_STEPS,
        "lr_max": LR_MAX, "min_lr": MIN_LR,
        "warmup_steps": WARMUP_STEPS, "total_steps": TOTAL_STEPS,
        "beta1": BETAS[0], "beta2": BETAS[1], "eps": ADAM_EPS,
        "weight_decay": WEIGHT_DECAY, "weight_decay_applies_to": "2-D tensors only (not norm weights)",
        "max_norm": max_norm, "clip_eps": CLIP_EPS, "clipped_steps": clipped_steps,
        "clip_max_norm": MAX_NORM, "unclipped_max_norm": UNCLIPPED_MAX_NORM,
        "dpo_beta": DPO_BETA, "dpo_alpha": DPO_ALPHA,
        "dpo_rows": "chosen_0..P-1 then rejected_0..P-1",
        "dpo_ref_noise_std": REF_NOISE_STD,
    }
    write_text(os.path.join(REF, "settings.json"), json.dumps(settings, indent=2) + "\n")

    # --- the wide model, F16: logits, loss and gradients on the main batch ----------------------
    wcfg = WIDE_CONFIG
    # weights rounded to float16 and held as float64: the exact values the F16 file stores
    wparams = {n: p.half().double() for n, p in init_params(wcfg, SEED_WIDE_WEIGHTS).items()}
    w_loss, _, wide_expected = batch_reference(wcfg, wparams, "wide.", "wide", inputs, targets, weights)
    print(f"wide (F16, multi-head, hidden {wcfg['hidden_size']}): loss {float(w_loss):.6f}")
    os.makedirs(os.path.join(REF, "wide_f16"), exist_ok=True)
    write_text(os.path.join(REF, "wide_f16", "config.json"), hf_config_json(wcfg, torch_dtype="float16"))
    write_safetensors(os.path.join(REF, "wide_f16", "model.safetensors"),
                      [(n, "F16", tuple(wparams[n].shape), np.ascontiguousarray(wparams[n].numpy().astype("<f2")).tobytes())
                       for n in sorted(wparams)])
    write_safetensors(os.path.join(REF, "expected_wide.safetensors"),
                      [(n, "F32", tuple(t.shape), f32_bytes(torch.as_tensor(t, dtype=torch.float64))) for n, t in wide_expected])

    # --- read everything back with our own reader ---------------------------------------------
    def as_f64(entry):
        return torch.from_numpy(decode(*entry))

    back = read_safetensors(os.path.join(REF, "tiny", "model.safetensors"))
    assert set(back) == set(params)
    for n, p in params.items():
        assert torch.equal(as_f64(back[n]), p), n  # p already holds float32 values exactly

    back = read_safetensors(os.path.join(REF, "tiny_tied", "model.safetensors"))
    assert set(back) == set(tparams) and "lm_head.weight" not in back
    for n, p in tparams.items():
        assert torch.equal(as_f64(back[n]), p), n

    with open(os.path.join(REF, "tiny_sharded", "model.safetensors.index.json")) as f:
        idx = json.load(f)
    merged, data_bytes = {}, 0
    for s in sorted(set(idx["weight_map"].values())):
        part = read_safetensors(os.path.join(REF, "tiny_sharded", s))
        for n, entry in part.items():
            assert idx["weight_map"][n] == s and n not in merged
            merged[n] = entry
            data_bytes += len(entry[2])
    assert data_bytes == idx["metadata"]["total_size"]
    assert set(merged) == set(params)
    for n, p in params.items():
        assert merged[n][0] == "F32" and torch.equal(as_f64(merged[n]), p), n

    back = read_safetensors(os.path.join(REF, "tiny_bf16", "model.safetensors"))
    assert set(back) == set(params)
    for n in params:
        assert back[n][0] == "BF16" and back[n][2] == bf16[n].tobytes(), n
        assert torch.equal(as_f64(back[n]), bf16_params[n]), n
    assert torch.equal(forward({n: as_f64(e) for n, e in back.items()}, cfg, inputs), bf16_logits)

    back = read_safetensors(os.path.join(REF, "wide_f16", "model.safetensors"))
    assert set(back) == set(wparams)
    for n, p in wparams.items():
        assert back[n][0] == "F16" and torch.equal(as_f64(back[n]), p), n
    back = read_safetensors(os.path.join(REF, "expected_wide.safetensors"))
    assert list(back) == [n for n, _ in wide_expected]
    for n, t in wide_expected:
        assert torch.equal(as_f64(back[n]), torch.as_tensor(t, dtype=torch.float64).float().double()), n

    back = read_safetensors(os.path.join(REF, "expected.safetensors"))
    assert list(back) == names
    for n, t in expected:
        assert torch.equal(as_f64(back[n]), t.float().double()), n
    for n in ("inputs", "targets", "mask", "dpo.inputs", "dpo.targets", "dpo.mask", "dpo.n_chosen"):
        a = as_f64(back[n])
        assert torch.equal(a, a.round()), n  # integer data stored exactly
    print("  all files read back exactly")

    lora_reference(cfg, params, bf16_params, inputs, targets, weights)
    interleaved_reference(inputs, targets, weights)

    total = 0
    for root, _, files in os.walk(REF):
        for fn in sorted(files):
            total += os.path.getsize(os.path.join(root, fn))
    print(f"wrote {REF}: {total} bytes in total")
    assert total < 3_500_000


if __name__ == "__main__":
    sys.exit(main())
