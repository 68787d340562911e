# libFuzzer targets (clang only): each tests/fuzz/fuzz_*.c is linked with
# the core sources compiled with coverage instrumentation, ASan and UBSan.
# Included by CMakeLists.txt when -DLDB_FUZZ=ON; scripts/test-c.sh runs
# every build/fuzz/fuzz_* for a bounded time.
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "LDB_FUZZ needs clang (-DCMAKE_C_COMPILER=clang)")
endif()
find_package(PkgConfig REQUIRED)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
pkg_check_modules(LZ4 REQUIRED IMPORTED_TARGET liblz4)
pkg_check_modules(SNAPPY REQUIRED IMPORTED_TARGET snappy)
find_package(Threads REQUIRED)

file(GLOB LDB_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
foreach(src ${LDB_FUZZ_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src} ${LDB_CORE_SOURCES})
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/core/include
                                             ${CMAKE_CURRENT_SOURCE_DIR}/core/src)
  target_compile_definitions(${name} PRIVATE _GNU_SOURCE)
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined
                                         -fno-sanitize-recover=undefined -g -O1)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(${name} PRIVATE PkgConfig::ZSTD PkgConfig::LZ4 PkgConfig::SNAPPY Threads::Threads)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
endforeach()
