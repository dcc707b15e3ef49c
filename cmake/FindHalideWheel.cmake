# Adds the Halide wheel's install prefix (python -c "import halide; print(halide.install_dir())")
# to CMAKE_PREFIX_PATH, taking the Python of the project's .venv first, then Python_EXECUTABLE
# where given, then python3 on PATH.
if (Halide_DIR)
    return()
endif ()
find_program(BLURMIX_HALIDE_PYTHON NAMES python3 python
             HINTS "${CMAKE_SOURCE_DIR}/.venv/bin" NO_DEFAULT_PATH)
if (NOT BLURMIX_HALIDE_PYTHON AND Python_EXECUTABLE)  # given: `pip install .` gives its own
    set(BLURMIX_HALIDE_PYTHON "${Python_EXECUTABLE}")
endif ()
if (NOT BLURMIX_HALIDE_PYTHON)
    find_program(BLURMIX_HALIDE_PYTHON NAMES python3 python)
endif ()
if (BLURMIX_HALIDE_PYTHON)
    execute_process(COMMAND "${BLURMIX_HALIDE_PYTHON}" -c "import halide; print(halide.install_dir())"
                    OUTPUT_VARIABLE _halide_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
                    RESULT_VARIABLE _halide_found ERROR_QUIET)
    if (_halide_found EQUAL 0)
        list(APPEND CMAKE_PREFIX_PATH "${_halide_prefix}")
        # The wheel's own config, named: CMake does not search lib64/ on Debian, and what it finds
        # instead, the wheel's share/cmake/Halide (through PATH), includes the config from the
        # site-packages of Python_EXECUTABLE, which is not where Halide is under `pip install .`
        # (an isolated build environment).
        file(GLOB _halide_config "${_halide_prefix}/lib*/cmake/Halide/HalideConfig.cmake")
        if (_halide_config)
            list(GET _halide_config 0 _halide_config)
            get_filename_component(_halide_config_dir "${_halide_config}" DIRECTORY)
            set(Halide_DIR "${_halide_config_dir}" CACHE PATH "Halide's CMake package (the wheel's)" FORCE)
        endif ()
        set(BLURMIX_HALIDE_TOOLS "${_halide_prefix}/share/tools" CACHE PATH "halide_benchmark.h and friends")
    endif ()
endif ()
