// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The records of tracer.h and nothing else: no program, no map. bpf2go
 * builds it for the architectures that tracer.bpf.c has no registers and
 * syscall numbers for (arch.h), so that user space's decoding of the
 * records compiles there too, while the tracer refuses to load.
 */
#include "tracer.h"
