/* OCI hooks (config.json "hooks", parsed by config.c). Each hook runs as a child of the
 * caller, in the caller's namespaces: the runtime's for prestart, createRuntime, poststart
 * and poststop; the container init's for createContainer and startContainer (container.c
 * says where each kind runs and which status its state shows). A hook gets:
 *   stdin    the container's state JSON (paas_state_to_json with the status given);
 *   argv     its args (args[0] is argv[0]; {path} when it has none);
 *   environ  its env and nothing else;
 *   stdout/stderr  captured: the end of it is quoted when the hook fails;
 *   timeout  when exceeded, its process group is killed (SIGKILL) and the hook fails.
 * Hooks of one kind run in order. The first failure of a prestart, createRuntime,
 * createContainer or startContainer hook is an error naming it (`hooks.createRuntime[1]`);
 * the caller fails the verb. A failing poststart or poststop hook is a warning on stderr
 * and the rest still run (runtime-spec 1.0.2, "Lifecycle"). */
#ifndef PAAS_HOOKS_H
#define PAAS_HOOKS_H

#include "config.h"
#include "error.h"
#include "state.h"

/* Runs st->hooks of one kind (nothing when there are none). */
int paas_hooks_run (const struct paas_state *st, enum paas_hook_kind kind, const char *status,
                    libpaas_error_t *err);

#endif
