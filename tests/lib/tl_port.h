/* tl_port: TCP ports on 127.0.0.1 for the servers a test starts. */
#ifndef CRTD_TESTS_TL_PORT_H
#define CRTD_TESTS_TL_PORT_H

/* A port that was free a moment ago (bound to port 0, read back, released):
 * another process may take it before the test's server does, which on a test
 * machine is rare enough. Returns the port or a negative errno. */
int tl_port_free(void);

#endif
