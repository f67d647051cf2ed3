"""CPU-time probe for a busy machine (ADR 29): the server side of a TAXII pass over ATT&CK
Enterprise through Django's WSGI handler with the middleware token calls get when served (the lanes'
chain, ADR 36; all of it in a checkout from before the lanes) and real connection handling, and
`objects_add` of the ATT&CK bundle (first import, re-import), in process CPU seconds, which another
process's load disturbs far less than wall-clock time. Prints one JSON object.

    COMMONGUARD_DEMO=1 DJANGO_SETTINGS_MODULE=commonguard.settings \\
      [DATABASE_URL=...] [COMMONGUARD_SQLITE_PATH=var/bench/probe.sqlite3] \\
      [ROOT=/path/to/another/checkout] .venv/bin/python bench/taxii/cpu_probe.py

ROOT runs another checkout's code (e.g. `git archive <commit> | tar -x -C /tmp/base`, with
COMMONGUARD_SHARED_DATA pointing at the shared data) on the same database, for a before/after.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = os.environ.get("ROOT", str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonguard.settings")

import django  # noqa: E402

django.setup()

from bench_taxii import reader_token  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from commonguard.interop.collections import reference_collection  # noqa: E402
from commonguard.interop.management.commands.stix_load_attack import read_bundle  # noqa: E402
from commonguard.interop.models import StixObject  # noqa: E402
from commonguard.interop.services import objects_add  # noqa: E402


def main() -> None:
    call_command("migrate", verbosity=0)
    bundle = read_bundle(settings.COMMONGUARD_SHARED_DATA / "attack" / "enterprise-attack-18.1-stix20.json.gz")
    collection = reference_collection("attack-enterprise")
    firsts, agains = [], []
    for _ in range(int(os.environ.get("IMPORTS", 3))):
        StixObject.objects.filter(collection=collection).delete()
        cpu = time.process_time()
        objects_add(collection, bundle)
        firsts.append(time.process_time() - cpu)
        cpu = time.process_time()
        objects_add(collection, bundle)
        agains.append(time.process_time() - cpu)
    secret = reader_token("cpu-probe")
    connection.close()
    # The middleware a token call gets when served (the lanes' chain, ADR 36); all of it in a checkout
    # from before the lanes.
    settings.MIDDLEWARE = getattr(settings, "API_MIDDLEWARE", settings.MIDDLEWARE)
    app = WSGIHandler()

    def call(query: str) -> bytes:
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": f"/taxii2/api/collections/{collection.uuid}/objects/",
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "HTTP_ACCEPT": "application/taxii+json;version=2.1",
            "HTTP_AUTHORIZATION": f"Bearer {secret}",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
        }
        response = app(environ, lambda status, headers: None)
        body = b"".join(response)
        response.close()  # type: ignore[attr-defined]
        return body

    def one_pass() -> tuple[int, list[float]]:
        query, pages, count = urlencode({"limit": 1000}), [], 0
        while True:
            cpu = time.process_time()
            raw = call(query)
            pages.append(time.process_time() - cpu)  # the server's work only, not the parse below
            body = json.loads(raw)
            count += len(body["objects"])
            if not body.get("more"):
                return count, pages
            query = urlencode({"limit": 1000, "next": body["next"]})

    one_pass()
    passes = [one_pass() for _ in range(int(os.environ.get("PASSES", 5)))]
    per_pass = [sum(pages) for _, pages in passes]
    every_page = [ms for _, pages in passes for ms in pages]
    print(
        json.dumps(
            {
                "root": ROOT,
                "db": connection.vendor,
                "load": round(os.getloadavg()[0], 1),
                "objects": passes[0][0],
                "taxii_server_cpu_per_pass_s": [round(x, 3) for x in per_pass],
                "taxii_server_cpu_page_ms_p50": round(statistics.median(every_page) * 1000, 2),
                "import_first_cpu_s": [round(x, 3) for x in firsts],
                "import_again_cpu_s": [round(x, 3) for x in agains],
            }
        )
    )


if __name__ == "__main__":
    main()
