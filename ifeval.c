// ifeval.c: IFEval's verifiable instructions in C. See ifeval.h for the API.
//
// Rules, stated once here. The reference is google-research's instruction_following_eval
// (instructions.py, instructions_util.py, evaluation_lib.py; read at commit 3f357bd): every
// checker below does what its check_following does, on the same text, and where Python's
// regular expressions decide, the C code walks the text the way the regex engine would.
//
// Text. Responses are UTF-8; positions are bytes, stepped a whole character at a time. Python's
// notions are kept: white space is str.isspace (Unicode White_Space and U+001C..U+001F), a word
// character (\w) is a Unicode letter or number or '_', strip() removes white space at both ends.
// Case (isupper, islower, lower()) is known for ASCII, Latin-1, Latin Extended-A, Greek and
// Cyrillic; other letters count as uncased. Case-insensitive matching (IGNORECASE) and lower()
// fold ASCII letters only; the arguments of IFEval's data are all ASCII.
//
// The checkers, by instruction id (kwargs in parentheses):
//   keywords:existence (keywords)          every keyword occurs, any case, anywhere (even inside a word)
//   keywords:frequency (keyword, frequency, relation)   its non-overlapping occurrences, any case,
//                                          are < frequency ("less than") or >= it ("at least")
//   keywords:forbidden_words (forbidden_words)   none occurs as a whole word (\b...\b), any case
//   keywords:letter_frequency (letter, let_frequency, let_relation)   the letter's count in the
//                                          lowercased response, compared as above
//   language:response_language (language)  NOT CHECKED: IFEval asks langdetect, a trained
//                                          language identifier srl does not carry
//   length_constraints:number_sentences (num_sentences, relation)   Punkt's sentence count (below)
//   length_constraints:number_paragraphs (num_paragraphs)   pieces between "***" dividers (with one
//                                          white space character either side) equal the number; an
//                                          empty piece fails unless it is the first or the last
//   length_constraints:number_words (num_words, relation)   runs of word characters
//   length_constraints:nth_paragraph_first_word (num_paragraphs, nth_paragraph, first_word)
//                                          paragraphs split at "\n\n", the non-empty ones counted,
//                                          must equal the number; paragraph nth (counting empty
//                                          ones) must start with the word (leading quotes dropped,
//                                          cut at . , ? ! ' ", lowercased)
//   detectable_content:number_placeholders (num_placeholders)   "[...]" on one line, at least n
//   detectable_content:postscript (postscript_marker)   the lowercased response holds "p.s." ("P.S."),
//                                          "p.p.s" ("P.P.S"; one white space allowed after each
//                                          period) or the lowercased marker
//   detectable_format:number_bullet_lists (num_bullets)   lines starting (after white space, which may
//                                          span lines) with '*' and then a character that is not
//                                          '*', plus lines starting with '-', exactly n
//   detectable_format:constrained_response   holds "My answer is yes.", "... no." or "... maybe."
//   detectable_format:number_highlighted_sections (num_highlights)   "*text*" and "**text**" on one
//                                          line with some non-space text, at least n
//   detectable_format:multiple_sections (section_spliter, num_sections)   the splitter word followed
//                                          by an optional white space and digits, at least n times
//   detectable_format:json_format          the stripped response, less a leading ```json / ```Json /
//                                          ```JSON / ``` and a trailing ```, parses as JSON
//   detectable_format:title                "<<title>>" on one line with some non-space text
//   combination:two_responses              two different non-empty responses around "******"
//   combination:repeat_prompt (prompt_to_repeat)   starts with the prompt, any case, both stripped
//   startend:end_checker (end_phrase)      ends with the phrase, any case, after stripping white
//                                          space and then '"' characters
//   startend:quotation                     the stripped response starts and ends with '"'
//   change_case:capital_word_frequency (capital_frequency, capital_relation)   NLTK word tokens
//                                          written in capitals (below), compared as above
//   change_case:english_capital            the response is upper case (Python's isupper); IFEval
//   change_case:english_lowercase          also asks langdetect for English: that half is not
//                                          checked, and counted (n_english_unchecked)
//   punctuation:no_comma                   no ','
// Four more checkers of the library, which IFEval's registry and data leave out, are here for its
// unit tests: multi-turn:constrained_start (starter), detectable_format:rephrase (original
// message; REFUSED where Python raises), keywords:key_sentences (key_sentences, num_sentences;
// instructions_util's split_into_sentences), detectable_content:rephrase_paragraph
// (original_paragraph, low, high).
//
// Sentences. IFEval counts them with NLTK's Punkt tokenizer and its English parameters (a pickle
// of abbreviations, collocations and word statistics learned from a corpus). Those parameters are
// data srl does not carry, so srl runs Punkt's algorithm (NLTK 3.8's punkt.py) with empty
// parameters: candidate ends are '.', '?', '!' followed by other punctuation or by white space
// and a token; a token ending in '.' ends a sentence unless it is an initial ("A.") or a number
// ("3.") followed by a lowercase word or ; : , . ! ?, or an initial followed by a capitalized
// word; "..." ends none. Without the learned abbreviations "e.g. the" and "Dr. Smith" end a
// sentence where English Punkt would not (docs/ifeval.md measures what that changes).
//
// Capital words. IFEval counts the tokens of nltk.word_tokenize that are upper case. srl rewrites
// the text with the rules of NLTK's Treebank tokenizer (NLTKWordTokenizer) that split a word:
// quotes, the punctuation ; @ # $ % & ? ! * ( ) [ ] { } < > and ", ' " (unless a digit follows),
// "--", "..", and the contractions ('s 'm 'd 'll 're 've n't; cannot, gonna, wanna, ...), then
// counts the upper-case tokens.
//
// Strict and loose (evaluation_lib.py). Strict: an empty response follows nothing, else the
// checker decides. Loose: followed when the checker passes on any non-empty variant of eight:
// the response, without its first line, without its last line, without both (the three
// stripped), and each of the four with every '*' removed.
//
// Scores: prompt-level accuracy is the share of prompts whose every instruction is followed,
// instruction-level the share of instructions followed. srl reports them over the prompts and
// instructions it checked, and bounds over all: every unchecked instruction counted as not
// followed (low) or as followed (high).
#include "ifeval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"
#include "util.h"

// ----------------------------------------------------------------------------
// characters

// The character at s[i] (i < n): its code point, and its length in *len.
static unsigned char_at(const char *s, size_t n, size_t i, int *len) {
    unsigned cp;
    *len = utf8_decode((const unsigned char *)s + i, n - i, &cp);
    return cp;
}

// The start of the character that ends at s[end] (end > 0).
static size_t char_start_before(const char *s, size_t end) {
    size_t i = end - 1;
    for (int k = 0; k < 3 && i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80; k++) i--;
    return i;
}

static int is_space(unsigned cp) { return cp != UTF8_INVALID && unicode_is_space(cp); }
static int is_word(unsigned cp) { return cp == '_' || (cp != UTF8_INVALID && (unicode_is_letter(cp) || unicode_is_number(cp))); }
static int is_ascii_space(unsigned c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
static int is_digit(unsigned c) { return c >= '0' && c <= '9'; }
static int ascii_lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

// +1 upper case, -1 lower case, 0 uncased (see "Text" above).
static int char_case(unsigned cp) {
    if (cp < 0x80) return cp >= 'A' && cp <= 'Z' ? 1 : cp >= 'a' && cp <= 'z' ? -1 : 0;
    if (cp == 0xB5 || cp == 0xAA || cp == 0xBA) return -1;
    if (cp >= 0xC0 && cp <= 0xDE) return cp == 0xD7 ? 0 : 1;
    if (cp >= 0xDF && cp <= 0xFF) return cp == 0xF7 ? 0 : -1;
    if (cp >= 0x100 && cp <= 0x17F) {
        if (cp == 0x130) return 1;
        if (cp == 0x131 || cp == 0x138 || cp == 0x149 || cp == 0x17F) return -1;
        if (cp == 0x178) return 1;
        if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) return cp % 2 ? 1 : -1;
        return cp % 2 ? -1 : 1;
    }
    if (cp >= 0x391 && cp <= 0x3A9) return cp == 0x3A2 ? 0 : 1;
    if (cp >= 0x3AC && cp <= 0x3CE) return -1;
    if (cp >= 0x400 && cp <= 0x42F) return 1;
    if (cp >= 0x430 && cp <= 0x45F) return -1;
    if (cp >= 0x1E00 && cp <= 0x1EFF) {   // Latin Extended Additional (Vietnamese): pairs, upper first
        if (cp >= 0x1E96 && cp <= 0x1E9D) return -1;
        return cp == 0x1E9E ? 1 : cp == 0x1E9F ? -1 : cp % 2 ? -1 : 1;
    }
    if (cp == 0x1A0 || cp == 0x1AF) return 1;   // Ơ Ư
    if (cp == 0x1A1 || cp == 0x1B0) return -1;   // ơ ư
    return 0;
}

// Python's str.isupper (upper < 0: islower) on s[0..n): some cased character, none of the other case.
static int text_has_case(const char *s, size_t n, int upper) {
    int cased = 0;
    for (size_t i = 0; i < n;) {
        int len, c = char_case(char_at(s, n, i, &len));
        if (c == -upper) return 0;
        cased |= c != 0;
        i += (size_t)len;
    }
    return cased;
}

// ----------------------------------------------------------------------------
// spans of text

typedef struct {
    const char *s;
    size_t n;
} Span;

static Span span_of(const char *s) { return (Span){s, strlen(s)}; }

static Span span_strip(Span t) {
    while (t.n > 0) {
        int len;
        if (!is_space(char_at(t.s, t.n, 0, &len))) break;
        t.s += len, t.n -= (size_t)len;
    }
    while (t.n > 0) {
        size_t at = char_start_before(t.s, t.n);
        int len;
        if (!is_space(char_at(t.s, t.n, at, &len)) || at + (size_t)len != t.n) break;
        t.n = at;
    }
    return t;
}

static int span_blank(Span t) { return span_strip(t).n == 0; }

static int starts_with_ci(Span t, Span prefix) {
    if (prefix.n > t.n) return 0;
    for (size_t i = 0; i < prefix.n; i++)
        if (ascii_lower((unsigned char)t.s[i]) != ascii_lower((unsigned char)prefix.s[i])) return 0;
    return 1;
}

static int ends_with_ci(Span t, Span suffix) {
    return suffix.n <= t.n && starts_with_ci((Span){t.s + t.n - suffix.n, suffix.n}, suffix);
}

// Non-overlapping occurrences of needle (not empty) in t, any ASCII case.
static int count_ci(Span t, Span needle) {
    int n = 0;
    if (needle.n == 0) return 0;
    for (size_t i = 0; i + needle.n <= t.n;) {
        if (starts_with_ci((Span){t.s + i, t.n - i}, needle)) n++, i += needle.n;
        else i++;
    }
    return n;
}

static int compare_count(long actual, int relation, long threshold) {
    return relation == IFEVAL_LESS_THAN ? actual < threshold : actual >= threshold;
}

// ----------------------------------------------------------------------------
// counting words and sentences

int ifeval_count_words(const char *text) {
    size_t n = strlen(text);
    int words = 0, in_word = 0;
    for (size_t i = 0; i < n;) {
        int len, w = is_word(char_at(text, n, i, &len));
        words += w && !in_word;
        in_word = w;
        i += (size_t)len;
    }
    return words;
}

// Punkt: the characters around words.
static int punkt_non_word(unsigned c) { return c && c < 0x80 && strchr(")\";}]*:@'({[?!", (int)c) != NULL; }
static int punkt_word_start(unsigned c) { return !(c && c < 0x80 && strchr("(\"`{[:;&#*@)}]-,", (int)c)); }
static int punkt_end_char(unsigned c) { return c == '.' || c == '?' || c == '!'; }

// Punkt's multi-character punctuation at s[i]: "--..", "...." or ". . ."; its length, 0 when none.
static size_t punkt_multi_char(const char *s, size_t n, size_t i) {
    if (i + 1 < n && ((s[i] == '-' && s[i + 1] == '-') || (s[i] == '.' && s[i + 1] == '.'))) {
        size_t j = i;
        while (j < n && s[j] == s[i]) j++;
        return j - i;
    }
    if (s[i] != '.') return 0;
    size_t pairs = 0, j = i;   // ". " pairs: a period and one white space character
    for (;;) {
        if (j >= n || s[j] != '.' || j + 1 >= n) break;
        int len;
        if (!is_space(char_at(s, n, j + 1, &len))) break;
        j += 1 + (size_t)len, pairs++;
    }
    if (pairs >= 2 && j < n && s[j] == '.') return j + 1 - i;
    if (pairs >= 3) {   // the regex gives back the last pair and ends on its period
        size_t k = i;
        for (size_t p = 0; p + 1 < pairs; p++) {
            int len;
            char_at(s, n, k + 1, &len);
            k += 1 + (size_t)len;
        }
        return k + 1 - i;
    }
    return 0;
}

// Does a Punkt word that began before s[j] end at s[j]? (the lookahead of Punkt's word regex)
static int punkt_word_ends_at(const char *s, size_t n, size_t j) {
    if (j >= n) return 1;
    int len;
    unsigned c = char_at(s, n, j, &len);
    if (is_space(c) || punkt_non_word(c) || punkt_multi_char(s, n, j)) return 1;
    if (c != ',') return 0;
    if (j + 1 >= n) return 1;
    unsigned d = char_at(s, n, j + 1, &len);
    return is_space(d) || punkt_non_word(d) || punkt_multi_char(s, n, j + 1);
}

typedef struct {
    Span t;
    int sentbreak;
} PunktToken;

// Punkt's word tokens of one line (no '\n' in it), appended to toks (capacity cap).
static int punkt_line_tokens(const char *s, size_t n, PunktToken *toks, int count, int cap) {
    for (size_t i = 0; i < n && count < cap;) {
        int len;
        unsigned c = char_at(s, n, i, &len);
        if (is_space(c)) {
            i += (size_t)len;
            continue;
        }
        size_t end = i + punkt_multi_char(s, n, i);
        if (end == i && punkt_word_start(c)) {
            end = i + (size_t)len;
            while (!punkt_word_ends_at(s, n, end)) end += (size_t)(char_at(s, n, end, &len), len);
        } else if (end == i) {
            end = i + (size_t)len;
        }
        toks[count++] = (PunktToken){{s + i, end - i}, 0};
        i = end;
    }
    return count;
}

static int punkt_is_number(Span t) {   // ^-?[.,]?\d[\d,.-]*\.?$
    size_t i = 0;
    if (i < t.n && t.s[i] == '-') i++;
    if (i < t.n && (t.s[i] == '.' || t.s[i] == ',')) i++;
    if (i >= t.n || !is_digit((unsigned char)t.s[i])) return 0;
    for (i++; i < t.n; i++)
        if (!is_digit((unsigned char)t.s[i]) && t.s[i] != ',' && t.s[i] != '.' && t.s[i] != '-') return 0;
    return 1;
}

static int punkt_is_initial(Span t) {   // [^\W\d]\.$
    int len;
    unsigned c = t.n ? char_at(t.s, t.n, 0, &len) : 0;
    return t.n && (size_t)len + 1 == t.n && t.s[t.n - 1] == '.' && is_word(c) && !is_digit(c) && !unicode_is_number(c);
}

static int first_case(Span t) {
    int len;
    return t.n ? char_case(char_at(t.s, t.n, 0, &len)) : 0;
}

// Punkt's two annotation passes with empty parameters, then: is some sentence break followed by
// another token? (text_contains_sentbreak)
static int punkt_context_breaks(const char *context, size_t n) {
    PunktToken toks[256];
    int count = 0;
    for (size_t a = 0; a < n;) {
        size_t b = a;
        while (b < n && context[b] != '\n') b++;
        if (!span_blank((Span){context + a, b - a})) count = punkt_line_tokens(context + a, b - a, toks, count, 256);
        a = b + 1;
    }
    for (int k = 0; k < count; k++) {
        Span t = toks[k].t;
        int period_final = t.s[t.n - 1] == '.';
        int ellipsis = t.n >= 2 && strspn(t.s, ".") >= t.n;
        if (t.n == 1 && punkt_end_char((unsigned char)t.s[0])) toks[k].sentbreak = 1;
        else if (!ellipsis && period_final && !(t.n >= 2 && t.s[t.n - 2] == '.')) toks[k].sentbreak = 1;
        if (k + 1 < count && period_final && (punkt_is_initial(t) || punkt_is_number(t))) {
            Span next = toks[k + 1].t;
            int punctuation = next.n == 1 && strchr(";:,.!?", next.s[0]);
            if (punctuation || first_case(next) < 0) toks[k].sentbreak = 0;   // the orthographic heuristic says no
            else if (punkt_is_initial(t) && first_case(next) > 0) toks[k].sentbreak = 0;
        }
    }
    for (int k = 0; k + 1 < count; k++)
        if (toks[k].sentbreak) return 1;
    return 0;
}

// A candidate sentence end: the end character at `at`, the word before it, what follows.
typedef struct {
    size_t at, word_start;
    size_t after_end;       // one past the lookahead (the punctuation, or white space and the next token)
    size_t next_tok;        // where the next token starts; 0 when the punctuation branch matched
} PunktCandidate;

// Is s[i] a candidate end? (Punkt's period-context regex)
static int punkt_candidate_at(const char *s, size_t n, size_t i, PunktCandidate *c) {
    if (!punkt_end_char((unsigned char)s[i]) || i + 1 >= n) return 0;
    int len;
    unsigned next = char_at(s, n, i + 1, &len);
    c->at = i, c->next_tok = 0;
    if (punkt_non_word(next)) {
        c->after_end = i + 2;
        return 1;
    }
    size_t j = i + 1;
    while (j < n && is_space(char_at(s, n, j, &len))) j += (size_t)len;
    if (j == i + 1 || j >= n) return 0;
    c->next_tok = j;
    while (j < n && !is_space(char_at(s, n, j, &len))) j += (size_t)len;
    c->after_end = j;
    return 1;
}

static int punkt_decides_break(const char *s, const PunktCandidate *c, Buf *scratch) {
    buf_clear(scratch);
    buf_append(scratch, s + c->word_start, c->after_end - c->word_start);
    return punkt_context_breaks(scratch->data, scratch->len);
}

// Punkt's closing-punctuation realignment: the length of ["')\]}]+? followed by white space, "--"
// or a line's end at the start of s[0..n), or 0; *end gets where the match ends.
static size_t punkt_realign(const char *s, size_t n, size_t *end) {
    for (size_t k = 1; k <= n && strchr("\"')]}", s[k - 1]) && s[k - 1]; k++) {
        int len;
        if (k < n && is_space(char_at(s, n, k, &len))) {
            size_t j = k;
            while (j < n && is_space(char_at(s, n, j, &len))) j += (size_t)len;
            *end = j;
            return k;
        }
        if (k == n || (k + 1 < n && s[k] == '-' && s[k + 1] == '-') || s[k] == '\n') {
            *end = k;
            return k;
        }
    }
    return 0;
}

int ifeval_count_sentences(const char *text) {
    size_t n = strlen(text);
    size_t *starts = NULL, *stops = NULL;   // the sentence slices before realignment
    int n_slices = 0, cap = 0;
    Buf scratch = {0};
    size_t last_break = 0, prev_start = 0, prev_stop = 0;
    int have_prev = 0;
    PunktCandidate prev = {0}, c;
    for (size_t i = 0; i <= n; i++) {
        int final = i == n;
        if (!final && !punkt_candidate_at(text, n, i, &c)) continue;
        size_t word_start = prev_start;
        if (!final) {   // the word before it: after the last ASCII white space since the previous candidate
            size_t ws = 0;
            for (size_t k = i; k > prev_stop + 1; k--)
                if (is_ascii_space((unsigned char)text[k - 1])) {
                    ws = k - 1 - prev_stop;
                    break;
                }
            word_start = ws ? prev_stop + ws + 1 : prev_start;
            c.word_start = word_start;
        }
        // the previous candidate counts unless this one's word reaches back over it
        if (have_prev && (final || prev_stop <= word_start) && punkt_decides_break(text, &prev, &scratch)) {
            if (n_slices + 1 >= cap) {
                cap = grow_capacity(cap + 1);
                starts = xrealloc(starts, (size_t)cap * sizeof *starts);
                stops = xrealloc(stops, (size_t)cap * sizeof *stops);
            }
            starts[n_slices] = last_break, stops[n_slices++] = prev.at + 1;
            last_break = prev.next_tok ? prev.next_tok : prev.at + 1;
        }
        if (final) break;
        prev = c, have_prev = 1, prev_start = word_start, prev_stop = i;
    }
    size_t rstrip_end = n;   // len(text.rstrip())
    while (rstrip_end > 0) {
        size_t at = char_start_before(text, rstrip_end);
        int len;
        if (!is_space(char_at(text, n, at, &len)) || at + (size_t)len != rstrip_end) break;
        rstrip_end = at;
    }
    if (n_slices + 1 >= cap) {
        cap = grow_capacity(cap + 1);
        starts = xrealloc(starts, (size_t)cap * sizeof *starts);
        stops = xrealloc(stops, (size_t)cap * sizeof *stops);
    }
    starts[n_slices] = last_break, stops[n_slices++] = rstrip_end;
    // realignment moves closing punctuation back to the sentence before; empty sentences drop
    int count = 0;
    size_t realign = 0;
    for (int k = 0; k < n_slices; k++) {
        size_t a = starts[k] + realign, b = stops[k];
        if (k + 1 == n_slices) {
            count += a < b;
            break;
        }
        size_t end, m = stops[k + 1] > starts[k + 1] ? punkt_realign(text + starts[k + 1], stops[k + 1] - starts[k + 1], &end) : 0;
        if (m) count++, realign = end;
        else realign = 0, count += a < b;
    }
    free(starts), free(stops), buf_free(&scratch);
    return count;
}

// instructions_util.split_into_sentences, for key_sentences: the text's periods are marked as
// sentence ends (<stop>, here '\2') or as periods inside one (<prd>, here '\1') by its rules, in
// its order; then it is cut at the ends.
static char *mark_sentences(const char *text) {
    Buf b = {0};
    buf_append_char(&b, ' ');
    for (const char *p = text; *p; p++) buf_append_char(&b, *p == '\n' || *p == 1 || *p == 2 ? ' ' : *p);
    buf_append_str(&b, "  ");
    char *s = b.data;
    size_t n = b.len;
    static const char *const prefixes[] = {"Mr", "St", "Mrs", "Ms", "Dr", NULL};
    static const char *const suffixes[] = {"Inc", "Ltd", "Jr", "Sr", "Co", NULL};
    static const char *const sites[] = {"com", "net", "org", "io", "gov", "edu", "me", NULL};
    static const char *const starters[] = {"Mr", "Mrs", "Ms", "Dr", "Prof", "Capt", "Cpt", "Lt", "He ", "She ", "It ",
                                           "They ", "Their ", "Our ", "We ", "But ", "However ", "That ", "This ", "Wherever", NULL};
#define IS_ALPHA(c) (((c) | 32) >= 'a' && ((c) | 32) <= 'z')
    for (size_t i = 0; i < n; i++) {   // (Mr|St|Mrs|Ms|Dr)[.] -> <prd>
        for (int k = 0; prefixes[k]; k++) {
            size_t l = strlen(prefixes[k]);
            if (i + l < n && memcmp(s + i, prefixes[k], l) == 0 && s[i + l] == '.') s[i + l] = 1;
        }
    }
    for (size_t i = 0; i + 1 < n; i++)   // [.](com|net|...) -> <prd>
        for (int k = 0; sites[k] && s[i] == '.'; k++)
            if (strncmp(s + i + 1, sites[k], strlen(sites[k])) == 0) s[i] = 1;
    for (size_t i = 1; i + 1 < n; i++)   // digit.digit
        if (s[i] == '.' && is_digit((unsigned char)s[i - 1]) && is_digit((unsigned char)s[i + 1])) s[i] = 1;
    Buf out = {0};   // \.{2,} -> <prd> * len + <stop>
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j] == '.') j++;
        if (j - i >= 2) {
            for (size_t k = i; k < j; k++) buf_append_char(&out, 1);
            buf_append_char(&out, 2);
            i = j;
        } else buf_append_char(&out, s[i++]);
    }
    buf_free(&b);
    s = out.data, n = out.len;
    for (char *p = strstr(s, "Ph.D."); p; p = strstr(p + 1, "Ph.D.")) p[2] = 1, p[4] = 1;
    for (size_t i = 1; i + 2 < n; i++)   // \s([A-Za-z])[.]<space> -> <prd>
        if (is_space((unsigned char)s[i - 1]) && IS_ALPHA(s[i]) && s[i + 1] == '.' && s[i + 2] == ' ') s[i + 1] = 1;
    Buf out2 = {0};   // acronym (A.B. or A.B.C.) + space + starter -> <stop> after the acronym
    for (size_t i = 0; i < n; i++) {
        buf_append_char(&out2, s[i]);
        if (!(i + 4 < n && s[i + 1] == '.' && s[i] >= 'A' && s[i] <= 'Z' && s[i + 2] >= 'A' && s[i + 2] <= 'Z' && s[i + 3] == '.'))
            continue;
        size_t e = i + 4;
        if (e + 1 < n && s[e] >= 'A' && s[e] <= 'Z' && s[e + 1] == '.') e += 2;
        for (int k = 0; starters[k]; k++)
            if (e < n && s[e] == ' ' && strncmp(s + e + 1, starters[k], strlen(starters[k])) == 0) {
                buf_append(&out2, s + i + 1, e - i - 1);
                buf_append_char(&out2, 2);
                i = e - 1;
                break;
            }
    }
    buf_free(&out);
    s = out2.data, n = out2.len;
    for (size_t i = 0; i + 3 < n; i++)   // X.Y.Z. and X.Y. -> <prd>
        if (IS_ALPHA(s[i]) && s[i + 1] == '.' && IS_ALPHA(s[i + 2]) && s[i + 3] == '.') {
            s[i + 1] = s[i + 3] = 1;
            if (i + 5 < n && IS_ALPHA(s[i + 4]) && s[i + 5] == '.') s[i + 5] = 1;
            i += 3;
        }
    for (size_t i = 0; i < n; i++)   // " (Inc|...)." before a starter -> <stop>, else <prd>
        for (int k = 0; suffixes[k] && s[i] == ' '; k++) {
            size_t l = strlen(suffixes[k]);
            if (i + 1 + l < n && strncmp(s + i + 1, suffixes[k], l) == 0 && s[i + 1 + l] == '.') {
                int before_starter = 0;
                for (int m = 0; starters[m] && i + l + 2 < n && s[i + l + 2] == ' '; m++)
                    before_starter |= strncmp(s + i + l + 3, starters[m], strlen(starters[m])) == 0;
                s[i + 1 + l] = before_starter ? 2 : 1;
            }
        }
    for (size_t i = 0; i + 2 < n; i++)   // " X." -> <prd>
        if (s[i] == ' ' && IS_ALPHA(s[i + 1]) && s[i + 2] == '.') s[i + 2] = 1;
#undef IS_ALPHA
    // closing quotes before the end mark; then every . ? ! ends a sentence
    static const char *const swaps[][2] = {{".\xE2\x80\x9D", "\xE2\x80\x9D."}, {".\"", "\"."}, {"!\"", "\"!"}, {"?\"", "\"?"}};
    for (int k = 0; k < 4; k++)
        for (char *p = strstr(s, swaps[k][0]); p; p = strstr(p + 1, swaps[k][0])) memcpy(p, swaps[k][1], strlen(swaps[k][1]));
    Buf marked = {0};
    for (size_t i = 0; i < n; i++) {
        buf_append_char(&marked, s[i] == 1 ? '.' : s[i]);
        if (s[i] == '.' || s[i] == '?' || s[i] == '!') buf_append_char(&marked, 2);
    }
    buf_free(&out2);
    return marked.data;
}

// Is sentence (as a whole) one of the sentences of text? (the key_sentences check)
static int text_has_sentence(const char *marked, const char *sentence) {
    for (const char *p = marked;;) {
        const char *end = strchr(p, 2);
        Span piece = span_strip((Span){p, end ? (size_t)(end - p) : strlen(p)});
        if (piece.n == strlen(sentence) && memcmp(piece.s, sentence, piece.n) == 0) return 1;
        if (!end) return 0;
        p = end + 1;
    }
}

// ----------------------------------------------------------------------------
// capital words: NLTK's Treebank rules that split words, applied as rewrites of the text

typedef int (*PadRule)(const char *s, size_t n, size_t i, size_t *len);

// Writes s with a space before and after every match of rule (matches do not overlap).
static void pad_matches(Buf *b, PadRule rule) {
    Buf out = {0};
    for (size_t i = 0; i < b->len;) {
        size_t len = 0;
        if (rule(b->data, b->len, i, &len) && len) {
            buf_append_char(&out, ' ');
            buf_append(&out, b->data + i, len);
            buf_append_char(&out, ' ');
            i += len;
        } else {
            buf_append_char(&out, b->data[i++]);
        }
    }
    buf_free(b);
    if (!out.data) buf_append(&out, "", 0);
    *b = out;
}

static const char *const quote_marks[] = {"\xC2\xAB", "\xE2\x80\x9C", "\xE2\x80\x98", "\xE2\x80\x9E",   // « “ ‘ „
                                          "\xC2\xBB", "\xE2\x80\x9D", "\xE2\x80\x99", NULL};            // » ” ’
static int rule_quote(const char *s, size_t n, size_t i, size_t *len) {
    for (int k = 0; quote_marks[k]; k++) {
        size_t l = strlen(quote_marks[k]);
        if (i + l <= n && memcmp(s + i, quote_marks[k], l) == 0) return (int)(*len = l);
    }
    if (s[i] == '`' || s[i] == '"') {
        size_t j = i;
        while (j < n && s[j] == s[i]) j++;
        return (int)(*len = s[i] == '`' ? j - i : 1);
    }
    return 0;
}
static int rule_punctuation(const char *s, size_t n, size_t i, size_t *len) {
    if (strchr(";@#$%&?!*[](){}<>", s[i]) && s[i]) return (int)(*len = 1);
    if ((s[i] == ',' || s[i] == ':') && (i + 1 >= n || !is_digit((unsigned char)s[i + 1]))) return (int)(*len = 1);
    if ((s[i] == '.' || s[i] == '-') && i + 1 < n && s[i + 1] == s[i]) {
        size_t j = i;
        while (j < n && s[j] == s[i] && (s[i] == '.' || j - i < 2)) j++;
        return (int)(*len = j - i);
    }
    return 0;
}

// The contractions the Treebank tokenizer splits off a word: before a space (ENDING_QUOTES), and
// the MacIntyre words (CONTRACTIONS2/3, any case, whole words).
static int split_contraction(Buf *b, size_t i) {
    static const char *const tails[] = {"'s", "'S", "'m", "'M", "'d", "'D", "'ll", "'LL", "'re", "'RE", "'ve", "'VE", "n't", "N'T", "'", NULL};
    const char *s = b->data;
    if (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\'') return 0;
    for (int k = 0; tails[k]; k++) {
        size_t l = strlen(tails[k]);
        if (i + l < b->len && memcmp(s + i, tails[k], l) == 0 && s[i + l] == ' ') return (int)l;
    }
    return 0;
}

static int starts_word_ci(const char *s, size_t n, size_t i, const char *w) {
    size_t l = strlen(w);
    if (i + l > n) return 0;
    for (size_t k = 0; k < l; k++)
        if (ascii_lower((unsigned char)s[i + k]) != w[k]) return 0;
    return 1;
}

static void split_macintyre(Buf *b) {
    static const char *const words[][2] = {{"can", "not"}, {"d", "'ye"}, {"gim", "me"}, {"gon", "na"}, {"got", "ta"},
                                           {"lem", "me"}, {"more", "'n"}, {"wan", "na"}, {"'t", "is"}, {"'t", "was"}};
    Buf out = {0};
    const char *s = b->data;
    size_t n = b->len;
    for (size_t i = 0; i < n;) {
        int done = 0;
        int len;
        int boundary_before = i == 0 || !is_word(char_at(s, n, char_start_before(s, i), &len));
        for (int k = 0; k < 10 && boundary_before && !done; k++) {
            size_t l1 = strlen(words[k][0]), l2 = strlen(words[k][1]), e = i + l1 + l2;
            if (!starts_word_ci(s, n, i, words[k][0]) || !starts_word_ci(s, n, i + l1, words[k][1])) continue;
            if (k < 8 && e < n && is_word(char_at(s, n, e, &len))) continue;
            if (k == 7 && !(e < n && is_space(char_at(s, n, e, &len)))) continue;
            if (k >= 8 && (i == 0 || s[i - 1] != ' ' || (e < n && is_word(char_at(s, n, e, &len))))) continue;
            buf_append_char(&out, ' ');
            buf_append(&out, s + i, l1);
            buf_append_char(&out, ' ');
            buf_append(&out, s + i + l1, l2);
            buf_append_char(&out, ' ');
            i = e, done = 1;
        }
        if (!done) buf_append_char(&out, s[i++]);
    }
    buf_free(b);
    if (!out.data) buf_append(&out, "", 0);
    *b = out;
}

int ifeval_count_capital_words(const char *text) {
    Buf b = {0};
    buf_append_char(&b, ' ');
    buf_append_str(&b, text);
    buf_append_char(&b, ' ');
    pad_matches(&b, rule_quote);
    pad_matches(&b, rule_punctuation);
    Buf out = {0};   // contractions and a trailing apostrophe, before a space
    for (size_t i = 0; i < b.len;) {
        int l = split_contraction(&b, i);
        if (l) {
            buf_append_char(&out, ' ');
            buf_append(&out, b.data + i, (size_t)l);
            i += (size_t)l;
        } else buf_append_char(&out, b.data[i++]);
    }
    buf_free(&b);
    split_macintyre(&out);
    int count = 0;
    for (size_t i = 0; i < out.len;) {
        int len;
        if (is_space(char_at(out.data, out.len, i, &len))) {
            i += (size_t)len;
            continue;
        }
        size_t j = i;
        while (j < out.len && !is_space(char_at(out.data, out.len, j, &len))) j += (size_t)len;
        count += text_has_case(out.data + i, j - i, 1);
        i = j;
    }
    buf_free(&out);
    return count;
}

// ----------------------------------------------------------------------------
// the instruction ids and their arguments

enum {
    K_KEYWORDS_EXISTENCE, K_KEYWORDS_FREQUENCY, K_FORBIDDEN_WORDS, K_LETTER_FREQUENCY, K_RESPONSE_LANGUAGE,
    K_NUMBER_SENTENCES, K_NUMBER_PARAGRAPHS, K_NUMBER_WORDS, K_NTH_PARAGRAPH_FIRST_WORD, K_NUMBER_PLACEHOLDERS,
    K_POSTSCRIPT, K_NUMBER_BULLET_LISTS, K_CONSTRAINED_RESPONSE, K_NUMBER_HIGHLIGHTED_SECTIONS, K_MULTIPLE_SECTIONS,
    K_JSON_FORMAT, K_TITLE, K_TWO_RESPONSES, K_REPEAT_PROMPT, K_END_CHECKER, K_CAPITAL_WORD_FREQUENCY,
    K_ENGLISH_CAPITAL, K_ENGLISH_LOWERCASE, K_NO_COMMA, K_QUOTATION,
    K_CONSTRAINED_START, K_REPHRASE, K_KEY_SENTENCES, K_REPHRASE_PARAGRAPH,   // not in IFEval's registry
    N_KINDS
};

// Each id with the kwargs it needs: c a count (its key), r a relation (its key), s a string, w a
// list of strings, n nth_paragraph, l low and high.
typedef struct {
    const char *id;
    const char *count_key, *relation_key, *text_key, *words_key;
} KindSpec;

static const KindSpec kinds[N_KINDS] = {
    [K_KEYWORDS_EXISTENCE] = {"keywords:existence", NULL, NULL, NULL, "keywords"},
    [K_KEYWORDS_FREQUENCY] = {"keywords:frequency", "frequency", "relation", "keyword", NULL},
    [K_FORBIDDEN_WORDS] = {"keywords:forbidden_words", NULL, NULL, NULL, "forbidden_words"},
    [K_LETTER_FREQUENCY] = {"keywords:letter_frequency", "let_frequency", "let_relation", "letter", NULL},
    [K_RESPONSE_LANGUAGE] = {"language:response_language", NULL, NULL, "language", NULL},
    [K_NUMBER_SENTENCES] = {"length_constraints:number_sentences", "num_sentences", "relation", NULL, NULL},
    [K_NUMBER_PARAGRAPHS] = {"length_constraints:number_paragraphs", "num_paragraphs", NULL, NULL, NULL},
    [K_NUMBER_WORDS] = {"length_constraints:number_words", "num_words", "relation", NULL, NULL},
    [K_NTH_PARAGRAPH_FIRST_WORD] = {"length_constraints:nth_paragraph_first_word", "num_paragraphs", NULL, "first_word", NULL},
    [K_NUMBER_PLACEHOLDERS] = {"detectable_content:number_placeholders", "num_placeholders", NULL, NULL, NULL},
    [K_POSTSCRIPT] = {"detectable_content:postscript", NULL, NULL, "postscript_marker", NULL},
    [K_NUMBER_BULLET_LISTS] = {"detectable_format:number_bullet_lists", "num_bullets", NULL, NULL, NULL},
    [K_CONSTRAINED_RESPONSE] = {"detectable_format:constrained_response", NULL, NULL, NULL, NULL},
    [K_NUMBER_HIGHLIGHTED_SECTIONS] = {"detectable_format:number_highlighted_sections", "num_highlights", NULL, NULL, NULL},
    [K_MULTIPLE_SECTIONS] = {"detectable_format:multiple_sections", "num_sections", NULL, "section_spliter", NULL},
    [K_JSON_FORMAT] = {"detectable_format:json_format", NULL, NULL, NULL, NULL},
    [K_TITLE] = {"detectable_format:title", NULL, NULL, NULL, NULL},
    [K_TWO_RESPONSES] = {"combination:two_responses", NULL, NULL, NULL, NULL},
    [K_REPEAT_PROMPT] = {"combination:repeat_prompt", NULL, NULL, "prompt_to_repeat", NULL},
    [K_END_CHECKER] = {"startend:end_checker", NULL, NULL, "end_phrase", NULL},
    [K_CAPITAL_WORD_FREQUENCY] = {"change_case:capital_word_frequency", "capital_frequency", "capital_relation", NULL, NULL},
    [K_ENGLISH_CAPITAL] = {"change_case:english_capital", NULL, NULL, NULL, NULL},
    [K_ENGLISH_LOWERCASE] = {"change_case:english_lowercase", NULL, NULL, NULL, NULL},
    [K_NO_COMMA] = {"punctuation:no_comma", NULL, NULL, NULL, NULL},
    [K_QUOTATION] = {"startend:quotation", NULL, NULL, NULL, NULL},
    [K_CONSTRAINED_START] = {"multi-turn:constrained_start", NULL, NULL, "starter", NULL},
    [K_REPHRASE] = {"detectable_format:rephrase", NULL, NULL, "original_message", NULL},
    [K_KEY_SENTENCES] = {"keywords:key_sentences", "num_sentences", NULL, NULL, "key_sentences"},
    [K_REPHRASE_PARAGRAPH] = {"detectable_content:rephrase_paragraph", NULL, NULL, "original_paragraph", NULL},
};

int ifeval_kind_count(void) { return N_KINDS; }
const char *ifeval_kind_name(int kind) { return kind >= 0 && kind < N_KINDS ? kinds[kind].id : "unknown"; }
int ifeval_kind_in_registry(int kind) { return kind >= 0 && kind < K_CONSTRAINED_START; }

static int has_change(const char *s);

// kwargs[key], NULL when absent or null.
static const JsonValue *kwarg(const JsonValue *kwargs, const char *key) {
    const JsonValue *v = kwargs ? json_get(kwargs, key) : NULL;
    return v && v->type != JSON_NULL ? v : NULL;
}

static int kwarg_used(const KindSpec *k, const char *key) {
    const char *used[] = {k->count_key, k->relation_key, k->text_key, k->words_key};
    for (int i = 0; i < 4; i++)
        if (used[i] && strcmp(used[i], key) == 0) return 1;
    if (k - kinds == K_NTH_PARAGRAPH_FIRST_WORD && strcmp(key, "nth_paragraph") == 0) return 1;
    if (k - kinds == K_REPHRASE_PARAGRAPH && (strcmp(key, "low") == 0 || strcmp(key, "high") == 0)) return 1;
    return 0;
}

static int kwarg_count(const JsonValue *kwargs, const char *id, const char *key, long *out) {
    const JsonValue *v = kwarg(kwargs, key);
    if (!v || v->type != JSON_NUMBER || v->number != floor(v->number) || v->number < 0 || v->number > 1e9)
        return errorf("%s needs \"%s\", a count from 0 to 10^9", id, key);
    *out = (long)v->number;
    return 0;
}

int ifeval_instruction_parse(const char *id, const JsonValue *kwargs, IfevalInstruction *out) {
    memset(out, 0, sizeof *out);
    int kind = 0;
    while (kind < N_KINDS && strcmp(kinds[kind].id, id) != 0) kind++;
    if (kind == N_KINDS) return errorf("unknown instruction id \"%s\"", id);
    const KindSpec *k = &kinds[kind];
    out->kind = kind;
    if (kwargs && kwargs->type != JSON_OBJECT) return errorf("%s: kwargs must be an object", id);
    for (const JsonValue *m = kwargs ? kwargs->child : NULL; m; m = m->next)
        if (m->type != JSON_NULL && !kwarg_used(k, m->key)) return errorf("%s takes no argument \"%s\"", id, m->key);
    if (k->count_key && kwarg_count(kwargs, id, k->count_key, &out->count) < 0) return -1;
    if (k->relation_key) {
        const JsonValue *v = kwarg(kwargs, k->relation_key);
        const char *r = v && v->type == JSON_STRING ? v->string : "";
        if (strcmp(r, "less than") == 0) out->relation = IFEVAL_LESS_THAN;
        else if (strcmp(r, "at least") == 0) out->relation = IFEVAL_AT_LEAST;
        else return errorf("%s needs \"%s\": \"less than\" or \"at least\"", id, k->relation_key);
    }
    if (k->text_key) {
        const JsonValue *v = kwarg(kwargs, k->text_key);
        if (!v || v->type != JSON_STRING || v->length != strlen(v->string)) return errorf("%s needs \"%s\", a string", id, k->text_key);
        // the checkers strip these (and lowercase the first word and the letter)
        Span t = kind == K_REPEAT_PROMPT || kind == K_REPHRASE || kind == K_REPHRASE_PARAGRAPH ? span_of(v->string) : span_strip(span_of(v->string));
        out->text = xstrndup(t.s, t.n);
        if (kind == K_NTH_PARAGRAPH_FIRST_WORD || kind == K_LETTER_FREQUENCY)
            for (char *p = out->text; *p; p++) *p = (char)ascii_lower((unsigned char)*p);
        int len = 0;
        if (kind == K_LETTER_FREQUENCY && (t.n == 0 || (char_at(t.s, t.n, 0, &len), (size_t)len != t.n) || is_space((unsigned char)t.s[0])))
            return errorf("%s: \"letter\" must be a single non-whitespace character", id);
        if (kind == K_REPHRASE && !has_change(out->text)) return errorf("%s: the original message holds no *change*", id);
    }
    if (k->words_key) {
        const JsonValue *v = kwarg(kwargs, k->words_key);
        if (!v || v->type != JSON_ARRAY) return errorf("%s needs \"%s\", a list of strings", id, k->words_key);
        out->words = xcalloc((size_t)(v->count ? v->count : 1), sizeof(char *));
        for (const JsonValue *w = v->child; w; w = w->next) {
            if (w->type != JSON_STRING || w->length != strlen(w->string) || (!w->length && kind != K_KEY_SENTENCES))
                return errorf("%s: \"%s\" must hold non-empty strings", id, k->words_key);
            out->words[out->n_words++] = xstrdup(w->string);
        }
    }
    if (kind == K_NTH_PARAGRAPH_FIRST_WORD && kwarg_count(kwargs, id, "nth_paragraph", &out->nth) < 0) return -1;
    if (kind == K_NTH_PARAGRAPH_FIRST_WORD && (out->nth < 1 || out->nth > out->count))
        return errorf("%s: nth_paragraph must be between 1 and num_paragraphs", id);
    if (kind == K_REPHRASE_PARAGRAPH && (kwarg_count(kwargs, id, "low", &out->low) < 0 || kwarg_count(kwargs, id, "high", &out->high) < 0))
        return -1;
    return 0;
}

void ifeval_instruction_free(IfevalInstruction *ins) {
    free(ins->text);
    for (int i = 0; i < ins->n_words; i++) free(ins->words[i]);
    free(ins->words);
    memset(ins, 0, sizeof *ins);
}

// ----------------------------------------------------------------------------
// the checkers

// Python's re \b: a word character on one side only.
static int word_boundary(const char *s, size_t n, size_t i) {
    int len, before = i > 0 && is_word(char_at(s, n, char_start_before(s, i), &len));
    int after = i < n && is_word(char_at(s, n, i, &len));
    return before != after;
}

static int has_whole_word_ci(Span t, Span w) {
    for (size_t i = 0; i + w.n <= t.n; i++)
        if (starts_with_ci((Span){t.s + i, t.n - i}, w) && word_boundary(t.s, t.n, i) && word_boundary(t.s, t.n, i + w.n)) return 1;
    return 0;
}

static int count_letter(Span t, const char *letter) {
    size_t l = strlen(letter);
    int n = 0;
    for (size_t i = 0; i + l <= t.n;) {
        int len;
        unsigned cp = char_at(t.s, t.n, i, &len);
        if (l == 1 && (unsigned char)letter[0] < 0x80) {   // lower() maps A-Z, the Kelvin sign and dotted I onto ASCII
            unsigned lower = cp == 0x212A ? 'k' : cp == 0x130 ? 'i' : (unsigned)ascii_lower((int)(cp < 0x80 ? cp : 0));
            n += lower == (unsigned char)letter[0];
        } else {
            n += (size_t)len == l && memcmp(t.s + i, letter, l) == 0;
        }
        i += (size_t)len;
    }
    return n;
}

// \[.*?\]: a '[' and the nearest ']' after it on the same line.
static int count_placeholders(Span t) {
    int n = 0;
    for (size_t i = 0; i < t.n; i++) {
        if (t.s[i] != '[') continue;
        size_t j = i + 1;
        while (j < t.n && t.s[j] != ']' && t.s[j] != '\n') j++;
        if (j < t.n && t.s[j] == ']') n++;
        i = j;   // no '[' before j can reach past it either: linear time
    }
    return n;
}

// The end of the line that s[i] is on (the '\n' or n).
static size_t line_end(Span t, size_t i) {
    while (i < t.n && t.s[i] != '\n') i++;
    return i;
}

// ^\s*\*[^\*].*$ and ^\s*-.*$ with re.MULTILINE, each counted over the whole text.
static int count_bullets(Span t) {
    int n = 0;
    for (int dash = 0; dash < 2; dash++) {
        for (size_t i = 0; i < t.n;) {
            if (i > 0 && t.s[i - 1] != '\n') {
                i++;
                continue;
            }
            size_t j = i;
            int len;
            while (j < t.n && is_space(char_at(t.s, t.n, j, &len))) j += (size_t)len;
            if (j < t.n && !dash && t.s[j] == '*' && j + 1 < t.n && t.s[j + 1] != '*') {
                n++;
                size_t k = j + 1 + (size_t)(char_at(t.s, t.n, j + 1, &len), len);   // [^\*] may be the '\n' itself
                i = line_end(t, t.s[j + 1] == '\n' ? k : j + 1);
            } else if (j < t.n && dash && t.s[j] == '-') {
                n++;
                i = line_end(t, j);
            } else {
                i = j > i ? j : i + 1;   // every line start up to j skips to the same j and fails alike
            }
        }
    }
    return n;
}

// \*[^\n\*]*\* and \*\*[^\n\*]*\*\*, each with some non-space text inside.
static int count_highlights(Span t) {
    int n = 0;
    for (int stars = 1; stars <= 2; stars++) {
        for (size_t i = 0; i + 2 * (size_t)stars <= t.n;) {
            if (strncmp(t.s + i, "**", (size_t)stars) != 0) {
                i++;
                continue;
            }
            size_t j = i + (size_t)stars;
            while (j < t.n && t.s[j] != '*' && t.s[j] != '\n') j++;
            if (j + (size_t)stars <= t.n && strncmp(t.s + j, "**", (size_t)stars) == 0) {
                n += !span_blank((Span){t.s + i + stars, j - i - (size_t)stars});
                i = j + (size_t)stars;
            } else {
                i++;
            }
        }
    }
    return n;
}

// splitter\s?\d+ (re.split counts the pieces; the splits are these matches).
static int count_sections(Span t, const char *splitter) {
    size_t l = strlen(splitter);
    int n = 0;
    for (size_t i = 0; l && i + l <= t.n; i++) {
        if (memcmp(t.s + i, splitter, l) != 0) continue;
        size_t j = i + l;
        int len;
        if (j < t.n && is_space(char_at(t.s, t.n, j, &len)) && j + (size_t)len < t.n && is_digit((unsigned char)t.s[j + (size_t)len]))
            j += (size_t)len;
        if (j < t.n && is_digit((unsigned char)t.s[j])) {
            while (j < t.n && is_digit((unsigned char)t.s[j])) j++;
            n++, i = j - 1;
        }
    }
    return n;
}

// re.split(r"\s?\*\*\*\s?"): the number of paragraphs; -1 when an empty one is neither the
// first nor the last (IFEval: not followed). A match at i is white space then "***", or "***",
// then optionally one white space character.
static int count_divided_paragraphs(Span t) {
    unsigned char *empty = NULL;   // per piece: is it blank?
    int pieces = 0;
    size_t start = 0;
    for (size_t i = 0;;) {
        size_t len = 0;
        int clen = 1;
        if (i < t.n) {
            unsigned c = char_at(t.s, t.n, i, &clen);
            if (is_space(c) && i + (size_t)clen + 3 <= t.n && memcmp(t.s + i + clen, "***", 3) == 0) len = (size_t)clen + 3;
            else if (i + 3 <= t.n && memcmp(t.s + i, "***", 3) == 0) len = 3;
            int after;
            if (len && i + len < t.n && is_space(char_at(t.s, t.n, i + len, &after))) len += (size_t)after;
        }
        if (!len && i < t.n) {
            i += (size_t)clen;
            continue;
        }
        empty = xrealloc(empty, (size_t)(pieces + 1));
        empty[pieces++] = (unsigned char)span_blank((Span){t.s + start, (len ? i : t.n) - start});
        if (!len) break;
        start = i = i + len;
    }
    int count = pieces;
    for (int k = 0; k < pieces && count >= 0; k++)
        if (empty[k]) count = k == 0 || k == pieces - 1 ? count - 1 : -1;
    free(empty);
    return count;
}

static int check_nth_paragraph(const IfevalInstruction *ins, Span t) {
    // re.split(r"\n\n"): pieces; the non-empty ones are counted
    int n_nonempty = 0, index = 0;
    Span nth = {NULL, 0};
    for (size_t a = 0;; index++) {
        const char *sep = NULL;
        for (size_t i = a; i + 1 < t.n; i++)
            if (t.s[i] == '\n' && t.s[i + 1] == '\n') {
                sep = t.s + i;
                break;
            }
        Span piece = {t.s + a, sep ? (size_t)(sep - t.s) - a : t.n - a};
        n_nonempty += !span_blank(piece);
        if (index + 1 == ins->nth) nth = piece;
        if (!sep) break;
        a = (size_t)(sep - t.s) + 2;
    }
    if (ins->nth > n_nonempty || !nth.s) return 0;
    Span p = span_strip(nth);
    if (p.n == 0) return 0;
    size_t w = 0;   // the first word: up to white space
    int len;
    while (w < p.n && !is_space(char_at(p.s, p.n, w, &len))) w += (size_t)len;
    size_t a = 0;
    while (a < w && p.s[a] == '\'') a++;
    while (a < w && p.s[a] == '"') a++;
    char word[256];
    size_t k = 0;
    for (size_t i = a; i < w && !strchr(".,?!'\"", p.s[i]) && k + 1 < sizeof word; i++) word[k++] = (char)ascii_lower((unsigned char)p.s[i]);
    word[k] = 0;
    return n_nonempty == ins->count && strcmp(word, ins->text) == 0;
}

// "<<" then the last ">>" on the same line, with some non-space text between.
static int has_title(Span t) {
    for (size_t a = 0; a < t.n;) {
        size_t e = line_end(t, a), j = e;   // j: one past the line's last ">>" (the greedy match ends there)
        while (j >= a + 2 && !(t.s[j - 2] == '>' && t.s[j - 1] == '>')) j--;
        for (size_t i = a; i + 1 < e; i++) {
            if (t.s[i] != '<' || t.s[i + 1] != '<') continue;
            if (j < i + 5) break;   // no ">>" with text before it after this "<<", nor after any later one
            Span inner = {t.s + i, j - i};
            while (inner.n && inner.s[0] == '<') inner.s++, inner.n--;
            while (inner.n && inner.s[inner.n - 1] == '>') inner.n--;
            if (!span_blank(inner)) return 1;
            break;   // the rest of the line holds no ">>" after this one
        }
        a = e + 1;
    }
    return 0;
}

static int check_two_responses(Span t) {
    Span valid[2];
    int n_valid = 0, index = 0;
    for (size_t a = 0;; index++) {
        const char *sep = NULL;
        for (size_t i = a; i + 6 <= t.n; i++)
            if (memcmp(t.s + i, "******", 6) == 0) {
                sep = t.s + i;
                break;
            }
        Span piece = {t.s + a, sep ? (size_t)(sep - t.s) - a : t.n - a};
        if (span_blank(piece)) {
            if (index != 0 && sep) return 0;   // empty and neither first nor last
        } else {
            if (n_valid == 2) return 0;
            valid[n_valid++] = span_strip(piece);
        }
        if (!sep) break;
        a = (size_t)(sep - t.s) + 6;
    }
    return n_valid == 2 && !(valid[0].n == valid[1].n && memcmp(valid[0].s, valid[1].s, valid[0].n) == 0);
}

static int check_postscript(Span t, const char *marker) {
    // the pattern starts with \s*, which may match nothing: a search for the marker's own part
    for (size_t i = 0; i < t.n; i++) {
        size_t j = i;
        const char *m = strcmp(marker, "P.P.S") == 0 ? "p. p. s" : strcmp(marker, "P.S.") == 0 ? "p. s." : NULL;
        if (m) {   // a space in m is \s?
            int ok = 1;
            for (const char *q = m; *q && ok; q++) {
                int len;
                if (*q == ' ') {
                    if (j < t.n && is_space(char_at(t.s, t.n, j, &len))) j += (size_t)len;
                } else if (j < t.n && ascii_lower((unsigned char)t.s[j]) == *q) j++;
                else ok = 0;
            }
            if (ok) return 1;
        } else {   // the lowercased marker as a regex; IFEval's markers hold no special character but '.'
            size_t k = 0;
            for (; marker[k] && j < t.n; k++, j++)
                if (marker[k] == '.' ? t.s[j] == '\n' : ascii_lower((unsigned char)marker[k]) != ascii_lower((unsigned char)t.s[j])) break;
            if (!marker[k]) return 1;
        }
    }
    return 0;
}

// json.loads after stripping ``` fences (Python also accepts NaN and Infinity; srl does not)
static int check_json(Span t) {
    t = span_strip(t);
    static const char *const fences[] = {"```json", "```Json", "```JSON", "```"};
    for (int k = 0; k < 4; k++) {   // removeprefix, one after another
        size_t l = strlen(fences[k]);
        if (t.n >= l && memcmp(t.s, fences[k], l) == 0) t.s += l, t.n -= l;
    }
    if (t.n >= 3 && memcmp(t.s + t.n - 3, "```", 3) == 0) t.n -= 3;
    t = span_strip(t);
    JsonDoc doc;
    char saved[sizeof srl_error];
    memcpy(saved, srl_error, sizeof saved);
    int ok = json_parse(&doc, t.s, t.n) == 0;
    memcpy(srl_error, saved, sizeof saved);   // a failed parse is a verdict, not an error
    if (ok) json_free(&doc);
    return ok;
}

// re.sub(r"\*.*\*", "", s): on each line, from the first '*' to the last one.
static char *strip_changes(const char *s) {
    Buf b = {0};
    for (const char *p = s; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *first = memchr(p, '*', n), *last = NULL;
        for (const char *q = p; q < p + n; q++)
            if (*q == '*') last = q;
        if (first && last > first) {
            buf_append(&b, p, (size_t)(first - p));
            buf_append(&b, last + 1, (size_t)(p + n - last - 1));
        } else {
            buf_append(&b, p, n);
        }
        if (!e) break;
        buf_append_char(&b, '\n');
        p = e + 1;
    }
    if (!b.data) buf_append(&b, "", 0);
    return b.data;
}

static int has_change(const char *s) {
    char *stripped = strip_changes(s);
    int changed = strcmp(stripped, s) != 0;
    free(stripped);
    return changed;
}

// The words (\w+, lowercased) the response has in common with the original, counted with multiplicity.
static long words_in_common(const char *a, const char *b) {
    // both texts' words, sorted, then merged: sum of min(count in a, count in b)
    char **wa = NULL, **wb = NULL;
    int na = 0, nb = 0;
    for (int side = 0; side < 2; side++) {
        const char *s = side ? b : a;
        char ***w = side ? &wb : &wa;
        int *nw = side ? &nb : &na;
        size_t n = strlen(s);
        for (size_t i = 0; i < n;) {
            int len;
            if (!is_word(char_at(s, n, i, &len))) {
                i += (size_t)len;
                continue;
            }
            size_t j = i;
            while (j < n && is_word(char_at(s, n, j, &len))) j += (size_t)len;
            *w = xrealloc(*w, (size_t)(*nw + 1) * sizeof(char *));
            char *word = xstrndup(s + i, j - i);
            for (char *p = word; *p; p++) *p = (char)ascii_lower((unsigned char)*p);
            (*w)[(*nw)++] = word;
            i = j;
        }
    }
    long common = 0;
    for (int i = 0; i < na; i++)   // a greedy matching: each word of a takes one equal unused word of b
        for (int j = 0; j < nb; j++)
            if (wb[j] && strcmp(wa[i], wb[j]) == 0) {
                free(wb[j]), wb[j] = NULL, common++;
                break;
            }
    for (int i = 0; i < na; i++) free(wa[i]);
    for (int j = 0; j < nb; j++) free(wb[j]);
    free(wa), free(wb);
    return common;
}

int ifeval_follows(const IfevalInstruction *ins, const char *response) {
    Span t = span_of(response);
    switch (ins->kind) {
    case K_KEYWORDS_EXISTENCE:
        for (int i = 0; i < ins->n_words; i++)
            if (!count_ci(t, span_of(ins->words[i]))) return 0;
        return 1;
    case K_KEYWORDS_FREQUENCY: return compare_count(count_ci(t, span_of(ins->text)), ins->relation, ins->count);
    case K_FORBIDDEN_WORDS:
        for (int i = 0; i < ins->n_words; i++)
            if (has_whole_word_ci(t, span_of(ins->words[i]))) return 0;
        return 1;
    case K_LETTER_FREQUENCY: return compare_count(count_letter(t, ins->text), ins->relation, ins->count);
    case K_RESPONSE_LANGUAGE: return IFEVAL_NOT_CHECKED;
    case K_NUMBER_SENTENCES: return compare_count(ifeval_count_sentences(response), ins->relation, ins->count);
    case K_NUMBER_PARAGRAPHS: return count_divided_paragraphs(t) == ins->count;
    case K_NUMBER_WORDS: return compare_count(ifeval_count_words(response), ins->relation, ins->count);
    case K_NTH_PARAGRAPH_FIRST_WORD: return check_nth_paragraph(ins, t);
    case K_NUMBER_PLACEHOLDERS: return count_placeholders(t) >= ins->count;
    case K_POSTSCRIPT: return check_postscript(t, ins->text);
    case K_NUMBER_BULLET_LISTS: return count_bullets(t) == ins->count;
    case K_CONSTRAINED_RESPONSE:
        return strstr(response, "My answer is yes.") || strstr(response, "My answer is no.") || strstr(response, "My answer is maybe.");
    case K_NUMBER_HIGHLIGHTED_SECTIONS: return count_highlights(t) >= ins->count;
    case K_MULTIPLE_SECTIONS: return count_sections(t, ins->text) >= ins->count;
    case K_JSON_FORMAT: return check_json(t);
    case K_TITLE: return has_title(t);
    case K_TWO_RESPONSES: return check_two_responses(t);
    case K_REPEAT_PROMPT: return starts_with_ci(span_strip(t), span_strip(span_of(ins->text)));
    case K_END_CHECKER: {
        Span v = span_strip(t);
        while (v.n && v.s[0] == '"') v.s++, v.n--;
        while (v.n && v.s[v.n - 1] == '"') v.n--;
        return ends_with_ci(v, span_of(ins->text));
    }
    case K_CAPITAL_WORD_FREQUENCY: return compare_count(ifeval_count_capital_words(response), ins->relation, ins->count);
    case K_ENGLISH_CAPITAL: return text_has_case(t.s, t.n, 1);
    case K_ENGLISH_LOWERCASE: return text_has_case(t.s, t.n, -1);
    case K_NO_COMMA: return strchr(response, ',') == NULL;
    case K_QUOTATION: {
        Span v = span_strip(t);
        return v.n > 1 && v.s[0] == '"' && v.s[v.n - 1] == '"';
    }
    case K_CONSTRAINED_START:   // ^\s*starter.*$, MULTILINE: some line starts (after white space) with it
        for (size_t a = 0; a <= t.n;) {
            size_t b = a;   // \s* from the line start, which may cross lines
            int len;
            while (b < t.n && is_space(char_at(t.s, t.n, b, &len))) b += (size_t)len;
            if (t.n - b >= strlen(ins->text) && memcmp(t.s + b, ins->text, strlen(ins->text)) == 0) return 1;
            if (b >= t.n) break;
            a = line_end(t, b) + 1;   // the line starts skipped over reach the same b: linear time
        }
        return 0;
    case K_REPHRASE: {
        if (!has_change(response)) return IFEVAL_REFUSED;
        char *a = strip_changes(response), *b = strip_changes(ins->text);
        int same = strcmp(a, b) == 0;
        free(a), free(b);
        return same;
    }
    case K_KEY_SENTENCES: {
        char *marked = mark_sentences(response);
        long found = 0;
        for (int i = 0; i < ins->n_words; i++) found += text_has_sentence(marked, ins->words[i]);
        free(marked);
        return found == ins->count;
    }
    case K_REPHRASE_PARAGRAPH: {
        long common = words_in_common(ins->text, response);
        return common >= ins->low && common <= ins->high;
    }
    }
    return IFEVAL_NOT_CHECKED;
}

int ifeval_check_strict(const IfevalInstruction *ins, const char *response) {
    if (span_blank(span_of(response))) return IFEVAL_NOT_FOLLOWED;
    return ifeval_follows(ins, response);
}

// The eight variants of the loose check, malloc'd.
static void loose_variants(const char *response, char *out[8]) {
    size_t n = strlen(response);
    const char *first_nl = strchr(response, '\n'), *last_nl = strrchr(response, '\n');
    Span whole = {response, n};
    Span no_first = first_nl ? span_strip((Span){first_nl + 1, (size_t)(response + n - first_nl - 1)}) : (Span){response, 0};
    Span no_last = last_nl ? span_strip((Span){response, (size_t)(last_nl - response)}) : (Span){response, 0};
    Span no_both = first_nl && last_nl > first_nl ? span_strip((Span){first_nl + 1, (size_t)(last_nl - first_nl - 1)}) : (Span){response, 0};
    Span spans[4] = {whole, no_first, no_last, no_both};
    for (int k = 0; k < 4; k++) {
        out[k] = xstrndup(spans[k].s, spans[k].n);
        Buf b = {0};
        for (size_t i = 0; i < spans[k].n; i++)
            if (spans[k].s[i] != '*') buf_append_char(&b, spans[k].s[i]);
        if (!b.data) buf_append(&b, "", 0);
        out[4 + k] = b.data;
    }
}

int ifeval_check_loose(const IfevalInstruction *ins, const char *response) {
    char *variants[8];
    loose_variants(response, variants);
    int verdict = IFEVAL_NOT_FOLLOWED;
    for (int k = 0; k < 8; k++) {
        int v = ifeval_check_strict(ins, variants[k]);
        if (v == IFEVAL_FOLLOWED) verdict = v;
        else if (v == IFEVAL_NOT_CHECKED && verdict != IFEVAL_FOLLOWED) verdict = v;
        else if (v == IFEVAL_REFUSED && verdict == IFEVAL_NOT_FOLLOWED) verdict = v;
    }
    for (int k = 0; k < 8; k++) free(variants[k]);
    return verdict;
}

// ----------------------------------------------------------------------------
// the data set, the responses, the scores

static void prompt_free(IfevalPrompt *p) {
    for (int i = 0; i < p->n; i++) ifeval_instruction_free(&p->ins[i]);
    free(p->ins), free(p->prompt);
}

void ifeval_set_free(IfevalSet *set) {
    for (int i = 0; i < set->n; i++) prompt_free(&set->items[i]);
    free(set->items);
    memset(set, 0, sizeof *set);
}

// One record of the input data into p; -1 with srl_error (without the file and line).
static int read_prompt(const JsonValue *rec, IfevalPrompt *p) {
    memset(p, 0, sizeof *p);
    const char *prompt = json_get_string(rec, "prompt");
    const JsonValue *ids = json_get(rec, "instruction_id_list"), *kwargs = json_get(rec, "kwargs");
    long long key = 0;
    if (!prompt) return errorf("a record needs \"prompt\", a string");
    if (!ids || ids->type != JSON_ARRAY || ids->count == 0) return errorf("a record needs \"instruction_id_list\", a non-empty list");
    if (kwargs && (kwargs->type != JSON_ARRAY || kwargs->count != ids->count))
        return errorf("\"kwargs\" must be a list as long as \"instruction_id_list\"");
    json_get_int(rec, "key", &key);
    p->key = (long)key;
    p->prompt = xstrdup(prompt);
    p->ins = xcalloc((size_t)ids->count, sizeof *p->ins);
    const JsonValue *kw = kwargs ? kwargs->child : NULL;
    for (const JsonValue *id = ids->child; id; id = id->next, kw = kw ? kw->next : NULL) {
        if (id->type != JSON_STRING) return errorf("instruction ids must be strings");
        int rc = ifeval_instruction_parse(id->string, kw, &p->ins[p->n]);
        p->n++;   // counted even when it failed, so that prompt_free frees it
        if (rc < 0) return -1;
    }
    return 0;
}

int ifeval_read(const char *path, IfevalSet *set) {
    memset(set, 0, sizeof *set);
    JsonlReader r;
    if (jsonl_open(&r, path) < 0) return -1;
    const JsonValue *rec;
    int rc, cap = 0;
    while ((rc = jsonl_next(&r, &rec)) > 0) {
        if (set->n == cap) cap = grow_capacity(cap), set->items = xrealloc(set->items, (size_t)cap * sizeof *set->items);
        if (read_prompt(rec, &set->items[set->n]) < 0) {
            char reason[sizeof srl_error];
            snprintf(reason, sizeof reason, "%s", srl_error);
            prompt_free(&set->items[set->n]);
            errorf("%s:%ld: %s", path, r.line, reason);
            rc = -1;
            break;
        }
        set->n_instructions += set->items[set->n++].n;
    }
    jsonl_close(&r);
    if (rc < 0) {
        ifeval_set_free(set);
        return -1;
    }
    if (set->n == 0) return errorf("%s: no prompts", path);
    return 0;
}

int ifeval_read_responses(const IfevalSet *set, const char *path, char **responses, int *n_by_line, int *n_unused) {
    for (int i = 0; i < set->n; i++) responses[i] = NULL;
    *n_by_line = *n_unused = 0;
    JsonlReader r;
    if (jsonl_open(&r, path) < 0) return -1;
    const JsonValue *rec;
    int rc, line_index = 0;
    long *unmatched = NULL;   // response records whose prompt matched none: (line index, response) pairs
    char **unmatched_text = NULL;
    int n_unmatched = 0;
    while ((rc = jsonl_next(&r, &rec)) > 0) {
        const char *prompt = json_get_string(rec, "prompt"), *response = json_get_string(rec, "response");
        if (!prompt || !response) {
            rc = errorf("%s:%ld: a response record needs \"prompt\" and \"response\", both strings", path, r.line);
            break;
        }
        int found = -1;
        for (int i = 0; i < set->n && found < 0; i++)
            if (!responses[i] && strcmp(set->items[i].prompt, prompt) == 0) found = i;
        if (found >= 0) {
            responses[found] = xstrdup(response);
        } else {
            unmatched = xrealloc(unmatched, (size_t)(n_unmatched + 1) * sizeof *unmatched);
            unmatched_text = xrealloc(unmatched_text, (size_t)(n_unmatched + 1) * sizeof *unmatched_text);
            unmatched[n_unmatched] = line_index, unmatched_text[n_unmatched++] = xstrdup(response);
        }
        line_index++;
    }
    jsonl_close(&r);
    for (int k = 0; k < n_unmatched; k++) {
        long i = unmatched[k];
        if (rc >= 0 && i < set->n && !responses[i]) responses[i] = unmatched_text[k], (*n_by_line)++;
        else free(unmatched_text[k]), (*n_unused)++;
    }
    free(unmatched), free(unmatched_text);
    if (rc < 0) {
        for (int i = 0; i < set->n; i++) free(responses[i]), responses[i] = NULL;
        return -1;
    }
    return 0;
}

void ifeval_score(const IfevalSet *set, char *const *responses, unsigned char *verdicts, IfevalScores *s) {
    memset(s, 0, sizeof *s);
    s->n_prompts = set->n;
    s->n_instructions = set->n_instructions;
    s->kind_total = xcalloc(N_KINDS, sizeof(int));
    for (int m = 0; m < 2; m++) s->kind_followed[m] = xcalloc(N_KINDS, sizeof(int)), s->kind_unchecked[m] = xcalloc(N_KINDS, sizeof(int));
    size_t at = 0;
    for (int i = 0; i < set->n; i++) {
        const IfevalPrompt *p = &set->items[i];
        const char *response = responses[i] ? responses[i] : "";
        s->n_missing += !responses[i];
        int all[2] = {1, 1}, unchecked[2] = {0, 0};
        for (int j = 0; j < p->n; j++, at++) {
            const IfevalInstruction *ins = &p->ins[j];
            s->kind_total[ins->kind]++;
            s->n_english_unchecked += ins->kind == K_ENGLISH_CAPITAL || ins->kind == K_ENGLISH_LOWERCASE;
            for (int m = 0; m < 2; m++) {
                int v = m ? ifeval_check_loose(ins, response) : ifeval_check_strict(ins, response);
                verdicts[at * 2 + m] = (unsigned char)v;
                if (v == IFEVAL_NOT_CHECKED) {
                    unchecked[m] = 1, s->instructions_unchecked[m]++, s->kind_unchecked[m][ins->kind]++;
                    continue;
                }
                s->instructions_checked[m]++;
                if (v == IFEVAL_FOLLOWED) s->instructions_followed[m]++, s->kind_followed[m][ins->kind]++;
                else all[m] = 0;
            }
        }
        for (int m = 0; m < 2; m++) {
            if (!unchecked[m]) s->prompts_checked[m]++, s->prompts_followed[m] += all[m];
            s->prompts_followed_high[m] += all[m];
        }
    }
}

void ifeval_scores_free(IfevalScores *s) {
    free(s->kind_total);
    for (int m = 0; m < 2; m++) free(s->kind_followed[m]), free(s->kind_unchecked[m]);
    memset(s, 0, sizeof *s);
}

static double share(int a, int b) { return b ? (double)a / b : NAN; }

double ifeval_prompt_accuracy(const IfevalScores *s, int loose) { return share(s->prompts_followed[loose], s->prompts_checked[loose]); }
double ifeval_instruction_accuracy(const IfevalScores *s, int loose) {
    return share(s->instructions_followed[loose], s->instructions_checked[loose]);
}

void ifeval_bounds(const IfevalScores *s, int loose, double *prompt_lo, double *prompt_hi, double *instr_lo, double *instr_hi) {
    *prompt_lo = share(s->prompts_followed[loose], s->n_prompts);
    *prompt_hi = share(s->prompts_followed_high[loose], s->n_prompts);
    *instr_lo = share(s->instructions_followed[loose], s->n_instructions);
    *instr_hi = share(s->instructions_followed[loose] + s->instructions_unchecked[loose], s->n_instructions);
}
