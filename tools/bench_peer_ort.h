/* ONNX Runtime as a peer in `crt bench pose` and `crt bench model`: the same
 * model written as ONNX by tests/ref/onnx_export.py (Debian's python3-onnx)
 * and run by onnxruntime-node (tests/ref/ort_peer.js) on one thread with its
 * CPU kernels. tests/ref/onnx_parity.py checks first that its outputs are
 * TensorFlow.js's and PyTorch's. */
#ifndef CRTD_TOOLS_BENCH_PEER_ORT_H
#define CRTD_TOOLS_BENCH_PEER_ORT_H

#include <stdbool.h>
#include <stddef.h>

#include "base.h"

/* Where an ONNX Runtime figure comes from, for the tables. */
#define ORT_PEER_NAME "onnxruntime-node 1.30.0"

/* Writes model (a MoveNet model.json, or kind "segment" and a .safetensors)
 * as ONNX to a new temporary file, whose path goes to onnx_path; the caller
 * unlinks it. python is the interpreter with python3-onnx. */
int ort_peer_export(const char *python, const char *kind, const char *model, char *onnx_path,
                    size_t size, struct errbuf *err);

/* MoveNet on an in_w x in_h input (int32 RGB in input_path): ms per frame,
 * wall clock and CPU time of the node process, best of 3 repetitions of
 * frames frames. */
int ort_peer_pose(const char *node, const char *onnx_path, const char *input_path, int frames,
                  int in_w, int in_h, double *ret_ms, double *ret_cpu_ms, struct errbuf *err);

/* One stream's segment step, iters steps per run, best of 9: CPU us per
 * step, and what a call costs the node binding on an empty graph. */
int ort_peer_segment(const char *node, const char *onnx_path, int iters, double *ret_us,
                     double *ret_us_binding, struct errbuf *err);

#endif
