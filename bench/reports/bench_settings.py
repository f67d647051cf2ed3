"""Settings of the report-submission benchmark: the project's, plus the benchmark's submit endpoint."""

from commonguard.settings import *  # noqa: F403

ROOT_URLCONF = "bench_urls"
