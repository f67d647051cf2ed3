"""The shared library: the TLP read rule across personas (hidden answers exactly like absent, on the
page, the download and the comments), uploads typed by their bytes (unknown types and oversize files
refused, nothing stored), downloads never inline when risky, search, "used by N", comments."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from commonguard.core.models import AuditEvent
from commonguard.core.tlp import TLP
from commonguard.partnerships import selectors, services
from commonguard.partnerships.models import Resource, ResourceComment, ResourceUse
from commonguard.sharing.models import SharingGroup
from tests.conftest import PERSONAS

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _stored_files(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def make_resource(world: Any, *, tlp: str = TLP.GREEN, author: str = "ingham_member", **kw: Any) -> Resource:
    author_user = world[author]
    org = world.memberships[author].organization
    data = services.ResourceInput(
        title=kw.pop("title", f"{tlp} incident response playbook"),
        kind=kw.pop("kind", Resource.Kind.PLAYBOOK),
        summary=kw.pop("summary", "Steps for the **first hour**."),
        author_org=org,
        tlp=tlp,
        url=kw.pop("url", "https://www.example.net/playbook") if "upload" not in kw else "",
        **kw.pop("data", {}),
    )
    return services.resource_create(actor=author_user, data=data, upload=kw.pop("upload", None))


def _world_resources(world: Any) -> dict[str, Resource]:
    group = SharingGroup.objects.create(name="Lansing group", owner=world.ingham)
    group.organizations.add(world.lansing)
    return {
        "green": make_resource(world, tlp=TLP.GREEN),
        "clear": make_resource(world, tlp=TLP.CLEAR),
        "amber": make_resource(world, tlp=TLP.AMBER, data={"recipient_orgs": [world.washtenaw]}),
        "amber_group": make_resource(world, tlp=TLP.AMBER_STRICT, data={"recipient_groups": [group]}),
        "red": make_resource(world, tlp=TLP.RED, data={"recipient_people": [world["washtenaw_member"]]}),
    }


COMMUNITY = {p for p in PERSONAS if p not in {"anonymous", "unvetted", "removed_member"}}
EXPECTED = {
    "green": COMMUNITY,
    "clear": COMMUNITY,
    # The author's organisation and the one named; state staff and the operator are not named.
    "amber": {"ingham_member", "ingham_admin", "ingham_official", "washtenaw_member", "washtenaw_admin"},
    "amber_group": {"ingham_member", "ingham_admin", "ingham_official", "lansing_member"},
    "red": {"ingham_member", "washtenaw_member"},
}
CASES = [(label, persona, persona in EXPECTED[label]) for label in EXPECTED for persona in PERSONAS]


def _without_csrf(content: bytes) -> str:
    return re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+', r"\1", content.decode())


@pytest.mark.parametrize(("label", "persona", "visible"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_resource_read_rule(world, as_persona, label, persona, visible):
    resources = _world_resources(world)
    resource = resources[label]
    ResourceComment.objects.create(resource=resource, author=world["ingham_member"], author_org=world.ingham, body="x")
    user = None if persona == "anonymous" else world[persona]
    assert Resource.objects.visible_to(user).filter(pk=resource.pk).exists() == visible
    assert ResourceComment.objects.visible_to(user).filter(resource=resource).exists() == visible
    assert (resource in selectors.resource_search(user=user, query="playbook")) == visible

    client = as_persona(persona)
    response = client.get(f"/partnerships/library/{resource.pk}/")
    absent = client.get("/partnerships/library/987654/")
    listing = client.get("/partnerships/library/")
    if persona == "anonymous":
        assert response.status_code == absent.status_code == 302
        return
    if persona in {"unvetted", "removed_member"}:
        assert response.status_code == absent.status_code == 302  # sent home, where their request shows
        return
    if visible:
        assert response.status_code == 200
        assert resource.title in listing.content.decode()
    else:
        assert response.status_code == absent.status_code == 404
        assert _without_csrf(response.content) == _without_csrf(absent.content)
        assert resource.title not in listing.content.decode()
        # Acting on it is the same 404, and changes nothing.
        post = client.post(f"/partnerships/library/{resource.pk}/", {"action": "use", "organization": 1})
        assert post.status_code == 404
        assert not ResourceUse.objects.filter(resource=resource).exists()


def test_a_hidden_file_download_is_a_404_like_a_missing_one(world, as_persona):
    upload = SimpleUploadedFile("aar.pdf", PDF, content_type="application/pdf")
    resource = make_resource(world, tlp=TLP.AMBER, data={"recipient_orgs": [world.washtenaw]}, upload=upload)
    client = as_persona("lansing_member")
    hidden = client.get(f"/partnerships/library/{resource.pk}/download/")
    absent = client.get("/partnerships/library/987654/download/")
    assert hidden.status_code == absent.status_code == 404
    assert _without_csrf(hidden.content) == _without_csrf(absent.content)
    client = as_persona("washtenaw_member")
    response = client.get(f"/partnerships/library/{resource.pk}/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    # A PDF is downloaded, never shown inline; the browser must not guess; a sandbox should it open it.
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="aar.pdf"' in response["Content-Disposition"]
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_only_images_are_served_inline(world, as_persona):
    image = make_resource(world, upload=SimpleUploadedFile("diagram.png", PNG, content_type="text/html"))
    assert image.content_type == "image/png"  # the bytes decide, not the browser's claim
    response = as_persona("washtenaw_member").get(f"/partnerships/library/{image.pk}/download/")
    assert response["Content-Disposition"].startswith("inline;")
    script = make_resource(
        world, upload=SimpleUploadedFile("collect.ps1", b"Get-EventLog -LogName Security\n", content_type="image/png")
    )
    assert script.content_type == "text/plain; charset=utf-8"
    response = as_persona("washtenaw_member").get(f"/partnerships/library/{script.pk}/download/")
    assert response["Content-Disposition"].startswith("attachment;")


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "body", "content_type"),
    [
        ("policy.pdf", PDF, "application/pdf"),
        ("policy.docx", _docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("checklist.md", b"# Checklist\n- [ ] backups\n", "text/plain; charset=utf-8"),
        # A PDF with a misleading name is still a PDF, and downloads as .pdf.
        ("report.exe", PDF, "application/pdf"),
    ],
)
def test_accepted_uploads_are_typed_by_their_bytes(world, name, body, content_type):
    resource = make_resource(world, upload=SimpleUploadedFile(name, body, content_type="application/octet-stream"))
    assert resource.content_type == content_type
    assert resource.file_size == len(body)
    assert "/" not in resource.file_name and resource.file.name.startswith("library/")
    assert name not in resource.file.name  # never the uploader's name on disk
    if name == "report.exe":
        assert resource.file_name == "report.pdf"


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("tool.exe", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64),
        ("page.html", b"<!doctype html><script>alert(1)</script>"),
        ("notes.txt", b"<svg onload=alert(1)>"),
        ("image.svg", b'<svg xmlns="http://www.w3.org/2000/svg"></svg>'),
        ("data.bin", b"\x00\x01\x02\x03"),
        ("latin1.txt", "Café".encode("latin-1")),
    ],
)
def test_an_upload_of_an_unknown_type_is_refused_and_nothing_is_stored(world, as_persona, _media, name, body):
    client = as_persona("ingham_member")
    response = client.post(
        "/partnerships/library/new/",
        {
            "title": "Suspicious tool",
            "kind": "tool",
            "summary": "Try it.",
            "author_org": world.ingham.pk,
            "tlp": "green",
            "file": SimpleUploadedFile(name, body, content_type="application/pdf"),
        },
    )
    assert response.status_code == 400
    assert "is not a type the library accepts" in response.content.decode()
    assert not Resource.objects.exists()
    assert not _stored_files(_media)
    assert not AuditEvent.objects.filter(action="library.resource.create").exists()


def test_an_oversize_upload_is_refused(world, settings, _media):
    settings.COMMONGUARD_LIBRARY_MAX_BYTES = 1024
    with pytest.raises(Exception, match="larger than the limit"):
        make_resource(world, upload=SimpleUploadedFile("big.pdf", PDF + b"0" * 2048))
    assert not Resource.objects.exists()
    assert not _stored_files(_media)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tlp": "amber"}, "TLP:AMBER needs at least one organisation"),
        ({"tlp": "red"}, "TLP:RED needs at least one person"),
        ({"url": ""}, "Upload a file or give a link."),
        ({"csf_categories": "PR.AA XX.YY"}, "Not a CSF 2.0 category code: XX.YY"),
    ],
)
def test_bad_library_input_is_a_clear_error_and_nothing_is_stored(world, as_persona, fields, message):
    data = {
        "title": "MFA policy",
        "kind": "policy",
        "summary": "Require MFA.",
        "author_org": world.ingham.pk,
        "tlp": "green",
        "url": "https://www.example.net/mfa",
        **fields,
    }
    response = as_persona("ingham_member").post("/partnerships/library/new/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Resource.objects.exists()


def test_sharing_through_the_form_drops_audience_fields_the_label_does_not_use(world, as_persona):
    response = as_persona("ingham_member").post(
        "/partnerships/library/new/",
        {
            "title": "MFA policy",
            "kind": "policy",
            "summary": "Require MFA.",
            "author_org": world.ingham.pk,
            "tlp": "green",
            "url": "https://www.example.net/mfa",
            "recipient_orgs": [world.washtenaw.pk],
            "tags": "MFA, Policy, mfa",
            "csf_categories": "pr.aa",
        },
    )
    assert response.status_code == 302
    resource = Resource.objects.get()
    assert not resource.recipient_orgs.exists()
    assert sorted(resource.tags.values_list("name", flat=True)) == ["mfa", "policy"]
    assert resource.csf_categories == "PR.AA"
    assert AuditEvent.objects.filter(action="library.resource.create", target_id=str(resource.pk)).exists()


def test_a_member_cannot_share_for_an_organisation_they_are_not_in(world, as_persona):
    response = as_persona("ingham_member").post(
        "/partnerships/library/new/",
        {
            "title": "x",
            "kind": "policy",
            "summary": "x",
            "author_org": world.washtenaw.pk,
            "tlp": "green",
            "url": "https://www.example.net/x",
        },
    )
    assert response.status_code == 400
    assert not Resource.objects.exists()


def test_used_by_counts_organisations_once_and_comments_render_sanitised_markdown(world, as_persona):
    resource = make_resource(world)
    client = as_persona("washtenaw_member")
    for _ in range(2):
        client.post(f"/partnerships/library/{resource.pk}/", {"action": "use", "organization": world.washtenaw.pk})
    as_persona("ingham_member").post(
        f"/partnerships/library/{resource.pk}/", {"action": "use", "organization": world.ingham.pk}
    )
    assert ResourceUse.objects.filter(resource=resource).count() == 2
    # A member cannot say another organisation uses it.
    as_persona("lansing_member").post(
        f"/partnerships/library/{resource.pk}/", {"action": "use", "organization": world.guard.pk}
    )
    assert ResourceUse.objects.filter(resource=resource).count() == 2
    client = as_persona("washtenaw_member")
    response = client.post(
        f"/partnerships/library/{resource.pk}/",
        {"action": "comment", "organization": world.washtenaw.pk, "body": "**Works** <script>alert(1)</script>"},
    )
    assert response.status_code == 302
    page = client.get(f"/partnerships/library/{resource.pk}/").content.decode()
    assert "<strong>Works</strong>" in page
    assert "<script>alert(1)</script>" not in page
    assert "2 organisations" in page
    empty = client.post(
        f"/partnerships/library/{resource.pk}/", {"action": "comment", "organization": world.washtenaw.pk, "body": " "}
    )
    assert empty.status_code == 400
    assert ResourceComment.objects.count() == 1
    assert [r.use_count for r in selectors.resource_search(user=world["washtenaw_member"])] == [2]


def test_search_filters_and_csf_links(world):
    make_resource(world, title="Ransomware tabletop kit", data={"tags": ["tabletop"], "csf_categories": ["RS.MA"]})
    make_resource(world, title="MFA rollout guide", summary="Hardware keys.", data={"csf_categories": ["PR.AA"]})
    make_resource(world, title="Backup policy", kind=Resource.Kind.POLICY, summary="Offline copies weekly.")
    user = world["washtenaw_member"]

    def titles(**kw: Any) -> list[str]:
        return sorted(r.title for r in selectors.resource_search(user=user, **kw))

    assert titles(query="ransomware") == ["Ransomware tabletop kit"]
    assert titles(query="tabletop") == ["Ransomware tabletop kit"]
    assert titles(query="hardware keys") == ["MFA rollout guide"]
    assert titles(kind="policy") == ["Backup policy"]
    assert titles(tag="TABLETOP") == ["Ransomware tabletop kit"]
    assert [r.title for r in selectors.resources_for_csf_category(user=user, category="PR.AA")] == ["MFA rollout guide"]
    assert titles(query="nothing-like-this") == []


@pytest.mark.postgres
def test_postgres_full_text_search_ranks_title_matches_first_and_stems(world):
    assert connection.vendor == "postgresql"
    make_resource(world, title="Incident response plan", summary="Who calls whom.")
    make_resource(world, title="Vendor contract", summary="Includes incident response retainers.")
    user = world["washtenaw_member"]
    found = [r.title for r in selectors.resource_search(user=user, query="incidents responses")]
    assert found == ["Incident response plan", "Vendor contract"]
    # The read rule still applies under full-text search.
    secret = {"recipient_people": [world["ingham_admin"]]}
    make_resource(world, title="Incident response secrets", tlp=TLP.RED, data=secret)
    assert "Incident response secrets" not in [r.title for r in selectors.resource_search(user=user, query="incident")]


def test_the_api_lists_only_readable_resources_and_hides_others_like_absent(world, as_persona):
    green = make_resource(world, title="MFA guide", data={"csf_categories": ["PR.AA"]})
    red = make_resource(world, tlp=TLP.RED, title="Secret", data={"recipient_people": [world["washtenaw_member"]]})
    client = as_persona("lansing_member")
    listing = client.get("/api/v1/library/?csf=PR.AA").json()
    assert [r["title"] for r in listing["results"]] == ["MFA guide"]
    assert listing["results"][0]["csf_categories"] == ["PR.AA"]
    hidden = client.get(f"/api/v1/library/{red.pk}/")
    absent = client.get("/api/v1/library/987654/")
    assert hidden.status_code == absent.status_code == 404
    assert hidden.json() == absent.json()
    assert client.get(f"/api/v1/library/{green.pk}/").status_code == 200
    assert as_persona("washtenaw_member").get(f"/api/v1/library/{red.pk}/").status_code == 200
    assert as_persona("anonymous").get("/api/v1/library/").status_code in {401, 403}


def test_red_cannot_name_someone_who_is_not_vetted(world):
    with pytest.raises(ValidationError, match=re.escape("Not vetted members of the hub: unvetted@example.test")):
        make_resource(world, tlp=TLP.RED, data={"recipient_people": [world["unvetted"]]})
    assert not Resource.objects.exists()
