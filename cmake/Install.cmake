# `cmake --install build --prefix P` installs what a C++ program needs to use blurmix:
#   P/lib/libblurmix.so                      the core library with every generated pipeline and
#                                            the Halide runtime inside (one file to link)
#   P/include/blurmix/*.h                    its public headers, and Halide's HalideBuffer.h and
#                                            HalideRuntime.h, which they include
#   P/lib/cmake/blurmix/                     the CMake package: find_package(blurmix) gives the
#                                            target blurmix::blurmix
#   P/bin/blurmix                            the command
# A shared library rather than the static archives: the core library alone is one of some two
# hundred archives (a generated library per pipeline, device and schedule), which a consumer
# would otherwise have to link in the right order.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

add_library(blurmix_shared SHARED ${PROJECT_SOURCE_DIR}/cmake/install/empty.cpp)
set_target_properties(blurmix_shared PROPERTIES
    OUTPUT_NAME blurmix
    EXPORT_NAME blurmix
    VERSION ${PROJECT_VERSION}
    SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
# Every object of the core library, whether or not the empty source refers to it.
target_link_libraries(blurmix_shared PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,blurmix_core>")
target_link_options(blurmix_shared PRIVATE -Wl,--no-undefined)
target_include_directories(blurmix_shared INTERFACE
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/runtime>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/common>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/blurmix>)
target_compile_features(blurmix_shared INTERFACE cxx_std_17)
add_library(blurmix::blurmix ALIAS blurmix_shared)

find_file(BLURMIX_HALIDE_BUFFER_H HalideBuffer.h REQUIRED
          PATHS ${Halide_DIR}/../../../include ${HalideHelpers_DIR}/../../../include NO_DEFAULT_PATH)
get_filename_component(halide_include ${BLURMIX_HALIDE_BUFFER_H} DIRECTORY)

install(TARGETS blurmix_shared EXPORT blurmixTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${BLURMIX_PUBLIC_HEADERS} ${halide_include}/HalideBuffer.h ${halide_include}/HalideRuntime.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/blurmix)
if (TARGET blurmix)
    install(TARGETS blurmix RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif ()
install(EXPORT blurmixTargets NAMESPACE blurmix:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/blurmix)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/install/blurmixConfig.cmake.in
    ${CMAKE_CURRENT_BINARY_DIR}/blurmixConfig.cmake
    INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/blurmix)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/blurmixConfigVersion.cmake
    COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/blurmixConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/blurmixConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/blurmix)
