/* spawn.c: a program run to completion without forking Node. */
#ifndef FSX_SPAWN_H
#define FSX_SPAWN_H
#include <node_api.h>

napi_value fsx_spawn(napi_env env, napi_callback_info info);

#endif
