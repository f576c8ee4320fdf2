# The installable corun (issue 11): libcorun.so, one shared library for applications, and the
# remote backend as its plug-in libcorun_remote.so. Built from the objects of the static layer
# libraries (PIC, CMAKE_POSITION_INDEPENDENT_CODE), so nothing is compiled twice and the static
# targets that the tests, tools and benchmarks link stay as they are.
#
#   libcorun.so          the public API and the local backend (corun_runtime_core and the layers
#                        below it, and corun_router: corun::CapacityPlanner, RoutedModel). Links ONNX Runtime and nothing else: an in-process program
#                        loads neither gRPC nor protobuf. Exports namespace corun only
#                        (cmake/corun_exports.map): the public API, and the internal interfaces
#                        the plug-in is linked against; everything else in it stays local.
#   libcorun_remote.so   the remote backend (corun_runtime_remote, corun_protocol, the generated
#                        protocol) linked to libcorun.so, gRPC and protobuf; dlopen()ed by
#                        libcorun from lib/corun/ the first time a VDevice asks for corund
#                        (src/runtime/remote_backend_plugin.cpp).
#
# The build tree mirrors the installed layout: build/lib/libcorun.so, build/lib/corun/.
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)

set(CORUN_REMOTE_PLUGIN_FOLDER corun)
set(CORUN_REMOTE_PLUGIN_FILE "${CORUN_REMOTE_PLUGIN_FOLDER}/libcorun_remote.so")

# The target is corun_shared (`corun` is the CLI); installed as libcorun.so.0 and exported as
# corun::corun.
add_library(corun_shared SHARED
  ${CMAKE_SOURCE_DIR}/src/runtime/remote_backend_plugin.cpp
  $<TARGET_OBJECTS:corun_runtime_core>
  $<TARGET_OBJECTS:corun_router>
  $<TARGET_OBJECTS:corun_scheduler>
  $<TARGET_OBJECTS:corun_devices>
  $<TARGET_OBJECTS:corun_onnx>
  $<TARGET_OBJECTS:corun_common>)
target_include_directories(corun_shared
  PUBLIC $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>
  PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_compile_features(corun_shared INTERFACE cxx_std_20)
target_compile_definitions(corun_shared PRIVATE
  CORUN_REMOTE_PLUGIN="${CORUN_REMOTE_PLUGIN_FILE}")
# spdlog: the router logs why a frame fell back (docs/ROUTER.md, "Logs").
target_link_libraries(corun_shared PRIVATE onnxruntime spdlog::spdlog Threads::Threads ${CMAKE_DL_LIBS})
# -z defs: every symbol resolved at link time, so an export the plug-in misses is a link error
# here, not a failure at a user's dlopen().
target_link_options(corun_shared PRIVATE -Wl,-z,defs
  -Wl,--version-script=${CMAKE_SOURCE_DIR}/cmake/corun_exports.map)
set_target_properties(corun_shared PROPERTIES
  OUTPUT_NAME corun
  EXPORT_NAME corun
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}
  LINK_DEPENDS ${CMAKE_SOURCE_DIR}/cmake/corun_exports.map
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib)
add_library(corun::corun ALIAS corun_shared)

add_library(corun_remote_plugin MODULE
  $<TARGET_OBJECTS:corun_runtime_remote>
  $<TARGET_OBJECTS:corun_protocol>
  $<TARGET_OBJECTS:corun_service_proto>)
target_link_libraries(corun_remote_plugin PRIVATE corun_shared gRPC::grpc++ protobuf::libprotobuf
  Threads::Threads rt)
target_link_options(corun_remote_plugin PRIVATE -Wl,-z,defs
  -Wl,--version-script=${CMAKE_SOURCE_DIR}/cmake/corun_exports.map)
set_target_properties(corun_remote_plugin PROPERTIES
  OUTPUT_NAME corun_remote
  LINK_DEPENDS ${CMAKE_SOURCE_DIR}/cmake/corun_exports.map
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib/${CORUN_REMOTE_PLUGIN_FOLDER})
