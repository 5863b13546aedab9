from datetime import datetime, timedelta, timezone

from functions.core.gc import EXPORT_MAX_DURATION, GRACE, stale_objects
from functions.core.model import ObjectInfo

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
OLD, NEW = format(1000, "x"), format(2000, "x")


def published(rev, attempt, at):
    base = f"dumps/t/csv/{rev}/{attempt}/"
    return [ObjectInfo(base + "part-0.csv", 5, at), ObjectInfo(base + "manifest.json", 1, at)]


def names(objects):
    return [o.name for o in objects]


def test_superseded_export_survives_the_url_lifetime_after_its_replacement():
    listing = published(OLD, 1, T0) + published(NEW, 1, T0 + HOUR)
    assert stale_objects(listing, T0 + HOUR + HOUR, HOUR) == []  # within lifetime + grace
    doomed = stale_objects(listing, T0 + 2 * HOUR + GRACE, HOUR)
    assert names(doomed) == [f"dumps/t/csv/{OLD}/1/manifest.json", f"dumps/t/csv/{OLD}/1/part-0.csv"]


def test_the_current_export_is_never_collected():
    listing = published(NEW, 1, T0)
    assert stale_objects(listing, T0 + 1000 * HOUR, HOUR) == []


def test_a_newer_revision_is_never_collected_for_an_older_one():
    listing = published(OLD, 1, T0 + 5 * HOUR) + published(NEW, 1, T0)
    doomed = names(stale_objects(listing, T0 + 100 * HOUR, HOUR))
    assert all(f"/{NEW}/" not in name for name in doomed) and doomed


def test_failed_attempts_go_once_something_newer_is_published_but_running_ones_wait():
    failed = [ObjectInfo(f"dumps/t/csv/{NEW}/1/failed.json", 1, T0)]
    running_old = [ObjectInfo(f"dumps/t/csv/{OLD}/2/part-0.csv", 9, T0)]
    listing = failed + running_old + published(NEW, 2, T0 + HOUR)
    doomed = names(stale_objects(listing, T0 + HOUR, HOUR))
    assert doomed == [f"dumps/t/csv/{NEW}/1/failed.json"]
    later = names(stale_objects(listing, T0 + EXPORT_MAX_DURATION, HOUR))
    assert f"dumps/t/csv/{OLD}/2/part-0.csv" in later


def test_without_a_published_replacement_nothing_goes():
    listing = [ObjectInfo(f"dumps/t/csv/{OLD}/1/failed.json", 1, T0)] + [
        ObjectInfo(f"dumps/t/csv/{NEW}/1/part-0.csv", 1, T0)]
    assert stale_objects(listing, T0 + 1000 * HOUR, HOUR) == []


def test_the_query_cap_evicts_least_recently_requested_first_and_never_a_recent_one():
    from functions.core.gc import evicted_queries

    root = "dumps/r/q/"
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def at(name, minutes):
        return ObjectInfo(root + name, 1, base + timedelta(minutes=minutes))

    listing = [at("a/csv/1/1/manifest.json", 0), at("a/csv/1/1/download.csv", 0), at("a/requested", 50),
               at("b/csv/1/1/download.csv", 10), at("b/csv/1/1/manifest.json", 10),
               at("c/csv/1/1/manifest.json", 20), at("new/csv/1/1/part-0.csv", 60)]
    now = base + timedelta(minutes=100)
    eviction = evicted_queries(listing, root, "new", 2, now, timedelta(minutes=70))
    assert [o.name for o in eviction.doomed] == [root + "b/csv/1/1/manifest.json", root + "b/csv/1/1/download.csv",
                                                 root + "c/csv/1/1/manifest.json"]  # a: requested at 50
    assert eviction.kept == 1
    protected = evicted_queries(listing, root, "new", 2, now, timedelta(minutes=95))
    assert protected.doomed == [] and protected.kept == 3
