/* pipeline_real: video decode -> pose -> features -> CRT step. */
#include "pipeline.h"

int pipeline_real_open(const struct pipeline_model *model, const char *url, double fps,
                       const atomic_bool *stop, const struct pipeline_ops **ret_ops,
                       void **ret_impl, struct errbuf *err)
{
    return errbuf_set(err, -ENOSYS,
                      "this build of crtd has no video/pose/model pipeline yet; only "
                      "synthetic: test sources run");
}
