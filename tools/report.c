/* report: per-class tables and confusion matrices as CSV and SVG. */
#include "report.h"

#include <math.h>
#include <string.h>

/* CSV fields are quoted when they hold a comma or a quote. */
static void csv_field(FILE *out, const char *text)
{
    if (!strpbrk(text, ",\"\n")) {
        fputs(text, out);
        return;
    }
    fputc('"', out);
    for (const char *p = text; *p; p++) {
        if (*p == '"')
            fputc('"', out);
        fputc(*p, out);
    }
    fputc('"', out);
}

int report_confusion_csv(FILE *out, const struct confusion *cm, const char *const *classes)
{
    fputs("true\\predicted", out);
    for (int p = 0; p < cm->n_classes; p++) {
        fputc(',', out);
        csv_field(out, classes[p]);
    }
    fputc('\n', out);
    for (int t = 0; t < cm->n_classes; t++) {
        csv_field(out, classes[t]);
        for (int p = 0; p < cm->n_classes; p++)
            fprintf(out, ",%lld", (long long)cm->counts[t * cm->n_classes + p]);
        fputc('\n', out);
    }
    return ferror(out) ? -EIO : 0;
}

static void xml_text(FILE *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '&':
            fputs("&amp;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        default:
            fputc(*p, out);
        }
    }
}

int report_confusion_svg(FILE *out, const struct confusion *cm, const char *const *classes,
                         const bool *scored, const char *title)
{
    int shown[4096];
    int n = 0;
    for (int c = 0; c < cm->n_classes && n < (int)ARRAY_SIZE(shown); c++)
        if (!scored || scored[c])
            shown[n++] = c;

    const int cell = 28, label_w = 170, top = 60 + label_w;
    int width = label_w + n * cell + 40, height = top + n * cell + 50;

    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n",
            width, height, width, height);
    fprintf(out, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(out, "<text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">");
    xml_text(out, title ? title : "confusion matrix");
    fprintf(out, "</text>\n<text x=\"10\" y=\"42\">rows: true class; columns: predicted "
                 "class; shade: share of the row</text>\n");

    for (int i = 0; i < n; i++) {
        int c = shown[i];
        /* Row labels on the left, column labels rotated on top. */
        fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w - 6,
                top + i * cell + cell / 2 + 4);
        xml_text(out, classes[c]);
        fprintf(out, "</text>\n<text transform=\"translate(%d,%d) rotate(-60)\">",
                label_w + i * cell + cell / 2 + 4, top - 6);
        xml_text(out, classes[c]);
        fprintf(out, "</text>\n");
    }
    for (int i = 0; i < n; i++) {
        int64_t row = confusion_class_total(cm, shown[i]);
        for (int j = 0; j < n; j++) {
            int64_t count = cm->counts[shown[i] * cm->n_classes + shown[j]];
            double share = row ? (double)count / (double)row : 0;
            /* White to dark blue; diagonal cells in the same scale. */
            int r = (int)lround(255 - share * 225), g = (int)lround(255 - share * 185),
                b = (int)lround(255 - share * 80);
            fprintf(out,
                    "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"rgb(%d,%d,%d)\" "
                    "stroke=\"#ccc\"><title>",
                    label_w + j * cell, top + i * cell, cell, cell, r, g, b);
            xml_text(out, classes[shown[i]]);
            fputs(" as ", out);
            xml_text(out, classes[shown[j]]);
            fprintf(out, ": %lld</title></rect>\n", (long long)count);
            if (count)
                fprintf(out,
                        "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"9\" "
                        "fill=\"%s\">%lld</text>\n",
                        label_w + j * cell + cell / 2, top + i * cell + cell / 2 + 3,
                        share > 0.5 ? "white" : "black", (long long)count);
        }
    }
    int classes_counted = 0;
    double mca = confusion_mean_class_accuracy(cm, scored, &classes_counted);
    fprintf(out,
            "<text x=\"10\" y=\"%d\">mean per-class accuracy %.1f%% over %d classes; overall "
            "accuracy %.1f%% over %lld samples</text>\n</svg>\n",
            height - 18, 100 * mca, classes_counted, 100 * confusion_accuracy(cm),
            (long long)confusion_total(cm));
    return ferror(out) ? -EIO : 0;
}

void report_class_table(FILE *out, const struct confusion *cm, const char *const *classes,
                        const bool *scored)
{
    fprintf(out, "%-24s %8s %8s\n", "class", "samples", "recall");
    for (int c = 0; c < cm->n_classes; c++) {
        if (scored && !scored[c])
            continue;
        int64_t n = confusion_class_total(cm, c);
        if (n == 0)
            fprintf(out, "%-24s %8d %8s\n", classes[c], 0, "-");
        else
            fprintf(out, "%-24s %8lld %7.1f%%\n", classes[c], (long long)n,
                    100 * confusion_recall(cm, c));
    }
    int counted = 0;
    double mca = confusion_mean_class_accuracy(cm, scored, &counted);
    fprintf(out,
            "mean per-class accuracy %.2f%% (%d classes), overall accuracy %.2f%% (%lld samples)\n",
            100 * mca, counted, 100 * confusion_accuracy(cm), (long long)confusion_total(cm));
}

int report_write_file(const char *path, int (*write)(FILE *out, void *ctx), void *ctx,
                      struct errbuf *err)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return errbuf_set(err, -ENAMETOOLONG, "%s: path too long", path);
    FILE *out = fopen(tmp, "w");
    if (!out)
        return errbuf_set(err, -errno, "%s: %s", tmp, strerror(errno));
    int r = write(out, ctx);
    if (fclose(out) != 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        return errbuf_set(err, r, "%s: %s", path, strerror(-r));
    }
    return 0;
}
