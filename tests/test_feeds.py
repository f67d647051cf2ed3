"""Plain feeds (text and CSV lists of indicators): pulls, idempotence, all-or-nothing, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from commonguard.core.models import AuditEvent
from commonguard.core.tlp import TLP
from commonguard.feeds import services as feed_services
from commonguard.feeds.models import Feed
from commonguard.feeds.services import SERVICE_EMAIL, FeedError, FeedInput, feed_pull, feed_save
from commonguard.sharing import imports
from commonguard.sharing.models import Alert, AlertVersion, Delivery, Indicator

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "indicators"

TEXT = """! Title: a test list
# a comment
91.92.251.10
91.92.251.11
evil-login.example
hxxp://evil-login[.]example/path
||bad-cdn.example/payload.exe^$all
not a valid indicator at all
91.92.251.10
10.0.0.1
"""


def make_feed(world: Any, source: Path | str, **extra: Any) -> Feed:
    data = FeedInput(
        name=extra.pop("name", "Test list"),
        source=str(source),
        format=extra.pop("format", Feed.Format.TEXT),
        owner=extra.pop("owner", world.ingham),
        tlp=extra.pop("tlp", TLP.GREEN),
        **extra,
    )
    return feed_save(actor=world["ingham_admin"], data=data)


def test_a_text_feed_becomes_one_unannounced_alert_with_its_valid_indicators(world, tmp_path):
    path = tmp_path / "list.txt"
    path.write_text(TEXT)
    feed = make_feed(world, path)
    result = feed_pull(feed)
    alert = Alert.objects.get(source_key=f"feed:{feed.pk}")
    assert alert.status == Alert.Status.PUBLISHED and alert.tlp == TLP.GREEN
    assert alert.author.email == SERVICE_EMAIL and alert.author_org == world.ingham
    values = dict(alert.indicators.values_list("value", "kind"))
    assert values == {
        "91.92.251.10": "ipv4",
        "91.92.251.11": "ipv4",
        "evil-login.example": "domain",
        "http://evil-login.example/path": "url",
        "http://bad-cdn.example/payload.exe": "url",
        "10.0.0.1": "ipv4",
    }
    # Warning-list hits are flagged, not refused.
    assert alert.indicators.get(value="10.0.0.1").warning  # RFC 1918
    assert not alert.indicators.get(value="91.92.251.10").warning
    assert result.invalid == 1 and result.duplicates == 1 and result.added == 6 and result.warned == 1
    assert "line 8" in result.errors[0]
    assert not Delivery.objects.filter(alert=alert).exists()  # never a flood of e-mail
    feed.refresh_from_db()
    assert feed.status == Feed.Status.OK and feed.last_result["added"] == 6
    # Readers: the vetted community (GREEN), like any alert.
    assert Alert.objects.visible_to(world["washtenaw_member"]).filter(pk=alert.pk).exists()
    assert not Alert.objects.visible_to(world["unvetted"]).filter(pk=alert.pk).exists()


def test_re_pulling_identical_data_writes_nothing_and_changes_replace_exactly(world, tmp_path):
    path = tmp_path / "list.txt"
    path.write_text(TEXT)
    feed = make_feed(world, path)
    feed_pull(feed)
    alert = Alert.objects.get(source_key=f"feed:{feed.pk}")
    ids = dict(alert.indicators.values_list("value", "pk"))
    audits = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as queries:
        result = feed_pull(feed)
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "DELETE"))
        or (q["sql"].lstrip().upper().startswith("UPDATE") and "feeds_feed" not in q["sql"])
    ]
    assert writes == [] and result.added == 0 and result.removed == 0 and result.unchanged == 6
    assert AuditEvent.objects.count() == audits
    # One value gone, one new: only those change; the others keep their rows.
    path.write_text(TEXT.replace("91.92.251.11", "45.137.21.9"))
    result = feed_pull(feed)
    assert (result.added, result.removed, result.unchanged) == (1, 1, 5)
    now = dict(alert.indicators.values_list("value", "pk"))
    assert "91.92.251.11" not in now and "45.137.21.9" in now
    assert now["91.92.251.10"] == ids["91.92.251.10"]
    assert AlertVersion.objects.filter(alert=alert).count() == 1


def test_changing_the_feeds_label_records_an_unannounced_version(world, tmp_path):
    path = tmp_path / "list.txt"
    path.write_text(TEXT)
    feed = make_feed(world, path)
    feed_pull(feed)
    data = FeedInput(name=feed.name, source=feed.source, format=feed.format, owner=world.ingham, tlp=TLP.AMBER)
    feed = feed_save(actor=world["ingham_admin"], data=data, feed=feed)
    result = feed_pull(feed)
    alert = Alert.objects.get(source_key=f"feed:{feed.pk}")
    assert result.new_version and alert.version == 2 and alert.tlp == TLP.AMBER
    assert list(alert.recipient_orgs.all()) == [world.ingham]  # AMBER naming nobody: the owner
    assert not Delivery.objects.filter(alert=alert).exists()
    assert not Alert.objects.visible_to(world["washtenaw_member"]).filter(pk=alert.pk).exists()
    assert Alert.objects.visible_to(world["lansing_member"]).filter(pk=alert.pk).count() == 0
    assert Alert.objects.visible_to(world["ingham_member"]).filter(pk=alert.pk).exists()


def test_a_csv_feed_reads_the_named_columns(world, tmp_path):
    path = tmp_path / "threatfox.csv"
    path.write_text(
        "# ThreatFox IOCs: CSV export\n"
        '"first_seen","ioc_value","ioc_type","malware"\n'
        '"2025-07-19","91.92.251.20","ipv4","Cobalt Strike"\n'
        '"2025-07-19","http://45.137.21.7/a.exe","url","AsyncRAT"\n'
        '"2025-07-19","c0ffee","md5","broken hash"\n'
        '"2025-07-19"\n'
    )
    feed = make_feed(
        world,
        path,
        format=Feed.Format.CSV,
        csv_header=True,
        csv_value_column="ioc_value",
        csv_kind_column="ioc_type",
        csv_comment_column="malware",
    )
    result = feed_pull(feed)
    alert = Alert.objects.get(source_key=f"feed:{feed.pk}")
    assert dict(alert.indicators.values_list("value", "comment")) == {
        "91.92.251.20": "Cobalt Strike",
        "http://45.137.21.7/a.exe": "AsyncRAT",
    }
    assert result.invalid == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
        (b"only garbage here\nand more of it\n", "no valid indicators"),
    ],
)
def test_bad_sources_are_clear_errors_that_change_nothing(world, tmp_path, content, message):
    path = tmp_path / "list.txt"
    path.write_text(TEXT)
    feed = make_feed(world, path)
    feed_pull(feed)
    before = sorted(Indicator.objects.values_list("value", flat=True))
    path.write_bytes(content)
    with pytest.raises(FeedError, match=message):
        feed_pull(feed)
    assert sorted(Indicator.objects.values_list("value", flat=True)) == before
    feed.refresh_from_db()
    assert feed.status == Feed.Status.FAILED and message in feed.last_error


def test_malformed_csv_and_unknown_columns_are_refused(world, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('"91.92.251.20,"unterminated\n')
    feed = make_feed(world, path, format=Feed.Format.CSV)
    with pytest.raises(FeedError, match="malformed"):
        feed_pull(feed)
    path.write_text("value\n91.92.251.20\n")
    feed = make_feed(world, path, name="named", format=Feed.Format.CSV, csv_header=True, csv_value_column="ioc")
    with pytest.raises(FeedError, match="no “ioc” column"):
        feed_pull(feed)
    assert not Alert.objects.filter(source_key__startswith="feed:").exists()


def test_an_oversized_source_is_refused_before_it_is_read_whole(world, tmp_path, settings):
    settings.COMMONGUARD_FEED_MAX_BYTES = 1024
    path = tmp_path / "big.txt"
    path.write_text("\n".join(f"91.92.{i // 250}.{i % 250}" for i in range(500)))
    feed = make_feed(world, path)
    with pytest.raises(FeedError, match="the most a feed may bring"):
        feed_pull(feed)
    assert not Indicator.objects.exists()


def test_a_failure_half_way_through_the_write_leaves_nothing(world, tmp_path, monkeypatch):
    path = tmp_path / "list.txt"
    path.write_text("\n".join(f"91.92.{i // 250}.{i % 250}" for i in range(1, 3000)))
    feed = make_feed(world, path)
    calls = {"n": 0}
    real = imports.benign_matches

    def failing(kind: str, value: str) -> list[str]:
        calls["n"] += 1
        if calls["n"] == 2500:  # after two batches of 1,000 were written
            raise RuntimeError("disk full")
        return real(kind, value)

    monkeypatch.setattr(imports, "BATCH", 1000)
    monkeypatch.setattr(imports, "benign_matches", failing)
    with pytest.raises(RuntimeError):
        feed_pull(feed)
    assert not Indicator.objects.exists()
    assert not Alert.objects.filter(source_key=f"feed:{feed.pk}").exists()
    assert not AuditEvent.objects.filter(action="feed.pull").exists()
    feed.refresh_from_db()
    assert feed.status == Feed.Status.FAILED


def test_feed_settings_are_checked_and_only_owner_admins_keep_feeds(world, tmp_path):
    path = tmp_path / "list.txt"
    path.write_text(TEXT)
    with pytest.raises(ValidationError) as caught:
        make_feed(world, path, tlp="purple")
    assert "Unknown TLP label" in str(caught.value)
    with pytest.raises(ValidationError, match="cannot be RED"):
        make_feed(world, path, tlp=TLP.RED)
    data = FeedInput(name="x", source=str(path), format="text", owner=world.ingham, tlp=TLP.GREEN)
    with pytest.raises(PermissionDenied):
        feed_save(actor=world["ingham_member"], data=data)
    with pytest.raises(PermissionDenied):
        feed_save(actor=world["washtenaw_admin"], data=data)
    assert not Feed.objects.exists()


def test_the_command_pulls_and_reports(world, tmp_path, capsys):
    path = tmp_path / "list.txt"
    path.write_text(TEXT)
    feed = make_feed(world, path)
    call_command("feed_pull", str(feed.pk))
    assert "6 added" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No feed with id"):
        call_command("feed_pull", "999999")
    Feed.objects.filter(pk=feed.pk).update(interval_minutes=60)
    assert feed_services.feeds_due() == []  # pulled a moment ago


@pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/data/indicators")
def test_the_real_urlhaus_and_threatfox_lists_import(world):
    urlhaus = make_feed(world, SHARED / "urlhaus-filter.txt", name="URLhaus")
    threatfox = make_feed(world, SHARED / "threatfox-ips.txt", name="ThreatFox", kind="ipv4")
    first = feed_pull(urlhaus)
    second = feed_pull(threatfox)
    assert first.valid > 31_000 and second.valid > 19_000
    assert first.invalid + second.invalid < 100


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_publishing_does_not_wait_for_an_import_transaction_in_progress(world, tmp_path):
    """An import holds its transaction open (rows written, not committed); a county publishes a
    GREEN alert meanwhile: the publish must not wait for any lock the import holds."""
    import threading

    from django.db import connection as conn
    from django.db import transaction

    from tests.sharing_helpers import make_alert

    path = tmp_path / "list.txt"
    path.write_text("\n".join(f"91.92.{i // 250}.{i % 250}" for i in range(1, 20_000)))
    feed = make_feed(world, path)
    feed_pull(feed)  # the alert exists: the next pull updates it (the heavier case: row locks on it)
    path.write_text("\n".join(f"45.137.{i // 250}.{i % 250}" for i in range(1, 20_000)))
    written, release, failures = threading.Event(), threading.Event(), []

    def importer() -> None:
        try:
            parsed = feed_services.parse_feed(feed, path.read_bytes())
            with transaction.atomic():
                feed_services.write_feed(feed, parsed, feed_services.PullResult(feed=feed.pk))
                written.set()
                release.wait(30)
        except Exception as exc:
            failures.append(exc)
            written.set()
        finally:
            conn.close()

    thread = threading.Thread(target=importer)
    thread.start()
    assert written.wait(60) and not failures
    try:
        with conn.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")  # a wait for the import's locks fails the test
        alert = make_alert(world["washtenaw_member"], world.washtenaw, TLP.GREEN, indicators=[("ipv4", "91.92.251.99")])
        assert alert.status == Alert.Status.PUBLISHED
        assert Delivery.objects.filter(alert=alert).exists()
    finally:
        release.set()
        thread.join()
        with conn.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    assert not failures
    assert Indicator.objects.filter(alert__source_key=f"feed:{feed.pk}", value__startswith="45.137.").count() == 19_999


def test_the_alert_page_lists_the_first_indicators_of_a_big_feed(world, tmp_path, monkeypatch):
    from commonguard.sharing import views as sharing_views
    from tests.conftest import sign_in

    monkeypatch.setattr(sharing_views, "SHOWN_INDICATORS", 3)
    path = tmp_path / "list.txt"
    path.write_text(TEXT)
    feed = make_feed(world, path)
    feed_pull(feed)
    alert = Alert.objects.get(source_key=f"feed:{feed.pk}")
    page = sign_in(Client(), world["washtenaw_member"]).get(f"/alerts/{alert.uuid}/")
    text = page.content.decode()
    assert page.status_code == 200 and "6 indicators" in text and "The first 3 are listed" in text
    assert text.count('class="cg-indicator"') == 3
