/* report: how `crt eval` and `crt train` present results to people and
 * machines — per-class tables, confusion matrices as CSV and SVG. */
#ifndef CRTD_TOOLS_REPORT_H
#define CRTD_TOOLS_REPORT_H

#include <stdio.h>

#include "data.h"

/* Rows are true classes, columns predicted ones; a header row and column
 * carry the class names. */
int report_confusion_csv(FILE *out, const struct confusion *cm, const char *const *classes);

/* A picture a person can read: cells shaded by the share of the true class
 * predicted as each class, counts written in, class names on both axes,
 * the title on top. Classes with scored[c] false are left out (NULL: all). */
int report_confusion_svg(FILE *out, const struct confusion *cm, const char *const *classes,
                         const bool *scored, const char *title);

/* Prints "class  samples  recall" lines and the two summary figures. */
void report_class_table(FILE *out, const struct confusion *cm, const char *const *classes,
                        const bool *scored);

/* Writes to path through a temporary file and a rename. */
int report_write_file(const char *path, int (*write)(FILE *out, void *ctx), void *ctx,
                      struct errbuf *err);

#endif
