#ifndef PARATII_CLIBUSB_SHIM_H
#define PARATII_CLIBUSB_SHIM_H
#include <libusb.h>
#endif
