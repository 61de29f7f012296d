/* libFuzzer target: crtd's configuration reader (inih and daemon/config.c)
 * on any text. An input is the main file; a form feed in it starts a drop-in,
 * crtd.conf.d/10-fuzz.conf, so that merging is fuzzed too. Whatever loads is
 * validated and its streams are walked. */
#include <string.h>

#include "config.h"
#include "fuzz_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *split = memchr(data, '\f', size);
    size_t main_size = split ? (size_t)(split - data) : size;
    char path[1024];

    fuzz_write("crtd.conf.d/10-fuzz.conf", split ? split + 1 : data,
               split ? size - main_size - 1 : 0);
    snprintf(path, sizeof(path), "%s", fuzz_write("crtd.conf", data, main_size));

    struct config cfg;
    struct errbuf err = {0};
    config_init(&cfg);
    if (config_load(&cfg, path, true, &err) == 0 && config_validate(&cfg, &err) == 0) {
        size_t names = 0;
        for (size_t i = 0; i < cfg.n_streams; i++)
            names += strlen(cfg.streams[i].name) + strlen(cfg.streams[i].url);
        (void)names;
    }
    config_done(&cfg);
    return 0;
}
