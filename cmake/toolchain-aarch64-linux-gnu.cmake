# cmake/toolchain-aarch64-linux-gnu.cmake — cross build for linux-arm64 with
# Debian's gcc-aarch64-linux-gnu (scripts/prebuild.mjs --target linux-arm64).
# Test programs run under qemu-user; their libraries (cmocka, libc) come
# from Debian's arm64 multiarch packages in /usr/lib/aarch64-linux-gnu.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
# snappy is C++ (cmake/snappy.cmake): without this CMake would pick the
# host's c++ and link x86-64 objects into the arm64 addon.
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# pkg-config answers for the target (cmocka), never for the host.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig)
set(ENV{PKG_CONFIG_SYSROOT_DIR} /)
# The loader and the C library must come from one glibc build: Debian's
# multiarch libc6:arm64 (installed with libcmocka-dev:arm64), loader
# /lib/ld-linux-aarch64.so.1. With -L /usr/aarch64-linux-gnu the loader was
# the cross package's (2.36-8cross1) while libc.so.6 came from multiarch
# (2.36-9+deb12uN): their private ABI differs, and the first
# pthread_create looped forever in the stack cache (the "timeouts").
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;/;-E;LD_LIBRARY_PATH=/usr/lib/aarch64-linux-gnu)
