# node/node.cmake — the Node-API addon lightningdb.node (included by
# CMakeLists.txt when -DLDB_NODE=ON). Node-API is ABI-stable: the headers
# come from the node-api-headers npm package (pass its include_dir as
# -DNODE_API_HEADERS_DIR) and nothing is linked from Node itself; the
# symbols resolve against the running node (or Electron) at load time.
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
if(NOT APPLE)
  # Fail at link time, not at require() time, on a missing symbol of ours;
  # napi_* are left to resolve against the host process.
  target_link_options(lightningdb_node PRIVATE -Wl,--exclude-libs,ALL)
endif()
