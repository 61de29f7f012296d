/* The video options shared by `crt probe` and `crt bench decode`. */
#ifndef CRTD_TOOLS_VIDEO_CLI_H
#define CRTD_TOOLS_VIDEO_CLI_H

#include <stdio.h>

#include "video.h"

/* Prints the options video_cli_option() understands. */
void video_cli_usage(FILE *out);

/* Takes argv[*i] (and its value, advancing *i) when it is a video option:
 * 1 when taken, 0 when not a video option, -1 after reporting a usage error
 * as "crt <command>: ...". */
int video_cli_option(struct video_options *opts, int argc, char **argv, int *i,
                     const char *command);

/* Parses a number in [min, max]; -1 after reporting "crt <command>: ...". */
int video_cli_number(const char *text, double min, double max, const char *command,
                     const char *option, double *ret_value);

#endif
