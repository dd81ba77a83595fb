/*
 * labels.h - Prometheus label sets, label matchers and a small series
 * selector parser.
 *
 * A label set (`struct labels`) is an array of (name, value) pairs sorted by
 * name with unique names; an empty value means "absent" and is never stored
 * by the builders. Comparison and hashing follow Prometheus exactly:
 * labels_compare() orders pair by pair, name then value, byte-wise, shorter
 * set first on a common prefix; labels_hash() is XXH64 (seed 0) over
 * name 0xff value 0xff for every pair, so hashes match Prometheus's
 * labels.Hash().
 *
 * Ownership: a label set either owns its strings (LABELS_OWNED, the
 * default of labels_add()) or borrows them from something that outlives it,
 * e.g. the symbol table of an open index (labels_add_borrowed()). The pair
 * array is always owned. labels_release() frees what is owned.
 *
 * Matchers (=, !=, =~, !~) use Prometheus's regex semantics: the pattern is
 * fully anchored and `.` matches a newline. Regexes run on PCRE2 with JIT;
 * literals, prefixes (`foo.*`), `.*`, `.+` and alternations of literals
 * (`a|b|c`) never reach PCRE2. A built matcher is read-only: several
 * threads may match with it at once.
 */
#ifndef THANOSC_LABELS_H
#define THANOSC_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tc_buf;

struct label {
  const char *name;
  const char *value;
};

enum labels_flags {
  LABELS_BORROWED = 1 << 0, /* strings are borrowed: release frees only v */
};

struct labels {
  struct label *v; /* owned array, sorted by name once built */
  size_t n;
  size_t cap;
  unsigned flags; /* enum labels_flags */
};

#define LABELS_INIT {0}

void labels_init(struct labels *ls);
/* Frees the pair array and, unless LABELS_BORROWED, the strings. */
void labels_release(struct labels *ls);
/* Empties the set, keeping the array (strings freed as in release). */
void labels_reset(struct labels *ls);
/* Appends a copy of (name, value); empty values are skipped. Call
 * labels_sort() afterwards unless pairs are added in name order. The set
 * must not be LABELS_BORROWED. */
void labels_add(struct labels *ls, const char *name, const char *value);
/* Appends borrowed strings; the set must be LABELS_BORROWED (set it on an
 * empty set with labels_init() + ls->flags = LABELS_BORROWED). */
void labels_add_borrowed(struct labels *ls, const char *name,
                         const char *value);
/* On a sorted, owned set: sets name to a copy of value, keeping the order
 * (replacing an existing value); an empty value deletes the label. */
void labels_set(struct labels *ls, const char *name, const char *value);
/* On a sorted set: removes name if present (frees owned strings). */
void labels_del(struct labels *ls, const char *name);
/* Sorts by name. Returns TC_EINVAL naming the label on duplicate names. */
int labels_sort(struct labels *ls);
/* Deep copy into dst (initialised by this call, owns its strings). */
void labels_copy(struct labels *dst, const struct labels *src);
/* Value of name, or NULL (borrowed from ls). */
const char *labels_get(const struct labels *ls, const char *name);
/* <0, 0, >0 as Prometheus labels.Compare. */
int labels_compare(const struct labels *a, const struct labels *b);
bool labels_equal(const struct labels *a, const struct labels *b);
/* XXH64 over name\xff value\xff ..., as Prometheus labels.Hash. */
uint64_t labels_hash(const struct labels *ls);
/* Appends `{a="b", c="d"}` (Go strconv.Quote on values, and on names
 * outside [a-zA-Z_][a-zA-Z0-9_]*) as Prometheus 3's Labels.String() does. */
int labels_format(const struct labels *ls, struct tc_buf *out);
/* Appends s quoted like Go strconv.Quote. */
int tc_go_quote(struct tc_buf *out, const char *s, size_t n);
/* Appends f formatted like Go strconv.FormatFloat(f, 'g', -1, 64) (shortest
 * round-trip, "NaN", "+Inf", "-Inf", "1e+06"), as promtool tsdb dump
 * prints sample values. */
int tc_format_float(struct tc_buf *out, double f);

/* ---- matchers ---- */

enum matcher_type {
  MATCH_EQ,  /* = */
  MATCH_NEQ, /* != */
  MATCH_RE,  /* =~ */
  MATCH_NRE, /* !~ */
};

struct matcher__re; /* compiled regex state, private */

struct matcher {
  enum matcher_type type;
  char *name;  /* owned */
  char *value; /* owned: literal or the regex source */
  struct matcher__re *re; /* owned, NULL for = and != */
};

/* Builds a matcher (copies name and value). A bad regex gives TC_EPARSE
 * with PCRE2's reason; m is then left released. */
int matcher_init(struct matcher *m, enum matcher_type type, const char *name,
                 const char *value);
void matcher_release(struct matcher *m);
/* Whether the label value s (n bytes; "" for an absent label) matches. */
bool matcher_matches(const struct matcher *m, const char *s, size_t n);
static inline bool matcher_matches_str(const struct matcher *m,
                                       const char *s);
/* For =~ made of an alternation of literals ("a|b|c", or one literal):
 * the literal values (borrowed, valid while m lives) in *vals and their
 * count as return value; 0 otherwise. Lets an index look postings up
 * directly. For = the single value is returned. */
size_t matcher_set_values(const struct matcher *m,
                          const char *const **vals /* OUT */);
/* For =~ with a literal prefix ("foo.*", "foo" + anything): the prefix
 * (borrowed) and its length; NULL otherwise. A match needs the prefix but
 * the prefix alone does not prove one unless the pattern was "prefix.*". */
const char *matcher_prefix(const struct matcher *m, size_t *n /* OUT */);
/* "=", "!=", "=~", "!~". */
const char *matcher_type_str(enum matcher_type t);

/* An owned array of matchers. */
struct matchers {
  struct matcher *v;
  size_t n;
  size_t cap;
};

void matchers_release(struct matchers *ms);
/* Adds one; same errors as matcher_init(). */
int matchers_add(struct matchers *ms, enum matcher_type type,
                 const char *name, const char *value);
/* Whether every matcher accepts ls (absent labels compare as ""). */
bool matchers_match_labels(const struct matchers *ms,
                           const struct labels *ls);

/*
 * Parses a series selector: `metric`, `metric{a="b",c=~"d"}` or
 * `{a!="b", c!~'d'}` (values in "..", '..' or `..`, with Go escapes; a
 * trailing comma is allowed). Matchers are appended to ms (which the caller
 * initialises to {0} and releases). TC_EPARSE with the position on bad
 * input.
 */
int selector_parse(const char *s, struct matchers *ms);

/*
 * Parses a label set written as a selector of equality matchers only:
 * `{a="b", c="d"}` or `metric{a="b"}` (the form labels_format() prints and
 * test files use). out is initialised by the call, owns its strings and is
 * sorted; TC_EPARSE on bad syntax, another operator or a duplicate name.
 */
int labels_parse(const char *s, struct labels *out);

static inline bool matcher_matches_str(const struct matcher *m,
                                       const char *s) {
  size_t n = 0;
  while (s[n])
    n++;
  return matcher_matches(m, s, n);
}

#endif
