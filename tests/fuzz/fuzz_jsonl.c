// fuzz_jsonl: jsonl_open and jsonl_next (util.h) over a file holding the input.
//
// Every data set srl reads (prompts, EFT seeds, Open Assistant trees, preference pairs) is JSON
// Lines, often made by other tools. It checks that reading goes record by record to the end or
// stops at an error "<path>:<line>: ..." naming a line the file has; that blank lines (spaces,
// tabs, \r only) are skipped; that when every line parses the number of records equals
// jsonl_count; and that the reader can be closed at any point without leaking.
#include "fuzz.h"

static char *path;   // the file the input is written to

static void setup(void) {
    if (!path) path = fuzz_scratch_path("data.jsonl");
}

static void check_input(const uint8_t *data, size_t size) {
    fuzz_write_file(path, data, size);
    long lines = 0;   // lines in the file, a last one without its newline included
    for (size_t i = 0; i < size; i++) lines += data[i] == '\n' || i + 1 == size;

    JsonlReader r;
    FUZZ_CHECK(jsonl_open(&r, path) == 0, "jsonl_open failed: %s", srl_error);
    long records = 0, last_line = 0;
    const JsonValue *record;
    int rc;
    while ((rc = jsonl_next(&r, &record)) == 1) {
        FUZZ_CHECK(record != NULL, "a record without a value");
        FUZZ_CHECK(r.line > last_line && r.line <= lines, "record at line %ld after line %ld, of %ld", r.line, last_line, lines);
        last_line = r.line;
        records++;
    }
    if (rc < 0) {
        char prefix[4200];
        snprintf(prefix, sizeof prefix, "%s:%ld: ", path, r.line);
        FUZZ_CHECK(strncmp(srl_error, prefix, strlen(prefix)) == 0 && r.line >= 1 && r.line <= lines,
                   "the error does not name a line of the file: %s", srl_error);
    } else {
        FUZZ_CHECK(rc == 0, "jsonl_next returned %d", rc);
        FUZZ_CHECK(records == jsonl_count(path), "%ld records but jsonl_count says %ld", records, jsonl_count(path));
    }
    jsonl_close(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    fuzz_watch_allocations();
    check_input(data, size);
    fuzz_check_allocations(size);
    return 0;
}
