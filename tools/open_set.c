/* open_set: the out-of-repertoire side of crt eval and crt calibrate. */
#include "open_set.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const double table_thresholds[] = {0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};

int open_set_classes(struct open_set_data *os, const struct crt_model *model)
{
    memset(os, 0, sizeof(*os));
    os->n_classes = crt_model_config(model)->n_classes;
    int other = crt_model_other_class(model);
    os->n_load = os->n_classes + (other < 0);
    os->other_label = other >= 0 ? other : os->n_classes;
    os->classes = calloc((size_t)os->n_load, sizeof(*os->classes));
    if (!os->classes)
        return -ENOMEM;
    for (int c = 0; c < os->n_classes; c++)
        os->classes[c] = crt_model_class(model, c);
    if (other < 0)
        os->classes[os->n_classes] = CRT_OTHER_CLASS;
    return 0;
}

int open_set_run(struct open_set_data *os, const struct crt_model *model, const struct dataset *ds,
                 struct errbuf *err)
{
    size_t n = (size_t)(ds->n ? ds->n : 1);
    bool *scored = calloc(n, sizeof(*scored));
    os->logits = malloc(n * (size_t)os->n_classes * sizeof(float));
    os->labels = malloc(n * sizeof(int));
    int r = scored && os->logits && os->labels ? 0 : errbuf_set(err, -ENOMEM, "out of memory");
    if (r == 0)
        r = train_last_logits(os->logits, scored, model, ds, true, NULL, NULL, err);
    for (int i = 0; r == 0 && i < ds->n; i++)
        os->labels[i] = scored[i] ? ds->clips[i].label : -1;
    os->n = r == 0 ? ds->n : 0;
    free(scored);
    return r;
}

void open_set_done(struct open_set_data *os)
{
    free(os->classes);
    free(os->logits);
    free(os->labels);
    memset(os, 0, sizeof(*os));
}

static void figures_at(const struct open_set_data *os, const struct crt_model *model, double t,
                       struct open_set_figures *f)
{
    train_open_set(f, os->logits, os->labels, os->n, os->n_classes, os->other_label,
                   crt_model_other_class(model), crt_model_temperature(model), t);
}

static void print_row(FILE *out, const char *what, double t, const struct open_set_figures *f)
{
    fprintf(out, "  %-9s %9.2f %13.1f%% %15.1f%% ", what, t, 100 * f->known_mca,
            100 * f->known_rejected);
    if (isnan(f->other_rejected))
        fprintf(out, "%16s\n", "(no Other clips)");
    else
        fprintf(out, "%15.1f%%\n", 100 * f->other_rejected);
}

void open_set_print(FILE *out, const struct open_set_data *os, const struct crt_model *model)
{
    struct open_set_figures f;
    figures_at(os, model, crt_model_threshold(model), &f);
    fprintf(out,
            "\nunknown: %d clips of known classes, %d of Other (outside the repertoire);\n"
            "temperature %.3g, calibration error (ECE) %.3f; %s\n",
            f.known, f.other, (double)crt_model_temperature(model), f.expected_error,
            crt_model_other_class(model) >= 0 ? "the model has an Other class"
                                              : "the model has no Other class");
    fprintf(out, "  %-9s %9s %14s %16s %16s\n", "", "threshold", "known: mean", "known: unknown",
            "Other: unknown");
    print_row(out, "model's", crt_model_threshold(model), &f);
    for (size_t i = 0; i < ARRAY_SIZE(table_thresholds); i++) {
        figures_at(os, model, table_thresholds[i], &f);
        print_row(out, "", table_thresholds[i], &f);
    }
}

json_t *open_set_json(const struct open_set_data *os, const struct crt_model *model)
{
    json_t *rows = json_array();
    struct open_set_figures f;
    for (size_t i = 0; i <= ARRAY_SIZE(table_thresholds); i++) {
        double t = i == 0 ? crt_model_threshold(model) : table_thresholds[i - 1];
        figures_at(os, model, t, &f);
        json_array_append_new(
            rows,
            json_pack("{s:f, s:b, s:o, s:o, s:o}", "threshold", t, "models", i == 0,
                      "known_mean_class_accuracy",
                      isnan(f.known_mca) ? json_null() : json_real(f.known_mca), "known_unknown",
                      isnan(f.known_rejected) ? json_null() : json_real(f.known_rejected),
                      "other_unknown",
                      isnan(f.other_rejected) ? json_null() : json_real(f.other_rejected)));
    }
    figures_at(os, model, crt_model_threshold(model), &f);
    return json_pack("{s:i, s:i, s:f, s:f, s:o}", "known_clips", f.known, "other_clips", f.other,
                     "temperature", (double)crt_model_temperature(model), "threshold",
                     (double)crt_model_threshold(model), "tradeoff", rows);
}
