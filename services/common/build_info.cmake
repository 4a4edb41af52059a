# Writes the build_info header (cmake -P, on every build): the project
# version and the source tree's git commit, "unknown" when SOURCE_DIR is not
# a git checkout or git is missing. Reads git locally only (no network);
# configure_file leaves OUT untouched when nothing changed, so a build that
# changes nothing recompiles nothing.
#   -DSOURCE_DIR=<root> -DVERSION=<x.y.z> -DTEMPLATE=<build_info_gen.h.in> -DOUT=<header>
set(KINEX_BUILD_VERSION "${VERSION}")
set(KINEX_BUILD_COMMIT "unknown")
find_program(GIT_EXECUTABLE git)
if(GIT_EXECUTABLE)
  execute_process(
    COMMAND ${GIT_EXECUTABLE} -C ${SOURCE_DIR} rev-parse --short=12 HEAD
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE commit
    OUTPUT_STRIP_TRAILING_WHITESPACE
    ERROR_QUIET)
  if(rc EQUAL 0 AND commit MATCHES "^[0-9a-f]+$")
    set(KINEX_BUILD_COMMIT "${commit}")
  endif()
endif()
configure_file(${TEMPLATE} ${OUT} @ONLY)
