// Each of the process's threads says what it is, so that `top -H`, `ps -L` and perf show the
// history writer or the spool writer by name rather than as one more "ehlo".
#pragma once

#include <pthread.h>

namespace ehlo::observe {

// `name`: at most 15 characters (the kernel's limit); a longer one is left unset.
inline void name_this_thread(const char* name) { pthread_setname_np(pthread_self(), name); }

}  // namespace ehlo::observe
