// fuzz_json: json_parse (util.h) on arbitrary bytes.
//
// Every file srl reads from strangers is JSON or holds JSON: config.json, tokenizer.json, a
// safetensors header, a shard index, every data set line. So the reader must take any bytes:
// return -1 with a "line L, column C: ..." message, or a tree whose every part is what util.h
// promises. The input is passed as it comes (not NUL-terminated), so AddressSanitizer sees a
// read one byte past the end.
//
// On a tree it checks:
//   - memory is proportional to the input: no more nodes than input bytes (util.h's bound);
//   - count is the number of children, json_index finds each child and NULL past either end;
//   - json_get finds a member by its key (the last one of duplicate keys), and the typed getters
//     agree with the node's type;
//   - a string's length covers its bytes (it may hold NUL), and a key's too;
//   - the writers read back: json_write_string of a string, parsed again, gives the same bytes
//     when they are valid UTF-8 (else some U+FFFD); json_write_number gives the same double.
#include <math.h>

#include "fuzz.h"

// Is s[0..n) valid UTF-8 (what json_write_string leaves as it is)?
static int valid_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], cp;
        int len;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
        else return 0;
        if (i + (size_t)len > n) return 0;
        for (int k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += (size_t)len;
    }
    return 1;
}

// Writes a string with json_write_string, parses the text back and compares.
static void check_string_round_trip(const char *s, size_t len) {
    char *text = NULL;
    size_t text_len = 0;
    FILE *f = open_memstream(&text, &text_len);
    FUZZ_CHECK(f, "open_memstream failed");
    json_write_string(f, s, len);
    fclose(f);
    JsonDoc doc;
    FUZZ_CHECK(json_parse(&doc, text, text_len) == 0, "json_write_string wrote text the reader refuses: %s", text);
    FUZZ_CHECK(doc.root->type == JSON_STRING, "json_write_string did not write a string");
    if (valid_utf8((const unsigned char *)s, len))
        FUZZ_CHECK(doc.root->length == len && memcmp(doc.root->string, s, len) == 0,
                   "a valid UTF-8 string changed through json_write_string: %s", text);
    json_free(&doc);
    free(text);
}

static void check_number_round_trip(double x) {
    if (!isfinite(x)) return;   // written as null, by design
    char *text = NULL;
    size_t text_len = 0;
    FILE *f = open_memstream(&text, &text_len);
    FUZZ_CHECK(f, "open_memstream failed");
    json_write_number(f, x);
    fclose(f);
    JsonDoc doc;
    FUZZ_CHECK(json_parse(&doc, text, text_len) == 0, "json_write_number wrote text the reader refuses: %s", text);
    FUZZ_CHECK(doc.root->type == JSON_NUMBER && doc.root->number == x, "%.17g was written as %s", x, text);
    json_free(&doc);
    free(text);
}

// Checks one node and everything under it; returns the number of nodes.
static size_t walk(const JsonValue *v) {
    size_t nodes = 1;
    FUZZ_CHECK(strcmp(json_type_name(v->type), "?") != 0, "a node of unknown type %d", (int)v->type);
    if (v->type == JSON_STRING) {
        FUZZ_CHECK(v->string && strlen(v->string) <= v->length && v->string[v->length] == 0,
                   "a string's length does not match its bytes");
        check_string_round_trip(v->string, v->length);
    }
    if (v->type == JSON_NUMBER) check_number_round_trip(v->number);
    if (v->type != JSON_ARRAY && v->type != JSON_OBJECT) {
        FUZZ_CHECK(v->count == 0 && !v->child, "a scalar with children");
        FUZZ_CHECK(json_index(v, 0) == NULL && json_get(v, "") == NULL, "json_index or json_get found a child of a scalar");
        return nodes;
    }
    int i = 0;
    for (const JsonValue *c = v->child; c; c = c->next, i++) {
        // json_index and json_get are linear, so check them on the first children only
        if (i < 64) FUZZ_CHECK(json_index(v, i) == c, "json_index(%d) is not child %d", i, i);
        if (v->type == JSON_OBJECT) {
            FUZZ_CHECK(c->key && strlen(c->key) <= c->key_length && c->key[c->key_length] == 0,
                       "a key's length does not match its bytes");
            if (i < 64 && strlen(c->key) == c->key_length) {
                const JsonValue *found = json_get(v, c->key);
                const JsonValue *last = c;   // the last member with this key, from here on
                for (const JsonValue *d = c->next; d; d = d->next)
                    if (d->key_length == c->key_length && memcmp(d->key, c->key, c->key_length) == 0) last = d;
                FUZZ_CHECK(found == last, "json_get(\"%s\") is not the last member with that key", c->key);
                const char *s = json_get_string(v, c->key);
                FUZZ_CHECK((s != NULL) == (found->type == JSON_STRING), "json_get_string disagrees with the type");
                double d;
                FUZZ_CHECK((json_get_number(v, c->key, &d) == 0) == (found->type == JSON_NUMBER),
                           "json_get_number disagrees with the type");
                long long ll;
                if (json_get_int(v, c->key, &ll) == 0)
                    FUZZ_CHECK(found->type == JSON_NUMBER && (double)ll == found->number, "json_get_int gave %lld for %.17g", ll,
                               found->number);
            }
        } else {
            FUZZ_CHECK(!c->key, "an array element with a key");
        }
        nodes += walk(c);
    }
    FUZZ_CHECK(i == v->count, "count is %d but there are %d children", v->count, i);
    FUZZ_CHECK(json_index(v, v->count) == NULL && json_index(v, -1) == NULL, "json_index found a child out of range");
    return nodes;
}

static void check_input(const uint8_t *data, size_t size) {
    JsonDoc doc;
    if (json_parse(&doc, (const char *)data, size) < 0) {
        FUZZ_CHECK(strncmp(srl_error, "line ", 5) == 0, "an error without its line: %s", srl_error);
        FUZZ_CHECK(doc.root == NULL && doc.blocks == NULL && doc.strings == NULL, "a failed parse left memory behind");
        return;
    }
    FUZZ_CHECK(doc.root, "json_parse succeeded without a root");
    size_t nodes = walk(doc.root);
    FUZZ_CHECK(nodes <= size, "%zu nodes from %zu bytes", nodes, size);
    json_free(&doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_watch_allocations();
    check_input(data, size);
    fuzz_check_allocations(size);
    return 0;
}
