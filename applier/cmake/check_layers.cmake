# Fails when a file of a src/ directory includes a header of a directory
cmake_policy(SET CMP0057 NEW)  # IN_LIST
cmake_policy(SET CMP0007 NEW)  # list() keeps empty elements
# that its pgdts_layer() does not name in USES (CMakeLists.txt).
#   cmake -DSRC=<src dir> "-DSPEC=name:use,use;..." -DSTAMP=<file> -P check_layers.cmake
set(errors "")
foreach(entry IN LISTS SPEC)
  string(REPLACE ":" ";" parts "${entry}")
  list(GET parts 0 layer)
  list(LENGTH parts n)
  set(uses "")
  if(n GREATER 1)
    list(GET parts 1 uses)
    string(REPLACE "," ";" uses "${uses}")
  endif()
  file(GLOB files ${SRC}/${layer}/*.h ${SRC}/${layer}/*.cpp)
  foreach(file IN LISTS files)
    file(STRINGS ${file} includes REGEX "^#include \"[a-z_]+/")
    foreach(line IN LISTS includes)
      string(REGEX REPLACE "^#include \"([a-z_]+)/.*" "\\1" used "${line}")
      if(NOT used STREQUAL layer AND NOT used IN_LIST uses)
        file(RELATIVE_PATH rel ${SRC} ${file})
        string(APPEND errors "  ${rel}: ${line} (${layer} may use: ${uses})\n")
      endif()
    endforeach()
  endforeach()
endforeach()
if(errors)
  message(FATAL_ERROR "layer violation: an include crosses into a directory its layer does "
                      "not use (applier/CMakeLists.txt, docs/architecture.md):\n${errors}")
endif()
file(TOUCH ${STAMP})
