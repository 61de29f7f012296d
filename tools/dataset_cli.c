/* dataset_cli: what loading a folder of pose sequences prints. */
#include <stdio.h>

#include "commands.h"
#include "train.h"

static void print_skipped(void *user, const char *path, const char *why)
{
    if (path)
        fprintf(user, "skipped %s: %s\n", path, why);
    else
        fprintf(user, "skipped %s\n", why);
}

static void print_progress(void *user, const char *dir, int done, int total)
{
    fprintf(user, "\rloading %s: %d/%d files", dir, done, total);
}

static void print_loaded(void *user, const char *dir, int clips, int skipped, double seconds)
{
    fprintf(user, "\rloaded %d clips from %s in %.1f s (%d skipped)\n", clips, dir, seconds,
            skipped);
}

struct dataset_report cli_dataset_report(FILE *out)
{
    return (struct dataset_report){
        .skipped = print_skipped, .progress = print_progress, .loaded = print_loaded, .user = out};
}
