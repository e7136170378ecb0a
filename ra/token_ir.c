/* ra/token_ir.c - ir with a one-time token (in progress) */
#include "ra/ra.h"
