// tokenizer.h: byte-level BPE tokenizers: Llama 3 (its tiktoken tokenizer.model or a Hugging Face
// tokenizer.json), GPT-2 style Hugging Face tokenizer.json files, and the tokenizers srl trains.
//
// A token stands for a byte string. Encoding: special tokens (only when asked), then the
// pre-tokenizer splits the text into pieces (GPT-2's or Llama 3's pattern), then each piece
// becomes tokens by byte-pair merges (with Llama 3's rule: a piece that is itself a token is that
// token). Decoding concatenates the tokens' bytes, so decode(encode(x)) == x for every byte
// string x, invalid UTF-8 included.
//
// Errors follow util.h: functions return -1 (or NULL) and leave one sentence in srl_error.
// A Tokenizer is read-only after loading or training, so threads may share one.
#ifndef SRL_TOKENIZER_H
#define SRL_TOKENIZER_H

#include <stddef.h>

typedef struct Tokenizer Tokenizer;

// ----------------------------------------------------------------------------
// loading and saving

// path: a tokenizer.json, a tiktoken tokenizer.model, or a folder holding tokenizer.json
// (preferred) or tokenizer.model. A file is read as JSON when its first non-blank byte is '{'
// (or '['), else as a tiktoken file.
int tokenizer_load(Tokenizer **out, const char *path);

// Hugging Face tokenizer.json, model type BPE (byte-level). Supported: vocab; merges as "a b" or
// ["a", "b"]; added_tokens; ignore_merges; pre_tokenizer ByteLevel (use_regex: GPT-2 pattern,
// add_prefix_space) or Sequence[Split(GPT-2 or Llama 3 pattern, Isolated), ByteLevel(use_regex
// false)]; normalizer null or NFC (see below); decoder null or ByteLevel. The post_processor is
// ignored (callers add BOS themselves). Anything else is an error that names it.
//
// NFC: srl does not normalize. Text that is already NFC (nearly all text) tokenizes exactly as
// with normalization; when a tokenizer with an NFC normalizer meets text with a combining mark
// (U+0300..U+036F) after a letter, it warns once on stderr and tokenizes the text as it is.
// Added tokens' lstrip/rstrip/single_word flags are ignored.
int tokenizer_load_json(Tokenizer **out, const char *path);

// tiktoken format, as Llama 3's tokenizer.model: one "base64(token bytes) rank" per line, ranks
// 0..n-1, each rank being the token's id. Llama 3's 256 special tokens are added at n..n+255 with
// Llama 3's names (<|begin_of_text|>, <|end_of_text|>, ..., <|eot_id|>, reserved ones), and the
// Llama 3 pre-tokenizer and whole-piece rule are used. (Meta's tokenizer.py also cuts texts
// longer than 400,000 characters, and runs of more than 25,000 spaces or non-spaces, into chunks
// it encodes separately; srl does not, so it differs from Meta only on such texts.)
int tokenizer_load_tiktoken(Tokenizer **out, const char *path);

// Writes tokenizer.json in the form Hugging Face's tokenizers library loads: model BPE with
// vocab, merges in the ["a", "b"] form and ignore_merges as set; the tokenizer's pre-tokenizer
// (Llama 3: Sequence[Split, ByteLevel]); ByteLevel decoder; added tokens. Written atomically.
int tokenizer_save_json(const Tokenizer *t, const char *path);

void tokenizer_free(Tokenizer *t);

// ----------------------------------------------------------------------------
// the vocabulary

int tokenizer_vocab_size(const Tokenizer *t);             // max id + 1, special tokens included
int tokenizer_token_id(const Tokenizer *t, const char *token);  // an added/special token by its
                                                          // text, else a vocabulary string; -1
const char *tokenizer_token_string(const Tokenizer *t, int id); // for debugging: the vocabulary
                                                          // string ("Ġthe"), a special token's
                                                          // text, or NULL for an unused id
// The bytes a token stands for (not NUL-terminated); -1 when id is not a token.
int tokenizer_token_bytes(const Tokenizer *t, int id, const char **bytes, size_t *len);
int tokenizer_is_special(const Tokenizer *t, int id);     // 1 for a special token, else 0
int tokenizer_max_token_bytes(const Tokenizer *t);        // the longest token, in bytes
int tokenizer_bos_id(const Tokenizer *t);                 // <|begin_of_text|> or -1
int tokenizer_eos_id(const Tokenizer *t);                 // <|end_of_text|> or -1
int tokenizer_eot_id(const Tokenizer *t);                 // <|eot_id|> or -1

// ----------------------------------------------------------------------------
// encoding and decoding

// ids is malloc'd (the caller frees it; it may be non-NULL even when *n_ids is 0). With
// allow_special, special-token strings in the text become those tokens; otherwise they are
// encoded as plain text. -1 with srl_error when a byte has no token (only possible with an
// incomplete vocabulary).
int tokenizer_encode(const Tokenizer *t, const char *text, size_t len, int allow_special, int **ids, int *n_ids);

// text is malloc'd and NUL-terminated (*len excludes the NUL); exactly the tokens' bytes.
// -1 with srl_error for an id that is not a token.
int tokenizer_decode(const Tokenizer *t, const int *ids, int n, char **text, size_t *len);

// Reads whitespace-separated decimal ids (as `srl detokenize` gets them); ids is malloc'd.
// -1 with srl_error naming the bad word and its position.
int tokenizer_parse_ids(const char *text, size_t len, int **ids, int *n_ids);

// Streaming decode for printing tokens as they are generated: bytes of a UTF-8 character split
// across tokens are held back until the character is complete, so a terminal never shows half a
// character. Bytes that can never become valid UTF-8 are passed through unchanged, so the bytes
// written by all pushes plus the flush are exactly tokenizer_decode's.
typedef struct {
    unsigned char pending[4];   // the beginning of a character whose other bytes have not come yet
    int n_pending;
    int failed;                 // set when a push met an unknown id or too small a buffer
} StreamDecoder;
void stream_decoder_init(StreamDecoder *d);
// Writes the printable bytes to out and returns how many. out needs room for
// tokenizer_max_token_bytes(t) + 4 bytes; with less, or for an unknown id, nothing is written,
// d->failed is set and srl_error says why.
size_t stream_decoder_push(StreamDecoder *d, const Tokenizer *t, int id, char *out, size_t cap);
size_t stream_decoder_flush(StreamDecoder *d, char *out, size_t cap);  // cap >= 4 always suffices

// ----------------------------------------------------------------------------
// chat template: llama-3-instruct

typedef struct {
    const char *role;           // "system", "user", "assistant", ...
    const char *content;
} ChatMessage;

// <|begin_of_text|>, then per message <|start_header_id|>role<|end_header_id|>"\n\n", the content
// with surrounding white space trimmed, <|eot_id|>; with add_generation_prompt finally
// <|start_header_id|>assistant<|end_header_id|>"\n\n". Special tokens come only from the
// template, never from roles or content. assistant_mask (may be NULL) gets one byte per token: 1
// for the tokens of assistant contents and their closing <|eot_id|>, else 0 (the tokens SFT
// trains on). Works for any tokenizer with these special tokens (Llama 3 and srl's own).
int chat_encode(const Tokenizer *t, const ChatMessage *messages, int n_messages, int add_generation_prompt,
                int **ids, unsigned char **assistant_mask, int *n_ids);
// chat_encode's template in Jinja (what Hugging Face's apply_chat_template renders to the same text)
extern const char chat_template_jinja[];

// Writes tokenizer_config.json, what Hugging Face's AutoTokenizer reads beside tokenizer.json:
// bos_token and eos_token (<|begin_of_text|>, <|end_of_text|>; null when the tokenizer lacks
// one), the chat template when the tokenizer has its special tokens,
// clean_up_tokenization_spaces false (decoding gives srl's text back), model_max_length (the
// model's context), tokenizer_class PreTrainedTokenizerFast. Written atomically.
int tokenizer_save_hf_config(const Tokenizer *t, int model_max_length, const char *path);

// ----------------------------------------------------------------------------
// training

// srl's default special tokens, the same names as Llama 3's so the chat template works:
// <|begin_of_text|> <|end_of_text|> <|start_header_id|> <|end_header_id|> <|eot_id|> <|pad|>
extern const char *const tokenizer_default_special_tokens[];
extern const int tokenizer_default_special_count;

// Learns a byte-level BPE tokenizer from text: ids 0..255 are the bytes, then one token per
// learned merge, then the special tokens (special_tokens NULL: the default list). The text is
// pre-tokenized with the Llama 3 pattern (special-token strings in it are skipped); each step
// merges the most frequent adjacent pair, ties going to the smallest (left id, right id), so the
// result depends only on the text and the arguments. Stops early when no pair is left. -1 with
// srl_error for a vocab_size below 256 + n_special or above 1,000,000, or bad special tokens.
int tokenizer_train(Tokenizer **out, const char *text, size_t len, int vocab_size,
                    const char *const *special_tokens, int n_special);

// ----------------------------------------------------------------------------
// UTF-8 and Unicode classes (unicode_table.h), shared with ifeval.c

// A byte that does not begin a valid character is a character of its own: length 1, code point
// UTF8_INVALID (class "other"). Decodes the character at s[0..n), n >= 1; returns its length.
#define UTF8_INVALID 0xFFFFFFFFu
int utf8_decode(const unsigned char *s, size_t n, unsigned *cp);
int unicode_is_letter(unsigned cp);   // general category L*
int unicode_is_number(unsigned cp);   // N*
int unicode_is_space(unsigned cp);    // Python's str.isspace(): White_Space and U+001C..U+001F

// ----------------------------------------------------------------------------
// pre-tokenizers, exposed for tests

enum { PRETOKENIZE_LLAMA3 = 0, PRETOKENIZE_GPT2 = 1 };
// GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Llama 3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
extern const char *const pretokenize_pattern_llama3;
extern const char *const pretokenize_pattern_gpt2;

// The end of the piece that starts at text[pos] (pos < len): what the pattern matches there.
size_t pretokenize_next(int pattern, const char *text, size_t len, size_t pos);
// Splits text into pieces; writes the end offset of each of the first cap pieces to piece_ends
// and returns the number of pieces (which may exceed cap).
int pretokenize(int pattern, const char *text, size_t len, size_t *piece_ends, int cap);

// For tests and experiments: turn the whole-piece rule (ignore_merges) on or off, and set the
// piece length (in bytes) above which merging uses a heap instead of the simple scan.
void tokenizer_set_ignore_merges(Tokenizer *t, int on);
extern int tokenizer_long_piece_bytes;

#endif
