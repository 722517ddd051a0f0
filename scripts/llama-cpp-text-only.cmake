# Injected into llama.cpp's own project (CMAKE_PROJECT_llama.cpp_INCLUDE) when pip builds llama-cpp-python: its
# common library (chat parsers, argument parsing, downloads: half the build) serves llama.cpp's tools and the
# multimodal library, none of which the Python package loads for text. llama-cpp-python forces the cache option on;
# a normal variable of the same name wins over it (policy CMP0077).
set(LLAMA_BUILD_COMMON OFF)
