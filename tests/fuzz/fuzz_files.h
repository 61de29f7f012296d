/* fuzz_files: scratch files for the fuzz targets whose parsers read paths
 * (config files, TensorFlow.js models, pose sequences): each input is written
 * to a file in a directory of its own, made once per process. */
#ifndef CRTD_FUZZ_FILES_H
#define CRTD_FUZZ_FILES_H

#include <stddef.h>
#include <stdint.h>

/* The process's scratch directory (under $TMPDIR, else /tmp). */
const char *fuzz_dir(void);
/* Writes data to fuzz_dir()/name and returns that path (a static buffer per
 * call site is not needed: the caller copies it if it keeps two). */
const char *fuzz_write(const char *name, const uint8_t *data, size_t size);

#endif
