# cmake/toolchain-x86_64-w64-mingw32.cmake — cross build for win32-x64 with
# Debian's mingw-w64 (scripts/prebuild.mjs --target win32-x64). Test
# programs run under wine. Everything is linked statically (libgcc, the
# C++ runtime snappy needs, and for the tests winpthreads and cmocka), so
# an addon or a test program needs only Windows' own DLLs.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
# node/node.cmake makes the import library of node.exe's Node-API exports.
set(CMAKE_DLLTOOL x86_64-w64-mingw32-dlltool)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# No host pkg-config answers for the target (cmocka is built from source:
# cmake/cmocka.cmake).
set(ENV{PKG_CONFIG_LIBDIR} /nonexistent)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc -static-libstdc++")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static-libgcc -static-libstdc++")
# wine prints its own diagnostics on stderr; WINEDEBUG=-all silences them.
set(CMAKE_CROSSCOMPILING_EMULATOR wine)
