// The system calls an idle daemon needs when it starts, as a small Node-API addon:
// flock(2) for the root lock, getdents64(2) for the overlay snapshotter's d_type check and
// glibc's malloc_trim(3) for the idle release. koffi does all three too, but loading it
// costs a daemon ~1.8 MB of resident memory for good (its own code, and the ~160 symbols
// the dynamic linker looks up in node's 75,000) and ~10 ms of its start; this addon
// imports five functions. koffi still loads for everything else (mounts, xattrs, spawn),
// and for these three where this addon was not built (no C compiler at install).
//
// Every function returns the call's result, or -errno when it failed: no errno to read
// back from JavaScript.
//
// Built by @containerd-ts/native-build (its include/node-api-min.h: the Node-API
// declarations, so that building needs a C compiler and libc headers only).
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "node-api-min.h"

/* Reads `n` int32 arguments; false when one is missing or not a number. */
static int int_args(napi_env env, napi_callback_info info, int32_t *out, size_t n, napi_value *argv) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != 0 || argc < n) return 0;
  for (size_t i = 0; i < n; i++)
    if (out && napi_get_value_int32(env, argv[i], &out[i]) != 0) return 0;
  return 1;
}

static napi_value int_result(napi_env env, int32_t value) {
  napi_value result = NULL;
  napi_create_int32(env, value, &result);
  return result;
}

/* flock(fd, operation) -> 0 | -errno */
static napi_value js_flock(napi_env env, napi_callback_info info) {
  int32_t a[2];
  napi_value argv[2];
  if (!int_args(env, info, a, 2, argv)) return int_result(env, -EINVAL);
  return int_result(env, flock(a[0], a[1]) == 0 ? 0 : -errno);
}

/* getdents64(fd, buffer) -> bytes read (0 at the end) | -errno */
static napi_value js_getdents64(napi_env env, napi_callback_info info) {
  int32_t fd;
  napi_value argv[2];
  size_t argc = 2;
  void *data = NULL;
  size_t length = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != 0 || argc < 2 ||
      napi_get_value_int32(env, argv[0], &fd) != 0 || napi_get_buffer_info(env, argv[1], &data, &length) != 0)
    return int_result(env, -EINVAL);
  if (length > INT32_MAX) length = INT32_MAX;
  long n = syscall(SYS_getdents64, fd, data, length);
  return int_result(env, n < 0 ? -errno : (int32_t)n);
}

/* malloc_trim(pad) -> 1 when memory went back to the kernel, else 0 */
static napi_value js_malloc_trim(napi_env env, napi_callback_info info) {
  int32_t pad;
  napi_value argv[1];
  if (!int_args(env, info, &pad, 1, argv) || pad < 0) return int_result(env, -EINVAL);
  return int_result(env, malloc_trim((size_t)pad));
}

static napi_value register_sys(napi_env env, napi_value exports) {
  napi_min_export(env, exports, "flock", js_flock);
  napi_min_export(env, exports, "getdents64", js_getdents64);
  napi_min_export(env, exports, "mallocTrim", js_malloc_trim);
  return exports;
}

NAPI_MIN_MODULE(register_sys)
