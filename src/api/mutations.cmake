# Server side of the replica push protocol (POST /api/v1/mutations). Included by
# src/api/CMakeLists.txt or src/replica/CMakeLists.txt, whichever comes first.
if(NOT TARGET tandem_api_mutations)
  add_library(tandem_api_mutations ${CMAKE_CURRENT_LIST_DIR}/mutations.cc)
  target_include_directories(tandem_api_mutations PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(tandem_api_mutations PUBLIC tandem_core tandem_model tandem_store
                        tandem_http_server nlohmann_json::nlohmann_json)
  tandem_test(api_mutations_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/mutations_test.cc
              LIBS tandem_api_mutations)
endif()
