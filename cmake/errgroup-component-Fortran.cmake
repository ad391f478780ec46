# find_package(errgroup COMPONENTS Fortran): the module errgroup_f as
# errgroup::fortran. Needs the Fortran language enabled in the consumer and a
# library built with ERRGROUP_FORTRAN on.
get_property(_errgroup_enabled GLOBAL PROPERTY ENABLED_LANGUAGES)
if(NOT "Fortran" IN_LIST _errgroup_enabled)
  set(errgroup_Fortran_FOUND FALSE)
  set(errgroup_Fortran_NOT_FOUND_MESSAGE "enable the Fortran language before find_package(errgroup COMPONENTS Fortran)")
elseif(NOT EXISTS "${CMAKE_CURRENT_LIST_DIR}/errgroupFortranTargets.cmake")
  set(errgroup_Fortran_FOUND FALSE)
  set(errgroup_Fortran_NOT_FOUND_MESSAGE "this errgroup was built without ERRGROUP_FORTRAN")
else()
  include("${CMAKE_CURRENT_LIST_DIR}/errgroupFortranTargets.cmake")
  set(errgroup_Fortran_FOUND TRUE)
endif()
