/*
 * s3xml.c - the XML that S3 and STS answer with, parsed by expat into leaf
 * callbacks keyed by element path: ListBucketResult pages (v1 and v2),
 * <Error> documents, and whatever else s3.c and s3creds.c ask for (upload
 * ids, locations, STS credentials). Bounded: depth, text and page sizes.
 */
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objstore/s3.h"
#include "thanosc/common.h"
#include "thanosc/error.h"

#define XML_MAX_DEPTH 16
#define XML_MAX_TEXT (64 * 1024)
#define XML_MAX_PATH 512
#define LIST_MAX_ITEMS 100000

struct xml_state {
  s3xml_fn *fn;
  void *data;
  char path[XML_MAX_PATH];
  size_t plen[XML_MAX_DEPTH + 1];
  int depth;
  int leaf; /* the current element has no child elements so far */
  struct tc_buf text;
  int err;
  XML_Parser parser;
};

static void stop(struct xml_state *s, int err) {
  if (!s->err)
    s->err = err;
  XML_StopParser(s->parser, XML_FALSE);
}

static void on_start(void *ud, const XML_Char *name, const XML_Char **attrs) {
  struct xml_state *s = ud;
  (void)attrs;
  /* Ignore a namespace prefix ("ns:Key" -> "Key"). */
  const char *colon = strrchr(name, ':');
  if (colon)
    name = colon + 1;
  size_t cur = s->depth ? s->plen[s->depth] : 0;
  size_t n = strlen(name);
  if (s->depth >= XML_MAX_DEPTH || cur + n + 2 > XML_MAX_PATH) {
    stop(s, TC_EPARSE);
    return;
  }
  if (cur)
    s->path[cur++] = '/';
  memcpy(s->path + cur, name, n + 1);
  s->plen[++s->depth] = cur + n;
  s->leaf = 1;
  tc_buf_reset(&s->text);
}

static void on_end(void *ud, const XML_Char *name) {
  struct xml_state *s = ud;
  (void)name;
  if (s->leaf) {
    tc_buf_adds(&s->text, "");
    s->fn(s->data, s->path, s->text.data);
  }
  s->leaf = 0;
  s->depth--;
  s->path[s->depth ? s->plen[s->depth] : 0] = '\0';
  tc_buf_reset(&s->text);
}

static void on_text(void *ud, const XML_Char *p, int n) {
  struct xml_state *s = ud;
  if (s->leaf && tc_buf_add(&s->text, p, (size_t)n) < 0)
    stop(s, TC_ELIMIT);
}

int s3xml_parse(const char *p, size_t n, s3xml_fn *fn, void *data) {
  struct xml_state s = {.fn = fn, .data = data};
  tc_buf_init(&s.text, XML_MAX_TEXT);
  s.parser = XML_ParserCreate("UTF-8");
  if (!s.parser)
    TC_BUG("expat: out of memory");
  XML_SetUserData(s.parser, &s);
  XML_SetElementHandler(s.parser, on_start, on_end);
  XML_SetCharacterDataHandler(s.parser, on_text);
  int rc = 0;
  if (n > INT32_MAX) {
    rc = tc_error(TC_ELIMIT, "xml: document too large");
  } else if (XML_Parse(s.parser, p, (int)n, XML_TRUE) != XML_STATUS_OK) {
    if (s.err == TC_ELIMIT)
      rc = tc_error(TC_EPARSE, "xml: element text too long");
    else if (s.err)
      rc = tc_error(TC_EPARSE, "xml: nested too deep");
    else
      rc = tc_error(TC_EPARSE, "xml line %lu: %s",
                    (unsigned long)XML_GetCurrentLineNumber(s.parser),
                    XML_ErrorString(XML_GetErrorCode(s.parser)));
  }
  XML_ParserFree(s.parser);
  tc_buf_release(&s.text);
  return rc;
}

static void copy(char *dst, size_t cap, const char *src) {
  snprintf(dst, cap, "%s", src);
}

static void error_cb(void *data, const char *path, const char *text) {
  struct s3_error *e = data;
  if (!strcmp(path, "Error/Code"))
    copy(e->code, sizeof e->code, text);
  else if (!strcmp(path, "Error/Message"))
    copy(e->message, sizeof e->message, text);
}

void s3xml_error(const char *p, size_t n, struct s3_error *out) {
  memset(out, 0, sizeof *out);
  if (n)
    s3xml_parse(p, n, error_cb, out);
  tc_error_clear();
}

static void push(char ***v, size_t *n, size_t *cap, const char *s) {
  TC_GROW(*v, *cap, *n + 1);
  (*v)[(*n)++] = xstrdup(s);
}

static void list_cb(void *data, const char *path, const char *text) {
  struct s3_list_page *pg = data;
  if (pg->nkeys + pg->nprefixes >= LIST_MAX_ITEMS)
    return;
  if (!strcmp(path, "ListBucketResult/Contents/Key"))
    push(&pg->keys, &pg->nkeys, &pg->capkeys, text);
  else if (!strcmp(path, "ListBucketResult/CommonPrefixes/Prefix"))
    push(&pg->prefixes, &pg->nprefixes, &pg->capprefixes, text);
  else if (!strcmp(path, "ListBucketResult/IsTruncated"))
    pg->truncated = !strcmp(text, "true");
  else if (!strcmp(path, "ListBucketResult/NextContinuationToken")) {
    free(pg->next_token);
    pg->next_token = xstrdup(text);
  } else if (!strcmp(path, "ListBucketResult/NextMarker")) {
    free(pg->next_marker);
    pg->next_marker = xstrdup(text);
  }
}

int s3xml_list(const char *p, size_t n, struct s3_list_page *out) {
  memset(out, 0, sizeof *out);
  int rc = s3xml_parse(p, n, list_cb, out);
  if (rc < 0)
    s3_list_page_release(out);
  return rc;
}

void s3_list_page_release(struct s3_list_page *pg) {
  for (size_t i = 0; i < pg->nkeys; i++)
    free(pg->keys[i]);
  for (size_t i = 0; i < pg->nprefixes; i++)
    free(pg->prefixes[i]);
  free(pg->keys);
  free(pg->prefixes);
  free(pg->next_token);
  free(pg->next_marker);
  memset(pg, 0, sizeof *pg);
}
