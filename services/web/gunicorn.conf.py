"""Gunicorn settings for the web service (the production server, in containers and natively).

Process-server settings come from the environment that the hosting platform sets: PORT (App Service and
Container Apps conventions), WEB_CONCURRENCY (the usual name for the worker count) and FORWARDED_ALLOW_IPS
(the proxies in front of the app).
"""

import os

wsgi_app = "restaurant_web.app:create_app()"
worker_class = "uvicorn_worker.UvicornWorker"
bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Uploads stream for a while on slow phones; the default 30 s would kill a worker mid-upload.
timeout = 120
# After SIGTERM, running requests get this long to finish. The platform must wait longer before it kills the
# container: docker-compose.yml's stop_grace_period, Container Apps' terminationGracePeriodSeconds.
graceful_timeout = 30
keepalive = 5
accesslog = "-"
errorlog = "-"
# No control socket (gunicornc): gunicorn would create it under $HOME, which in the image is /app, owned by
# root and not writable by the server's user; containers are managed by their platform, not over a socket.
control_socket_disable = True
# Which peers may tell us the client's address (X-Forwarded-For): only trusted proxies, else a client
# could name itself anyone (and escape the per-client rate limit). Uvicorn then takes the rightmost
# address that is not one of these: the client as the nearest trusted proxy saw it.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")


def _keep_large_buffers_in_the_heap() -> None:
    """Have glibc serve the upload path's multi-megabyte buffers from the heap instead of fresh mappings.

    Each photo's bytes are joined into one buffer of up to a block (4 MiB) before they go to Blob. By default
    glibc maps every allocation that large afresh and unmaps it when freed, so the kernel zeroes and faults in
    a thousand pages per photo: bench/load.py --upload-ratio measured 15.8 ms of web CPU per 4 MB photo with
    that and 12.3-13.9 ms without. The cost is free heap a worker keeps (at most the trim threshold) instead of
    returning it at once. Set here, in the server's master before it forks, so every worker inherits it;
    skipped where the C library has no mallopt (musl, macOS).
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's <malloc.h>
    mallopt(m_mmap_threshold, 16 * 1024 * 1024)  # above a block and the default photo limit (10 MB)
    mallopt(m_trim_threshold, 64 * 1024 * 1024)


_keep_large_buffers_in_the_heap()
