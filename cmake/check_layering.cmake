# Fails when a file under DIR (algorithms/) includes a SimGrid or XBT header: the maths must build and run without
# the simulator (actors -> algorithms, never the other way). Run by the byzgrid-layering target before every build
# of byzgrid-core.
file(GLOB_RECURSE files "${DIR}/*.c" "${DIR}/*.h")
set(bad "")
foreach(f ${files})
  file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"](simgrid|xbt|smpi)[/.]")
  if(lines)
    file(RELATIVE_PATH rel "${DIR}/.." "${f}")
    list(APPEND bad "${rel}: ${lines}")
  endif()
endforeach()
if(bad)
  string(REPLACE ";" "\n  " msg "${bad}")
  message(FATAL_ERROR "algorithms/ must not include SimGrid (the maths stays simulator-free):\n  ${msg}")
endif()
