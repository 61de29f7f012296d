/* mocap_internal: what the BVH and ASF/AMC readers share (mocap.c) — a text
 * file read whole and split into lines and words, strict numbers, Euler
 * rotations, growing a clip frame by frame, and the unit of a file that
 * does not state one. Private to data/. */
#ifndef CRTD_MOCAP_INTERNAL_H
#define CRTD_MOCAP_INTERNAL_H

#include "data.h"

/* A text file in memory. A line is read with mocap_text_line (its words are
 * then words[0..n_words-1], NUL-terminated in place) or word by word across
 * lines with mocap_text_word. line is the number of the line last read. */
struct mocap_text {
    const char *path;
    char *buf;
    size_t size;
    size_t at; /* where the next line starts */
    int line;
    char comment; /* '#' for ASF/AMC, 0 for BVH */
    char **words;
    int n_words;
    int max_words;
    int next_word; /* mocap_text_word's place in the current line */
};

/* Reads path whole (at most MOCAP_MAX_FILE bytes); a line may hold at most
 * max_words words. */
int mocap_text_open(struct mocap_text *t, const char *path, char comment, int max_words,
                    struct errbuf *err);
void mocap_text_done(struct mocap_text *t);
/* The next line that has words: 1, or 0 at the end of the file. */
int mocap_text_line(struct mocap_text *t, struct errbuf *err);
/* The next word, on this line or a later one; NULL at the end of the file
 * (with *ret 0) or on an error (*ret negative). */
const char *mocap_text_word(struct mocap_text *t, int *ret, struct errbuf *err);

/* "path:line: message", returning -EBADMSG. */
int mocap_bad(const struct mocap_text *t, struct errbuf *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same about an earlier line. */
int mocap_bad_line(const struct mocap_text *t, int line, struct errbuf *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A finite number written whole in word, with |value| <= limit. */
int mocap_number(const struct mocap_text *t, const char *word, double limit, const char *what,
                 double *ret_value, struct errbuf *err);

/* Largest value of a length or position in file units, and of an angle in
 * degrees: past these a file is damaged, not a person. */
#define MOCAP_MAX_LENGTH 1e6
#define MOCAP_MAX_ANGLE  1e5

/* Rotation matrices, column vectors (v' = R v), row-major. */
void mocap_rotation_axis(double r[3][3], int axis, double degrees); /* axis 0 X, 1 Y, 2 Z */
void mocap_matmul(double out[3][3], double a[3][3], double b[3][3]);
void mocap_matvec(double out[3], double r[3][3], const double v[3]);
void mocap_identity(double r[3][3]);

/* Allocates names and parents for n joints (n <= MOCAP_MAX_JOINTS); the
 * clip owns them from then on. */
int mocap_clip_begin(struct mocap_clip *clip, int n_joints, const struct mocap_text *t,
                     struct errbuf *err);
/* Room for one more frame: its n_joints positions, to be filled. */
int mocap_clip_add_frame(struct mocap_clip *clip, const struct mocap_text *t, float (**ret)[3],
                         struct errbuf *err);
/* Metres per file unit from the rest pose's extent (rest[j] in file units),
 * into clip->scale and clip->unit; -EBADMSG when no unit gives a standing
 * adult's height. */
int mocap_detect_scale(struct mocap_clip *clip, double (*rest)[3], int n, const char *path,
                       struct errbuf *err);

#endif
