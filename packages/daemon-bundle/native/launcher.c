// The launcher's Node-API addon: maps a bundle and its code cache into memory instead of
// reading them. A start read 1.7 MB of bundle into a Buffer, copied it into a string and
// V8 copied that again, and read 1.6 MB of code cache into another Buffer: every page of
// those copies is a page fault on fresh memory, ~11 µs each on the virtual machines this
// runs on (~15 ms of a 300 ms start). A mapping of the file shares the page cache's pages,
// and the kernel maps 16 of them per fault.
//
// The mapped files must be replaced (a new file renamed over the old), never rewritten in
// place while a program runs from them, as with shared libraries: bundleDaemon and the
// launcher write them so. Where this addon is missing (no C compiler at install) the
// launcher reads the files as before.
//
// Built by @containerd-ts/native-build (its include/node-api-min.h).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node-api-min.h"

/* node_api_create_external_string_latin1: Node 20.4 and later; looked up at run time, so
   that on an older node the addon loads and mapLatin1 says it cannot (undefined). */
typedef napi_status (*create_external_latin1_fn)(napi_env env, char *str, size_t length, napi_finalize finalize_cb,
                                                 void *finalize_hint, napi_value *result, bool *copied);

static void unmap(napi_env env, void *data, void *hint) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)hint);
}

/* A private read-only mapping of the whole file named by argv[0]; NULL when there is none
   (no such file, empty, not a regular file). */
static void *map_arg(napi_env env, napi_callback_info info, size_t *length) {
  size_t argc = 1;
  napi_value argv[1];
  char path[4096];
  size_t path_length = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != 0 || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], path, sizeof path, &path_length) != 0 || path_length >= sizeof path - 1)
    return NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  struct stat st;
  void *data = NULL;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED) data = NULL;
    *length = (size_t)st.st_size;
  }
  close(fd);
  return data;
}

static napi_value undefined_value(napi_env env) {
  napi_value result = NULL;
  napi_get_undefined(env, &result);
  return result;
}

/* mapLatin1(path) -> the file's bytes as a Latin-1 string backed by the mapping, or
   undefined (no such file, or this node has no external strings). */
static napi_value js_map_latin1(napi_env env, napi_callback_info info) {
  static create_external_latin1_fn create;
  static bool looked_up;
  if (!looked_up) {
    create = (create_external_latin1_fn)dlsym(RTLD_DEFAULT, "node_api_create_external_string_latin1");
    looked_up = true;
  }
  if (create == NULL) return undefined_value(env);
  size_t length = 0;
  char *data = map_arg(env, info, &length);
  if (data == NULL) return undefined_value(env);
  napi_value result = NULL;
  bool copied = false;
  if (create(env, data, length, unmap, (void *)(uintptr_t)length, &result, &copied) != 0) {
    munmap(data, length);
    return undefined_value(env);
  }
  /* copied: node made a string of its own and has already called unmap (its documented contract) */
  return result;
}

/* mapBuffer(path) -> a Buffer over the mapping (read-only: writing to it kills the process), or undefined. */
static napi_value js_map_buffer(napi_env env, napi_callback_info info) {
  size_t length = 0;
  void *data = map_arg(env, info, &length);
  if (data == NULL) return undefined_value(env);
  napi_value result = NULL;
  if (napi_create_external_buffer(env, length, data, unmap, (void *)(uintptr_t)length, &result) != 0) {
    munmap(data, length);
    return undefined_value(env);
  }
  return result;
}

static napi_value register_launcher(napi_env env, napi_value exports) {
  napi_min_export(env, exports, "mapLatin1", js_map_latin1);
  napi_min_export(env, exports, "mapBuffer", js_map_buffer);
  return exports;
}

NAPI_MIN_MODULE(register_launcher)
