/* crt classes: the class list in output order and which protocols score each. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "commands.h"
#include "data.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: crt classes [--json]\n\n"
                 "List the 31 Toyota Smarthome classes in the models' output order,\n"
                 "marking the 19 that the cross-view protocols (cv1, cv2) score.\n");
}

int cmd_classes(int argc, char **argv)
{
    bool as_json = false;

    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            as_json = true;
        } else {
            cli_error("classes", "unknown option '%s'", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }

    if (as_json) {
        json_t *list = json_array();
        for (int c = 0; c < SMARTHOME_NUM_CLASSES; c++)
            json_array_append_new(list, json_pack("{s:i, s:s, s:b}", "index", c, "name",
                                                  smarthome_classes[c], "cross_view",
                                                  smarthome_protocol_has_class(SMARTHOME_CV1, c)));
        json_dumpf(list, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(list);
        return 0;
    }
    for (int c = 0; c < SMARTHOME_NUM_CLASSES; c++)
        printf("%2d  %-22s %s\n", c, smarthome_classes[c],
               smarthome_protocol_has_class(SMARTHOME_CV1, c) ? "cs cv1 cv2" : "cs");
    return 0;
}
