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
        set(BLURMIX_HALIDE_TOOLS "${_halide_prefix}/share/tools" CACHE PATH "halide_benchmark.h and friends")
    endif ()
endif ()
