"""Lesson 04, reference layer: HTTPS.

What the layer guarantees (OWASP ASVS 5.0 V12 secure communication, 3.4.1, 4.1.2, 4.1.3;
API8:2023 security misconfiguration), one module per job:

- ``certificates``: a local certificate authority, constrained to loopback names, and a
  90-day server certificate for ``localhost`` and ``127.0.0.1``, kept privately in the data
  folder and reused while they are valid;
- ``context``: the server's TLS context (TLS 1.2 and 1.3, AEAD suites, X25519/P-256 only:
  Mozilla's "intermediate" profile) and a client context that trusts the local CA alone;
- ``probes``: handshakes and an sslyze scan that prove the profile;
- ``plain_http``: the plain-HTTP listener, which redirects browser page loads to HTTPS (308)
  and refuses API calls (403), and makes each refusal an audit event;
- three pure ASGI middlewares, each in its slot of ``lessons.wiring.STACK``: ``proxies``
  (``X-Forwarded-*`` believed from known proxy addresses only), ``hosts`` (the service answers
  only for its own host names) and ``hsts`` (``Strict-Transport-Security`` on HTTPS answers).
"""

from __future__ import annotations

from lessons.tls import hosts, hsts, proxies
from lessons.wiring import LessonLayer

LAYER = LessonLayer(
    seams={"host_allowed": hosts.host_allowed},
    middleware={"trusted_proxies": proxies.trusted_proxies,
                "allowed_hosts": hosts.allowed_hosts,
                "hsts": hsts.hsts},
    serve={"proxy_headers": proxies.app_decides_proxies},
)
