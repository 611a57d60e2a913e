// OpenBLAS's CBLAS interface (Debian: libopenblas-dev; macOS Homebrew: openblas).
#include <cblas.h>
#include <stddef.h>

// The LAPACK routines the engine calls, from the same libopenblas (it bundles LAPACK and exports the
// Fortran symbols: `nm -D libopenblas.so.0 | grep dsyevd_`). Declared here because Debian's
// libopenblas-dev ships no lapacke.h. Fortran conventions: every argument by pointer, column-major
// matrices, 32-bit integers (the LP64 build), and one hidden length per CHARACTER argument appended
// at the end (gfortran's ABI; size_t since GCC 8).

// Eigenvalues (ascending) and optionally eigenvectors of a real symmetric matrix, divide and conquer.
// jobz "N" values only / "V" vectors too; uplo "U"/"L" the triangle read. lwork = liwork = -1 queries
// the workspace sizes into work[0] and iwork[0].
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t uplo_len);

// OpenBLAS's run-time kernel choice (DYNAMIC_ARCH builds, as Debian's): `gotoblas_dynamic_init` picks
// the kernels for the CPU, or for $OPENBLAS_CORETYPE when set; it returns early once a choice exists,
// and `gotoblas_dynamic_quit` clears it. The engine uses the pair to move to the AVX-512 kernels on
// CPUs that 0.3.21 does not recognise as AVX-512 capable (AMD Zen 4 gets the Haswell kernels).
void gotoblas_dynamic_init(void);
void gotoblas_dynamic_quit(void);
