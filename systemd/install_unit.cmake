# Run by `cmake --install` (install(SCRIPT), see CMakeLists.txt): installs
# esd.service for CMAKE_INSTALL_PREFIX as it is at install time. ES_* are
# set by the install(CODE) before it.
set(prefix "${CMAKE_INSTALL_PREFIX}")
set(unit_dir "${ES_SYSTEMD_UNIT_DIR}")
if(NOT unit_dir)
  if(prefix STREQUAL "/usr")
    set(unit_dir "${ES_SYSTEMD_SYSTEM_UNIT_DIR}")
  else()
    set(unit_dir lib/systemd/system)
  endif()
endif()
if(NOT IS_ABSOLUTE "${unit_dir}")
  set(unit_dir "${prefix}/${unit_dir}")
endif()
# The names esd.service.in uses.
set(ES_INSTALL_BINDIR "${prefix}/${ES_BINDIR}")
configure_file("${ES_UNIT_SOURCE}" "${ES_UNIT_STAGE}/esd.service" @ONLY)
file(INSTALL DESTINATION "${unit_dir}" TYPE FILE FILES "${ES_UNIT_STAGE}/esd.service")
