/* The subcommands of `crt`. Each lives in its own cmd_*.c file and is listed
 * once in the table in crt.c. A command returns the process exit status:
 * 0 success, 1 failure (already reported on stderr), 2 usage error. */
#ifndef CRTD_TOOLS_COMMANDS_H
#define CRTD_TOOLS_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>

#include "base.h"

#define EXIT_USAGE 2

int cmd_classes(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_mocap(int argc, char **argv); /* cmd_mocap.c */
int cmd_eval(int argc, char **argv);
/* crt eval --falls DIR (cmd_eval_falls.c), which cmd_eval hands over to. */
int cmd_eval_falls(int argc, char **argv);
int cmd_train(int argc, char **argv);
/* crt train --finetune (cmd_finetune.c), which cmd_train hands over to. */
int cmd_train_finetune(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_track(int argc, char **argv);         /* cmd_track.c */
int cmd_defects(int argc, char **argv);       /* cmd_defects.c */
int cmd_probe(int argc, char **argv);         /* cmd_probe.c */
int bench_decode(int argc, char **argv);      /* bench_decode.c */
int cmd_model_info(int argc, char **argv);    /* cmd_model_info.c */
int bench_model(int argc, char **argv);       /* bench_model.c */
int cmd_pose(int argc, char **argv);          /* cmd_pose.c */
int bench_pose(int argc, char **argv);        /* bench_pose.c */
int bench_train(int argc, char **argv);       /* bench_train.c */
int bench_e2e(int argc, char **argv);         /* bench_e2e.c */
int bench_tracker(int argc, char **argv);     /* bench_tracker.c */
int bench_finetune(int argc, char **argv);    /* bench_finetune.c */
int cmd_compare(int argc, char **argv);       /* cmd_compare.c */
int cmd_export_labels(int argc, char **argv); /* cmd_export_labels.c */
int cmd_archive(int argc, char **argv);       /* cmd_archive.c */

/* Picks OpenBLAS's AVX-512 kernels where the CPU has them, by setting
 * OPENBLAS_CORETYPE and re-executing; first thing in main (pose_cli.c). */
void cli_tune_blas(char **argv);

/* The benchmarks of `crt bench <target>`, one per topic (cmd_bench.c). */
struct bench_target {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

/* Prints what loading a folder of pose sequences reports (files skipped,
 * progress, the count) on out (dataset_cli.c). */
struct dataset_report;
struct dataset_report cli_dataset_report(FILE *out);

/* True when argv holds -h or --help; commands print their usage then. */
bool cli_wants_help(int argc, char **argv);

/* Reports a failure the way every crt command does: "crt <cmd>: message". */
void cli_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A whole decimal number from lo to hi; false (and *ret untouched) otherwise. */
bool cli_parse_long(const char *text, long lo, long hi, long *ret);

#endif
