// OpenBLAS's CBLAS interface (Debian: libopenblas-dev; macOS Homebrew: openblas).
#include <cblas.h>
