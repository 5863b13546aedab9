"""The pure decisions of the follow route: what a miss answers, how long it waits, how long a follower waits."""

from functions.core.follow import MissAnswer, MissPlan, follow_wait_seconds, plan_miss, preferences


def test_a_get_follows_after_the_functions_wait_and_head_answers_at_once():
    assert plan_miss("GET", None, 25) == MissPlan(MissAnswer.FOLLOW, 25)
    assert plan_miss("GET", "return=minimal", 25) == MissPlan(MissAnswer.FOLLOW, 25)
    assert plan_miss("HEAD", None, 25) == MissPlan(MissAnswer.FOLLOW, 0)  # a 2xx HEAD would be the message's length
    assert plan_miss("HEAD", "respond-async, wait=5", 25) == MissPlan(MissAnswer.PENDING, 0)


def test_respond_async_answers_202_at_once_or_after_its_wait_within_the_functions():
    assert plan_miss("GET", "respond-async", 25) == MissPlan(MissAnswer.PENDING, 0)
    assert plan_miss("GET", "Respond-Async; foo=bar", 25) == MissPlan(MissAnswer.PENDING, 0)
    assert plan_miss("GET", "respond-async, wait=10", 25) == MissPlan(MissAnswer.PENDING, 10)
    assert plan_miss("GET", "wait=100,respond-async", 25) == MissPlan(MissAnswer.PENDING, 25)
    for odd in ["wait=-1", "wait=1e9", "wait=１０", "wait=9999999", "wait="]:
        assert plan_miss("GET", f"respond-async, {odd}", 25) == MissPlan(MissAnswer.PENDING, 0), odd
    assert plan_miss("GET", "respond-asynchronously", 25).answer is MissAnswer.FOLLOW


def test_preferences_keep_the_first_of_a_name():
    assert preferences('respond-async, wait=5, wait=7; x="y", return="minimal"') == {
        "respond-async": "", "wait": "5", "return": "minimal"}
    assert preferences(None) == {} and preferences(" , ,") == {}


def test_a_follower_keeps_a_sixth_of_the_request_timeout_to_send_the_file():
    assert follow_wait_seconds(3600) == 3000
    assert follow_wait_seconds(60) == 50
