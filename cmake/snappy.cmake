# cmake/snappy.cmake — snappy compiled from its source into the build, for
# the WebAssembly module (wasm/wasm.cmake) and the prebuilt addons
# (cmake/codecs.cmake, -DLDB_STATIC_CODECS=ON). The source is Debian's
# source package unpacked into ${LDB_THIRD_PARTY}/snappy by
# scripts/build-wasm.sh or scripts/prebuild.mjs (never committed): the same
# version as libsnappy-dev. Snappy is C++; the core uses its C API
# (snappy-c.h) only. Its two generated headers are written here as its own
# CMakeLists would write them for a little-endian target with sys/uio.h (but
# none on Windows) and without SSSE3/BMI2 (portable code only). Defines the target ldb_snappy.
if(NOT EXISTS ${LDB_THIRD_PARTY}/snappy/snappy-c.h)
  message(FATAL_ERROR "snappy sources missing under ${LDB_THIRD_PARTY}; scripts/build-wasm.sh or scripts/prebuild.mjs fetch them")
endif()
enable_language(CXX)
set(LDB_SNAPPY ${LDB_THIRD_PARTY}/snappy)
file(STRINGS ${LDB_SNAPPY}/CMakeLists.txt ldb_snappy_project REGEX "^project\\(Snappy VERSION")
string(REGEX MATCH "([0-9]+)\\.([0-9]+)\\.([0-9]+)" ldb_snappy_version "${ldb_snappy_project}")
set(PROJECT_VERSION_MAJOR ${CMAKE_MATCH_1})
set(PROJECT_VERSION_MINOR ${CMAKE_MATCH_2})
set(PROJECT_VERSION_PATCH ${CMAKE_MATCH_3})
if(WIN32)
  set(HAVE_SYS_UIO_H_01 0)   # MinGW has no sys/uio.h: snappy defines iovec
else()
  set(HAVE_SYS_UIO_H_01 1)
  set(HAVE_SYS_UIO_H 1)
endif()
set(HAVE_UNISTD_H 1)
set(HAVE_BUILTIN_EXPECT 1)
set(HAVE_BUILTIN_CTZ 1)
set(HAVE_ATTRIBUTE_ALWAYS_INLINE 1)
set(SNAPPY_HAVE_SSSE3 0)
set(SNAPPY_HAVE_BMI2 0)
configure_file(${LDB_SNAPPY}/cmake/config.h.in ${CMAKE_CURRENT_BINARY_DIR}/snappy-gen/config.h)
configure_file(${LDB_SNAPPY}/snappy-stubs-public.h.in ${CMAKE_CURRENT_BINARY_DIR}/snappy-gen/snappy-stubs-public.h)
add_library(ldb_snappy STATIC
  ${LDB_SNAPPY}/snappy.cc ${LDB_SNAPPY}/snappy-c.cc
  ${LDB_SNAPPY}/snappy-sinksource.cc ${LDB_SNAPPY}/snappy-stubs-internal.cc)
target_include_directories(ldb_snappy PUBLIC ${LDB_SNAPPY} ${CMAKE_CURRENT_BINARY_DIR}/snappy-gen)
target_compile_definitions(ldb_snappy PRIVATE HAVE_CONFIG_H)
# No exceptions or RTTI (the C API needs neither); hidden symbols, so an
# addon never clashes with another snappy loaded in the same process.
target_compile_options(ldb_snappy PRIVATE -O2 -fno-exceptions -fno-rtti -fvisibility=hidden -w)
set_target_properties(ldb_snappy PROPERTIES POSITION_INDEPENDENT_CODE ON)
