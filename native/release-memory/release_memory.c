/*
 * malloc_trim(0) for Node, which has no FFI: glibc keeps the memory freed by image work in its
 * heaps, and gives it back to the OS only when asked. Elsewhere (musl, macOS) it compiles to a
 * module whose `glibc` is false and whose trim() does nothing.
 */
#include <stdlib.h> /* any libc header: defines __GLIBC__ where the C library is glibc */
#include <node_api.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

/* trim(): true when glibc gave memory back to the OS. */
static napi_value Trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
#ifdef __GLIBC__
  napi_get_boolean(env, malloc_trim(0) != 0, &result);
#else
  napi_get_boolean(env, false, &result);
#endif
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value trim;
  napi_value glibc;
#ifdef __GLIBC__
  napi_get_boolean(env, true, &glibc);
#else
  napi_get_boolean(env, false, &glibc);
#endif
  napi_create_function(env, "trim", NAPI_AUTO_LENGTH, Trim, NULL, &trim);
  napi_set_named_property(env, exports, "trim", trim);
  napi_set_named_property(env, exports, "glibc", glibc);
  return exports;
}
