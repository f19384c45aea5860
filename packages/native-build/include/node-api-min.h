/*
 * The few Node-API declarations the addons of this repository use, written out from
 * node_api.h (a stable C ABI) so that building an addon needs a C compiler and libc
 * headers only, not node's headers. Every function here is in Node-API 8 (Node 12.22 and
 * later) unless its comment says otherwise.
 */
#ifndef CONTAINERD_TS_NODE_API_MIN_H
#define CONTAINERD_TS_NODE_API_MIN_H

#include <stddef.h>
#include <stdint.h>

typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef int napi_status; /* napi_ok is 0 */
typedef napi_value (*napi_callback)(napi_env env, napi_callback_info info);
typedef void (*napi_finalize)(napi_env env, void *data, void *hint);

extern napi_status napi_get_cb_info(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv,
                                    napi_value *this_arg, void **data);
extern napi_status napi_get_value_int32(napi_env env, napi_value value, int32_t *result);
extern napi_status napi_get_value_string_utf8(napi_env env, napi_value value, char *buf, size_t bufsize, size_t *result);
extern napi_status napi_get_buffer_info(napi_env env, napi_value value, void **data, size_t *length);
extern napi_status napi_create_int32(napi_env env, int32_t value, napi_value *result);
extern napi_status napi_create_external_buffer(napi_env env, size_t length, void *data, napi_finalize finalize_cb,
                                               void *finalize_hint, napi_value *result);
extern napi_status napi_get_undefined(napi_env env, napi_value *result);
extern napi_status napi_create_function(napi_env env, const char *name, size_t length, napi_callback cb, void *data,
                                        napi_value *result);
extern napi_status napi_set_named_property(napi_env env, napi_value object, const char *name, napi_value value);

#define NAPI_AUTO_LENGTH ((size_t)-1)

/* Adds `fn` to `exports` as `name`. */
static inline void napi_min_export(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) == 0) napi_set_named_property(env, exports, name, fn);
}

/* The Node-API version the addons are written against (NAPI_VERSION 8). */
#define NAPI_MIN_MODULE(register_fn)                                                                                 \
  __attribute__((visibility("default"))) napi_value napi_register_module_v1(napi_env env, napi_value exports) {     \
    return register_fn(env, exports);                                                                                \
  }                                                                                                                  \
  __attribute__((visibility("default"))) int32_t node_api_module_get_api_version_v1(void) { return 8; }

#endif
