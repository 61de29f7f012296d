/* video_cli: command-line options that map onto struct video_options. */
#include "video_cli.h"

#include <stdlib.h>
#include <string.h>

#include "commands.h"

void video_cli_usage(FILE *out)
{
    fprintf(out,
            "\nvideo options:\n"
            "  --fps N             sampling rate by timestamp (default 10; 0 = every frame)\n"
            "  --max-side N        long side of the RGB frames (default 640; 0 = source size)\n"
            "  --threads N         decoder threads (default 1)\n"
            "  --transport MODE    RTSP over auto (TCP, else UDP; the default), tcp, udp\n"
            "  --udp               the same as --transport udp\n"
            "  --reconnect MODE    auto (live sources), always, never (default auto)\n"
            "  --skip-nonref MODE  skip non-reference frames: auto, on, off (default auto)\n"
            "  --hwaccel vaapi     VAAPI decoding, software when unavailable\n"
            "  --hw-device PATH    VAAPI render node (default FFmpeg's choice)\n"
            "  --format NAME       force FFmpeg's demuxer (mpjpeg, mpegts, ...)\n"
            "  -o, --ffmpeg-options K=V[:K=V...]  FFmpeg demuxer/protocol/decoder options\n"
            "  --open-timeout S    deadline to connect and probe (default 10)\n"
            "  --read-timeout S    deadline for each read (default 10)\n"
            "  --backoff MIN:MAX   reconnect waits in seconds (default 1:60)\n"
            "  --max-lag S         live sources: drop frames more than S s late (default 2;\n"
            "                      0 = never)\n");
}

int video_cli_number(const char *text, double min, double max, const char *command,
                     const char *option, double *ret_value)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || !(v >= min && v <= max)) {
        cli_error(command, "%s '%s': expected a number in [%g, %g]", option, text, min, max);
        return -1;
    }
    *ret_value = v;
    return 0;
}

static int choice(const char *text, const char *const *names, size_t n, const char *command,
                  const char *option)
{
    for (size_t k = 0; k < n; k++)
        if (strcmp(text, names[k]) == 0)
            return (int)k;
    cli_error(command, "%s '%s': expected one of %s%s%s%s%s", option, text, names[0],
              n > 1 ? ", " : "", n > 1 ? names[1] : "", n > 2 ? ", " : "", n > 2 ? names[2] : "");
    return -1;
}

int video_cli_option(struct video_options *opts, int argc, char **argv, int *i, const char *command)
{
    const char *a = argv[*i];
    static const char *const reconnect_names[] = {"auto", "always", "never"};
    static const char *const skip_names[] = {"auto", "off", "on"};
    static const char *const hw_names[] = {"none", "vaapi"};
    double v;
    int k;

    if (strcmp(a, "--udp") == 0) {
        opts->transport = VIDEO_TRANSPORT_UDP;
        return 1;
    }
    static const char *const with_value[] = {
        "--fps",       "--max-side",     "--threads",      "--reconnect", "--skip-nonref",
        "--transport", "--hwaccel",      "--hw-device",    "--format",    "--ffmpeg-options",
        "-o",          "--open-timeout", "--read-timeout", "--backoff",   "--max-lag",
    };
    bool known = false;
    for (size_t n = 0; n < ARRAY_SIZE(with_value); n++)
        if (strcmp(a, with_value[n]) == 0)
            known = true;
    if (!known)
        return 0;
    if (*i + 1 >= argc) {
        cli_error(command, "%s needs a value", a);
        return -1;
    }
    const char *val = argv[++*i];

    if (strcmp(a, "--fps") == 0) {
        if (video_cli_number(val, 0, 1000, command, a, &opts->fps) < 0)
            return -1;
    } else if (strcmp(a, "--max-side") == 0) {
        if (video_cli_number(val, 0, 16384, command, a, &v) < 0)
            return -1;
        opts->max_side = (int)v;
    } else if (strcmp(a, "--threads") == 0) {
        if (video_cli_number(val, 0, 64, command, a, &v) < 0)
            return -1;
        opts->threads = (int)v;
    } else if (strcmp(a, "--transport") == 0) {
        if (video_transport_parse(val, &opts->transport) < 0) {
            cli_error(command, "%s '%s': expected auto, tcp or udp", a, val);
            return -1;
        }
    } else if (strcmp(a, "--reconnect") == 0) {
        if ((k = choice(val, reconnect_names, 3, command, a)) < 0)
            return -1;
        opts->reconnect = (enum video_reconnect)k;
    } else if (strcmp(a, "--skip-nonref") == 0) {
        if ((k = choice(val, skip_names, 3, command, a)) < 0)
            return -1;
        opts->skip_nonref = (enum video_skip)k;
    } else if (strcmp(a, "--hwaccel") == 0) {
        if ((k = choice(val, hw_names, 2, command, a)) < 0)
            return -1;
        opts->hwaccel = (enum video_hwaccel)k;
    } else if (strcmp(a, "--hw-device") == 0) {
        opts->hw_device = val;
    } else if (strcmp(a, "--format") == 0) {
        opts->format = val;
    } else if (strcmp(a, "--ffmpeg-options") == 0 || strcmp(a, "-o") == 0) {
        opts->ffmpeg_options = val;
    } else if (strcmp(a, "--open-timeout") == 0) {
        if (video_cli_number(val, 0.001, 86400, command, a, &opts->open_timeout_s) < 0)
            return -1;
    } else if (strcmp(a, "--read-timeout") == 0) {
        if (video_cli_number(val, 0.001, 86400, command, a, &opts->read_timeout_s) < 0)
            return -1;
    } else if (strcmp(a, "--max-lag") == 0) {
        if (video_cli_number(val, 0, 86400, command, a, &opts->max_lag_s) < 0)
            return -1;
    } else if (strcmp(a, "--backoff") == 0) {
        char *end;
        double lo = strtod(val, &end);
        double hi = *end == ':' ? strtod(end + 1, &end) : -1;
        if (*end != '\0' || !(lo > 0) || !(hi >= lo)) {
            cli_error(command, "--backoff '%s': expected MIN:MAX seconds, 0 < MIN <= MAX", val);
            return -1;
        }
        opts->backoff_min_s = lo;
        opts->backoff_max_s = hi;
    }
    return 1;
}
