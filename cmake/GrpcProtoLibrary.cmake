# corun_grpc_proto_library(TARGET PROTO_FILE WHAT): a static library of the C++ messages and gRPC
# stubs protoc generates from PROTO_FILE (corund's protocol, the KServe v2 protocol), into the
# calling folder's build tree; its users include "<name>.pb.h" / "<name>.grpc.pb.h".
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)

function(corun_grpc_proto_library target proto_file what)
  get_filename_component(proto_dir ${proto_file} DIRECTORY)
  get_filename_component(proto_name ${proto_file} NAME_WE)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/generated)
  set(sources
    ${out}/${proto_name}.pb.cc ${out}/${proto_name}.pb.h
    ${out}/${proto_name}.grpc.pb.cc ${out}/${proto_name}.grpc.pb.h)
  add_custom_command(
    OUTPUT ${sources}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out}
    COMMAND protobuf::protoc --cpp_out=${out} --grpc_out=${out}
            --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>
            -I ${proto_dir} ${proto_file}
    DEPENDS ${proto_file}
    COMMENT "Generating ${what}")
  add_library(${target} STATIC ${sources})
  target_include_directories(${target} SYSTEM PUBLIC ${out})
  target_link_libraries(${target} PUBLIC protobuf::libprotobuf gRPC::grpc++)
  target_compile_options(${target} PRIVATE -w)  # generated code
endfunction()
