/* notify: systemd's service protocols, written by hand — sd_notify messages
 * (READY=1, STATUS=, WATCHDOG=1, STOPPING=1, RELOADING=1) as datagrams to
 * $NOTIFY_SOCKET, the watchdog interval, and sockets passed by socket
 * activation ($LISTEN_FDS). */
#ifndef CRTD_NOTIFY_H
#define CRTD_NOTIFY_H

#include <stdint.h>

/* Sends text to $NOTIFY_SOCKET: 1 when sent, 0 when not run under systemd
 * (no socket), a negative errno when sending failed. */
int notify_send(const char *text);

/* The watchdog interval in microseconds when systemd asks for pings (and
 * $WATCHDOG_PID, if set, is this process), else 0. */
uint64_t notify_watchdog_usec(void);

/* The first socket passed by systemd (fd 3) when $LISTEN_PID is this process
 * and $LISTEN_FDS >= 1, else -ENOENT. Unsets the variables. */
int notify_listen_fd(int *ret_fd);

#endif
