#ifndef PARATII_CPCSCLITE_SHIM_H
#define PARATII_CPCSCLITE_SHIM_H
#include <winscard.h>
#include <reader.h>
#endif
