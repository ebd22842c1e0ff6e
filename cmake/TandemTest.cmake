include(GoogleTest)
# tandem_test(NAME SOURCES... LIBS ...): one gtest binary registered with ctest.
# Unit tests carry the label "unit"; interop tests in tests/ set their own labels.
function(tandem_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gmock GTest::gtest_main)
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  gtest_discover_tests(${name} PROPERTIES LABELS "${T_LABELS}" DISCOVERY_TIMEOUT 60)
  if("unit" IN_LIST T_LABELS)
    set_property(GLOBAL APPEND PROPERTY TANDEM_UNIT_TESTS ${name})
  endif()
endfunction()

# The target `unit-tests` builds every binary labelled unit and nothing else
# (CI's sanitizer build runs `ctest -L unit` on it). Called once, after every
# folder has been added.
function(tandem_unit_tests_target)
  get_property(tests GLOBAL PROPERTY TANDEM_UNIT_TESTS)
  add_custom_target(unit-tests DEPENDS ${tests})
endfunction()

# tandem_e2e_scripts(DIR "test_name:script" ...): one interop ctest per entry,
# running `bash DIR/script.sh <tandemd> <tandem> <scripts/peers>` (the end-to-end
# scripts' shared arguments), label interop, 300 s each.
function(tandem_e2e_scripts dir)
  foreach(entry ${ARGN})
    string(REPLACE ":" ";" parts ${entry})
    list(GET parts 0 name)
    list(GET parts 1 script)
    add_test(NAME ${name}
             COMMAND bash ${dir}/${script}.sh $<TARGET_FILE:tandemd> $<TARGET_FILE:tandem>
                     ${PROJECT_SOURCE_DIR}/scripts/peers)
    set_tests_properties(${name} PROPERTIES LABELS interop TIMEOUT 300)
  endforeach()
endfunction()
