# BLURMIX_SANITIZE=ON: the C++ of the runtime layer, the apps and the tests is built with
# AddressSanitizer and UndefinedBehaviorSanitizer, and every Halide library (and the shared Halide
# runtime) with Halide's `asan` target feature, so that the generated code's loads and stores are
# checked too. The generators themselves are not instrumented: they only run at build time.
# BLURMIX_FUZZ=ON (needs clang): the libFuzzer targets in tests/fuzz.
option(BLURMIX_SANITIZE "Build with -fsanitize=address,undefined and Halide's asan feature" OFF)
option(BLURMIX_SANITIZE_HALIDE "With BLURMIX_SANITIZE, also build the Halide libraries with asan (slower to build)" ON)
option(BLURMIX_FUZZ "Build the libFuzzer targets (clang only)" OFF)

set(BLURMIX_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)

# Called before the Halide libraries are declared: the asan feature on every target that lacks it.
function(blurmix_sanitize_halide_targets)
    if (NOT BLURMIX_SANITIZE OR NOT BLURMIX_SANITIZE_HALIDE)
        return()
    endif ()
    foreach (var BLURMIX_CPU_TARGETS BLURMIX_RUNTIME_TARGET)
        set(out "")
        foreach (t IN LISTS ${var})
            if (NOT t MATCHES "(^|-)asan(-|$)")
                set(t "${t}-asan")
            endif ()
            list(APPEND out "${t}")
        endforeach ()
        set(${var} "${out}" PARENT_SCOPE)
    endforeach ()
endfunction()

# Called after the subdirectories: instruments every target they declared.
function(blurmix_sanitize_dirs)
    if (NOT BLURMIX_SANITIZE)
        return()
    endif ()
    foreach (dir IN LISTS ARGN)
        get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
        foreach (t IN LISTS targets)
            get_target_property(type ${t} TYPE)
            if (type STREQUAL "EXECUTABLE" OR type STREQUAL "STATIC_LIBRARY" OR type STREQUAL "OBJECT_LIBRARY")
                target_compile_options(${t} PRIVATE ${BLURMIX_SANITIZE_FLAGS})
            endif ()
            if (type STREQUAL "EXECUTABLE")
                target_link_options(${t} PRIVATE ${BLURMIX_SANITIZE_FLAGS})
                target_sources(${t} PRIVATE ${PROJECT_SOURCE_DIR}/cmake/sanitizer_options.cpp)
            endif ()
        endforeach ()
    endforeach ()
endfunction()
