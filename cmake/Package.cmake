# `cpack` in the build folder (or `make deb`): corun_<version>_<arch>.deb with everything
# cmake/Install.cmake installs, under /usr (configuration in /etc/corun, the unit in
# /usr/lib/systemd/system). Depends is computed by dpkg-shlibdeps from the ELF files (gRPC,
# protobuf, OpenCV, spdlog, fmt ...); ONNX Runtime ships inside, in /usr/lib/.../corun/.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME corun)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "corun")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "Runs ONNX models on shared accelerators through Hailo's InferModel API")
set(CPACK_PACKAGE_DESCRIPTION
  "corun lets many neural-network models, from many processes, share one or more accelerators
with predictable latency. This package holds the corun CLI, the corund service (with its systemd
unit), libcorun with its headers, CMake package and pkg-config file, and ONNX Runtime.")
set(CPACK_RESOURCE_FILE_LICENSE "${CMAKE_SOURCE_DIR}/LICENSE")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "corun developers <corun@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION "science")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# postinst adds the corun user with adduser; dpkg-shlibdeps appends the libraries.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# Under /usr with DESTDIR staging, so that install-time files see the real prefix (/usr, hence
# /etc/corun) rather than the staging folder.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Debian ships stripped binaries; the debug information stays in the build tree.
set(CPACK_STRIP_FILES ON)
# postinst: the `corun` system user and group that deploy/corund.service runs as and whose
# members may connect, and ldconfig; the service is neither enabled nor started
# (docs/INSTALL.md). conffiles: /etc/corun/corund.conf, so an upgrade keeps the administrator's
# edits.
# shlibs: packages built against libcorun.so.0 depend on this version or later. Written here, not
# by CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS, which would also claim the private ONNX Runtime.
file(WRITE "${CMAKE_BINARY_DIR}/debian/shlibs"
  "libcorun ${PROJECT_VERSION_MAJOR} corun (>= ${PROJECT_VERSION})\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${CMAKE_SOURCE_DIR}/deploy/debian/postinst"
  "${CMAKE_SOURCE_DIR}/deploy/debian/conffiles" "${CMAKE_BINARY_DIR}/debian/shlibs")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
