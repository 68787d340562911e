# cmake/toolchain-glibc-sysroot.cmake — a native build compiled and linked
# against an older glibc's headers and libraries (-DLDB_SYSROOT=DIR: Debian
# 11's libc6, libc6-dev and linux-libc-dev unpacked by scripts/prebuild.mjs),
# so the linux-x64 prebuild's symbol versions are those of that glibc
# (README, "Installing"). The compiler is the host's gcc; its own headers
# and libgcc are used as they are.
set(CMAKE_SYSROOT ${LDB_SYSROOT})
# try_compile projects (CMake's compiler checks) see the same sysroot.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES LDB_SYSROOT)
# Debian's gcc searches its own multiarch directory (/usr/lib/x86_64-linux-gnu,
# the host's glibc) before the sysroot's: name the sysroot's first.
set(ldb_sysroot_libs "-L${LDB_SYSROOT}/usr/lib/x86_64-linux-gnu -L${LDB_SYSROOT}/lib/x86_64-linux-gnu")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${ldb_sysroot_libs}")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "${ldb_sysroot_libs}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${ldb_sysroot_libs}")
