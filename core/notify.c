/*
 * core/notify.c - sd_notify(3) messages (core/notify.h).
 */
#include "core/notify.h"

#include <stdio.h>
#include <time.h>

#include <systemd/sd-daemon.h>

void notify_ready(void)
{
	sd_notify(0, "READY=1");
}

void notify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	/* systemd 253+ wants the time of the reload request with it */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ull +
			 (unsigned long long)ts.tv_nsec / 1000);
	sd_notify(0, msg);
}

void notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void notify_status(const char *text)
{
	sd_notifyf(0, "STATUS=%s", text);
}
