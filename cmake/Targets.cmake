# Helpers for the target lists of the top-level CMakeLists.txt.

# The device that a GPU target runs on: the first GPU API named in it.
function(blurmix_device_of target out)
    string(REPLACE "-" ";" words "${target}")
    foreach (api IN ITEMS cuda opencl vulkan metal)
        if (api IN_LIST words)
            set(${out} ${api} PARENT_SCOPE)
            return()
        endif ()
    endforeach ()
    message(FATAL_ERROR "GPU target '${target}' names no GPU API (cuda, opencl, vulkan or metal)")
endfunction()

# The words of a target that its runtime needs: the GPU APIs and their options.
function(blurmix_device_features target out)
    string(REPLACE "-" ";" words "${target}")
    set(keep "")
    foreach (w IN LISTS words)
        if (w MATCHES "^(cuda|cuda_capability_[0-9]+|opencl|cl_.*|vulkan|vk_.*|spirv|metal)$")
            list(APPEND keep ${w})
        endif ()
    endforeach ()
    set(${out} ${keep} PARENT_SCOPE)
endfunction()

# arch-bits-os of a target ("host" stays "host").
function(blurmix_base_of target out)
    string(REPLACE "-" ";" words "${target}")
    list(GET words 0 first)
    if (first STREQUAL "host")
        set(${out} host PARENT_SCOPE)
    else ()
        list(SUBLIST words 0 3 base)
        string(JOIN "-" base ${base})
        set(${out} ${base} PARENT_SCOPE)
    endif ()
endfunction()

# One runtime for every library of the host: the CPU baseline (the last CPU target, so that the
# runtime runs wherever the baseline does) plus the union of the GPU APIs built.
function(blurmix_runtime_target out)
    list(GET BLURMIX_CPU_TARGETS -1 baseline)
    blurmix_base_of(${baseline} base)
    set(features "")
    foreach (t IN LISTS BLURMIX_GPU_TARGETS)
        blurmix_device_features(${t} f)
        list(APPEND features ${f})
    endforeach ()
    list(REMOVE_DUPLICATES features)
    list(SORT features)
    string(JOIN "-" rt ${base} ${features})
    set(${out} ${rt} PARENT_SCOPE)
endfunction()
