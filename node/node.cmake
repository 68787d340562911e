# node/node.cmake — the Node-API addon lightningdb.node (included by
# CMakeLists.txt when -DLDB_NODE=ON). Node-API is ABI-stable: the headers
# come from the node-api-headers npm package (pass its include_dir as
# -DNODE_API_HEADERS_DIR) and, except on Windows, nothing is linked from
# Node itself; the symbols resolve against the running node (or Electron)
# at load time. Windows links an import library of node.exe (below).
if(NOT NODE_API_HEADERS_DIR)
  execute_process(
    COMMAND node -p "require('node-api-headers').include_dir"
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
    OUTPUT_VARIABLE NODE_API_HEADERS_DIR
    OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE ldb_node_headers_rc)
  if(NOT ldb_node_headers_rc EQUAL 0)
    message(FATAL_ERROR "node-api-headers not found: run npm install, or pass -DNODE_API_HEADERS_DIR")
  endif()
endif()
if(NOT EXISTS ${NODE_API_HEADERS_DIR}/node_api.h)
  message(FATAL_ERROR "node_api.h not found in NODE_API_HEADERS_DIR=${NODE_API_HEADERS_DIR}")
endif()

add_library(lightningdb_node MODULE
  ${CMAKE_CURRENT_SOURCE_DIR}/node/module.c
  ${CMAKE_CURRENT_SOURCE_DIR}/node/handles.c
  ${CMAKE_CURRENT_SOURCE_DIR}/node/admin.c
  ${CMAKE_CURRENT_SOURCE_DIR}/node/reads.c
  ${CMAKE_CURRENT_SOURCE_DIR}/node/iterators.c
  ${CMAKE_CURRENT_SOURCE_DIR}/node/ranges.c
  ${CMAKE_CURRENT_SOURCE_DIR}/node/async.c
  ${CMAKE_CURRENT_SOURCE_DIR}/node/feed.c)
target_include_directories(lightningdb_node PRIVATE ${NODE_API_HEADERS_DIR})
target_compile_definitions(lightningdb_node PRIVATE NAPI_VERSION=8)
target_link_libraries(lightningdb_node PRIVATE lightningdb_static)
# Only the module's registration symbol needs to be visible.
target_compile_options(lightningdb_node PRIVATE -fvisibility=hidden)
set_target_properties(lightningdb_node PROPERTIES
  PREFIX "" SUFFIX ".node" OUTPUT_NAME lightningdb
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
if(WIN32)
  # A Windows DLL must name where each import comes from: napi_* are
  # exported by node.exe. The import library is made from node-api-headers'
  # module-definition file (NAME NODE.EXE) with dlltool, as node-api-headers
  # documents (its def_paths). Hosts whose executable has another name
  # (Electron) need a delay-load hook, which this build does not include.
  get_filename_component(ldb_node_def ${NODE_API_HEADERS_DIR}/../def/node_api.def ABSOLUTE)
  if(NOT EXISTS ${ldb_node_def})
    message(FATAL_ERROR "node_api.def not found next to NODE_API_HEADERS_DIR (${ldb_node_def})")
  endif()
  if(NOT CMAKE_DLLTOOL)
    find_program(CMAKE_DLLTOOL NAMES x86_64-w64-mingw32-dlltool dlltool REQUIRED)
  endif()
  add_custom_command(
    OUTPUT ${CMAKE_BINARY_DIR}/libnode_api.a
    COMMAND ${CMAKE_DLLTOOL} -d ${ldb_node_def} -l ${CMAKE_BINARY_DIR}/libnode_api.a
    DEPENDS ${ldb_node_def}
    COMMENT "import library for node.exe's Node-API exports")
  add_custom_target(ldb_node_implib DEPENDS ${CMAKE_BINARY_DIR}/libnode_api.a)
  add_dependencies(lightningdb_node ldb_node_implib)
  target_link_libraries(lightningdb_node PRIVATE ${CMAKE_BINARY_DIR}/libnode_api.a)
  target_link_options(lightningdb_node PRIVATE -Wl,--exclude-libs,ALL)
elseif(NOT APPLE)
  # Fail at link time, not at require() time, on a missing symbol of ours;
  # napi_* are left to resolve against the host process.
  target_link_options(lightningdb_node PRIVATE -Wl,--exclude-libs,ALL)
endif()
