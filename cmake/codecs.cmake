# cmake/codecs.cmake — zstd and lz4 compiled from source into the build
# (-DLDB_STATIC_CODECS=ON), for the prebuilt addons (no libzstd1 / liblz4-1
# needed where they run) and cross builds (no target copy of the -dev
# packages needed). The sources are Debian's source packages, unpacked into
# third_party/ by scripts/build-wasm.sh or scripts/prebuild.mjs (never
# committed): the same versions as libzstd-dev and liblz4-dev.
# Defines PkgConfig::ZSTD and PkgConfig::LZ4, the names the pkg-config path
# defines, so the rest of CMakeLists.txt does not change.
set(LDB_THIRD_PARTY ${CMAKE_CURRENT_SOURCE_DIR}/third_party CACHE PATH
    "directory holding the unpacked zstd/ and lz4/ sources")
if(NOT EXISTS ${LDB_THIRD_PARTY}/zstd/lib/zstd.h OR NOT EXISTS ${LDB_THIRD_PARTY}/lz4/lib/lz4.h)
  message(FATAL_ERROR "zstd/lz4 sources missing under ${LDB_THIRD_PARTY}; scripts/prebuild.mjs fetches them")
endif()
file(GLOB LDB_ZSTD_SOURCES
     ${LDB_THIRD_PARTY}/zstd/lib/common/*.c
     ${LDB_THIRD_PARTY}/zstd/lib/compress/*.c
     ${LDB_THIRD_PARTY}/zstd/lib/decompress/*.c)
add_library(ldb_codecs STATIC ${LDB_ZSTD_SOURCES} ${LDB_THIRD_PARTY}/lz4/lib/lz4.c)
target_include_directories(ldb_codecs PUBLIC ${LDB_THIRD_PARTY}/zstd/lib ${LDB_THIRD_PARTY}/lz4/lib)
# Portable C only (no x86-64 assembly, so one file list serves every target);
# single-threaded compression, as the core uses it; hidden symbols, so an
# addon never clashes with another copy of zstd loaded in the same process.
target_compile_definitions(ldb_codecs PRIVATE ZSTD_DISABLE_ASM ZSTD_MULTITHREAD=0 ZSTD_LEGACY_SUPPORT=0)
target_compile_options(ldb_codecs PRIVATE -fvisibility=hidden -w)
set_target_properties(ldb_codecs PROPERTIES POSITION_INDEPENDENT_CODE ON)
add_library(PkgConfig::ZSTD INTERFACE IMPORTED)
set_property(TARGET PkgConfig::ZSTD PROPERTY INTERFACE_LINK_LIBRARIES ldb_codecs)
add_library(PkgConfig::LZ4 INTERFACE IMPORTED)
set_property(TARGET PkgConfig::LZ4 PROPERTY INTERFACE_LINK_LIBRARIES ldb_codecs)
# snappy (C++) likewise, so a prebuilt addon needs libc only. On Linux no
# C++ runtime is linked at all: the few runtime functions snappy's C API
# reaches are our own (cmake/cxx_runtime.cc), the driver's default
# libraries (libstdc++, libgcc_s) are left out (-nodefaultlibs; libc and the
# static libgcc are named instead) and the sections of snappy's unused C++
# functions are dropped (--gc-sections). gcc 12's static libstdc++ and
# unwinder refer to arc4random (glibc 2.36), _dl_find_object (2.35) and
# __libc_single_threaded (2.32), which would raise the prebuild's glibc
# floor (scripts/prebuild.mjs checks it). MinGW links its C++ runtime
# statically (no glibc there).
include(${CMAKE_CURRENT_LIST_DIR}/snappy.cmake)
add_library(PkgConfig::SNAPPY INTERFACE IMPORTED)
if(WIN32)
  set_property(TARGET PkgConfig::SNAPPY PROPERTY INTERFACE_LINK_LIBRARIES ldb_snappy)
  set_property(TARGET PkgConfig::SNAPPY PROPERTY INTERFACE_LINK_OPTIONS -static-libstdc++ -static-libgcc)
else()
  target_sources(ldb_snappy PRIVATE ${CMAKE_CURRENT_LIST_DIR}/cxx_runtime.cc)
  target_compile_options(ldb_snappy PRIVATE -ffunction-sections -fdata-sections)
  set_property(TARGET PkgConfig::SNAPPY PROPERTY INTERFACE_LINK_LIBRARIES ldb_snappy Threads::Threads c gcc)
  set_property(TARGET PkgConfig::SNAPPY PROPERTY INTERFACE_LINK_OPTIONS -nodefaultlibs -Wl,--gc-sections)
endif()
