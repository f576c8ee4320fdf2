# Run by `cmake --install` (cmake/Install.cmake sets the CORUN_* variables first): the files that
# name the install prefix, written for the prefix of this install, not the configured one.
#   LIBDIR/pkgconfig/corun.pc
#   etc/corun/corund.conf: /etc/corun when the prefix is /usr (the .deb), as Debian wants it
#   lib/systemd/system/corund.service: deploy/corund.service with ExecStart naming this install's
#     corund and configuration
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(prefix MATCHES "^/usr/?$")
  set(sysconfdir "/etc")
  set(prefix "/usr")
else()
  set(sysconfdir "${prefix}/etc")
endif()

# A folder of its own per destination: two installs at once (tests, cpack) must not write each
# other's files.
string(MD5 destination "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")
set(CORUN_WORK_DIR "${CORUN_WORK_DIR}/${destination}")

set(CORUN_PREFIX "${prefix}")
configure_file("${CORUN_SOURCE_DIR}/cmake/corun.pc.in" "${CORUN_WORK_DIR}/corun.pc" @ONLY)
file(INSTALL DESTINATION "${prefix}/${CORUN_LIBDIR}/pkgconfig" TYPE FILE
  FILES "${CORUN_WORK_DIR}/corun.pc")

file(INSTALL DESTINATION "${sysconfdir}/corun" TYPE FILE
  FILES "${CORUN_SOURCE_DIR}/deploy/corund.conf")

file(READ "${CORUN_SOURCE_DIR}/deploy/corund.service" unit)
string(REPLACE "/usr/local/bin/corund" "${prefix}/${CORUN_BINDIR}/corund" unit "${unit}")
string(REPLACE "/etc/corun/corund.conf" "${sysconfdir}/corun/corund.conf" unit "${unit}")
file(WRITE "${CORUN_WORK_DIR}/corund.service" "${unit}")
file(INSTALL DESTINATION "${prefix}/lib/systemd/system" TYPE FILE
  FILES "${CORUN_WORK_DIR}/corund.service")
