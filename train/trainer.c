/* crt_train: the trainer of the segment models — inference's forward pass
 * (crt_encoder_forward) with its activations kept per segment, backward
 * through the shared parts (input embedding, pre-LN encoder, ln_f,
 * classifier) and, through the mechanism's train ops, the memory; truncated
 * backpropagation through time over a window of segments; AdamW. In llm.c's
 * manner, gradients and both moments share the model's parameter layout, one
 * allocation each. The batch is split between worker threads with their own
 * activations and gradients, summed in a fixed order so that a seed always
 * gives the same model. */
#include "train_internal.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <cblas.h>

/* Activations of one segment of a worker's rows. */
struct segment_cache {
    float *feats;               /* [B, L, F] gathered input */
    float *mem_in;              /* [B, S] */
    struct crt_encoder_cache c; /* what crt_encoder_forward keeps */
    float *probs;               /* [B, C] */
};

struct train_worker {
    struct crt_trainer *trainer;
    int max_rows;
    float *buffer;
    float *grads;              /* layout.total */
    struct segment_cache *seg; /* [max_window] */
    /* scratch for one segment at a time */
    struct crt_workspace *ws; /* crt_encoder_forward's buffers */
    float *demb, *dxa, *dxb, *dln, *dqkv, *datty, *dxmid, *dfc, *dgel;
    float *dh, *dxk, *dreadout, *dhln, *dlogits, *dmem, *dmem_prev, *mscratch;
    int *seg_targets;   /* [max_rows] */
    float *seg_weights; /* [max_rows] */
    /* this call's slice */
    int b0, rows, W;
    const float *const *feats;
    const int *targets;
    const float *weights;
    const bool *from_start;
    float *mem, *probs;
    double loss;
};

struct crt_trainer {
    struct crt_model *model;
    struct crt_train_options opts;
    const struct crt_train_memory_ops *tm;
    void *tm_ctx;
    struct crt_train_extra extra[CRT_TRAIN_MAX_EXTRA];
    int n_extra;
    float *extra_buffer;
    float *grads, *adam_m, *adam_v; /* layout.total each */
    uint64_t steps;
    int n_workers;
    struct train_worker *workers;
};

void crt_train_options_default(struct crt_train_options *opts)
{
    *opts = (struct crt_train_options){
        .max_batch = 32,
        .max_window = 8,
        .threads = 1,
        .beta1 = 0.9f,
        .beta2 = 0.999f,
        .adam_eps = 1e-8f,
        .weight_decay = 0.01f,
        .clip_norm = 1.0f,
        .seed = 1,
    };
}

/* ---- allocation ----------------------------------------------------------- */

/* A bump allocator over one buffer: the first pass sizes, the second points. */
struct bump {
    float *base;
    size_t used;
};

static float *bump(struct bump *b, size_t n)
{
    float *p = b->base ? b->base + b->used : NULL;
    b->used += (n + 15) & ~(size_t)15;
    return p;
}

static void worker_layout(struct train_worker *wk, struct bump *b)
{
    const struct crt_model *m = wk->trainer->model;
    const struct crt_config *c = &m->cfg;
    size_t B = (size_t)wk->max_rows, d = (size_t)c->d_model, nt = (size_t)m->n_tokens;
    size_t T = nt + (size_t)c->segment_len, ff = (size_t)c->d_ff, H = (size_t)c->n_heads;
    size_t S = m->state_floats, C = (size_t)c->n_classes;
    const struct crt_train_memory_ops *tm = wk->trainer->tm;
    size_t save = m->ops->save_floats ? m->ops->save_floats(c) : 0;

    wk->grads = bump(b, m->layout.total);
    for (int w = 0; w < wk->trainer->opts.max_window; w++) {
        struct segment_cache *s = &wk->seg[w];
        s->feats = bump(b, B * (size_t)c->segment_len * (size_t)c->n_features);
        s->mem_in = bump(b, B * S);
        for (int l = 0; l < c->n_layers; l++) {
            size_t nq = l == c->n_layers - 1 ? nt : T;
            s->c.xin[l] = bump(b, B * T * d);
            s->c.ln1[l] = bump(b, B * T * d);
            s->c.ln1_mean[l] = bump(b, B * T);
            s->c.ln1_rstd[l] = bump(b, B * T);
            s->c.qkv[l] = bump(b, B * T * 3 * d);
            s->c.att[l] = bump(b, B * H * nq * T);
            s->c.atty[l] = bump(b, B * nq * d);
            s->c.xmid[l] = bump(b, B * nq * d);
            s->c.ln2[l] = bump(b, B * nq * d);
            s->c.ln2_mean[l] = bump(b, B * nq);
            s->c.ln2_rstd[l] = bump(b, B * nq);
            s->c.fc1[l] = bump(b, B * nq * ff);
            s->c.gel[l] = bump(b, B * nq * ff);
        }
        s->c.xk = bump(b, B * nt * d);
        s->c.h = bump(b, B * nt * d);
        s->c.lnf_mean = bump(b, B * nt);
        s->c.lnf_rstd = bump(b, B * nt);
        s->c.msave = bump(b, B * save);
        s->c.readout = bump(b, B * d);
        s->c.hln = bump(b, B * d);
        s->c.hln_mean = bump(b, B);
        s->c.hln_rstd = bump(b, B);
        s->probs = bump(b, B * C);
    }
    wk->demb = bump(b, B * (size_t)c->segment_len * d);
    wk->dxa = bump(b, B * T * d);
    wk->dxb = bump(b, B * T * d);
    wk->dln = bump(b, B * T * d);
    wk->dqkv = bump(b, B * T * 3 * d);
    wk->datty = bump(b, B * T * d);
    wk->dxmid = bump(b, B * T * d);
    wk->dfc = bump(b, B * T * ff);
    wk->dgel = bump(b, B * T * ff);
    wk->dh = bump(b, B * nt * d);
    wk->dxk = bump(b, B * nt * d);
    wk->dreadout = bump(b, B * d);
    wk->dhln = bump(b, B * d);
    wk->dlogits = bump(b, B * C);
    wk->dmem = bump(b, B * S);
    wk->dmem_prev = bump(b, B * S);
    wk->mscratch = bump(b, (tm->scratch_floats ? tm->scratch_floats(m) : 0) + B * S);
    wk->seg_weights = bump(b, B);
}

static int worker_init(struct train_worker *wk, struct crt_trainer *t, int max_rows)
{
    wk->trainer = t;
    wk->max_rows = max_rows;
    wk->seg = calloc((size_t)t->opts.max_window, sizeof(*wk->seg));
    wk->seg_targets = calloc((size_t)max_rows, sizeof(*wk->seg_targets));
    if (!wk->seg || !wk->seg_targets || crt_workspace_new(t->model, max_rows, &wk->ws) < 0)
        return -ENOMEM;
    struct bump b = {0};
    worker_layout(wk, &b);
    wk->buffer = aligned_alloc(64, b.used * sizeof(float));
    if (!wk->buffer)
        return -ENOMEM;
    memset(wk->buffer, 0, b.used * sizeof(float));
    b = (struct bump){.base = wk->buffer};
    worker_layout(wk, &b);
    return 0;
}

int crt_trainer_new(struct crt_model *model, const struct crt_train_options *opts,
                    struct crt_trainer **ret_trainer, struct errbuf *err)
{
    const struct crt_train_memory_ops *tm = NULL;
    for (int i = 0; i < crt_n_mechanisms; i++)
        if (strcmp(crt_train_mechanisms[i].architecture, model->cfg.architecture) == 0)
            tm = crt_train_mechanisms[i].ops;
    if (!tm)
        return errbuf_set(err, -EOPNOTSUPP, "training: architecture '%s' has no backward pass",
                          model->cfg.architecture);
    if (opts->max_batch < 1 || opts->max_window < 1 || opts->threads < 1 ||
        opts->max_batch > 65536 || opts->max_window > 4096 || opts->threads > 64)
        return errbuf_set(err, -EINVAL, "training: batch %d, window %d, threads %d out of range",
                          opts->max_batch, opts->max_window, opts->threads);

    struct crt_trainer *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->model = model;
    t->opts = *opts;
    t->tm = tm;
    int r = tm->prepare(model, &t->tm_ctx, t->extra, &t->n_extra, err);
    if (r < 0) {
        free(t);
        return r;
    }

    size_t total = model->layout.total, extra_total = 0;
    for (int i = 0; i < t->n_extra; i++)
        extra_total += 4 * ((t->extra[i].numel + 15) & ~(size_t)15);
    t->grads = aligned_alloc(64, 3 * total * sizeof(float));
    t->extra_buffer = calloc(extra_total ? extra_total : 1, sizeof(float));
    t->n_workers = opts->threads < opts->max_batch ? opts->threads : opts->max_batch;
    t->workers = calloc((size_t)t->n_workers, sizeof(*t->workers));
    if (!t->grads || !t->extra_buffer || !t->workers) {
        r = -ENOMEM;
        goto fail;
    }
    memset(t->grads, 0, 3 * total * sizeof(float));
    t->adam_m = t->grads + total;
    t->adam_v = t->grads + 2 * total;
    float *p = t->extra_buffer;
    for (int i = 0; i < t->n_extra; i++) {
        size_t n = (t->extra[i].numel + 15) & ~(size_t)15;
        t->extra[i].value = p;
        t->extra[i].grad = p + n;
        t->extra[i].m = p + 2 * n;
        t->extra[i].v = p + 3 * n;
        p += 4 * n;
    }
    if (tm->extras_ready)
        tm->extras_ready(model, t->tm_ctx);
    crt_model_params_changed(model); /* extras_ready may change tensors */

    int rows = (opts->max_batch + t->n_workers - 1) / t->n_workers;
    for (int i = 0; i < t->n_workers; i++)
        if ((r = worker_init(&t->workers[i], t, rows)) < 0)
            goto fail;
    *ret_trainer = t;
    return 0;
fail:
    crt_trainer_free(t);
    return errbuf_set(err, r, "training: cannot allocate the trainer: %s", strerror(-r));
}

struct crt_trainer *crt_trainer_free(struct crt_trainer *t)
{
    if (!t)
        return NULL;
    for (int i = 0; t->workers && i < t->n_workers; i++) {
        free(t->workers[i].buffer);
        free(t->workers[i].seg);
        free(t->workers[i].seg_targets);
        crt_workspace_free(t->workers[i].ws);
    }
    free(t->workers);
    if (t->tm && t->tm->release)
        t->tm->release(t->tm_ctx);
    free(t->grads);
    free(t->extra_buffer);
    free(t);
    return NULL;
}

void crt_trainer_init_weights(struct crt_trainer *t, uint64_t seed)
{
    crt_model_init_random(t->model, seed);
    if (t->tm->init_weights)
        t->tm->init_weights(t->model, t->tm_ctx, seed);
    crt_model_params_changed(t->model);
}

void crt_trainer_zero_grad(struct crt_trainer *t)
{
    memset(t->grads, 0, t->model->layout.total * sizeof(float));
    for (int i = 0; i < t->n_extra; i++)
        memset(t->extra[i].grad, 0, t->extra[i].numel * sizeof(float));
}

/* ---- forward -------------------------------------------------------------- */

/* The forward pass of one segment is inference's (crt_encoder_forward),
 * keeping its activations in s; the loss is training's own. */
static void forward_segment(struct train_worker *wk, struct segment_cache *s, int B, float *mem_out,
                            const int *targets, const float *weights)
{
    const struct crt_trainer *t = wk->trainer;
    int C = t->model->cfg.n_classes;
    crt_encoder_forward(t->model, wk->ws, &s->c, B, s->feats, s->mem_in, mem_out, s->probs);
    softmax_forward(s->probs, s->probs, B, C);
    wk->loss += crossentropy_softmax_backward(NULL, s->probs, targets, weights, B, C);
}

/* ---- backward ------------------------------------------------------------- */

/* Reverses block l given dout ([B, nq, d], the gradient of its output);
 * writes the gradient of its input into dxin ([B, T, d]). */
static void backward_block(struct train_worker *wk, const struct segment_cache *s, int l, int B,
                           const float *dout, float *dxin)
{
    const struct crt_model *m = wk->trainer->model;
    const struct crt_config *c = &m->cfg;
    const struct crt_block_weights *blk = &m->w.blk[l];
    float *g = wk->grads;
    int d = c->d_model, nt = m->n_tokens, T = nt + c->segment_len, ff = c->d_ff;
    int nq = l == c->n_layers - 1 ? nt : T, rows = B * nq;
#define G(p) crt_train_grad_of(m, g, (p))

    /* out = xmid + fc2(gelu(fc1(ln2(xmid)))) */
    memcpy(wk->dxmid, dout, (size_t)rows * d * sizeof(float));
    memset(wk->dgel, 0, (size_t)rows * ff * sizeof(float));
    matmul_backward(wk->dgel, G(blk->fc2_w), G(blk->fc2_b), dout, s->c.gel[l], blk->fc2_w, rows, ff,
                    d);
    memset(wk->dfc, 0, (size_t)rows * ff * sizeof(float));
    gelu_backward(wk->dfc, s->c.fc1[l], wk->dgel, (size_t)rows * ff);
    memset(wk->dln, 0, (size_t)rows * d * sizeof(float));
    matmul_backward(wk->dln, G(blk->fc1_w), G(blk->fc1_b), wk->dfc, s->c.ln2[l], blk->fc1_w, rows,
                    d, ff);
    layernorm_backward(wk->dxmid, G(blk->ln2_w), G(blk->ln2_b), wk->dln, s->c.xmid[l], blk->ln2_w,
                       s->c.ln2_mean[l], s->c.ln2_rstd[l], rows, d);

    /* xmid = xin[:, :nq] + proj(attention(qkv(ln1(xin)))) */
    memset(wk->datty, 0, (size_t)rows * d * sizeof(float));
    matmul_backward(wk->datty, G(blk->proj_w), G(blk->proj_b), wk->dxmid, s->c.atty[l], blk->proj_w,
                    rows, d, d);
    memset(dxin, 0, (size_t)B * T * d * sizeof(float));
    for (int b = 0; b < B; b++)
        residual_forward(dxin + (size_t)b * T * d, dxin + (size_t)b * T * d,
                         wk->dxmid + (size_t)b * nq * d, (size_t)nq * d);
    memset(wk->dqkv, 0, (size_t)B * T * 3 * d * sizeof(float));
    if (wk->trainer->tm->attention_backward)
        wk->trainer->tm->attention_backward(m, wk->trainer->tm_ctx, g, wk->mscratch, s->c.msave, l,
                                            wk->dqkv, wk->datty, s->c.qkv[l], s->mem_in, wk->dmem,
                                            wk->dreadout, wk->dmem_prev, B, T, nq);
    else
        attention_backward(wk->dqkv, wk->datty, s->c.qkv[l], s->c.att[l], B, T, d, c->n_heads, nq);
    memset(wk->dln, 0, (size_t)B * T * d * sizeof(float));
    matmul_backward(wk->dln, G(blk->qkv_w), G(blk->qkv_b), wk->dqkv, s->c.ln1[l], blk->qkv_w, B * T,
                    d, 3 * d);
    layernorm_backward(dxin, G(blk->ln1_w), G(blk->ln1_b), wk->dln, s->c.xin[l], blk->ln1_w,
                       s->c.ln1_mean[l], s->c.ln1_rstd[l], B * T, d);
#undef G
}

static void backward_segment(struct train_worker *wk, const struct segment_cache *s, int B,
                             const int *targets, const float *weights)
{
    struct crt_trainer *t = wk->trainer;
    const struct crt_model *m = t->model;
    const struct crt_config *c = &m->cfg;
    const struct crt_weights *w = &m->w;
    float *g = wk->grads;
    int d = c->d_model, L = c->segment_len, nt = m->n_tokens, T = nt + L, C = c->n_classes;
    size_t S = m->state_floats;
#define G(p) crt_train_grad_of(m, g, (p))

    /* The classifier: logits = head(LayerNorm(readout)). */
    memset(wk->dlogits, 0, (size_t)B * C * sizeof(float));
    crossentropy_softmax_backward(wk->dlogits, s->probs, targets, weights, B, C);
    if (t->tm->output_backward)
        t->tm->output_backward(m, t->tm_ctx, s->mem_in, wk->dlogits, wk->dmem, B);
    memset(wk->dhln, 0, (size_t)B * d * sizeof(float));
    matmul_backward(wk->dhln, G(w->head_w), G(w->head_b), wk->dlogits, s->c.hln, w->head_w, B, d,
                    C);
    memset(wk->dreadout, 0, (size_t)B * d * sizeof(float));
    layernorm_backward(wk->dreadout, G(w->head_ln_w), G(w->head_ln_b), wk->dhln, s->c.readout,
                       w->head_ln_w, s->c.hln_mean, s->c.hln_rstd, B, d);

    /* The memory update; wk->dmem holds the gradient of this segment's
     * memory from the segments after it. */
    t->tm->update_backward(m, t->tm_ctx, g, wk->mscratch, s->c.msave, wk->dmem, wk->dreadout,
                           s->c.h, s->mem_in, wk->dh, wk->dmem_prev, B);

    /* ln_f, then the blocks from the last to the first. */
    memset(wk->dxk, 0, (size_t)B * nt * d * sizeof(float));
    layernorm_backward(wk->dxk, G(w->lnf_w), G(w->lnf_b), wk->dh, s->c.xk, w->lnf_w, s->c.lnf_mean,
                       s->c.lnf_rstd, B * nt, d);
    const float *dout = wk->dxk;
    float *dxin = wk->dxa;
    for (int l = c->n_layers - 1; l >= 0; l--) {
        backward_block(wk, s, l, B, dout, dxin);
        dout = dxin;
        dxin = dxin == wk->dxa ? wk->dxb : wk->dxa;
    }
    const float *dx0 = dout;

    /* The frame tokens: x = W_in f + b_in + P[t]. */
    float *demb = wk->demb;
    float *dpos = G(w->pos);
    for (int b = 0; b < B; b++)
        for (int tk = 0; tk < L; tk++) {
            const float *row = dx0 + ((size_t)b * T + nt + tk) * d;
            memcpy(demb + ((size_t)b * L + tk) * d, row, (size_t)d * sizeof(float));
            residual_forward(dpos + (size_t)tk * d, dpos + (size_t)tk * d, row, (size_t)d);
        }
    matmul_backward(NULL, G(w->in_w), G(w->in_b), demb, s->feats, w->in_w, B * L, c->n_features, d);
    /* The memory tokens feed the gradient of the previous memory. */
    if (t->tm->embed_backward)
        t->tm->embed_backward(m, t->tm_ctx, g, dx0, s->mem_in, wk->dmem_prev, B, T);
    memcpy(wk->dmem, wk->dmem_prev, (size_t)B * S * sizeof(float));
#undef G
}

/* Segment w's targets and weights of this worker's rows. */
static void gather_targets(struct train_worker *wk, int w)
{
    for (int b = 0; b < wk->rows; b++) {
        wk->seg_targets[b] = wk->targets[(size_t)(wk->b0 + b) * wk->W + w];
        wk->seg_weights[b] = wk->weights[(size_t)(wk->b0 + b) * wk->W + w];
    }
}

static void *worker_run(void *arg)
{
    struct train_worker *wk = arg;
    struct crt_trainer *t = wk->trainer;
    const struct crt_model *m = t->model;
    const struct crt_config *c = &m->cfg;
    int B = wk->rows, W = wk->W, C = c->n_classes;
    size_t S = m->state_floats, seg_feats = (size_t)c->segment_len * (size_t)c->n_features;

    wk->loss = 0;
    memset(wk->grads, 0, m->layout.total * sizeof(float));
    if (B == 0)
        return NULL;

    for (int w = 0; w < W; w++) {
        struct segment_cache *s = &wk->seg[w];
        for (int b = 0; b < B; b++)
            memcpy(s->feats + (size_t)b * seg_feats, wk->feats[wk->b0 + b] + (size_t)w * seg_feats,
                   seg_feats * sizeof(float));
        if (w == 0)
            memcpy(s->mem_in, wk->mem + (size_t)wk->b0 * S, (size_t)B * S * sizeof(float));
        float *mem_out = w + 1 < W ? wk->seg[w + 1].mem_in : wk->mem + (size_t)wk->b0 * S;
        gather_targets(wk, w);
        forward_segment(wk, s, B, mem_out, wk->seg_targets, wk->seg_weights);
        if (wk->probs)
            for (int b = 0; b < B; b++)
                memcpy(wk->probs + ((size_t)(wk->b0 + b) * W + w) * C, s->probs + (size_t)b * C,
                       (size_t)C * sizeof(float));
    }

    memset(wk->dmem, 0, (size_t)B * S * sizeof(float)); /* truncated after the window */
    for (int w = W - 1; w >= 0; w--) {
        gather_targets(wk, w);
        backward_segment(wk, &wk->seg[w], B, wk->seg_targets, wk->seg_weights);
    }
    for (int b = 0; t->tm->initial_memory_backward && b < B; b++)
        if (wk->from_start && wk->from_start[wk->b0 + b])
            t->tm->initial_memory_backward(m, t->tm_ctx, wk->grads, wk->dmem + (size_t)b * S);
    return NULL;
}

double crt_trainer_forward_backward(struct crt_trainer *t, int B, int W, const float *const *feats,
                                    const int *targets, const float *weights,
                                    const bool *from_start, float *mem, float *probs)
{
    assert(B >= 1 && B <= t->opts.max_batch && W >= 1 && W <= t->opts.max_window);
    int per = (B + t->n_workers - 1) / t->n_workers;
    pthread_t threads[64];
    bool started[64] = {false};

    for (int i = 0; i < t->n_workers; i++) {
        struct train_worker *wk = &t->workers[i];
        wk->b0 = i * per < B ? i * per : B;
        wk->rows = wk->b0 + per <= B ? per : B - wk->b0;
        wk->W = W;
        wk->feats = feats;
        wk->targets = targets;
        wk->weights = weights;
        wk->from_start = from_start;
        wk->mem = mem;
        wk->probs = probs;
        if (i > 0)
            started[i] = pthread_create(&threads[i], NULL, worker_run, wk) == 0;
    }
    worker_run(&t->workers[0]);
    for (int i = 1; i < t->n_workers; i++) {
        if (started[i])
            pthread_join(threads[i], NULL);
        else
            worker_run(&t->workers[i]); /* no thread: do its share here */
    }

    /* Sum in worker order, so the result does not depend on timing. */
    double loss = 0;
    size_t total = t->model->layout.total;
    for (int i = 0; i < t->n_workers; i++) {
        const float *wg = t->workers[i].grads;
        for (size_t k = 0; k < total; k++)
            t->grads[k] += wg[k];
        loss += t->workers[i].loss;
    }
    return loss;
}

/* ---- the optimiser -------------------------------------------------------- */

double crt_trainer_grad_norm(const struct crt_trainer *t)
{
    double sum = 0;
    for (size_t k = 0; k < t->model->layout.total; k++)
        sum += (double)t->grads[k] * t->grads[k];
    for (int i = 0; i < t->n_extra; i++)
        for (size_t k = 0; k < t->extra[i].numel; k++)
            sum += (double)t->extra[i].grad[k] * t->extra[i].grad[k];
    return sqrt(sum);
}

static void adamw(float *p, float *g, float *m, float *v, size_t n, float lr, float decay,
                  const struct crt_train_options *o, float bc1, float bc2)
{
    for (size_t k = 0; k < n; k++) {
        m[k] = o->beta1 * m[k] + (1.0f - o->beta1) * g[k];
        v[k] = o->beta2 * v[k] + (1.0f - o->beta2) * g[k] * g[k];
        float mhat = m[k] / bc1, vhat = v[k] / bc2;
        p[k] -= lr * (mhat / (sqrtf(vhat) + o->adam_eps) + decay * p[k]);
    }
}

void crt_trainer_step(struct crt_trainer *t, float grad_scale, float lr)
{
    struct crt_model *m = t->model;
    size_t total = m->layout.total;

    if (grad_scale != 1.0f)
        for (size_t k = 0; k < total; k++)
            t->grads[k] *= grad_scale;
    if (t->tm->before_step)
        t->tm->before_step(m, t->tm_ctx, t->grads);
    double norm = crt_trainer_grad_norm(t);
    if (t->opts.clip_norm > 0 && norm > t->opts.clip_norm) {
        float s = (float)(t->opts.clip_norm / norm);
        for (size_t k = 0; k < total; k++)
            t->grads[k] *= s;
        for (int i = 0; i < t->n_extra; i++)
            for (size_t k = 0; k < t->extra[i].numel; k++)
                t->extra[i].grad[k] *= s;
    }

    t->steps++;
    float bc1 = 1.0f - powf(t->opts.beta1, (float)t->steps);
    float bc2 = 1.0f - powf(t->opts.beta2, (float)t->steps);
    for (int i = 0; i < m->layout.n; i++) {
        const struct crt_param *p = &m->layout.params[i];
        adamw(m->params + p->offset, t->grads + p->offset, t->adam_m + p->offset,
              t->adam_v + p->offset, p->numel, lr,
              p->flags & CRT_PARAM_DECAY ? t->opts.weight_decay : 0.0f, &t->opts, bc1, bc2);
    }
    for (int i = 0; i < t->n_extra; i++) {
        struct crt_train_extra *e = &t->extra[i];
        adamw(e->value, e->grad, e->m, e->v, e->numel, lr, 0.0f, &t->opts, bc1, bc2);
    }
    if (t->tm->after_step)
        t->tm->after_step(m, t->tm_ctx);
    crt_model_params_changed(m);
}

const float *crt_trainer_grad(const struct crt_trainer *t, const char *name)
{
    for (int i = 0; i < t->model->layout.n; i++)
        if (strcmp(t->model->layout.params[i].name, name) == 0)
            return t->grads + t->model->layout.params[i].offset;
    for (int i = 0; i < t->n_extra; i++)
        if (strcmp(t->extra[i].name, name) == 0)
            return t->extra[i].grad;
    return NULL;
}

uint64_t crt_trainer_steps(const struct crt_trainer *t)
{
    return t->steps;
}

/* ---- checkpoints ---------------------------------------------------------- */

/* The optimiser's file beside a checkpoint's model file: both moments of
 * every tensor and every extra's value and moments, and the step count. */
int crt_trainer_save(const struct crt_trainer *t, const char *path, const char *const *meta_keys,
                     const char *const *meta_values, int n_meta, struct errbuf *err)
{
    const struct crt_model *m = t->model;
    struct safetensors_writer *w = safetensors_writer_new();
    char name[CRT_PARAM_NAME + 16], text[64];
    int r = w ? 0 : -ENOMEM;

    for (int i = 0; r == 0 && i < m->layout.n; i++) {
        const struct crt_param *p = &m->layout.params[i];
        int64_t shape[1] = {(int64_t)p->numel};
        snprintf(name, sizeof(name), "adam_m.%s", p->name);
        r = safetensors_writer_add(w, name, SAFETENSORS_F32, 1, shape, t->adam_m + p->offset);
        snprintf(name, sizeof(name), "adam_v.%s", p->name);
        if (r == 0)
            r = safetensors_writer_add(w, name, SAFETENSORS_F32, 1, shape, t->adam_v + p->offset);
    }
    for (int i = 0; r == 0 && i < t->n_extra; i++) {
        const struct crt_train_extra *e = &t->extra[i];
        int64_t shape[1] = {(int64_t)e->numel};
        const float *parts[3] = {e->value, e->m, e->v};
        const char *prefix[3] = {"extra", "extra_m", "extra_v"};
        for (int k = 0; r == 0 && k < 3; k++) {
            snprintf(name, sizeof(name), "%s.%s", prefix[k], e->name);
            r = safetensors_writer_add(w, name, SAFETENSORS_F32, 1, shape, parts[k]);
        }
    }
    snprintf(text, sizeof(text), "%llu", (unsigned long long)t->steps);
    if (r == 0)
        r = safetensors_writer_set_metadata(w, "format", "crtd-trainer-state");
    if (r == 0)
        r = safetensors_writer_set_metadata(w, "steps", text);
    snprintf(text, sizeof(text), "%016llx", (unsigned long long)crt_model_fingerprint(m));
    if (r == 0)
        r = safetensors_writer_set_metadata(w, "model_fingerprint", text);
    for (int i = 0; r == 0 && i < n_meta; i++)
        r = safetensors_writer_set_metadata(w, meta_keys[i], meta_values[i]);
    if (r < 0) {
        safetensors_writer_free(w);
        return errbuf_set(err, r, "%s: cannot build the trainer state: %s", path, strerror(-r));
    }
    r = safetensors_writer_save(w, path, err);
    safetensors_writer_free(w);
    return r;
}

static int load_vector(const struct safetensors *st, const char *name, float *out, size_t n,
                       const char *path, struct errbuf *err)
{
    const struct safetensors_tensor *tensor = safetensors_find(st, name);
    if (!tensor)
        return errbuf_set(err, -EBADMSG, "%s: tensor '%s' is missing", path, name);
    int64_t shape[1] = {(int64_t)n};
    struct errbuf inner = {0};
    int r = safetensors_tensor_check(tensor, 1, shape, &inner);
    if (r < 0)
        return errbuf_set(err, r, "%s: %s", path, inner.msg);
    safetensors_tensor_to_f32(tensor, out);
    return 0;
}

int crt_trainer_load(struct crt_trainer *t, const char *path, struct safetensors **ret_st,
                     struct errbuf *err)
{
    struct crt_model *m = t->model;
    struct safetensors *st = NULL;
    char name[CRT_PARAM_NAME + 16], text[64];
    int r = safetensors_open(path, &st, err);
    if (r < 0)
        return r;
    const char *format = safetensors_metadata(st, "format");
    const char *steps = safetensors_metadata(st, "steps");
    const char *fingerprint = safetensors_metadata(st, "model_fingerprint");
    snprintf(text, sizeof(text), "%016llx", (unsigned long long)crt_model_fingerprint(m));
    if (!format || strcmp(format, "crtd-trainer-state") != 0 || !steps) {
        r = errbuf_set(err, -EBADMSG, "%s: not a trainer state file", path);
        goto fail;
    }
    if (!fingerprint || strcmp(fingerprint, text) != 0) {
        r = errbuf_set(err, -ESTALE, "%s: belongs to another model (fingerprint %s, model %s)",
                       path, fingerprint ? fingerprint : "missing", text);
        goto fail;
    }
    for (int i = 0; i < m->layout.n; i++) {
        const struct crt_param *p = &m->layout.params[i];
        snprintf(name, sizeof(name), "adam_m.%s", p->name);
        if ((r = load_vector(st, name, t->adam_m + p->offset, p->numel, path, err)) < 0)
            goto fail;
        snprintf(name, sizeof(name), "adam_v.%s", p->name);
        if ((r = load_vector(st, name, t->adam_v + p->offset, p->numel, path, err)) < 0)
            goto fail;
    }
    for (int i = 0; i < t->n_extra; i++) {
        struct crt_train_extra *e = &t->extra[i];
        float *parts[3] = {e->value, e->m, e->v};
        const char *prefix[3] = {"extra", "extra_m", "extra_v"};
        for (int k = 0; k < 3; k++) {
            snprintf(name, sizeof(name), "%s.%s", prefix[k], e->name);
            if ((r = load_vector(st, name, parts[k], e->numel, path, err)) < 0)
                goto fail;
        }
    }
    t->steps = strtoull(steps, NULL, 10);
    if (ret_st)
        *ret_st = st;
    else
        safetensors_free(st);
    return 0;
fail:
    safetensors_free(st);
    return r;
}
