# HTTP client (libcurl). Included by src/http/CMakeLists.txt.
add_library(tandem_http_client ${CMAKE_CURRENT_LIST_DIR}/client.cc ${CMAKE_CURRENT_LIST_DIR}/address_policy.cc)
target_include_directories(tandem_http_client PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(tandem_http_client PUBLIC tandem_core CURL::libcurl)

tandem_test(http_client_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/client_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/address_policy_test.cc
  LIBS tandem_http_client Boost::headers)
target_include_directories(http_client_test PRIVATE ${PROJECT_SOURCE_DIR})
