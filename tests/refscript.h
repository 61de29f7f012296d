/* refscript: what the numeric tests share to run a reference script
 * (the Python files of tests/ref) at test time, so that expected values are computed by
 * PyTorch and never pasted into a test. */
#ifndef CRTD_TESTS_REFSCRIPT_H
#define CRTD_TESTS_REFSCRIPT_H

/* The environment variable's value, or fallback when it is unset or empty. */
const char *refscript_env_or(const char *name, const char *fallback);

/* Runs `$CRTD_PYTHON SCRIPT COMMAND --out DIR`, where SCRIPT is the value of
 * script_env (or fallback_script); returns 0, or -1 after saying on stderr
 * what failed. */
int refscript_run(const char *script_env, const char *fallback_script, const char *command,
                  const char *out_dir);
/* The same with n_args more arguments after `--out DIR`. */
int refscript_run_args(const char *script_env, const char *fallback_script, const char *command,
                       const char *out_dir, const char *const *args, int n_args);

#endif
