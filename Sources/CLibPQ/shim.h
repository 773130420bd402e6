#ifndef TRELLIS_CLIBPQ_SHIM_H
#define TRELLIS_CLIBPQ_SHIM_H
// Debian/Ubuntu install the header under postgresql/; pkg-config adds that directory too.
#include <postgresql/libpq-fe.h>
#include <poll.h>
#endif
