# cmake -DIN=file.npy -DOUT=header.h -DNAME=prefix -P EmbedNpy.cmake
# Writes the float32 data of a version-1 .npy file with a 2-D shape as a C array, so the
# driver carries the seed's signal without reading files at run time.
file(READ "${IN}" hex HEX)
string(SUBSTRING "${hex}" 16 4 len_le)
string(SUBSTRING "${len_le}" 0 2 lo)
string(SUBSTRING "${len_le}" 2 2 hi)
math(EXPR header_len "0x${hi}${lo}")
math(EXPR data_start "(10 + ${header_len}) * 2")
file(READ "${IN}" header OFFSET 10 LIMIT ${header_len})
if (NOT header MATCHES "'descr': '<f4'" OR NOT header MATCHES "'shape': \\(([0-9]+), ([0-9]+)\\)")
    message(FATAL_ERROR "${IN}: expected a 2-D <f4 array, header: ${header}")
endif ()
set(rows ${CMAKE_MATCH_1})
set(cols ${CMAKE_MATCH_2})
string(SUBSTRING "${hex}" ${data_start} -1 data)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," data "${data}")
file(WRITE "${OUT}" "// Generated from ${IN} by EmbedNpy.cmake\n#pragma once\n"
     "constexpr int ${NAME}_width = ${cols}, ${NAME}_height = ${rows};\n"
     "alignas(4) static const unsigned char ${NAME}_data[] = {${data}};\n")
