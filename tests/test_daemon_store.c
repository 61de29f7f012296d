/* Unit tests of the SQLite state store, on disk in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include <math.h>

#include "labels_export.h"
#include "store.h"

#define NOPLACE ((struct store_place){0})

static int setup(void **state)
{
    char *dir = strdup("/tmp/crtd-store-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)*state);
    free(*state);
    return system(cmd) == 0 ? 0 : -1;
}

static void streams_last(void **state)
{
    struct store *s;
    struct errbuf err;
    struct store_stream a = {.name = "a",
                             .url = "rtsp://x/1",
                             .fps = 5,
                             .enabled = true,
                             .options = "{\"max_side\":320,\"transport\":\"udp\"}"};
    struct store_stream b = {.name = "b", .url = "synthetic:script=Walk", .enabled = false};
    struct store_stream *list = NULL;
    size_t n = 0;

    assert_int_equal(store_open(*state, &s, &err), 0);
    assert_int_equal(store_stream_put(s, &a, &err), 0);
    assert_int_equal(store_stream_put(s, &b, &err), 0);
    s = store_free(s);

    assert_int_equal(store_open(*state, &s, &err), 0);
    assert_int_equal(store_streams_load(s, &list, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "a");
    assert_string_equal(list[0].url, "rtsp://x/1");
    assert_true(list[0].fps == 5);
    assert_true(list[0].enabled);
    assert_string_equal(list[0].options, a.options); /* the video options given */
    assert_false(list[1].enabled);
    assert_string_equal(list[1].options, "{}"); /* none given */
    free(list);
    assert_int_equal(store_stream_delete(s, "a", &err), 0);
    assert_int_equal(store_streams_load(s, &list, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].name, "b");
    free(list);
    store_free(s);
    assert_null(store_free(NULL));
}

static void memory_checkpoints_by_kind(void **state)
{
    struct store *s;
    struct errbuf err;
    float memory[128], *got = NULL;
    size_t size = 0;
    uint64_t segments = 0;
    for (int i = 0; i < 128; i++)
        memory[i] = (float)i * 0.5f;

    assert_int_equal(store_open(*state, &s, &err), 0);
    assert_int_equal(store_memory_get(s, "a", "crt-v1", (void **)&got, &size, &segments, &err),
                     -ENOENT);
    assert_int_equal(store_checkpoint(s, "a", "crt-v1", 42, memory, sizeof(memory), 0, 10, &err),
                     0);
    memory[0] = 99;
    assert_int_equal(store_checkpoint(s, "a", "crt-v1", 43, memory, sizeof(memory), 0, 11, &err),
                     0);
    s = store_free(s);

    assert_int_equal(store_open(*state, &s, &err), 0);
    assert_int_equal(store_memory_get(s, "a", "crt-v1", (void **)&got, &size, &segments, &err), 0);
    assert_int_equal(size, sizeof(memory));
    assert_int_equal(segments, 43);
    assert_memory_equal(got, memory, sizeof(memory));
    free(got);
    /* A memory of another model is never handed out. */
    assert_int_equal(store_memory_get(s, "a", "rmt-v1", (void **)&got, &size, &segments, &err),
                     -ENOENT);
    assert_int_equal(store_memory_delete(s, "a", &err), 0);
    assert_int_equal(store_memory_get(s, "a", "crt-v1", (void **)&got, &size, &segments, &err),
                     -ENOENT);
    store_free(s);
}

static json_t *interval(json_t *array, size_t i)
{
    json_t *item = json_array_get(array, i);
    assert_non_null(item);
    return item;
}

static void history_intervals_and_retention(void **state)
{
    struct store *s;
    struct errbuf err;
    json_t *array = NULL;
    int64_t id1, id2, id3;
    char dummy = 0;

    assert_int_equal(store_open(*state, &s, &err), 0);
    assert_int_equal(
        store_history_switch(s, "a", 0, "activity", "Walk", 0.7f, 1, NOPLACE, 1000, &id1, &err), 0);
    assert_int_equal(
        store_history_switch(s, "a", id1, "nobody", NULL, 0, 0, NOPLACE, 1010, &id2, &err), 0);
    assert_int_equal(store_history_switch(s, "a", id2, "activity", "Sitdown", 0.6f, 2, NOPLACE,
                                          1020, &id3, &err),
                     0);
    assert_int_equal(
        store_history_switch(s, "b", 0, "activity", "Walk", 0.7f, 0, NOPLACE, 1005, &id1, &err), 0);
    /* A checkpoint moves the end of the open interval. */
    assert_int_equal(store_checkpoint(s, "a", "k", 1, &dummy, 1, id3, 1030, &err), 0);

    assert_int_equal(store_history_query(s, "a", -1, -1, 100, &array, &err), 0);
    assert_int_equal(json_array_size(array), 3);
    assert_string_equal(json_string_value(json_object_get(interval(array, 0), "label")), "Walk");
    assert_string_equal(json_string_value(json_object_get(interval(array, 0), "end")),
                        "1970-01-01T00:16:50.000Z");
    assert_true(json_is_null(json_object_get(interval(array, 1), "label")));
    assert_string_equal(json_string_value(json_object_get(interval(array, 1), "state")), "nobody");
    assert_true(json_is_true(json_object_get(interval(array, 2), "open")));
    assert_true(json_is_null(json_object_get(interval(array, 2), "end")));
    json_decref(array);

    /* Overlap with [1012, 1015] is only the nobody interval; limit keeps the newest. */
    assert_int_equal(store_history_query(s, "a", 1012, 1015, 100, &array, &err), 0);
    assert_int_equal(json_array_size(array), 1);
    json_decref(array);
    assert_int_equal(store_history_query(s, "a", -1, -1, 2, &array, &err), 0);
    assert_int_equal(json_array_size(array), 2);
    assert_string_equal(json_string_value(json_object_get(interval(array, 1), "label")), "Sitdown");
    json_decref(array);

    /* A restart closes what was open, at its last checkpoint. */
    s = store_free(s);
    assert_int_equal(store_open(*state, &s, &err), 0);
    assert_int_equal(store_history_query(s, "a", -1, -1, 100, &array, &err), 0);
    assert_true(json_is_false(json_object_get(interval(array, 2), "open")));
    assert_string_equal(json_string_value(json_object_get(interval(array, 2), "end")),
                        "1970-01-01T00:17:10.000Z");
    json_decref(array);

    /* Retention: intervals that ended before 1015 go (a's Walk, b's Walk). */
    assert_int_equal(store_history_prune(s, 1015, &err), 2);
    assert_int_equal(store_history_query(s, "a", -1, -1, 100, &array, &err), 0);
    assert_int_equal(json_array_size(array), 2);
    json_decref(array);
    /* Deleting a stream deletes its history. */
    assert_int_equal(store_stream_delete(s, "a", &err), 0);
    assert_int_equal(store_history_query(s, "a", -1, -1, 100, &array, &err), 0);
    assert_int_equal(json_array_size(array), 0);
    json_decref(array);
    store_free(s);
}

/* A database written by crtd before people were tracked (schema 1, its
 * tables as that crtd made them) opens, keeps its history and gains the
 * person column; new intervals carry their person. */
static void an_old_schema_database_is_migrated(void **state)
{
    char path[200];
    sqlite3 *db;
    snprintf(path, sizeof(path), "%s/crtd.db", (char *)*state);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                     "CREATE TABLE streams (name TEXT PRIMARY KEY, url TEXT NOT NULL,"
                     "  fps REAL NOT NULL DEFAULT 0, enabled INTEGER NOT NULL DEFAULT 1,"
                     "  created REAL NOT NULL);"
                     "CREATE TABLE memory (stream TEXT PRIMARY KEY, kind TEXT NOT NULL,"
                     "  segments INTEGER NOT NULL, saved REAL NOT NULL, state BLOB NOT NULL);"
                     "CREATE TABLE history (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                     "  stream TEXT NOT NULL, state TEXT NOT NULL, label TEXT, score REAL,"
                     "  start REAL NOT NULL, end REAL NOT NULL, open INTEGER NOT NULL DEFAULT 1,"
                     "  CHECK (end >= start));"
                     "INSERT INTO meta VALUES ('schema', '1');"
                     "INSERT INTO streams VALUES ('old', 'rtsp://cam/1', 0, 1, 1);"
                     "INSERT INTO history (stream, state, label, score, start, end, open)"
                     "  VALUES ('old', 'activity', 'Walk', 0.7, 1000, 1010, 0);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);

    struct store *s;
    struct errbuf err;
    json_t *array = NULL;
    int64_t id;
    assert_int_equal(store_open(*state, &s, &err), 0);
    assert_int_equal(store_history_query(s, "old", -1, -1, 100, &array, &err), 0);
    assert_int_equal(json_array_size(array), 1);
    assert_string_equal(json_string_value(json_object_get(interval(array, 0), "label")), "Walk");
    assert_true(json_is_null(json_object_get(interval(array, 0), "person")));
    json_decref(array);
    assert_int_equal(
        store_history_switch(s, "old", 0, "activity", "Sitdown", 0.6f, 4, NOPLACE, 1020, &id, &err),
        0);
    assert_int_equal(store_history_query(s, "old", -1, -1, 100, &array, &err), 0);
    assert_int_equal(json_array_size(array), 2);
    assert_int_equal(json_integer_value(json_object_get(interval(array, 1), "person")), 4);
    json_decref(array);
    struct store_stream *streams = NULL;
    size_t n = 0;
    assert_int_equal(store_streams_load(s, &streams, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(streams[0].options, "{}"); /* the column added, no options */
    free(streams);
    store_free(s);

    /* It gained the alerts and zones tables. */
    struct store_alert *alerts = NULL;
    assert_int_equal(store_open(*state, &s, &err), 0);
    assert_int_equal(store_alerts_query(s, "", "", "", -1, 10, &alerts, &n, &err), 0);
    assert_int_equal(n, 0);
    free(alerts);
    store_free(s);

    /* And the labels table. */
    struct store_label *labels = NULL;
    struct store_label_query lq = {.track = -1, .since = -1, .until = -1};
    assert_int_equal(store_open(*state, &s, &err), 0);
    assert_int_equal(store_labels_query(s, &lq, &labels, &n, &err), 0);
    assert_int_equal(n, 0);
    free(labels);
    store_free(s);

    /* It now says schema 4, and opens again. */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema'", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "4");
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_int_equal(store_open(*state, &s, &err), 0);
    store_free(s);
}

/* A database of the crtd before site, room and pauses (schema 3, its
 * streams and history tables as that crtd made them) opens: its streams
 * and intervals are kept with no site or room, new ones carry theirs, and
 * pauses are kept. */
static void a_schema_3_database_gains_site_room_and_pauses(void **state)
{
    char path[256];
    sqlite3 *db;
    snprintf(path, sizeof(path), "%s/crtd.db", (char *)*state);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                     "CREATE TABLE streams (name TEXT PRIMARY KEY, url TEXT NOT NULL,"
                     "  fps REAL NOT NULL DEFAULT 0, enabled INTEGER NOT NULL DEFAULT 1,"
                     "  created REAL NOT NULL);"
                     "CREATE TABLE memory (stream TEXT PRIMARY KEY, kind TEXT NOT NULL,"
                     "  segments INTEGER NOT NULL, saved REAL NOT NULL, state BLOB NOT NULL);"
                     "CREATE TABLE history (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                     "  stream TEXT NOT NULL, state TEXT NOT NULL, label TEXT, score REAL,"
                     "  start REAL NOT NULL, end REAL NOT NULL, open INTEGER NOT NULL DEFAULT 1,"
                     "  person INTEGER, CHECK (end >= start));"
                     "CREATE TABLE alerts (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                     "  rule TEXT NOT NULL, kind TEXT NOT NULL, stream TEXT NOT NULL,"
                     "  track INTEGER, zone TEXT, state TEXT NOT NULL, started REAL NOT NULL,"
                     "  confirmed REAL, cleared REAL, acknowledged_by TEXT, acknowledged_at REAL,"
                     "  updated REAL NOT NULL, message TEXT NOT NULL DEFAULT '');"
                     "CREATE TABLE zones (stream TEXT NOT NULL, name TEXT NOT NULL,"
                     "  kind TEXT NOT NULL, points TEXT NOT NULL, created REAL NOT NULL,"
                     "  PRIMARY KEY (stream, name));"
                     "INSERT INTO meta VALUES ('schema', '3');"
                     "INSERT INTO streams VALUES ('old', 'rtsp://cam/1', 0, 1, 1);"
                     "INSERT INTO history (stream, state, label, score, start, end, open, person)"
                     "  VALUES ('old', 'activity', 'Walk', 0.7, 1000, 1010, 0, 2);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);

    struct store *s;
    struct errbuf err;
    json_t *array = NULL;
    int64_t id;
    struct store_stream *streams = NULL;
    size_t n = 0;
    assert_int_equal(store_open(*state, &s, &err), 0);
    assert_int_equal(store_streams_load(s, &streams, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(streams[0].url, "rtsp://cam/1");
    assert_string_equal(streams[0].site, "");
    assert_string_equal(streams[0].room, "");
    free(streams);
    struct store_stream placed = {.name = "new",
                                  .url = "rtsp://cam/2",
                                  .enabled = true,
                                  .site = "Rose wing",
                                  .room = "Room 12"};
    assert_int_equal(store_stream_put(s, &placed, &err), 0);
    assert_int_equal(store_history_switch(s, "old", 0, "activity", "Sitdown", 0.6f, 4,
                                          (struct store_place){"Rose wing", "Room 12"}, 1020, &id,
                                          &err),
                     0);
    assert_int_equal(store_history_query(s, "old", -1, -1, 100, &array, &err), 0);
    assert_int_equal(json_array_size(array), 2);
    assert_true(json_is_null(json_object_get(interval(array, 0), "site")));
    assert_true(json_is_null(json_object_get(interval(array, 0), "room")));
    assert_int_equal(json_integer_value(json_object_get(interval(array, 0), "person")), 2);
    assert_string_equal(json_string_value(json_object_get(interval(array, 1), "site")),
                        "Rose wing");
    assert_string_equal(json_string_value(json_object_get(interval(array, 1), "room")), "Room 12");
    json_decref(array);

    /* A pause is kept until it is lifted, and closes the open interval. */
    assert_false(store_paused(s, "old"));
    assert_int_equal(store_pause_set(s, "old", true, &err), 0);
    assert_int_equal(store_history_close(s, id, 1030, &err), 0);
    store_free(s);

    assert_int_equal(store_open(*state, &s, &err), 0);
    assert_true(store_paused(s, "old"));
    assert_false(store_paused(s, "new"));
    assert_int_equal(store_streams_load(s, &streams, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(streams[1].site, "Rose wing");
    assert_string_equal(streams[1].room, "Room 12");
    free(streams);
    assert_int_equal(store_history_query(s, "old", -1, -1, 100, &array, &err), 0);
    assert_false(json_is_true(json_object_get(interval(array, 1), "open")));
    assert_string_equal(json_string_value(json_object_get(interval(array, 1), "end")),
                        "1970-01-01T00:17:10.000Z");
    json_decref(array);
    assert_int_equal(store_pause_set(s, "old", false, &err), 0);
    assert_false(store_paused(s, "old"));
    /* Deleting a stream lifts its pause. */
    assert_int_equal(store_pause_set(s, "new", true, &err), 0);
    assert_int_equal(store_stream_delete(s, "new", &err), 0);
    assert_false(store_paused(s, "new"));
    store_free(s);

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema'", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "4");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Labels: kept with their keypoints, refused where they overlap one of the
 * same track, read back by a read-only store, and exported as pose
 * sequences on a grid. */
static void labels_last_and_export(void **state)
{
    struct store *s, *ro;
    struct errbuf err;
    assert_int_equal(store_open_readonly(*state, 4, &ro, &err), -ENOENT);
    assert_int_equal(store_open(*state, &s, &err), 0);

    /* Track 3 at 20 fps for 2 s, its right wrist moving. */
    enum { N = 41 };
    struct pose_archive_record recs[N];
    for (int i = 0; i < N; i++) {
        recs[i] = (struct pose_archive_record){.wall = 1000 + 0.05 * i, .track = 3};
        for (int k = 0; k < POSE_NUM_KEYPOINTS; k++)
            recs[i].keypoints[k] = (struct pose_keypoint){0.3f + 0.01f * k, 0.5f, 0.8f};
        recs[i].keypoints[10].x = 0.2f + 0.01f * (float)i;
    }
    struct pose_archive_record copy[N];
    memcpy(copy, recs, sizeof(recs));
    void *kp;
    size_t size;
    struct store_label a = {.track = 3, .start = 1000, .end = 1002, .records = N};
    strcpy(a.stream, "cam");
    strcpy(a.class_name, "Feeds the cat");
    strcpy(a.tracks, "3");
    assert_int_equal(pose_archive_encode(copy, N, &kp, &size, &a.t_first), 0);
    assert_int_equal(store_label_put(s, &a, kp, size, &err), 0);
    assert_true(a.id > 0);
    /* The same track, or the camera, over it: refused, naming it. */
    struct store_label b = a;
    b.id = 0;
    b.start = 1001.5;
    b.end = 1003;
    assert_int_equal(store_label_put(s, &b, kp, size, &err), -EEXIST);
    assert_non_null(strstr(err.msg, "label 1 "));
    b.track = 0;
    assert_int_equal(store_label_put(s, &b, kp, size, &err), -EEXIST);
    b.track = 4;
    b.negative = true;
    strcpy(b.class_name, "Walk");
    assert_int_equal(store_label_put(s, &b, kp, size, &err), 0);
    /* An update without keypoints keeps them. */
    strcpy(a.note, "by the door");
    assert_int_equal(store_label_put(s, &a, NULL, 0, &err), 0);
    struct store_label missing = a;
    missing.id = 99;
    assert_int_equal(store_label_put(s, &missing, NULL, 0, &err), -ENOENT);
    free(kp);
    store_free(s);

    /* A read-only store (crtd may be running) gives them back. */
    assert_int_equal(store_open_readonly(*state, 4, &ro, &err), 0);
    assert_int_equal(store_open_readonly(*state, 5, &s, &err), -EPROTO);
    struct store_label got;
    assert_int_equal(store_label_get(ro, a.id, &got, &err), 0);
    assert_string_equal(got.note, "by the door");
    assert_int_equal(got.records, N);
    char **classes;
    int n_classes;
    assert_int_equal(labels_export_classes(ro, NULL, &classes, &n_classes, &err), 0);
    assert_int_equal(n_classes, 1); /* "not this" names no class of its own */
    assert_string_equal(classes[0], "Feeds the cat");
    struct labels_export_options opts = {.fps = 10};
    struct labels_export_sequence *seqs;
    int n;
    assert_int_equal(labels_export_sequences(ro, &got, &opts, (const char *const *)classes,
                                             n_classes, &seqs, &n, &err),
                     0);
    assert_int_equal(n, 1);
    assert_int_equal(seqs[0].track, 3);
    assert_int_equal(seqs[0].seq.frames, 21);
    double worst = 0;
    for (int f = 0; f < seqs[0].seq.frames; f++) {
        assert_int_equal(seqs[0].seq.labels[f], 0);
        /* frame f is at 0.1 f s: record 2 f */
        worst = fmax(worst, fabs(seqs[0].seq.keypoints[f][10].x - recs[2 * f].keypoints[10].x));
    }
    printf("export: worst wrist error %.2g over %d frames\n", worst, seqs[0].seq.frames);
    assert_true(worst <= 0.5 / POSE_ARCHIVE_XY_STEPS + 1e-6);
    labels_export_sequences_free(seqs, n);
    labels_export_classes_free(classes, n_classes);
    store_free(ro);
}

static void alerts_and_zones_last(void **state)
{
    struct store *s;
    struct errbuf err;
    struct store_alert a = {.track = 3,
                            .started = 1000,
                            .confirmed = 1001,
                            .cleared = -1,
                            .acknowledged_at = -1,
                            .updated = 1001},
                       b = a, got;
    struct store_alert *list = NULL;
    size_t n = 0;
    assert_int_equal(store_open(*state, &s, &err), 0);
    strcpy(a.rule, "floor");
    strcpy(a.kind, "on_floor");
    strcpy(a.stream, "hall");
    strcpy(a.state, "active");
    strcpy(a.message, "person 3 on the floor");
    assert_int_equal(store_alert_put(s, &a, &err), 0);
    assert_true(a.id > 0);
    b = a;
    b.id = 0;
    b.track = 0;
    strcpy(b.rule, "down");
    strcpy(b.kind, "camera_down");
    strcpy(b.stream, "yard");
    strcpy(b.zone, "gate");
    assert_int_equal(store_alert_put(s, &b, &err), 0);
    assert_true(b.id > a.id);
    /* Acknowledged, then cleared: one row changes. */
    strcpy(a.state, "cleared");
    strcpy(a.acknowledged_by, "ann");
    a.acknowledged_at = 1002;
    a.cleared = a.updated = 1003;
    assert_int_equal(store_alert_put(s, &a, &err), 0);
    store_free(s);

    assert_int_equal(store_open(*state, &s, &err), 0);
    assert_int_equal(store_alert_get(s, a.id, &got, &err), 0);
    assert_string_equal(got.state, "cleared");
    assert_string_equal(got.acknowledged_by, "ann");
    assert_int_equal(got.track, 3);
    assert_true(got.cleared == 1003 && got.confirmed == 1001 && got.acknowledged_at == 1002);
    assert_int_equal(store_alert_get(s, 999, &got, &err), -ENOENT);
    assert_int_equal(store_alerts_query(s, "open", "", "", -1, 10, &list, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, b.id);
    assert_string_equal(list[0].zone, "gate");
    assert_int_equal(list[0].track, 0);
    assert_true(list[0].cleared < 0);
    free(list);
    assert_int_equal(store_alerts_query(s, "", "hall", "", -1, 10, &list, &n, &err), 0);
    assert_int_equal(n, 1);
    free(list);
    assert_int_equal(store_alerts_query(s, "", "", "", 1002, 10, &list, &n, &err), 0);
    assert_int_equal(n, 1); /* only a changed since then */
    assert_int_equal(list[0].id, a.id);
    free(list);

    /* Retention: cleared alerts updated before the bound go; open ones stay. */
    assert_int_equal(store_alerts_prune(s, 2000, &err), 1);
    assert_int_equal(store_alert_get(s, a.id, &got, &err), -ENOENT);
    assert_int_equal(store_alert_get(s, b.id, &got, &err), 0);

    /* Zones: put, replace, load, delete, gone with their stream. */
    struct store_zone z = {.stream = "hall", .name = "bed", .kind = "bed"}, *zones = NULL;
    strcpy(z.points, "0.1,0.1 0.4,0.1 0.4,0.4");
    assert_int_equal(store_zone_put(s, &z, &err), 0);
    strcpy(z.kind, "seat");
    assert_int_equal(store_zone_put(s, &z, &err), 0);
    strcpy(z.name, "door");
    assert_int_equal(store_zone_put(s, &z, &err), 0);
    assert_int_equal(store_zones_load(s, &zones, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(zones[0].kind, "seat");
    free(zones);
    assert_int_equal(store_zone_delete(s, "hall", "door", &err), 0);
    assert_int_equal(store_zones_load(s, &zones, &n, &err), 0);
    assert_int_equal(n, 1);
    free(zones);
    assert_int_equal(store_stream_delete(s, "hall", &err), 0);
    assert_int_equal(store_zones_load(s, &zones, &n, &err), 0);
    assert_int_equal(n, 0);
    free(zones);
    store_free(s);
}

static void unwritable_directory_fails_with_a_message(void **state)
{
    struct store *s = NULL;
    struct errbuf err;
    errbuf_clear(&err);
    assert_true(store_open("/nonexistent/dir", &s, &err) < 0);
    assert_null(s);
    assert_non_null(strstr(err.msg, "/nonexistent/dir/crtd.db"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(streams_last, setup, teardown),
        cmocka_unit_test_setup_teardown(memory_checkpoints_by_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(history_intervals_and_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(an_old_schema_database_is_migrated, setup, teardown),
        cmocka_unit_test_setup_teardown(a_schema_3_database_gains_site_room_and_pauses, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(alerts_and_zones_last, setup, teardown),
        cmocka_unit_test_setup_teardown(labels_last_and_export, setup, teardown),
        cmocka_unit_test(unwritable_directory_fails_with_a_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
