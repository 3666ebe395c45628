// libjq 1.6 (Debian's libjq-dev ships no pkg-config file, so the module map links `jq` directly).
#ifndef CMO_CJQ_SHIM_H
#define CMO_CJQ_SHIM_H
#include <jv.h>
#include <jq.h>
#endif
