# wasm.cmake — the WebAssembly build (included by CMakeLists.txt under
# emcmake). Produces build/wasm/lightningdb.mjs (an ES module factory) and
# lightningdb.wasm from the unmodified core sources (LDB_CORE_SOURCES but
# store_posix.c), compiled with -DLDB_NO_THREADS -DLDB_NO_POSIX_STORE, plus:
#   - zstd and lz4 compiled from the sources scripts/build-wasm.sh unpacked
#     into third_party/ (never committed), size-optimised; snappy (C++,
#     used through its C API snappy-c.h) likewise, with em++, and its two
#     generated headers written here as its own CMake build would for
#     wasm32;
#   - wasm/store_js.c: an ldb_store whose methods call JavaScript imports
#     (wasm/library_store.js) — OPFS, IndexedDB, memory and Node fs stores
#     are written in TypeScript (js/wasm/stores/);
#   - wasm/exports.c: small helpers that spare JS from building C structs
#     (options filled by name, iterator bounds, statistics flattened by
#     walking the core's contract tables).
set(LDB_THIRD_PARTY ${CMAKE_CURRENT_SOURCE_DIR}/third_party CACHE PATH
    "directory holding the unpacked zstd/ and lz4/ sources")
if(NOT EXISTS ${LDB_THIRD_PARTY}/zstd/lib/zstd.h OR NOT EXISTS ${LDB_THIRD_PARTY}/lz4/lib/lz4.h
   OR NOT EXISTS ${LDB_THIRD_PARTY}/snappy/snappy-c.h)
  message(FATAL_ERROR "zstd/lz4/snappy sources missing under ${LDB_THIRD_PARTY}; run scripts/build-wasm.sh")
endif()

# snappy from its source (ldb_snappy): cmake/snappy.cmake
include(${CMAKE_CURRENT_SOURCE_DIR}/cmake/snappy.cmake)

file(GLOB LDB_ZSTD_SOURCES
     ${LDB_THIRD_PARTY}/zstd/lib/common/*.c
     ${LDB_THIRD_PARTY}/zstd/lib/compress/*.c
     ${LDB_THIRD_PARTY}/zstd/lib/decompress/*.c)
add_library(ldb_wasm_codecs STATIC ${LDB_ZSTD_SOURCES} ${LDB_THIRD_PARTY}/lz4/lib/lz4.c)
target_include_directories(ldb_wasm_codecs PUBLIC ${LDB_THIRD_PARTY}/zstd/lib ${LDB_THIRD_PARTY}/lz4/lib)
# Size over speed for the codecs (TOOLCHAIN.md: ~100 KB instead of ~420 KB);
# values are small, so the slower zstd paths cost little.
target_compile_options(ldb_wasm_codecs PRIVATE -Oz -w)
target_compile_definitions(ldb_wasm_codecs PRIVATE
  ZSTD_DISABLE_ASM ZSTD_MULTITHREAD=0 ZSTD_STRIP_ERROR_STRINGS ZSTD_NO_INLINE
  HUF_FORCE_DECOMPRESS_X1 ZSTD_FORCE_DECOMPRESS_SEQUENCES_SHORT
  ZSTD_NO_UNUSED_FUNCTIONS ZSTD_LEGACY_SUPPORT=0)

# The posix store is not part of the .wasm: with LDB_NO_POSIX_STORE the
# core reaches it nowhere (a NULL ldb_options.store is LDB_INVALID).
set(LDB_WASM_CORE_SOURCES ${LDB_CORE_SOURCES})
list(FILTER LDB_WASM_CORE_SOURCES EXCLUDE REGEX "/store_posix\\.c$")
add_executable(lightningdb_wasm ${LDB_WASM_CORE_SOURCES}
               ${CMAKE_CURRENT_SOURCE_DIR}/wasm/store_js.c
               ${CMAKE_CURRENT_SOURCE_DIR}/wasm/exports.c)
target_include_directories(lightningdb_wasm PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/core/include ${CMAKE_CURRENT_SOURCE_DIR}/core/src)
target_compile_definitions(lightningdb_wasm PRIVATE LDB_NO_THREADS LDB_NO_POSIX_STORE)
target_compile_options(lightningdb_wasm PRIVATE -O2)
target_link_libraries(lightningdb_wasm PRIVATE ldb_wasm_codecs ldb_snappy)
set_target_properties(lightningdb_wasm PROPERTIES OUTPUT_NAME lightningdb SUFFIX ".mjs"
  LINK_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/wasm/library_store.js)

# Every C function JavaScript calls (js/wasm/module.ts types the same names):
# the public API, called directly, and the helpers of wasm/exports.c and
# wasm/store_js.c. Nothing here exists for tests only.
set(LDB_WASM_EXPORTS
  _malloc _free
  _ldb_strerror _ldb_code_name _ldb_error_table _ldb_errmsg _ldb_version
  _ldb_options_set_string _ldb_close _ldb_get_buf _ldb_put _ldb_delete
  _ldb_batch_create _ldb_batch_put _ldb_batch_delete _ldb_write _ldb_batch_destroy
  _ldb_txn_begin _ldb_txn_get_buf _ldb_txn_put _ldb_txn_delete _ldb_txn_commit _ldb_txn_abort
  _ldb_iter_first _ldb_iter_seek _ldb_iter_read _ldb_iter_destroy
  _ldb_flush _ldb_checkpoint _ldb_maintain _ldbw_check
  _ldb_backup_to_store _ldb_store_destroy
  _ldbw_options_new _ldbw_open _ldbw_store_js_new _ldbw_iter_create _ldbw_range
  _ldbw_stats_layout _ldbw_stats _ldbw_stats_prometheus _ldbw_heap_bytes
  _ldbw_changes_open _ldb_changes_read _ldb_changes_close
  _ldbw_events_read _ldb_event_name)
string(REPLACE ";" "," LDB_WASM_EXPORTS_CSV "${LDB_WASM_EXPORTS}")
target_link_options(lightningdb_wasm PRIVATE
  -O2
  -sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createLightningDbModule
  -sENVIRONMENT=web,worker
  -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=16777216 -sMAXIMUM_MEMORY=2147483648
  -sTOTAL_STACK=1048576
  -sEXPORTED_FUNCTIONS=${LDB_WASM_EXPORTS_CSV}
  -sEXPORTED_RUNTIME_METHODS=HEAPU8
  # No Emscripten file system: every byte goes through the JS page stores
  # (the posix store is not compiled in).
  -sFILESYSTEM=0
  --js-library ${CMAKE_CURRENT_SOURCE_DIR}/wasm/library_store.js)
