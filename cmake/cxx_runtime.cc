// cmake/cxx_runtime.cc — the few C++ runtime functions snappy's C API
// reaches, for the prebuilt Linux addons (cmake/codecs.cmake). snappy is
// compiled without exceptions or RTTI; with these defined in the addon,
// nothing of libstdc++, libsupc++ or the unwinder (libgcc_eh) stays in the
// linked module (--gc-sections drops the parts of libstdc++.a that unused
// snappy functions referred to). That matters for the glibc a prebuild
// needs: the static libstdc++ of gcc 12 refers to arc4random (glibc 2.36),
// _dl_find_object (2.35) and __libc_single_threaded (2.32), which raised
// the prebuild's floor above the glibc it was built against.
// Behaviour matches the standard library under -fno-exceptions: an
// allocation that fails ends the process (it would throw std::bad_alloc,
// which nothing in snappy catches). Every symbol has hidden visibility: the
// addon never provides these to the process it is loaded into.
#include <cstddef>
#include <cstdlib>
#include <pthread.h>

#define LDB_HIDDEN __attribute__((visibility("hidden")))

static void *ldb_cxx_alloc(std::size_t n) {
  void *p = std::malloc(n ? n : 1);
  if (!p) std::abort();
  return p;
}

LDB_HIDDEN void *operator new(std::size_t n) {
  return ldb_cxx_alloc(n);
}
LDB_HIDDEN void *operator new[](std::size_t n) {
  return ldb_cxx_alloc(n);
}
LDB_HIDDEN void operator delete(void *p) noexcept {
  std::free(p);
}
LDB_HIDDEN void operator delete[](void *p) noexcept {
  std::free(p);
}
LDB_HIDDEN void operator delete(void *p, std::size_t) noexcept {
  std::free(p);
}
LDB_HIDDEN void operator delete[](void *p, std::size_t) noexcept {
  std::free(p);
}

// Function-local statics with dynamic initialisation (snappy has one, a
// table on the decompression path): the Itanium ABI's guard protocol. The
// guard's first byte says "initialised"; one mutex serialises the
// initialisers (snappy's does not recurse, so one lock suffices).
static pthread_mutex_t ldb_guard_lock = PTHREAD_MUTEX_INITIALIZER;

extern "C" {
LDB_HIDDEN int __cxa_guard_acquire(unsigned long long *g) {
  if (__atomic_load_n(reinterpret_cast<unsigned char *>(g), __ATOMIC_ACQUIRE))
    return 0;
  pthread_mutex_lock(&ldb_guard_lock);
  if (__atomic_load_n(reinterpret_cast<unsigned char *>(g), __ATOMIC_ACQUIRE)) {
    pthread_mutex_unlock(&ldb_guard_lock);
    return 0;
  }
  return 1; // the caller initialises, then calls __cxa_guard_release
}
LDB_HIDDEN void __cxa_guard_release(unsigned long long *g) {
  __atomic_store_n(reinterpret_cast<unsigned char *>(g), 1, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&ldb_guard_lock);
}
LDB_HIDDEN void __cxa_guard_abort(unsigned long long *) {
  pthread_mutex_unlock(&ldb_guard_lock);
}
LDB_HIDDEN void __cxa_pure_virtual() {
  std::abort();
}
}
