# HTTP server (Boost.Beast). Included by src/http/CMakeLists.txt.
add_library(tandem_http_server ${CMAKE_CURRENT_LIST_DIR}/server.cc)
target_include_directories(tandem_http_server PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(tandem_http_server PUBLIC tandem_core Boost::headers Threads::Threads)

tandem_test(http_server_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/server_test.cc
  LIBS tandem_http_server)
