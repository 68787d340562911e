# cmake/cmocka.cmake — cmocka compiled from source for a test build whose
# target has no cmocka package (win32-x64 through mingw-w64: Debian ships
# libcmocka-dev for Linux architectures only). The source is Debian's
# source package (the same 1.1.5 as libcmocka-dev), unpacked into
# ${LDB_THIRD_PARTY}/cmocka by scripts/prebuild.mjs (never committed). Its
# config.h is written here for a MinGW target, as cmocka's own
# ConfigureChecks.cmake finds it. Defines PkgConfig::CMOCKA, the name the
# pkg-config path defines.
set(LDB_THIRD_PARTY ${CMAKE_CURRENT_SOURCE_DIR}/third_party CACHE PATH
    "directory holding the unpacked third-party sources")
if(NOT EXISTS ${LDB_THIRD_PARTY}/cmocka/src/cmocka.c)
  message(FATAL_ERROR "cmocka sources missing under ${LDB_THIRD_PARTY}; scripts/prebuild.mjs --target win32-x64 --test fetches them")
endif()
set(ldb_cmocka_config "")
foreach(def HAVE_ASSERT_H HAVE_INTTYPES_H HAVE_IO_H HAVE_MALLOC_H HAVE_MEMORY_H
            HAVE_SETJMP_H HAVE_SIGNAL_H HAVE_STDARG_H HAVE_STDDEF_H HAVE_STDINT_H
            HAVE_STDIO_H HAVE_STDLIB_H HAVE_STRING_H HAVE_STRINGS_H
            HAVE_SYS_STAT_H HAVE_SYS_TYPES_H HAVE_TIME_H HAVE_UNISTD_H
            HAVE_STRUCT_TIMESPEC HAVE_CALLOC HAVE_EXIT HAVE_FPRINTF
            HAVE_SNPRINTF HAVE_VSNPRINTF HAVE__SNPRINTF HAVE__VSNPRINTF
            HAVE_FREE HAVE_LONGJMP HAVE_MALLOC HAVE_MEMCPY HAVE_MEMSET
            HAVE_PRINTF HAVE_SETJMP HAVE_SIGNAL HAVE_STRCMP HAVE_STRCPY
            HAVE_GCC_THREAD_LOCAL_STORAGE)
  string(APPEND ldb_cmocka_config "#define ${def} 1\n")
endforeach()
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/cmocka-gen/config.h
     "${ldb_cmocka_config}#define WORDS_SIZEOF_VOID_P ${CMAKE_SIZEOF_VOID_P}\n")
add_library(ldb_cmocka STATIC ${LDB_THIRD_PARTY}/cmocka/src/cmocka.c)
target_include_directories(ldb_cmocka PUBLIC ${LDB_THIRD_PARTY}/cmocka/include
                                      PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/cmocka-gen)
target_compile_definitions(ldb_cmocka PRIVATE HAVE_CONFIG_H)
target_compile_options(ldb_cmocka PRIVATE -w)
add_library(PkgConfig::CMOCKA INTERFACE IMPORTED)
set_property(TARGET PkgConfig::CMOCKA PROPERTY INTERFACE_LINK_LIBRARIES ldb_cmocka)
# cmocka.h marks its printf-like functions format(__printf__), which MinGW
# reads as msvcrt's printf (no %zu), while this build formats with the C99
# printf (__USE_MINGW_ANSI_STDIO). The tests' format strings are checked by
# the Linux builds; here the false warnings are turned off.
set_property(TARGET PkgConfig::CMOCKA PROPERTY INTERFACE_COMPILE_OPTIONS -Wno-format)
