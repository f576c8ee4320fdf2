# What `cmake --install BUILD [--prefix P]`, `make install` and the .deb (cmake/Package.cmake)
# put where (docs/INSTALL.md). Every RPATH is relative ($ORIGIN), so an installed tree works from
# any prefix, and from a .deb unpacked with dpkg -x.
#
#   bin/corun, bin/corund                  the CLI and the daemon
#   include/corun/                         the public API
#   LIBDIR/libcorun.so[.0[.0.1.0]]         in-process runtime (RPATH $ORIGIN/corun)
#   LIBDIR/corun/libcorun_remote.so        the remote backend plug-in (RPATH $ORIGIN/..)
#   LIBDIR/corun/libonnxruntime.so.1       ONNX Runtime, private to corun
#   LIBDIR/cmake/corun/                    find_package(corun) -> corun::corun
#   LIBDIR/pkgconfig/corun.pc              pkg-config corun
#   etc/corun/corund.conf                  /etc/corun when the prefix is /usr (the .deb)
#   lib/systemd/system/corund.service      its ExecStart names the installed corund
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(CORUN_PRIVATE_LIBDIR "${CMAKE_INSTALL_LIBDIR}/${CORUN_REMOTE_PLUGIN_FOLDER}")
file(RELATIVE_PATH corun_bin_to_private "/prefix/${CMAKE_INSTALL_BINDIR}"
  "/prefix/${CORUN_PRIVATE_LIBDIR}")

set_target_properties(corun_shared PROPERTIES INSTALL_RPATH "$ORIGIN/${CORUN_REMOTE_PLUGIN_FOLDER}")
set_target_properties(corun_remote_plugin PROPERTIES INSTALL_RPATH "$ORIGIN/..")
# The executables link the static libraries as in the build tree; only ONNX Runtime is theirs
# to find.
set_target_properties(corun corund PROPERTIES INSTALL_RPATH "$ORIGIN/${corun_bin_to_private}")

install(TARGETS corun corund RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS corun_shared EXPORT corunTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS corun_remote_plugin LIBRARY DESTINATION ${CORUN_PRIVATE_LIBDIR})
install(FILES "${ORT_ROOT}/lib/libonnxruntime.so.1" DESTINATION ${CORUN_PRIVATE_LIBDIR})
install(DIRECTORY include/corun DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(CORUN_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/corun")
install(EXPORT corunTargets NAMESPACE corun:: DESTINATION ${CORUN_CMAKE_DIR})
configure_package_config_file(cmake/corunConfig.cmake.in
  "${CMAKE_BINARY_DIR}/corunConfig.cmake" INSTALL_DESTINATION ${CORUN_CMAKE_DIR})
# 0.x: a minor version may change the API, so find_package(corun 0.1) accepts 0.1.* only.
write_basic_package_version_file("${CMAKE_BINARY_DIR}/corunConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_BINARY_DIR}/corunConfig.cmake" "${CMAKE_BINARY_DIR}/corunConfigVersion.cmake"
  DESTINATION ${CORUN_CMAKE_DIR})

# corun.pc, corund.service and corund.conf name the prefix, which `--prefix` may change after
# configuring: they are written when installing (cmake/install_prefixed_files.cmake).
install(CODE "
  set(CORUN_SOURCE_DIR \"${CMAKE_SOURCE_DIR}\")
  set(CORUN_WORK_DIR \"${CMAKE_BINARY_DIR}/install_prefixed_files\")
  set(CORUN_VERSION \"${PROJECT_VERSION}\")
  set(CORUN_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(CORUN_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(CORUN_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")")
install(SCRIPT cmake/install_prefixed_files.cmake)
