# bench/bench.cmake — builds the C benchmark `db_bench` (bench/db_bench.c)
# when LDB_BENCH=ON. Included from the top-level CMakeLists.txt.
#
# LightningDB is always linked (lightningdb_static). Each peer is optional:
# its adapter is compiled (HAVE_<PEER>) only when its header and library are
# found, so the benchmark builds on a machine with none of them.

include(CheckIncludeFile)

add_executable(db_bench ${CMAKE_CURRENT_SOURCE_DIR}/bench/db_bench.c)
target_link_libraries(db_bench PRIVATE lightningdb_static)
set(LDB_BENCH_PEERS "")

# LMDB and SQLite ship pkg-config files on Debian; LevelDB does not.
pkg_check_modules(BENCH_LMDB QUIET IMPORTED_TARGET lmdb)
if(BENCH_LMDB_FOUND)
  target_link_libraries(db_bench PRIVATE PkgConfig::BENCH_LMDB)
  target_compile_definitions(db_bench PRIVATE HAVE_LMDB)
  list(APPEND LDB_BENCH_PEERS "lmdb ${BENCH_LMDB_VERSION}")
endif()

pkg_check_modules(BENCH_SQLITE QUIET IMPORTED_TARGET sqlite3)
if(BENCH_SQLITE_FOUND)
  target_link_libraries(db_bench PRIVATE PkgConfig::BENCH_SQLITE)
  target_compile_definitions(db_bench PRIVATE HAVE_SQLITE)
  list(APPEND LDB_BENCH_PEERS "sqlite ${BENCH_SQLITE_VERSION}")
endif()

pkg_check_modules(BENCH_ROCKSDB QUIET IMPORTED_TARGET rocksdb)
if(BENCH_ROCKSDB_FOUND)
  target_link_libraries(db_bench PRIVATE PkgConfig::BENCH_ROCKSDB)
  target_compile_definitions(db_bench PRIVATE HAVE_ROCKSDB
                             ROCKSDB_VERSION_STR="${BENCH_ROCKSDB_VERSION}")
  list(APPEND LDB_BENCH_PEERS "rocksdb ${BENCH_ROCKSDB_VERSION}")
endif()

find_library(BENCH_LEVELDB_LIB leveldb)
check_include_file(leveldb/c.h BENCH_HAVE_LEVELDB_C_H)
if(BENCH_LEVELDB_LIB AND BENCH_HAVE_LEVELDB_C_H)
  target_link_libraries(db_bench PRIVATE ${BENCH_LEVELDB_LIB})
  target_compile_definitions(db_bench PRIVATE HAVE_LEVELDB)
  list(APPEND LDB_BENCH_PEERS "leveldb")
endif()

message(STATUS "db_bench peers: ${LDB_BENCH_PEERS}")
