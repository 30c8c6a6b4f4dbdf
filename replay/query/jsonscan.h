/* A small JSON scanner over PostgreSQL's json/jsonb text output.
 *
 * Nothing is allocated and nothing is copied: functions return spans of the
 * input. Input is assumed to be what PostgreSQL produced (it validates
 * json and jsonb on input), but malformed text is detected and never read
 * out of bounds. */
#ifndef TM_JSONSCAN_H
#define TM_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>

/* Skips whitespace and one JSON value in [p, e); returns the end of the
 * value, or NULL when it is malformed or runs past e. *start receives where
 * the value begins (after the whitespace). */
const char *tm_json_value(const char *p, const char *e, const char **start);

/* Whether [p, e) is exactly one well-formed JSON value (RFC 8259: strict
 * strings, escapes, numbers and nesting; whitespace around it allowed) in
 * valid UTF-8. For text from outside PostgreSQL (logical message contents)
 * before it is embedded in JSON output; nesting deeper than 256 counts as
 * malformed. */
bool tm_json_check(const char *p, const char *e);

/* The end of the RFC 8259 number at p, -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?,
 * which must not run past e; NULL when none starts at p. */
const char *tm_json_number_end(const char *p, const char *e);

/* Iterates the members of a JSON object: init on the object's text, then
 * call next until it returns false (end of object, or malformed text:
 * then it->bad is set). The key span excludes the quotes and is still
 * escaped (compare with tm_json_strcmp); the value span is raw JSON. */
typedef struct tm_json_iter {
    const char *p, *e;
    bool bad, done, first;
} tm_json_iter;

bool tm_json_object_iter(tm_json_iter *it, const char *p, const char *e);
bool tm_json_object_next(tm_json_iter *it, const char **kp, const char **ke, const char **vp,
                         const char **ve);

/* The value of member key in the object [p, e), as PostgreSQL's -> finds it
 * (the last one if the key repeats, as json allows). Returns false when p
 * is not an object, the key is absent, or the text is malformed. */
bool tm_json_get(const char *p, const char *e, const char *key, size_t keylen, const char **vp,
                 const char **ve);

/* Element idx of the array [p, e), 0-based, negative counting from the
 * end as in PostgreSQL (-1 is the last); false if absent or not an array.
 * With scalar_as_array, a scalar reads as a one-element array, which is
 * what jsonb (unlike json) does. */
bool tm_json_index(const char *p, const char *e, long long idx, bool scalar_as_array,
                   const char **vp, const char **ve);

/* The text PostgreSQL's ->> gives for the JSON value [vp, ve): NULL for
 * JSON null (returns false), else the span to compare and whether it is a
 * string body (between the quotes, still escaped) or raw text (numbers,
 * true/false, nested objects and arrays). */
bool tm_json_text(const char *vp, const char *ve, const char **tp, const char **te,
                  bool *is_string);

/* Compares the decoded JSON string body [p, e) with bytes s[0..len),
 * bytewise (the "C" collation); <0, 0, >0. Escapes are decoded on the fly,
 * \uXXXX (and surrogate pairs) to UTF-8; a lone surrogate reads as U+FFFD. */
int tm_json_strcmp(const char *p, const char *e, const char *s, size_t len);

/* Decodes the JSON string body [p, e) into out, which needs e - p bytes
 * (decoding never lengthens); returns the decoded length. */
size_t tm_json_unescape(const char *p, const char *e, char *out);

#endif
