# Run by `cmake --install` (install(SCRIPT), see CMakeLists.txt): writes
# es.pc for CMAKE_INSTALL_PREFIX as it is at install time, and installs it.
# ES_* are set by the install(CODE) before it.
set(ES_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
configure_file("${ES_PC_SOURCE}" "${ES_PC_STAGE}/es.pc" @ONLY)
file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/${ES_LIBDIR}/pkgconfig" TYPE FILE
     FILES "${ES_PC_STAGE}/es.pc")
