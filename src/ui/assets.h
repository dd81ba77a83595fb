/*
 * assets.h - the files of web/, compiled into the binary by
 * src/ui/embed.cmake (ui_assets.c in the build tree). Paths are relative to
 * web/ ("index.html", "static/app.js"); each ETag is a quoted prefix of the
 * file's SHA-256, so it changes whenever the file does.
 */
#ifndef THANOSC_UI_ASSETS_H
#define THANOSC_UI_ASSETS_H

#include <stddef.h>

struct ui_asset {
  const char *path;
  const unsigned char *data; /* len bytes, then a '\0' */
  size_t len;
  const char *etag;
};

extern const struct ui_asset ui_assets[];
extern const size_t ui_nassets;

#endif
