# CPack: a Debian package of es and esd (`cpack -G DEB` in the build tree;
# tests/e2e/deb_test.sh builds and checks it). Included from the top
# CMakeLists.txt, after every install() rule.
#
# The package is named esd: Debian's "es" is the extensible shell, which
# installs /usr/bin/es too (hence Conflicts: es). Depends comes from
# dpkg-shlibdeps (dpkg-dev), plus adduser for the system user. The
# maintainer scripts (packaging/deb/) make the user esd, and enable and
# start esd.service where systemd runs; purge leaves the data (see postrm).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME esd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "es/esd maintainers <maintainers@users.noreply.h-seed-9e167d56.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "event store daemon (esd) and its command-line client (es)")
set(CPACK_PACKAGE_DESCRIPTION
    "esd stores events in streams, durably (a journal and LMDB), and serves
them over ZeroMQ: appends with expected versions, reads, subscriptions,
consumer groups, replicas and hosted projections written in jq. es is its
command-line client. The package installs a hardened systemd unit
(Type=notify, with a watchdog) that runs esd as the system user esd, an
example configuration in /etc/esd, man pages, shell completions, and the
client library with its headers and pkg-config file.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONFLICTS "es")
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)

# conffiles: the configuration, when the tree has one to install.
set(deb_control ${CMAKE_CURRENT_BINARY_DIR}/packaging/deb)
file(MAKE_DIRECTORY ${deb_control})
set(deb_control_files)
if(EXISTS ${CMAKE_SOURCE_DIR}/examples/esd.toml)
  file(WRITE ${deb_control}/conffiles "${ES_CONFIG_FILE}\n")
  list(APPEND deb_control_files ${deb_control}/conffiles)
endif()
foreach(script postinst prerm postrm)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/deb/${script} ${deb_control}/${script} @ONLY
                 FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                                  WORLD_READ WORLD_EXECUTE)
  list(APPEND deb_control_files ${deb_control}/${script})
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${deb_control_files})
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# /usr/share/doc/esd: copyright and changelog.gz (gzip -9n, as lintian wants).
set(doc_dir ${CMAKE_INSTALL_DATAROOTDIR}/doc/${CPACK_PACKAGE_NAME})
add_custom_command(
  OUTPUT ${deb_control}/changelog.gz
  COMMAND gzip -9n -c ${CMAKE_CURRENT_LIST_DIR}/deb/changelog > ${deb_control}/changelog.gz
  DEPENDS ${CMAKE_CURRENT_LIST_DIR}/deb/changelog
  VERBATIM)
add_custom_target(deb-changelog ALL DEPENDS ${deb_control}/changelog.gz)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/deb/copyright ${deb_control}/changelog.gz
        DESTINATION ${doc_dir})

include(CPack)
