/*
 * core/notify.h - the service manager's readiness protocol (sd_notify(3),
 * libsystemd), for a unit of Type=notify. Outside systemd (no
 * NOTIFY_SOCKET in the environment) every call does nothing.
 *
 * Threads: main thread (start-up, the signal loop).
 */
#ifndef CMPGW_CORE_NOTIFY_H
#define CMPGW_CORE_NOTIFY_H

/* READY=1: listening, the database reached, every worker accepting. */
void notify_ready(void);
/* RELOADING=1 (with MONOTONIC_USEC) when a SIGHUP reload begins;
 * notify_ready() again when it has been applied or refused. */
void notify_reloading(void);
/* STOPPING=1: a stop signal arrived, draining begins. */
void notify_stopping(void);
/* STATUS=<text> (one line, shown by systemctl status). */
void notify_status(const char *text);

#endif
