/* Unit tests of the configuration: INI with comments, stream sections,
 * drop-ins, command-line streams, errors naming file and line, tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "config.h"
#include "rules.h"

struct tmp {
    char dir[64];
    char path[128];
};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    struct tmp *t = calloc(1, sizeof(*t));
    strcpy(t->dir, "/tmp/crtd-config-XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    snprintf(t->path, sizeof(t->path), "%s/crtd.conf", t->dir);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tmp *t = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
    if (system(cmd) != 0)
        return -1;
    free(t);
    return 0;
}

static void a_full_file_parses(void **state)
{
    struct tmp *t = *state;
    struct config cfg;
    struct errbuf err;
    write_file(t->path, "# crtd configuration\n"
                        "[server]\n"
                        "listen = 0.0.0.0:9000   ; every interface\n"
                        "token_file = /etc/crtd/token\n"
                        "max_body_bytes = 4096\n"
                        "max_connections = 32\n"
                        "max_sse_clients = 4\n"
                        "sse_heartbeat_s = 0.5\n"
                        "api_local_sources = yes\n"
                        "\n"
                        "[daemon]\n"
                        "state_directory = /srv/crtd\n"
                        "camera_timeout_s = 4.5\n"
                        "hysteresis_s = 1.5\n"
                        "checkpoint_segments = 3\n"
                        "history_retention_days = 7\n"
                        "log_level = debug\n"
                        "pose_isa = avx2\n"
                        "\n"
                        "[mqtt]\n"
                        "host = broker.local\n"
                        "port = 8883\n"
                        "topic_prefix = home/crtd\n"
                        "discovery_prefix =\n"
                        "qos = 2\n"
                        "diagnostics_s = 30\n"
                        "privacy_switch = no\n"
                        "\n"
                        "[stream \"kitchen\"]\n"
                        "url = rtsp://user:pw@cam/1\n"
                        "fps = 5\n"
                        "site = Rose wing\n"
                        "room = Room 12\n"
                        "\n"
                        "[stream garden]\n"
                        "url = synthetic:script=Walk\n"
                        "enabled = no\n");
    config_init(&cfg);
    errbuf_clear(&err);
    int r = config_load(&cfg, t->path, true, &err);
    if (r < 0)
        fail_msg("%s", errbuf_text(&err, r));
    assert_int_equal(config_validate(&cfg, &err), 0);
    assert_string_equal(cfg.listen, "0.0.0.0:9000");
    assert_string_equal(cfg.token_file, "/etc/crtd/token");
    assert_int_equal(cfg.max_body_bytes, 4096);
    assert_int_equal(cfg.max_sse_clients, 4);
    assert_true(cfg.sse_heartbeat_s == 0.5);
    assert_true(cfg.api_local_sources);
    assert_string_equal(cfg.state_directory, "/srv/crtd");
    assert_true(cfg.camera_timeout_s == 4.5);
    assert_string_equal(cfg.mqtt.host, "broker.local");
    assert_int_equal(cfg.mqtt.port, 8883);
    assert_string_equal(cfg.mqtt.topic_prefix, "home/crtd");
    assert_string_equal(cfg.mqtt.discovery_prefix, "");
    assert_int_equal(cfg.mqtt.qos, 2);
    assert_int_equal(cfg.mqtt.keepalive_s, 30);
    assert_int_equal(cfg.mqtt.diagnostics_s, 30);
    assert_false(cfg.mqtt.privacy_switch);
    assert_true(cfg.hysteresis_s == 1.5);
    assert_int_equal(cfg.checkpoint_segments, 3);
    assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
    assert_int_equal(cfg.pose_isa, POSE_ISA_AVX2);
    assert_int_equal(cfg.n_streams, 2);
    const struct config_stream *k = config_find_stream(&cfg, "kitchen");
    assert_non_null(k);
    assert_string_equal(k->url, "rtsp://user:pw@cam/1");
    assert_true(k->fps == 5);
    assert_true(k->enabled);
    assert_int_equal(k->origin, CONFIG_ORIGIN_FILE);
    assert_string_equal(k->site, "Rose wing");
    assert_string_equal(k->room, "Room 12");
    const struct config_stream *g = config_find_stream(&cfg, "garden");
    assert_non_null(g);
    assert_false(g->enabled);
    assert_string_equal(g->site, "");
    assert_string_equal(g->room, "");
    config_done(&cfg);
}

static void drop_ins_override_in_name_order(void **state)
{
    struct tmp *t = *state;
    struct config cfg;
    struct errbuf err;
    char dir[160], file[200];
    write_file(t->path, "[server]\nlisten = 127.0.0.1:1111\n"
                        "[stream \"a\"]\nurl = synthetic:script=Walk\n");
    snprintf(dir, sizeof(dir), "%s.d", t->path);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(file, sizeof(file), "%s/20-late.conf", dir);
    write_file(file, "[server]\nlisten = 127.0.0.1:3333\n");
    snprintf(file, sizeof(file), "%s/10-early.conf", dir);
    write_file(file, "[server]\nlisten = 127.0.0.1:2222\n"
                     "[stream \"a\"]\nfps = 2\n[stream \"b\"]\nurl = synthetic:script=Sitdown\n");
    snprintf(file, sizeof(file), "%s/ignored.txt", dir);
    write_file(file, "this is not ini\n");

    config_init(&cfg);
    int r = config_load(&cfg, t->path, true, &err);
    if (r < 0)
        fail_msg("%s", errbuf_text(&err, r));
    assert_string_equal(cfg.listen, "127.0.0.1:3333");
    assert_int_equal(cfg.n_streams, 2);
    assert_true(config_find_stream(&cfg, "a")->fps == 2);
    assert_string_equal(config_find_stream(&cfg, "a")->url, "synthetic:script=Walk");
    config_done(&cfg);
}

static void errors_name_file_and_line(void **state)
{
    struct tmp *t = *state;
    struct config cfg;
    struct errbuf err;
    static const struct {
        const char *text, *expect;
    } cases[] = {
        {"[server]\nlisten = x:1\nbogus = 1\n", "crtd.conf:3: unknown key 'bogus' in [server]"},
        {"[daemon]\n\nhysteresis_s = soon\n", "crtd.conf:3: bad value 'soon' for hysteresis_s"},
        {"[cameras]\nurl = x\n", "crtd.conf:2: unknown section [cameras]"},
        {"[stream \"bad name\"]\nurl = x\n", "crtd.conf:2: stream name 'bad name'"},
        {"[stream \"a\"]\nurl = x\nenabled = maybe\n", "crtd.conf:3: bad value 'maybe'"},
        {"[server]\nmax_connections = 2\n", "crtd.conf:2: bad value '2'"},
        {"[daemon]\ncamera_timeout_s = 0\n", "crtd.conf:2: bad value '0' for camera_timeout_s"},
        {"[daemon]\npose_isa = sse9\n", "crtd.conf:2: bad value 'sse9' for pose_isa"},
        {"[server]\napi_local_sources = 2\n", "crtd.conf:2: bad value '2'"},
        {"[mqtt]\ntopic_prefix = home/#\n", "crtd.conf:2: bad value 'home/#' for topic_prefix"},
        {"[mqtt]\ntopic_prefix = home//crtd\n", "crtd.conf:2: bad value"},
        {"[mqtt]\nqos = 3\n", "crtd.conf:2: bad value '3' for qos"},
        {"[mqtt]\nbroker = x\n", "crtd.conf:2: unknown key 'broker' in [mqtt]"},
        {"[daemon]\nmultipose_side = 100\n",
         "crtd.conf:2: bad value '100' for multipose_side: a multiple of 32 from 32 to 640"},
        {"[daemon]\nmultipose_side = 672\n", "crtd.conf:2: bad value '672' for multipose_side"},
        {"[daemon]\nmultipose_side = 0\n", "crtd.conf:2: bad value '0' for multipose_side"},
        {"[stream \"a\"]\nurl = x\nmultipose_side = 257\n",
         "crtd.conf:3: bad value '257' for multipose_side"},
        {"[daemon]\nmax_people = 0\n", "crtd.conf:2: bad value '0' for max_people: 1 to 16"},
        {"[stream \"a\"]\nmax_people = 17\n", "crtd.conf:2: bad value '17' for max_people"},
        {"[stream \"a\"]\npeople = 2\n", "crtd.conf:2: unknown key 'people' in [stream \"a\"]"},
        {"[daemon]\nstill_pose_fps = -1\n",
         "crtd.conf:2: bad value '-1' for still_pose_fps: 0 (no motion gate) to 60"},
        {"[daemon]\nstill_pose_fps = often\n", "crtd.conf:2: bad value 'often' for still_pose_fps"},
        {"[stream \"a\"]\nurl = x\nstill_pose_fps = 61\n",
         "crtd.conf:3: bad value '61' for still_pose_fps"},
        {"[stream \"a\"]\nurl = x\nstill_pose_fps = nan\n",
         "crtd.conf:3: bad value 'nan' for still_pose_fps"},
        {"[stream \"a\"]\nurl = x\nroom = a\tb\n",
         "crtd.conf:3: [stream \"a\"] room: 'a\tb' is not a place name"},
        {"[stream \"a\"]\nsite = "
         "0123456789012345678901234567890123456789012345678901234567890123\n",
         "crtd.conf:2: [stream \"a\"] site: '0123"},
        {"[mqtt]\ndiagnostics_s = 0\n", "crtd.conf:2: bad value '0' for diagnostics_s"},
        {"[daemon]\narchive = maybe\n", "crtd.conf:2: bad value 'maybe' for archive"},
        {"[daemon]\narchive_retention_days = 0\n",
         "crtd.conf:2: bad value '0' for archive_retention_days: 0.0001 to 36500 days"},
        {"[stream \"a\"]\nurl = x\narchive_max_mb = 0\n",
         "crtd.conf:3: bad value '0' for archive_max_mb: 1 to 1048576 MiB"},
        {"[stream \"a\"]\nurl = x\narchive_max_mb = lots\n",
         "crtd.conf:3: bad value 'lots' for archive_max_mb"},
        {"[stream \"a\"]\nurl = x\narchive = maybe\n",
         "crtd.conf:3: bad value 'maybe' for archive"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        write_file(t->path, cases[i].text);
        config_init(&cfg);
        errbuf_clear(&err);
        int r = config_load(&cfg, t->path, true, &err);
        if (r >= 0 || !strstr(err.msg, cases[i].expect))
            fail_msg("case %zu: r=%d message '%s', expected '%s'", i, r, err.msg, cases[i].expect);
        config_done(&cfg);
    }

    /* A missing file: an error only when asked for. */
    config_init(&cfg);
    assert_int_equal(config_load(&cfg, "/nonexistent/crtd.conf", false, &err), 0);
    assert_int_equal(config_load(&cfg, "/nonexistent/crtd.conf", true, &err), -ENOENT);
    config_done(&cfg);

    /* A stream without url, and limits that do not fit together. */
    write_file(t->path, "[stream \"a\"]\nfps = 3\n");
    config_init(&cfg);
    assert_int_equal(config_load(&cfg, t->path, true, &err), 0);
    assert_int_equal(config_validate(&cfg, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "stream 'a' has no url"));
    config_done(&cfg);
    write_file(t->path, "[server]\nmax_connections = 8\nmax_sse_clients = 8\n");
    config_init(&cfg);
    assert_int_equal(config_load(&cfg, t->path, true, &err), 0);
    assert_int_equal(config_validate(&cfg, &err), -EINVAL);
    config_done(&cfg);
}

static void people_keys(void **state)
{
    struct tmp *t = *state;
    struct config cfg;
    struct errbuf err;

    /* Defaults: today's behaviour for a file that names none of them. */
    write_file(t->path, "[stream \"a\"]\nurl = synthetic:script=Walk\n");
    config_init(&cfg);
    assert_int_equal(config_load(&cfg, t->path, true, &err), 0);
    assert_int_equal(cfg.max_people, 6);
    assert_int_equal(cfg.multipose_side, 256);
    assert_int_equal(cfg.pose_model[0], '\0');
    const struct config_stream *a = config_find_stream(&cfg, "a");
    assert_int_equal(a->max_people, 0); /* the [daemon] one */
    assert_int_equal(a->multipose_side, 0);
    assert_int_equal(a->pose_model[0], '\0');
    assert_true(cfg.still_pose_fps == 2);
    assert_false(a->still_pose_fps_set); /* the [daemon] one */
    config_done(&cfg);

    /* still_pose_fps: 0 (no gate) is a value a stream can set over [daemon]. */
    write_file(t->path, "[daemon]\nstill_pose_fps = 0.5\n"
                        "[stream \"a\"]\nurl = synthetic:script=Walk\nstill_pose_fps = 0\n"
                        "[stream \"b\"]\nurl = synthetic:script=Walk\n");
    config_init(&cfg);
    assert_int_equal(config_load(&cfg, t->path, true, &err), 0);
    assert_true(cfg.still_pose_fps == 0.5);
    a = config_find_stream(&cfg, "a");
    assert_true(a->still_pose_fps_set);
    assert_true(a->still_pose_fps == 0);
    assert_false(config_find_stream(&cfg, "b")->still_pose_fps_set);
    config_done(&cfg);

    /* In [daemon] and per stream; the stream's wins for that stream. */
    char text[512];
    snprintf(text, sizeof(text),
             "[daemon]\npose_model = /models/movenet-multipose.json\nmax_people = 3\n"
             "multipose_side = 320\n"
             "[stream \"a\"]\nurl = synthetic:script=Walk\nmax_people = 16\nmultipose_side = 32\n"
             "pose_model = %s\n"
             "[stream \"b\"]\nurl = synthetic:script=Walk\nmultipose_side = 640\n",
             t->path);
    write_file(t->path, text);
    config_init(&cfg);
    assert_int_equal(config_load(&cfg, t->path, true, &err), 0);
    assert_string_equal(cfg.pose_model, "/models/movenet-multipose.json");
    assert_int_equal(cfg.max_people, 3);
    assert_int_equal(cfg.multipose_side, 320);
    a = config_find_stream(&cfg, "a");
    assert_int_equal(a->max_people, 16);
    assert_int_equal(a->multipose_side, 32);
    assert_string_equal(a->pose_model, t->path);
    assert_int_equal(config_find_stream(&cfg, "b")->multipose_side, 640);
    assert_int_equal(config_validate(&cfg, &err), 0);
    config_done(&cfg);

    /* The pose archive: on, 7 days and 512 MiB by default; a stream may
     * turn it off or set its own limits. */
    write_file(t->path, "[daemon]\narchive_retention_days = 2.5\n"
                        "[stream \"a\"]\nurl = synthetic:script=Walk\narchive = no\n"
                        "[stream \"b\"]\nurl = synthetic:script=Walk\narchive_max_mb = 64\n"
                        "archive = yes\n[stream \"c\"]\nurl = synthetic:script=Walk\n");
    config_init(&cfg);
    assert_true(cfg.archive && cfg.archive_retention_days == 7 && cfg.archive_max_mb == 512);
    assert_int_equal(config_load(&cfg, t->path, true, &err), 0);
    assert_true(cfg.archive_retention_days == 2.5);
    assert_int_equal(config_find_stream(&cfg, "a")->archive, CONFIG_ARCHIVE_NO);
    assert_int_equal(config_find_stream(&cfg, "b")->archive, CONFIG_ARCHIVE_YES);
    assert_int_equal(config_find_stream(&cfg, "b")->archive_max_mb, 64);
    assert_int_equal(config_find_stream(&cfg, "c")->archive, CONFIG_ARCHIVE_DEFAULT);
    assert_int_equal(config_find_stream(&cfg, "c")->archive_max_mb, 0);
    config_done(&cfg);

    /* A stream's pose_model that is not there: named by --check-config. */
    write_file(t->path, "[stream \"a\"]\nurl = x\npose_model = /nonexistent/multipose.json\n");
    config_init(&cfg);
    assert_int_equal(config_load(&cfg, t->path, true, &err), 0);
    assert_int_equal(config_validate(&cfg, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "stream 'a': pose_model '/nonexistent/multipose.json'"));
    config_done(&cfg);
}

static void command_line_streams(void **state)
{
    struct config cfg;
    struct errbuf err;
    config_init(&cfg);
    assert_string_equal(cfg.listen, CONFIG_DEFAULT_LISTEN);
    assert_int_equal(config_add_stream_arg(&cfg, "door=rtsp://cam/x?a=b", &err), 0);
    assert_string_equal(config_find_stream(&cfg, "door")->url, "rtsp://cam/x?a=b");
    assert_int_equal(config_find_stream(&cfg, "door")->origin, CONFIG_ORIGIN_COMMAND);
    assert_int_equal(config_add_stream_arg(&cfg, "door=rtsp://other", &err), -EEXIST);
    assert_int_equal(config_add_stream_arg(&cfg, "nourl=", &err), -EINVAL);
    assert_int_equal(config_add_stream_arg(&cfg, "=x", &err), -EINVAL);
    assert_int_equal(config_add_stream_arg(&cfg, "bad name=x", &err), -EINVAL);
    assert_int_equal(config_validate(&cfg, &err), 0);
    config_done(&cfg);
    config_done(NULL);
}

static void tokens_are_read_and_guarded(void **state)
{
    struct tmp *t = *state;
    char path[160], *token = NULL;
    struct errbuf err;
    snprintf(path, sizeof(path), "%s/token", t->dir);
    write_file(path, "  0123456789abcdef0123  \nsecond line\n");
    chmod(path, 0600);
    assert_int_equal(config_read_token(path, &token, &err), 0);
    assert_string_equal(token, "0123456789abcdef0123");
    free(token);
    chmod(path, 0644);
    assert_int_equal(config_read_token(path, &token, &err), -EPERM);
    write_file(path, "short\n");
    chmod(path, 0600);
    assert_int_equal(config_read_token(path, &token, &err), -EINVAL);
    assert_true(config_read_token("/nonexistent/token", &token, &err) < 0);
}

static void safety_keys(void **state)
{
    struct tmp *t = *state;
    struct config cfg;
    struct errbuf err;

    write_file(t->path,
               "[daemon]\ntimezone = Europe/Paris\n"
               "[stream \"hall\"]\nurl = synthetic:script=Walk\n"
               "zone.bed = bed 0.1,0.5 0.4,0.5 0.4,0.9 0.1,0.9\n"
               "zone.tv = exclude 0.7,0.1 0.9,0.1 0.9,0.3\n"
               "[rule \"fall\"]\nkind = fall\nstream = hall\n"
               "[rule \"night-floor\"]\nkind = on_floor\nseconds = 30\nschedule = 22:00-07:00\n"
               "[rule \"breakfast\"]\nkind = absent\nstream = hall\nzone = bed\n"
               "from = 06:00\nuntil = 10:00:30\n"
               "[rule \"bath\"]\nkind = in_zone_longer\nzone = bed\nminutes = 45\n"
               "[webhook \"phone\"]\nurl = https://example.org/hook\nrules = fall, breakfast\n"
               "secret = s3cret\nmax_attempts = 3\n");
    config_init(&cfg);
    int r = config_load(&cfg, t->path, true, &err);
    if (r < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(config_validate(&cfg, &err), 0);
    assert_string_equal(cfg.timezone, "Europe/Paris");
    assert_int_equal(cfg.n_zones, 2);
    assert_string_equal(cfg.zones[0].stream, "hall");
    assert_string_equal(cfg.zones[0].zone.name, "bed");
    assert_int_equal(cfg.zones[0].zone.kind, ZONE_BED);
    assert_int_equal(cfg.zones[0].zone.n, 4);
    assert_int_equal(cfg.zones[1].zone.kind, ZONE_EXCLUDE);
    assert_int_equal(cfg.n_rules, 4);
    assert_int_equal(cfg.rules[0].kind, RULE_FALL);
    assert_true(cfg.rules[0].duration_s < 0); /* the kind's default */
    assert_int_equal(cfg.rules[1].kind, RULE_ON_FLOOR);
    assert_true(cfg.rules[1].duration_s == 30);
    assert_int_equal(cfg.rules[1].n_schedule, 1);
    assert_int_equal(cfg.rules[1].schedule[0].from, 22 * 3600);
    assert_int_equal(cfg.rules[1].schedule[0].until, 7 * 3600);
    assert_int_equal(cfg.rules[2].from, 6 * 3600);
    assert_int_equal(cfg.rules[2].until, 10 * 3600 + 30);
    assert_true(cfg.rules[3].duration_s == 45 * 60);
    assert_int_equal(cfg.n_webhooks, 1);
    assert_int_equal(cfg.webhooks[0].n_rules, 2);
    assert_string_equal(cfg.webhooks[0].rules[1], "breakfast");
    assert_int_equal(cfg.webhooks[0].max_attempts, 3);
    assert_true(cfg.webhooks[0].timeout_s == 5);
    config_done(&cfg);

    static const struct {
        const char *text, *expect;
    } cases[] = {
        {"[stream \"a\"]\nzone.x = bed 0.1,0.1 0.5,0.5 0.5,0.1 0.1,0.5\n",
         "crtd.conf:2: zone.x: zone 'x': edges 1 and 3 cross"},
        {"[stream \"a\"]\nzone.x = bed 0.1,0.1 0.2,0.2 0.3,0.3\n",
         "crtd.conf:2: zone.x: zone 'x': the polygon has no area"},
        {"[stream \"a\"]\nzone.x = bed 0.1,0.1 0.2,0.2\n", "zone.x: zone 'x': 2 points"},
        {"[stream \"a\"]\nzone.x = sofa 0.1,0.1 0.2,0.2 0.1,0.3\n",
         "crtd.conf:2: zone.x: unknown kind 'sofa'"},
        {"[stream \"a\"]\nzone.x = bed 0.1,0.1 1.2,0.2 0.1,0.3\n", "outside the image"},
        {"[stream \"a\"]\nzone.x = bed 0.1;0.1\n", "zone.x: zone 'x': point 1"},
        {"[rule \"r\"]\nkind = explode\n",
         "crtd.conf:2: [rule \"r\"] kind: unknown kind 'explode'"},
        {"[rule \"r\"]\nkind = absent\nfrom = 25:00\n",
         "crtd.conf:3: [rule \"r\"] from: '25:00' is not a time of day"},
        {"[rule \"r\"]\nuntil = 10h\n", "crtd.conf:2: [rule \"r\"] until: '10h'"},
        {"[rule \"r\"]\nschedule = 22:00\n", "crtd.conf:2: [rule \"r\"] schedule: '22:00'"},
        {"[rule \"r\"]\nseconds = -1\n", "crtd.conf:2: [rule \"r\"] seconds: bad value '-1'"},
        {"[rule \"r\"]\nwhen = now\n", "crtd.conf:2: unknown key 'when' in [rule \"r\"]"},
        {"[webhook \"w\"]\nurl = ftp://example.org/\n",
         "crtd.conf:2: [webhook \"w\"] url: 'ftp://example.org/' is not an http:// or https://"},
        {"[webhook \"w\"]\nurl = example.org\n", "[webhook \"w\"] url: 'example.org'"},
        {"[webhook \"w\"]\nmax_attempts = 0\n", "bad value '0' for max_attempts"},
        {"[daemon]\ntimezone = Mars/Olympus\n",
         "crtd.conf:2: timezone: 'Mars/Olympus' is not a time zone"},
        {"[daemon]\ntimezone = ../../etc/passwd\n", "crtd.conf:2: timezone:"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        write_file(t->path, cases[i].text);
        config_init(&cfg);
        errbuf_clear(&err);
        r = config_load(&cfg, t->path, true, &err);
        if (r >= 0 || !strstr(err.msg, cases[i].expect))
            fail_msg("case %zu: r=%d message '%s', expected '%s'", i, r, err.msg, cases[i].expect);
        config_done(&cfg);
    }

    /* What only the whole file can tell. */
    static const struct {
        const char *text, *expect;
    } whole[] = {
        {"[rule \"r\"]\nstream = a\n", "[rule \"r\"] has no kind"},
        {"[rule \"r\"]\nkind = in_zone_longer\n", "[rule \"r\"] (in_zone_longer) needs zone"},
        {"[rule \"r\"]\nkind = absent\nfrom = 06:00\n",
         "[rule \"r\"] (absent) needs from and until"},
        {"[webhook \"w\"]\nsecret = x\n", "[webhook \"w\"] has no url"},
        {"[webhook \"w\"]\nurl = http://127.0.0.1:9/\nrules = nope\n",
         "[webhook \"w\"] rules: no rule 'nope'"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(whole); i++) {
        write_file(t->path, whole[i].text);
        config_init(&cfg);
        errbuf_clear(&err);
        assert_int_equal(config_load(&cfg, t->path, true, &err), 0);
        r = config_validate(&cfg, &err);
        if (r >= 0 || !strstr(err.msg, whole[i].expect))
            fail_msg("whole case %zu: r=%d message '%s', expected '%s'", i, r, err.msg,
                     whole[i].expect);
        config_done(&cfg);
    }
}

/* Times of day and schedules as the rules read them. */
static void rule_times_and_schedules(void **state)
{
    struct config_rule rule = {0};
    int t = -1;
    assert_int_equal(rule_time_parse("07:05", &t), 0);
    assert_int_equal(t, 7 * 3600 + 5 * 60);
    assert_int_equal(rule_time_parse(" 23:59:59 ", &t), 0);
    assert_int_equal(t, 86399);
    assert_int_equal(rule_time_parse("24:00", &t), 0);
    assert_int_equal(t, 86400);
    static const char *const bad[] = {"",         "7",    "7:5:",     "24:01", "12:60",
                                      "12:00:60", "noon", "12:00 pm", "-1:00"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        if (rule_time_parse(bad[i], &t) == 0)
            fail_msg("'%s' parsed", bad[i]);

    assert_int_equal(rule_schedule_parse("22:00-07:00, 12:00-13:30", &rule), 0);
    assert_int_equal(rule.n_schedule, 2);
    assert_true(rule_scheduled(&rule, 23 * 3600)); /* past midnight: late */
    assert_true(rule_scheduled(&rule, 3600));      /* ... and early */
    assert_false(rule_scheduled(&rule, 7 * 3600)); /* the end is out */
    assert_true(rule_scheduled(&rule, 12 * 3600 + 1));
    assert_false(rule_scheduled(&rule, 14 * 3600));
    assert_true(rule_schedule_parse("10:00-10:00", &rule) < 0);
    assert_true(rule_schedule_parse("10:00", &rule) < 0);
    assert_true(rule_schedule_parse("10:00-11:00;", &rule) < 0);
    struct config_rule always = {0};
    assert_true(rule_scheduled(&always, 5));

    assert_int_equal(rule_kind_parse("in_zone_longer", &rule.kind), 0);
    assert_string_equal(rule_kind_name(rule.kind), "in_zone_longer");
    rule.duration_s = -1;
    assert_true(rule_duration_s(&rule) == 30 * 60); /* the kind's default */
    assert_true(rule_per_track(&rule));
    assert_int_equal(rule_kind_parse("camera_down", &rule.kind), 0);
    assert_false(rule_per_track(&rule));
    assert_true(rule_kind_parse("Fall", &rule.kind) < 0);
}

/* The per-stream video options: every one read from the file, applied to
 * struct video_options; the library's defaults where none is given. */
static void video_keys(void **state)
{
    struct tmp *t = *state;
    struct config cfg;
    struct errbuf err;
    write_file(t->path, "[daemon]\ncamera_timeout_s = 7\n"
                        "[stream \"porch\"]\nurl = rtsp://cam/1\n"
                        "transport = udp\nmax_side = 0\nthreads = 2\n"
                        "hwaccel = vaapi\nhw_device = /dev/dri/renderD129\n"
                        "format = rtsp\n"
                        "ffmpeg_options = probesize=65536:fflags=nobuffer+genpts:user_agent=crtd "
                        "test\n"
                        "open_timeout_s = 3\nread_timeout_s = 4.5\n"
                        "backoff_min_s = 0.5\nbackoff_max_s = 30\nmax_lag_s = 0\n"
                        "skip_nonref = off\nreconnect = never\n"
                        "motion_height = 80\nmotion_threshold = 12\nmotion_min_area = 0.01\n"
                        "motion_background_rate = 0.1\nmotion_dilation = 2\n"
                        "[stream \"hall\"]\nurl = rtsp://cam/2\n");
    config_init(&cfg);
    errbuf_clear(&err);
    int r = config_load(&cfg, t->path, true, &err);
    if (r < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(config_validate(&cfg, &err), 0);

    struct video_options o, defaults;
    video_options_init(&defaults);
    config_video_apply(&config_find_stream(&cfg, "porch")->video, cfg.camera_timeout_s, &o);
    assert_int_equal(o.transport, VIDEO_TRANSPORT_UDP);
    assert_int_equal(o.max_side, 0);
    assert_int_equal(o.threads, 2);
    assert_int_equal(o.hwaccel, VIDEO_HWACCEL_VAAPI);
    assert_string_equal(o.hw_device, "/dev/dri/renderD129");
    assert_string_equal(o.format, "rtsp");
    assert_string_equal(o.ffmpeg_options, "probesize=65536:fflags=nobuffer+genpts:user_agent=crtd "
                                          "test");
    assert_true(o.open_timeout_s == 3 && o.read_timeout_s == 4.5);
    assert_true(o.backoff_min_s == 0.5 && o.backoff_max_s == 30 && o.max_lag_s == 0);
    assert_int_equal(o.skip_nonref, VIDEO_SKIP_OFF);
    assert_int_equal(o.reconnect, VIDEO_RECONNECT_NEVER);
    assert_int_equal(o.motion_options.height, 80);
    assert_true(o.motion_options.threshold == 12 && o.motion_options.min_area == 0.01);
    assert_true(o.motion_options.background_rate == 0.1);
    assert_int_equal(o.motion_options.dilation, 2);

    /* Nothing given: the video library's defaults, timeouts from [daemon]. */
    config_video_apply(&config_find_stream(&cfg, "hall")->video, cfg.camera_timeout_s, &o);
    assert_int_equal(o.transport, defaults.transport);
    assert_string_equal(video_transport_name(o.transport), "auto");
    assert_int_equal(o.max_side, defaults.max_side);
    assert_null(o.ffmpeg_options);
    assert_null(o.format);
    assert_true(o.open_timeout_s == 7 && o.read_timeout_s == 7);
    assert_true(o.backoff_min_s == defaults.backoff_min_s);
    assert_true(o.motion_options.threshold == defaults.motion_options.threshold);

    /* What the state store keeps reads back to the same options. */
    const struct config_video *porch = &config_find_stream(&cfg, "porch")->video;
    json_t *given = config_video_json(porch, true, 0);
    struct config_video back;
    config_video_init(&back);
    assert_false(config_video_equal(&back, porch));
    assert_int_equal(config_video_set_object(&back, given, &err), 0);
    assert_true(config_video_equal(&back, porch));
    json_decref(given);
    config_done(&cfg);

    /* A changed option is a changed stream (supervisor_apply restarts it). */
    struct config_video other = back;
    assert_int_equal(config_video_set(&other, "transport", "tcp", &err), 0);
    assert_false(config_video_equal(&other, &back));
}

/* Bad video options: the file's errors name file, line, key and what it
 * takes; the API's name the field. No FFmpeg option or demuxer may open
 * files or other URLs. */
static void video_key_errors(void **state)
{
    struct tmp *t = *state;
    struct config cfg;
    struct errbuf err;
    static const struct {
        const char *line, *expect;
    } cases[] = {
        {"transport = quic", "crtd.conf:3: bad value 'quic' for transport: auto, tcp or udp"},
        {"max_side = 8", "crtd.conf:3: bad value '8' for max_side: 0 (the source's size) or 16"},
        {"threads = 1.5", "crtd.conf:3: bad value '1.5' for threads"},
        {"hwaccel = cuda", "crtd.conf:3: bad value 'cuda' for hwaccel: none or vaapi"},
        {"hw_device = /etc/passwd",
         "crtd.conf:3: hw_device: '/etc/passwd' is not /dev/dri/renderD"},
        {"format = concat", "crtd.conf:3: format: input format 'concat' is not one crtd lets"},
        {"format = lavfi", "crtd.conf:3: format: input format 'lavfi' is not one"},
        {"format = v4l2", "crtd.conf:3: format: input format 'v4l2' is not one"},
        {"format = nosuchdemuxer",
         "crtd.conf:3: format: FFmpeg has no input format 'nosuchdemuxer'"},
        {"ffmpeg_options = protocol_whitelist=file,rtsp",
         "crtd.conf:3: ffmpeg_options: FFmpeg option 'protocol_whitelist' is not on crtd's list"},
        {"ffmpeg_options = probesize=1000:http_proxy=http\\://evil/",
         "crtd.conf:3: ffmpeg_options: FFmpeg option 'http_proxy' is not on"},
        {"ffmpeg_options = graph_file=/etc/passwd", "FFmpeg option 'graph_file' is not on"},
        {"ffmpeg_options = rtsp_flags=listen",
         "FFmpeg option rtsp_flags: 'listen' is not flags of"},
        {"ffmpeg_options = video_size=../../etc", "FFmpeg option video_size: '../../etc' is not"},
        {"ffmpeg_options = input_format=/dev/sda", "FFmpeg option input_format: '/dev/sda'"},
        {"ffmpeg_options = probesize=lots",
         "FFmpeg option probesize: 'lots' is not a whole number"},
        {"ffmpeg_options = =x", "crtd.conf:3: ffmpeg_options: cannot parse FFmpeg options"},
        {"open_timeout_s = 0", "crtd.conf:3: bad value '0' for open_timeout_s: 0.1 to 600"},
        {"read_timeout_s = soon", "crtd.conf:3: bad value 'soon' for read_timeout_s"},
        {"backoff_min_s = -1", "crtd.conf:3: bad value '-1' for backoff_min_s"},
        {"max_lag_s = inf", "crtd.conf:3: bad value 'inf' for max_lag_s"},
        {"skip_nonref = sometimes", "crtd.conf:3: bad value 'sometimes' for skip_nonref"},
        {"reconnect = later", "crtd.conf:3: bad value 'later' for reconnect"},
        {"motion_threshold = 300", "crtd.conf:3: bad value '300' for motion_threshold"},
        {"motion_dilation = 17", "crtd.conf:3: bad value '17' for motion_dilation"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char text[512];
        snprintf(text, sizeof(text), "[stream \"a\"]\nurl = rtsp://cam/1\n%s\n", cases[i].line);
        write_file(t->path, text);
        config_init(&cfg);
        errbuf_clear(&err);
        int r = config_load(&cfg, t->path, true, &err);
        if (r >= 0 || !strstr(err.msg, cases[i].expect))
            fail_msg("'%s': r=%d message '%s', expected '%s'", cases[i].line, r, err.msg,
                     cases[i].expect);
        config_done(&cfg);
    }

    /* Options that fit alone but not together. */
    write_file(t->path,
               "[stream \"a\"]\nurl = rtsp://cam/1\nbackoff_min_s = 5\nbackoff_max_s = 2\n");
    config_init(&cfg);
    assert_int_equal(config_load(&cfg, t->path, true, &err), 0);
    assert_int_equal(config_validate(&cfg, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "stream 'a': backoff_max_s (2) is below backoff_min_s (5)"));
    config_done(&cfg);

    /* The API's JSON: numbers as numbers, words as strings, each error
     * naming the field. */
    static const struct {
        const char *json, *expect;
    } api[] = {
        {"{\"transport\": 1}", "'transport' must be auto, tcp or udp"},
        {"{\"transport\": \"UDP\"}", "'transport' must be auto, tcp or udp"},
        {"{\"max_side\": \"640\"}", "'max_side' must be 0 (the source's size) or 16"},
        {"{\"threads\": 2.5}", "'threads' must be 0 (FFmpeg's choice) to 64"},
        {"{\"ffmpeg_options\": \"format_whitelist=concat\"}",
         "'ffmpeg_options' FFmpeg option 'format_whitelist' is not on crtd's list"},
        {"{\"ffmpeg_options\": 3}", "'ffmpeg_options' must be a string"},
        {"{\"format\": \"image2\"}", "'format' input format 'image2' is not one"},
        {"{\"hw_device\": \"/dev/dri/renderD1x\"}", "'hw_device' '/dev/dri/renderD1x' is not"},
        {"{\"backoff_min_s\": 9, \"backoff_max_s\": 3}", "backoff_max_s (3) is below"},
        {"{\"colour\": 1}", "unknown video option 'colour'"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(api); i++) {
        struct config_video v;
        config_video_init(&v);
        json_t *obj = json_loads(api[i].json, 0, NULL);
        assert_non_null(obj);
        errbuf_clear(&err);
        int r = config_video_set_object(&v, obj, &err);
        json_decref(obj);
        if (r >= 0 || !strstr(err.msg, api[i].expect))
            fail_msg("%s: r=%d message '%s', expected '%s'", api[i].json, r, err.msg,
                     api[i].expect);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_full_file_parses, setup, teardown),
        cmocka_unit_test_setup_teardown(drop_ins_override_in_name_order, setup, teardown),
        cmocka_unit_test_setup_teardown(errors_name_file_and_line, setup, teardown),
        cmocka_unit_test_setup_teardown(people_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(video_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(video_key_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(safety_keys, setup, teardown),
        cmocka_unit_test(rule_times_and_schedules),
        cmocka_unit_test(command_line_streams),
        cmocka_unit_test_setup_teardown(tokens_are_read_and_guarded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
