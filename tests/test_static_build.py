"""`make run` collects the static files with the manifest storage, which refuses a file that names
another file that is not there (a script's source map): tests serve static files plainly, so this
one test runs the real collection. It failed when Chart.js was added without its map."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.test import override_settings

MANIFEST_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


def test_the_static_files_collect_with_the_manifest_storage(tmp_path: Any) -> None:
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=MANIFEST_STORAGES):
        call_command("collectstatic", interactive=False, verbosity=0)
    assert (tmp_path / "staticfiles.json").exists()
    assert (tmp_path / "js" / "chart.umd.min.js").exists() and (tmp_path / "app" / "countymap.js").exists()
